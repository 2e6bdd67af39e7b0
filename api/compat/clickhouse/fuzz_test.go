package clickhouse_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/invitd/invitd/api/compat/clickhouse"
	"github.com/invitd/invitd/api/compat/internal/compattest"
	"github.com/invitd/invitd/invite"
)

// The surface's JSON bodies, as a client may send them: no input is a 5xx,
// every error is ClickHouse's error of its status, an ambiguous body is a
// 400, and an invitation made is the one asked for. The store is made once
// per target; each input is one request to the handler.
func FuzzClickHouseBodies(f *testing.F) {
	env := compattest.New(f, nil)
	h := clickhouse.New(env.Svc)
	org := env.Org.ID
	inv := env.Invite(f, org, invite.CreateInvitation{Email: "member@example.com"})
	_, m, err := env.Svc.AcceptInvitation(compattest.System, org, invite.InvitationRef{ID: inv.ID}, invite.Accept{Email: "member@example.com"})
	if err != nil {
		f.Fatal(err)
	}
	paths := []struct{ method, path string }{
		{http.MethodPost, "/v1/organizations/" + org.UUID() + "/invitations"},
		{http.MethodPatch, "/v1/organizations/" + org.UUID() + "/members/" + m.ID.String()},
	}
	for _, s := range []struct {
		op   uint8
		body string
	}{
		{0, `{"email":"a@example.com","role":"developer"}`},
		{0, `{"email":"b@example.com","assignedRoleIds":["` + adminRoleID + `"]}`},
		{0, `{"email":"c@example.com","role":"admin","assignedRoleIds":["` + memberRoleID + `"]}`},
		{0, `{"email":"a@example.com","email":"d@example.com"}`},
		{0, "{\"email\":\"e\xff@example.com\"}"},
		{0, `{"email":"f@example.com","role":"\u0000"}`},
		{1, `{"role":"admin"}`},
		{1, `{"assignedRoleIds":["` + restrictedRoleID + `"]}`},
		{1, `{"role":"admin","role":"developer"}`},
	} {
		f.Add(s.op, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		p := paths[int(op)%len(paths)]
		r, ok := compattest.Request(h, p.method, p.path, body, func(r *http.Request) { r.SetBasicAuth(env.Key.ID, env.Key.Secret) })
		if !ok {
			return
		}
		what := p.method + " " + p.path + " " + string(body)
		if r.Status >= 500 {
			t.Fatalf("%s: %d %s", what, r.Status, r.Body)
		}
		var ans struct {
			Status    int
			Error     string
			RequestID string
			Result    map[string]any
		}
		if err := json.Unmarshal(r.Body, &ans); err != nil || ans.Status != r.Status || ans.RequestID == "" || (r.Status >= 400) != (ans.Error != "") {
			t.Fatalf("%s: %d answered %s, not in ClickHouse's shape (%v)", what, r.Status, r.Body, err)
		}
		if compattest.Ambiguous(body) && r.Status != http.StatusBadRequest {
			t.Fatalf("%s: %d, want 400: %s", what, r.Status, r.Body)
		}
		if r.Status == http.StatusOK && int(op)%len(paths) == 0 {
			var sent struct{ Email string }
			if err := json.Unmarshal(body, &sent); err != nil {
				t.Fatalf("%s was taken, but does not decode: %v", what, err)
			}
			if email, err := invite.NormalizeEmail(sent.Email); err != nil || ans.Result["email"] != email {
				t.Fatalf("%s: made %v (the address normalizes to %q, %v)", what, ans.Result, email, err)
			}
		}
	})
}
