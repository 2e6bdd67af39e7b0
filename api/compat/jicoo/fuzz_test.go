package jicoo_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/invitd/invitd/api/compat/internal/compattest"
	"github.com/invitd/invitd/api/compat/jicoo"
	"github.com/invitd/invitd/invite"
)

// The surface's bodies and queries, as a client may send them: no input is
// a 5xx, every error is Jicoo's error of its status, an ambiguous body is a
// 400, and what is taken is what was asked for. The store is made once per
// target; each input is one request to the handler.

type fuzzEnv struct {
	env    *compattest.Env
	h      http.Handler
	member string
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	env := compattest.New(f, nil)
	org := env.Org.ID
	inv := env.Invite(f, org, invite.CreateInvitation{Email: "member@example.com"})
	_, m, err := env.Svc.AcceptInvitation(compattest.System, org, invite.InvitationRef{ID: inv.ID}, invite.Accept{Email: "member@example.com"})
	if err != nil {
		f.Fatal(err)
	}
	env.Invite(f, org, invite.CreateInvitation{Email: "pending@example.com"})
	return &fuzzEnv{env: env, h: jicoo.New(env.Svc), member: m.ID.String()}
}

// send answers one request and checks what every answer must be; ok is
// false for a request that never reaches the surface.
func (e *fuzzEnv) send(t *testing.T, method, target string, body []byte) (status int, data json.RawMessage, ok bool) {
	t.Helper()
	r, ok := compattest.Request(e.h, method, target, body, func(r *http.Request) { r.Header.Set(jicoo.APIKeyHeader, e.env.Key.Token) })
	if !ok {
		return 0, nil, false
	}
	if r.Status >= 500 {
		t.Fatalf("%s %s %q: %d %s", method, target, body, r.Status, r.Body)
	}
	var ans struct {
		Data   json.RawMessage
		Errors *struct {
			Status        int
			Code, Message string
		}
	}
	if err := json.Unmarshal(r.Body, &ans); err != nil || (r.Status >= 400) != (ans.Errors != nil) ||
		(ans.Errors != nil && (ans.Errors.Status != r.Status || ans.Errors.Code == "")) {
		t.Fatalf("%s %s %q: %d answered %s, not in Jicoo's shape (%v)", method, target, body, r.Status, r.Body, err)
	}
	return r.Status, ans.Data, true
}

func FuzzJicooBodies(f *testing.F) {
	e := newFuzzEnv(f)
	paths := []struct{ method, path string }{
		{http.MethodPost, "/v1/organization_invitations"},
		{http.MethodPatch, "/v1/organization_users/" + e.member},
	}
	for _, s := range []struct {
		op   uint8
		body string
	}{
		{0, `{"email":"a@example.com","role":"admin"}`}, {0, `{"email":"b@example.com"}`}, {0, ``},
		{0, `{"email":"a@example.com","email":"c@example.com"}`}, {0, "{\"email\":\"d\xff@example.com\"}"},
		{0, `{"email":"e@example.com","role":"\u0000"}`}, {1, `{"role":"restricted"}`}, {1, `{}`},
		{1, `{"role":"admin","role":"owner"}`}, {1, `{"role":"\udfff"}`},
	} {
		f.Add(s.op, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		p := paths[int(op)%len(paths)]
		status, data, ok := e.send(t, p.method, p.path, body)
		if !ok {
			return
		}
		if compattest.Ambiguous(body) && status != http.StatusBadRequest {
			t.Fatalf("%s %q: %d, want 400", p.path, body, status)
		}
		if status >= 300 {
			return
		}
		var sent struct{ Email, Role *string }
		var got struct{ Email, Role string }
		if err := json.Unmarshal(body, &sent); len(bytes.TrimSpace(body)) > 0 && err != nil {
			t.Fatalf("%q was taken, but does not decode: %v", body, err)
		}
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatalf("%q: the answer's data %s: %v", body, data, err)
		}
		if sent.Role != nil && *sent.Role != "" && got.Role != *sent.Role {
			t.Fatalf("%s %q: role %q, want %q", p.path, body, got.Role, *sent.Role)
		}
		if int(op)%len(paths) == 0 {
			if email, err := invite.NormalizeEmail(*sent.Email); err != nil || got.Email != email {
				t.Fatalf("%q: made %s (the address normalizes to %q, %v)", body, data, email, err)
			}
		}
	})
}

func FuzzJicooQuery(f *testing.F) {
	e := newFuzzEnv(f)
	lists := []string{"/v1/organization_invitations", "/v1/organization_users"}
	for _, s := range []struct {
		list  uint8
		query string
	}{
		{0, "page=1&perPage=20"}, {0, "page=&perPage="}, {0, "perPage=2.0"}, {0, "page=0"}, {0, "perPage=101"},
		{0, "email=pending%40example.com"}, {0, "email=%00"}, {1, "email=member@example.com&page=2&perPage=1"}, {1, "page=1e300"},
	} {
		f.Add(s.list, s.query)
	}
	f.Fuzz(func(t *testing.T, list uint8, query string) {
		status, data, ok := e.send(t, http.MethodGet, lists[int(list)%len(lists)]+"?"+query, nil)
		if !ok || status != http.StatusOK {
			return
		}
		var items []json.RawMessage
		if err := json.Unmarshal(data, &items); err != nil || items == nil || len(items) > jicoo.MaxPerPage {
			t.Fatalf("%q: data %s is not a page (%v)", query, data, err)
		}
	})
}
