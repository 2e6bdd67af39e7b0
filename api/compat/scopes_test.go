package compat_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/invitd/invitd/api/compat/internal/compattest"
	"github.com/invitd/invitd/invite"
)

// The core checks a key's scopes whatever the surface: a key that may only
// read lists on each, and each refuses its create with a 403 in its own
// shape that names the scope missing, writing nothing.
func TestAKeyWithoutTheScopeIsRefusedOnEverySurface(t *testing.T) {
	s := setup(t)
	ctx := compattest.System
	k, err := s.env.Svc.CreateKey(ctx, &s.env.Org.ID, invite.KeyInput{Name: "reader", Scopes: []string{invite.ScopeInvitationsRead}})
	if err != nil {
		t.Fatal(err)
	}
	s.env.Key = k
	status(t, s.jicooDo(http.MethodGet, "/v1/organization_invitations", nil), http.StatusOK)
	status(t, s.chDo(http.MethodGet, "", nil), http.StatusOK)
	status(t, s.upsunDo(http.MethodGet, "", nil), http.StatusOK)
	for name, r := range map[string]*compattest.Response{
		"jicoo":      s.jicooDo(http.MethodPost, "/v1/organization_invitations", map[string]any{"email": "j@example.com", "role": "admin"}),
		"clickhouse": s.chDo(http.MethodPost, "", map[string]any{"email": "c@example.com", "role": "developer"}),
		"upsun":      s.upsunDo(http.MethodPost, "", map[string]any{"email": "u@example.com", "permissions": []string{"members"}}),
	} {
		if r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), `invitations:write`) {
			t.Errorf("%s: %d %s, want 403 naming invitations:write", name, r.Status, r.Body)
		}
	}
	if n, err := s.env.Svc.CountInvitations(ctx, invite.InvitationFilter{Org: s.env.Org.ID}); err != nil || n != 0 {
		t.Errorf("%d invitations after refused creates, %v", n, err)
	}
}
