package upsun_test

import (
	"net/http"
	"testing"

	"github.com/invitd/invitd/api/compat/internal/compattest"
	"github.com/invitd/invitd/api/compat/upsun"
	"github.com/invitd/invitd/invite"
)

// bearerClient sends Upsun requests with a bearer key and an X-Request-Id;
// every answer is checked against Upsun's document.
type bearerClient struct {
	t           *testing.T
	spec        *compattest.Spec
	base, token string
}

func (c *bearerClient) do(method, path string, body any, requestID string) *compattest.Response {
	c.t.Helper()
	return c.spec.Do(c.t, method, c.base+path, body, func(r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+c.token)
		r.Header.Set("X-Request-Id", requestID)
	})
}

func answered(t *testing.T, r *compattest.Response, status int, requestID string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if got := r.Header.Get("X-Request-Id"); got != requestID {
		t.Fatalf("X-Request-Id answered %q, sent %q", got, requestID)
	}
}

// Every Upsun action, with an org key and with an admin key, records its
// events by that key, with the request's id, about the invitation: a
// create, a forced re-invite (the pending one cancelled, then the new one
// created), and a cancel. Reads and refused requests record none.
func TestEveryActionRecordsItsEvents(t *testing.T) {
	env := compattest.New(t, nil)
	base := compattest.Serve(t, prefix, upsun.New(env.Svc))
	spec := loadSpec(t)
	org := env.Org.ID
	path := "/organizations/" + org.String() + "/invitations"
	for _, k := range env.Keys() {
		t.Run(k.Name, func(t *testing.T) {
			c := &bearerClient{t: t, spec: spec, base: base, token: k.Key.Token}
			email := "ann-" + k.Key.ID + "@example.com"
			cur := env.Tail(t, org)

			r := c.do("POST", path, map[string]any{"email": email, "permissions": []string{"billing"}}, "req-upsun-create")
			answered(t, r, http.StatusCreated, "req-upsun-create")
			var first upsun.Invitation
			r.JSON(t, &first)
			cur = env.CheckEvents(t, org, cur, k.Actor, "req-upsun-create",
				compattest.Want{Type: invite.EventInvitationCreated, ID: first.ID})

			// Without force the same address is a conflict, and a list is a
			// read: neither records anything.
			answered(t, c.do("POST", path, map[string]any{"email": email, "permissions": []string{}}, "req-upsun-refused"), http.StatusConflict, "req-upsun-refused")
			answered(t, c.do("GET", path, nil, "req-upsun-list"), http.StatusOK, "req-upsun-list")
			cur = env.CheckEvents(t, org, cur, k.Actor, "none")

			r = c.do("POST", path, map[string]any{"email": email, "permissions": []string{"members"}, "force": true}, "req-upsun-force")
			answered(t, r, http.StatusCreated, "req-upsun-force")
			var second upsun.Invitation
			r.JSON(t, &second)
			if second.ID == first.ID {
				t.Fatal("a forced re-invite answered the old invitation")
			}
			cur = env.CheckEvents(t, org, cur, k.Actor, "req-upsun-force",
				compattest.Want{Type: invite.EventInvitationCancelled, ID: first.ID},
				compattest.Want{Type: invite.EventInvitationCreated, ID: second.ID})

			r = c.do("DELETE", path+"/"+second.ID, nil, "req-upsun-cancel")
			answered(t, r, http.StatusNoContent, "req-upsun-cancel")
			cur = env.CheckEvents(t, org, cur, k.Actor, "req-upsun-cancel",
				compattest.Want{Type: invite.EventInvitationCancelled, ID: second.ID})

			// A cancelled invitation cannot be cancelled again.
			if r := c.do("DELETE", path+"/"+second.ID, nil, "req-upsun-again"); r.Status < 400 {
				t.Fatalf("second cancel: %d %s", r.Status, r.Body)
			}
			// force with nothing pending is a plain create.
			r = c.do("POST", path, map[string]any{"email": email, "permissions": []string{}, "force": true}, "req-upsun-fresh")
			answered(t, r, http.StatusCreated, "req-upsun-fresh")
			var third upsun.Invitation
			r.JSON(t, &third)
			env.CheckEvents(t, org, cur, k.Actor, "req-upsun-fresh",
				compattest.Want{Type: invite.EventInvitationCreated, ID: third.ID})
		})
	}
}
