package upsun_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/api/compat/internal/compattest"
	"github.com/invitd/invitd/invite"
)

func TestCreateAndCancel(t *testing.T) {
	env, c := setup(t, nil)
	ctx := compattest.System
	m := created(t, c.do(http.MethodPost, invPath(env.Org.ID), map[string]any{
		"email": "Jane.Smith@Example.com", "permissions": []string{"billing", "members"}, "force": false}))
	if m["email"] != "jane.smith@example.com" || m["state"] != "pending" || m["organization_id"] != env.Org.ID.String() ||
		m["finished_at"] != nil || fmt.Sprint(m["permissions"]) != "[billing members]" {
		t.Fatalf("created %v", m)
	}
	id := uuid.MustParse(m["id"].(string))
	inv, err := env.Svc.GetInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(inv.Permissions, []string{"billing", "members"}) || inv.State != invite.StatePending || inv.SendCount != 1 {
		t.Errorf("stored %+v", inv)
	}
	if m["created_at"] != inv.CreatedAt.UTC().Format(time.RFC3339) || m["updated_at"] != inv.UpdatedAt.UTC().Format(time.RFC3339) {
		t.Errorf("times %v %v, stored %v", m["created_at"], m["updated_at"], inv.CreatedAt)
	}
	// Empty permissions are allowed; the org's default role is used.
	e := created(t, c.do(http.MethodPost, invPath(env.Org.ID), map[string]any{"email": "np@example.com", "permissions": []string{}}))
	if len(e["permissions"].([]any)) != 0 {
		t.Errorf("permissions %v", e["permissions"])
	}

	// The inviter reads as owner.
	inviter := uuid.NewString()
	env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "o@example.com", Inviter: invite.Inviter{ID: inviter, Name: "Alice Admin"}})
	var owner map[string]any
	for _, it := range items(t, c.do(http.MethodGet, invPath(env.Org.ID), nil)) {
		if it["email"] == "o@example.com" {
			owner = it["owner"].(map[string]any)
		}
	}
	if owner["id"] != inviter || owner["display_name"] != "Alice Admin" {
		t.Errorf("owner %v", owner)
	}

	// Duplicate: 409 without force; force cancels the old one and makes a new one.
	wantError(t, c.do(http.MethodPost, invPath(env.Org.ID), map[string]any{"email": "jane.smith@example.com", "permissions": []string{"admin"}}), http.StatusConflict)
	f := created(t, c.do(http.MethodPost, invPath(env.Org.ID), map[string]any{"email": "jane.smith@example.com", "permissions": []string{"admin"}, "force": true}))
	if f["id"] == m["id"] || fmt.Sprint(f["permissions"]) != "[admin]" {
		t.Errorf("forced %v", f)
	}
	old, _ := env.Svc.GetInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: id})
	if old.State != invite.StateCancelled {
		t.Errorf("old state %s", old.State)
	}
	cancelled := items(t, c.do(http.MethodGet, invPath(env.Org.ID, "?filter[state]=cancelled"), nil))
	if len(cancelled) != 1 || cancelled[0]["id"] != id.String() || cancelled[0]["state"] != "cancelled" || cancelled[0]["finished_at"] == nil {
		t.Errorf("cancelled list %v", cancelled)
	}

	// Cancel: 204, no body; the record stays, listed as cancelled.
	r := c.do(http.MethodDelete, invPath(env.Org.ID, "/", f["id"].(string)), nil)
	if r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("delete: %d %q", r.Status, r.Body)
	}
	got := ids(items(t, c.do(http.MethodGet, invPath(env.Org.ID, "?filter[state]=cancelled"), nil)))
	if !slices.Contains(got, f["id"].(string)) || len(got) != 2 {
		t.Errorf("cancelled ids %v", got)
	}
	if slices.Contains(ids(items(t, c.do(http.MethodGet, invPath(env.Org.ID), nil))), f["id"].(string)) {
		t.Errorf("cancelled invitation listed as pending")
	}
	wantError(t, c.do(http.MethodDelete, invPath(env.Org.ID, "/", f["id"].(string)), nil), http.StatusConflict)
	wantError(t, c.do(http.MethodDelete, invPath(env.Org.ID, "/", uuid.NewString()), nil), http.StatusNotFound)
	wantError(t, c.do(http.MethodDelete, invPath(env.Org.ID, "/12"), nil), http.StatusNotFound)
}

func TestCreateRejectsBadInput(t *testing.T) {
	env, c := setup(t, nil)
	ctx := compattest.System
	inv := env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "member@example.com"})
	if _, _, err := env.Svc.AcceptInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: inv.ID}, invite.Accept{Email: "member@example.com"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		body any
		code int
	}{
		{"empty body", nil, http.StatusBadRequest},
		{"no permissions", `{"email":"a@example.com"}`, http.StatusBadRequest},
		{"null permissions", `{"email":"a@example.com","permissions":null}`, http.StatusBadRequest},
		{"permissions string", `{"email":"a@example.com","permissions":"admin"}`, http.StatusBadRequest},
		{"permissions numbers", `{"email":"a@example.com","permissions":[1]}`, http.StatusBadRequest},
		{"unknown permission", `{"email":"a@example.com","permissions":["root"]}`, http.StatusBadRequest},
		{"no email", `{"permissions":["admin"]}`, http.StatusBadRequest},
		{"bad email", `{"email":"@example.com","permissions":["admin"]}`, http.StatusBadRequest},
		{"force string", `{"email":"a@example.com","permissions":["admin"],"force":"yes"}`, http.StatusBadRequest},
		{"not JSON", `email=a@example.com`, http.StatusBadRequest},
		{"member", `{"email":"MEMBER@example.com","permissions":["admin"]}`, http.StatusConflict},
		{"member forced", `{"email":"member@example.com","permissions":["admin"],"force":true}`, http.StatusConflict},
		{"too large", `{"email":"a@example.com","permissions":["` + strings.Repeat("x", 1<<20) + `"]}`, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, c.do(http.MethodPost, invPath(env.Org.ID), tt.body), tt.code)
		})
	}
}
