package clickhouse_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/invitd/invitd/api/compat/clickhouse"
	"github.com/invitd/invitd/api/compat/internal/compattest"
	"github.com/invitd/invitd/invite"
)

// keyClient sends ClickHouse requests with a key's id and secret and, when
// set, an X-Request-Id.
type keyClient struct {
	t            *testing.T
	base         string
	user, secret string
}

func (c *keyClient) do(method, path string, body any, requestID string) *compattest.Response {
	c.t.Helper()
	return document(c.t).Do(c.t, method, c.base+path, body, func(r *http.Request) {
		r.SetBasicAuth(c.user, c.secret)
		if requestID != "" {
			r.Header.Set("X-Request-Id", requestID)
		}
	})
}

// requestID is the id the answer carries in its header and body; ClickHouse
// ids are UUIDs.
func requestID(t *testing.T, r *compattest.Response) string {
	t.Helper()
	id := r.Header.Get("X-Request-Id")
	var body struct{ RequestID string }
	r.JSON(t, &body)
	if _, err := uuid.Parse(id); err != nil || body.RequestID != id {
		t.Fatalf("X-Request-Id %q, body requestId %q: want one UUID", id, body.RequestID)
	}
	return id
}

// Both ClickHouse actions, with an org key and with an admin key, record
// their events by that key, with the request id the answer carried, about
// the invitation; reads and refused requests record none.
func TestEveryActionRecordsItsEvents(t *testing.T) {
	env := compattest.New(t, nil)
	base := compattest.Serve(t, prefix, clickhouse.New(env.Svc))
	org := env.Org.ID
	path := "/v1/organizations/" + org.UUID() + "/invitations"
	for _, k := range env.Keys() {
		t.Run(k.Name, func(t *testing.T) {
			c := &keyClient{t: t, base: base, user: k.Key.ID, secret: k.Key.Secret}
			cur := env.Tail(t, org)

			// Create, with a client's UUID request id: kept.
			sent := uuid.NewString()
			r := c.do("POST", path, map[string]any{"email": "ann-" + k.Actor.ID + "@example.com", "role": "developer"}, sent)
			if r.Status != http.StatusOK {
				t.Fatalf("create: %d %s", r.Status, r.Body)
			}
			if got := requestID(t, r); got != sent {
				t.Errorf("the request id %s was answered as %s", sent, got)
			}
			var created struct{ Result clickhouse.Invitation }
			r.JSON(t, &created)
			id := created.Result.ID
			cur = env.CheckEvents(t, org, cur, k.Actor, sent, compattest.Want{Type: invite.EventInvitationCreated, ID: id})

			// Reads and a refused create record nothing.
			c.answers(t, []call{
				{"GET", path, nil, http.StatusOK},
				{"GET", path + "/" + id, nil, http.StatusOK},
				{"POST", path, map[string]any{"email": "ann-" + k.Actor.ID + "@example.com"}, http.StatusConflict},
				{"POST", path, map[string]any{"email": "x@example.com", "role": "owner"}, http.StatusBadRequest},
			})
			cur = env.CheckEvents(t, org, cur, k.Actor, "none")

			// Delete, with a request id that is not a UUID: ClickHouse
			// answers one of its own, and the event records that one.
			r = c.do("DELETE", path+"/"+id, nil, "req-not-a-uuid")
			if r.Status != http.StatusOK {
				t.Fatalf("delete: %d %s", r.Status, r.Body)
			}
			made := requestID(t, r)
			cur = env.CheckEvents(t, org, cur, k.Actor, made, compattest.Want{Type: invite.EventInvitationCancelled, ID: id})
			if r := c.do("DELETE", path+"/"+id, nil, ""); r.Status != http.StatusNotFound {
				t.Fatalf("second delete: %d %s", r.Status, r.Body)
			}
			env.CheckEvents(t, org, cur, k.Actor, "none")
		})
	}
}

// The member actions, with an org key and with an admin key, record their
// events by that key, with the answer's request id, about the member;
// reads, refused changes and changes to nothing record none.
func TestMemberActionsRecordTheirEvents(t *testing.T) {
	env := compattest.New(t, nil)
	base := compattest.Serve(t, prefix, clickhouse.New(env.Svc))
	org := env.Org.ID
	path := "/v1/organizations/" + org.UUID() + "/members"
	for _, k := range env.Keys() {
		t.Run(k.Name, func(t *testing.T) {
			c := &keyClient{t: t, base: base, user: k.Key.ID, secret: k.Key.Secret}
			m := join(t, env, org, "m-"+k.Actor.ID+"@example.com", "M", "member")
			id := m.ID.String()
			cur := env.Tail(t, org)

			sent := uuid.NewString()
			r := c.do("PATCH", path+"/"+id, map[string]any{"role": "admin"}, sent)
			if r.Status != http.StatusOK {
				t.Fatalf("patch: %d %s", r.Status, r.Body)
			}
			if got := requestID(t, r); got != sent {
				t.Errorf("the request id %s was answered as %s", sent, got)
			}
			cur = env.CheckEvents(t, org, cur, k.Actor, sent, compattest.Want{Type: invite.EventMemberUpdated, ID: id})

			r = c.do("PATCH", path+"/"+id, map[string]any{"assignedRoleIds": []string{restrictedRoleID}}, "")
			if r.Status != http.StatusOK {
				t.Fatalf("patch: %d %s", r.Status, r.Body)
			}
			cur = env.CheckEvents(t, org, cur, k.Actor, requestID(t, r), compattest.Want{Type: invite.EventMemberUpdated, ID: id})

			c.answers(t, []call{
				{"GET", path, nil, http.StatusOK},
				{"GET", path + "/" + id, nil, http.StatusOK},
				// Patches that change nothing: no field, the legacy name
				// the member reads as, the role it has.
				{"PATCH", path + "/" + id, map[string]any{}, http.StatusOK},
				{"PATCH", path + "/" + id, map[string]any{"role": "developer"}, http.StatusOK},
				{"PATCH", path + "/" + id, map[string]any{"assignedRoleIds": []string{restrictedRoleID}}, http.StatusOK},
				{"PATCH", path + "/" + id, map[string]any{"role": "member"}, http.StatusBadRequest},
				{"PATCH", path + "/" + id, map[string]any{"assignedRoleIds": []string{uuid.NewString()}}, http.StatusBadRequest},
				{"PATCH", path + "/" + uuid.NewString(), map[string]any{"role": "admin"}, http.StatusNotFound},
				{"DELETE", path + "/" + uuid.NewString(), nil, http.StatusNotFound},
			})
			cur = env.CheckEvents(t, org, cur, k.Actor, "none")

			r = c.do("DELETE", path+"/"+id, nil, "req-not-a-uuid")
			if r.Status != http.StatusOK {
				t.Fatalf("delete: %d %s", r.Status, r.Body)
			}
			cur = env.CheckEvents(t, org, cur, k.Actor, requestID(t, r), compattest.Want{Type: invite.EventMemberDeleted, ID: id})
			if r := c.do("DELETE", path+"/"+id, nil, ""); r.Status != http.StatusNotFound {
				t.Fatalf("second delete: %d %s", r.Status, r.Body)
			}
			env.CheckEvents(t, org, cur, k.Actor, "none")
		})
	}
}

// call is a request and the status it must answer.
type call struct {
	method, path string
	body         any
	status       int
}

// answers sends each call and fails at the first answered otherwise.
func (c *keyClient) answers(t *testing.T, calls []call) {
	t.Helper()
	for _, req := range calls {
		if r := c.do(req.method, req.path, req.body, ""); r.Status != req.status {
			t.Fatalf("%s %s: %d, want %d: %s", req.method, req.path, r.Status, req.status, r.Body)
		}
	}
}
