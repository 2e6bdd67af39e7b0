package upsun_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/invitd/invitd/api/compat/internal/compattest"
	"github.com/invitd/invitd/invite"
)

func TestAuth(t *testing.T) {
	env, c := setup(t, nil)
	ctx := compattest.System
	inv := env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "a@example.com"})
	other := env.NewOrg(t, "Other")
	otherKey, err := env.Svc.CreateKey(ctx, &other.ID, invite.KeyInput{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		set  func(*http.Request)
	}{
		{"none", func(*http.Request) {}},
		{"basic", func(r *http.Request) { r.SetBasicAuth(env.Key.ID, env.Key.Secret) }},
		{"bare token", func(r *http.Request) { r.Header.Set("Authorization", env.Key.Token) }},
		{"empty bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") }},
		{"wrong token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer invitd_abc_def") }},
		{"not a key", func(r *http.Request) { r.Header.Set("Authorization", "Bearer hello") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := c.as("").send(http.MethodGet, invPath(env.Org.ID), nil, tt.set)
			wantError(t, r, http.StatusUnauthorized)
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
			}
		})
	}
	// The scheme is case-insensitive.
	items(t, c.send(http.MethodGet, invPath(env.Org.ID), nil, func(r *http.Request) {
		r.Header.Set("Authorization", "bearer "+env.Key.Token)
	}))
	oc := c.as(otherKey.Token)
	wantError(t, oc.do(http.MethodGet, invPath(env.Org.ID), nil), http.StatusNotFound)
	wantError(t, oc.do(http.MethodPost, invPath(env.Org.ID), map[string]any{"email": "b@example.com", "permissions": []string{}}), http.StatusNotFound)
	wantError(t, oc.do(http.MethodDelete, invPath(env.Org.ID, "/", inv.ID.String()), nil), http.StatusNotFound)
	wantError(t, oc.do(http.MethodDelete, invPath(other.ID, "/", inv.ID.String()), nil), http.StatusNotFound)
	if got, _ := env.Svc.GetInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: inv.ID}); got.State != invite.StatePending {
		t.Errorf("another org's key changed the invitation")
	}
	// The UUID form of the org id is accepted; a malformed id is refused.
	if got := items(t, c.do(http.MethodGet, "/organizations/"+env.Org.ID.UUID()+"/invitations", nil)); len(got) != 1 {
		t.Errorf("uuid form: %d", len(got))
	}
	wantError(t, c.do(http.MethodGet, "/organizations/acme/invitations", nil), http.StatusBadRequest)
	// An admin key manages any existing org.
	ac := c.as(env.Admin.Token)
	if got := items(t, ac.do(http.MethodGet, invPath(env.Org.ID), nil)); len(got) != 1 {
		t.Errorf("admin: %d", len(got))
	}
	wantError(t, ac.do(http.MethodGet, invPath(invite.NewOrgID()), nil), http.StatusNotFound)
}

func TestInternalErrorsAreGeneric(t *testing.T) {
	env, c := setup(t, nil)
	env.Break(t, "invitations") // the key is still checked
	if msg := wantError(t, c.do(http.MethodGet, invPath(env.Org.ID), nil), http.StatusInternalServerError); msg != "internal error" {
		t.Errorf("message %q", msg)
	}
}
