package jicoo_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/invitd/invitd/api/compat/internal/compattest"
	"github.com/invitd/invitd/api/compat/jicoo"
	"github.com/invitd/invitd/invite"
)

// eventClient sends Jicoo requests with a key and, when set, an X-Request-Id.
type eventClient struct {
	t    *testing.T
	base string
	key  string
}

func (c *eventClient) do(method, path string, body any, requestID string) *compattest.Response {
	c.t.Helper()
	return compattest.Do(c.t, method, c.base+path, body, func(r *http.Request) {
		r.Header.Set(jicoo.APIKeyHeader, c.key)
		if requestID != "" {
			r.Header.Set("X-Request-Id", requestID)
		}
	})
}

// rid is the request id an answer carried, checked against the one sent.
func rid(t *testing.T, r *compattest.Response, sent string) string {
	t.Helper()
	got := r.Header.Get("X-Request-Id")
	if got == "" || (sent != "" && got != sent) {
		t.Fatalf("X-Request-Id answered %q, sent %q", got, sent)
	}
	return got
}

func wantStatus(t *testing.T, r *compattest.Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
}

// Every Jicoo action records its events by the org key, with the request's
// id, about the object it changed; reads and refused requests record none.
func TestEveryActionRecordsItsEvents(t *testing.T) {
	env := compattest.New(t, nil)
	c := &eventClient{t: t, base: compattest.Serve(t, prefix, jicoo.New(env.Svc)), key: env.Key.Token}
	org, actor := env.Org.ID, env.KeyActor()
	cur := env.Tail(t, org)

	// Create: invitation.created, with the client's request id kept.
	r := c.do("POST", "/v1/organization_invitations", map[string]any{"email": "ann@example.com", "role": "admin"}, "req-jicoo-create")
	wantStatus(t, r, http.StatusCreated)
	var created struct{ Data jicoo.Invitation }
	r.JSON(t, &created)
	inv, err := env.Svc.GetInvitation(compattest.System, org, invite.InvitationRef{Number: created.Data.ID})
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := env.EventsAfter(t, org, cur)
	cur = env.CheckEvents(t, org, cur, actor, rid(t, r, "req-jicoo-create"), compattest.Want{Type: invite.EventInvitationCreated, ID: inv.ID.String()})
	if len(evs) == 1 {
		var d struct{ Number int64 }
		if err := json.Unmarshal(evs[0].Data, &d); err != nil || d.Number != created.Data.ID {
			t.Errorf("created data.number %d, want Jicoo's id %d", d.Number, created.Data.ID)
		}
	}

	// Without an X-Request-Id the events carry the one made for the request.
	r = c.do("POST", "/v1/organization_invitations", map[string]any{"email": "bob@example.com"}, "")
	wantStatus(t, r, http.StatusCreated)
	var second struct{ Data jicoo.Invitation }
	r.JSON(t, &second)
	inv2, err := env.Svc.GetInvitation(compattest.System, org, invite.InvitationRef{Number: second.Data.ID})
	if err != nil {
		t.Fatal(err)
	}
	made := rid(t, r, "")
	if _, err := uuid.Parse(made); err != nil {
		t.Errorf("the request id made for the request is %q, not a UUID", made)
	}
	cur = env.CheckEvents(t, org, cur, actor, made, compattest.Want{Type: invite.EventInvitationCreated, ID: inv2.ID.String()})

	// Reads and refused writes record nothing.
	for _, req := range []struct {
		method, path string
		body         any
		status       int
	}{
		{"GET", "/v1/organization_invitations", nil, http.StatusOK},
		{"GET", fmt.Sprintf("/v1/organization_invitations/%d", created.Data.ID), nil, http.StatusOK},
		{"POST", "/v1/organization_invitations", map[string]any{"email": "ann@example.com"}, http.StatusUnprocessableEntity},
		{"GET", "/v1/organization_users", nil, http.StatusOK},
		{"GET", "/v1/organization_team", nil, http.StatusOK},
	} {
		wantStatus(t, c.do(req.method, req.path, req.body, "req-jicoo-nothing"), req.status)
	}
	cur = env.CheckEvents(t, org, cur, actor, "req-jicoo-nothing")

	// Delete: invitation.cancelled; again it is a 404 and records nothing.
	path := fmt.Sprintf("/v1/organization_invitations/%d", created.Data.ID)
	r = c.do("DELETE", path, nil, "req-jicoo-delete")
	wantStatus(t, r, http.StatusNoContent)
	cur = env.CheckEvents(t, org, cur, actor, rid(t, r, "req-jicoo-delete"), compattest.Want{Type: invite.EventInvitationCancelled, ID: inv.ID.String()})
	wantStatus(t, c.do("DELETE", path, nil, "req-jicoo-again"), http.StatusNotFound)
	cur = env.CheckEvents(t, org, cur, actor, "req-jicoo-again")

	// A member, made through the core; then the user endpoints change it.
	_, m, err := env.Svc.AcceptInvitation(compattest.System, org, invite.InvitationRef{ID: inv2.ID}, invite.Accept{Email: "bob@example.com", Name: "Bob"})
	if err != nil {
		t.Fatal(err)
	}
	cur = env.Tail(t, org)
	user := "/v1/organization_users/" + m.ID.String()

	r = c.do("PATCH", user, map[string]any{"role": "admin"}, "req-jicoo-patch")
	wantStatus(t, r, http.StatusOK)
	cur = env.CheckEvents(t, org, cur, actor, rid(t, r, "req-jicoo-patch"), compattest.Want{Type: invite.EventMemberUpdated, ID: m.ID.String()})
	evs, _ = env.EventsAfter(t, org, "")
	if last := evs[len(evs)-1]; last.Type == invite.EventMemberUpdated {
		var d struct{ Role string }
		if err := json.Unmarshal(last.Data, &d); err != nil || d.Role != "admin" {
			t.Errorf("member.updated data.role %q, want admin", d.Role)
		}
	}
	wantStatus(t, c.do("PATCH", user, map[string]any{"role": "emperor"}, "req-jicoo-bad"), http.StatusBadRequest)
	cur = env.CheckEvents(t, org, cur, actor, "req-jicoo-bad")

	r = c.do("DELETE", user, nil, "req-jicoo-remove")
	wantStatus(t, r, http.StatusNoContent)
	cur = env.CheckEvents(t, org, cur, actor, rid(t, r, "req-jicoo-remove"), compattest.Want{Type: invite.EventMemberDeleted, ID: m.ID.String()})
	wantStatus(t, c.do("DELETE", user, nil, "req-jicoo-gone"), http.StatusNotFound)
	env.CheckEvents(t, org, cur, actor, "req-jicoo-gone")
}

// An admin key has no organization, so Jicoo refuses it before anything is
// done, and nothing is recorded.
func TestAnAdminKeyChangesNothing(t *testing.T) {
	env := compattest.New(t, nil)
	c := &eventClient{t: t, base: compattest.Serve(t, prefix, jicoo.New(env.Svc)), key: env.Admin.Token}
	cur := env.Tail(t, env.Org.ID)
	wantStatus(t, c.do("POST", "/v1/organization_invitations", map[string]any{"email": "ann@example.com"}, "req-admin"), http.StatusForbidden)
	env.CheckEvents(t, env.Org.ID, cur, env.AdminActor(), "req-admin")
}
