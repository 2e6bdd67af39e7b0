package clickhouse_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/invitd/invitd/api/compat/internal/compattest"
	"github.com/invitd/invitd/invite"
)

// The vendor's own document: the contract of every answer.
var (
	documentPath = compattest.VendorDocument("clickhouse-cloud-organization.openapi.json")
	document     = compattest.ClickHouseSpec
)

// documented lists the document's operations, operationId → the statuses
// it defines.
func documented(t *testing.T) map[string][]int {
	t.Helper()
	raw, err := os.ReadFile(documentPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string                     `json:"operationId"`
			Responses   map[string]json.RawMessage `json:"responses"`
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string][]int{}
	for _, ops := range doc.Paths {
		for _, op := range ops {
			for code := range op.Responses {
				var n int
				if _, err := fmt.Sscan(code, &n); err != nil {
					t.Fatalf("%s: status %q", op.OperationID, code)
				}
				out[op.OperationID] = append(out[op.OperationID], n)
			}
			slices.Sort(out[op.OperationID])
		}
	}
	return out
}

// Every operation of the document answers each status it defines, in the
// document's shape (the client checks each answer), to requests the
// document allows where the answer is a success.
func TestEveryOperationAsDocumented(t *testing.T) {
	env, c := setup(t, nil)
	org := env.Org.ID.UUID()
	inv := env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "pending@example.com"})
	gone := env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "gone@example.com"})
	m := join(t, env, env.Org.ID, "m@example.com", "M", "member")
	del := join(t, env, env.Org.ID, "del@example.com", "D", "member")

	type call struct {
		op, method, path string
		body             any
		status           int
	}
	calls := []call{
		{"invitationGetList", "GET", path(org), nil, 200},
		{"invitationGetList", "GET", path("nope"), nil, 400},
		{"invitationCreate", "POST", path(org), map[string]any{"email": "new@example.com", "role": "developer", "assignedRoleIds": []string{memberRoleID}}, 200},
		{"invitationCreate", "POST", path(org), map[string]any{"email": "new2@example.com", "role": "member"}, 400},
		{"invitationGet", "GET", path(org, "/", inv.ID.String()), nil, 200},
		{"invitationGet", "GET", path(org, "/42"), nil, 400},
		{"invitationDelete", "DELETE", path(org, "/", gone.ID.String()), nil, 200},
		{"invitationDelete", "DELETE", path(org, "/42"), nil, 400},
		{"memberGetList", "GET", mpath(org), nil, 200},
		{"memberGetList", "GET", mpath("nope"), nil, 400},
		{"memberGet", "GET", mpath(org, "/", m.ID.String()), nil, 200},
		{"memberGet", "GET", mpath(org, "/42"), nil, 400},
		{"memberUpdate", "PATCH", mpath(org, "/", m.ID.String()), map[string]any{"role": "admin", "assignedRoleIds": []string{adminRoleID}}, 200},
		{"memberUpdate", "PATCH", mpath(org, "/", m.ID.String()), map[string]any{"assignedRoleIds": []string{"admin"}}, 400},
		{"memberDelete", "DELETE", mpath(org, "/", del.ID.String()), nil, 200},
		{"memberDelete", "DELETE", mpath(org, "/42"), nil, 400},
	}
	// With the database gone, each answers 500.
	live := len(calls)
	for _, cl := range calls[:live] {
		if cl.status == 200 {
			cl.status = 500
			calls = append(calls, cl)
		}
	}
	seen := map[string][]int{}
	for i, cl := range calls {
		if i == live {
			env.Break(t, "invitations", "members") // the key is still checked
		}
		if cl.status == 200 {
			// The request is one a client of the document sends.
			var body []byte
			if cl.body != nil {
				body, _ = json.Marshal(cl.body)
			}
			req, _ := http.NewRequest(cl.method, c.base+cl.path, strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			if err := document(t).CheckRequest(req, body); err != nil {
				t.Errorf("%s: the document does not allow the request: %v", cl.op, err)
			}
		}
		r := c.do(cl.method, cl.path, cl.body)
		if r.Status != cl.status {
			t.Errorf("%s %s %s: %d, want %d: %s", cl.op, cl.method, cl.path, r.Status, cl.status, r.Body)
		}
		seen[cl.op] = append(seen[cl.op], r.Status)
	}
	for op, statuses := range documented(t) {
		got := slices.Sorted(slices.Values(seen[op]))
		if fmt.Sprint(slices.Compact(got)) != fmt.Sprint(statuses) {
			t.Errorf("%s: answered %v, the document defines %v", op, got, statuses)
		}
	}
	if len(seen) != len(documented(t)) {
		t.Errorf("operations called %d, documented %d", len(seen), len(documented(t)))
	}
}

// recorder is a testing.TB that keeps a failure instead of failing.
type recorder struct {
	testing.TB
	failed []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.failed = append(r.failed, fmt.Sprintf(format, args...))
}

// The check fails on what the document does not allow, so the tests that
// pass through it show that invitd answers within it.
func TestDocumentCheckIsStrict(t *testing.T) {
	org := uuid.NewString()
	base := "http://127.0.0.1:1" + prefix
	inv := `{"role":"developer","id":"` + uuid.NewString() + `","email":"a@example.com","createdAt":"2026-01-01T00:00:00Z","expireAt":"2026-01-08T00:00:00Z","assignedRoles":[{"roleId":"` + memberRoleID + `","roleName":"member","roleType":"system"}%s]%s}`
	env := `{"status":200,"requestId":"` + uuid.NewString() + `","result":%s}`
	errBody := `{"status":%d,"error":"x","requestId":"` + uuid.NewString() + `"%s}`
	for _, tt := range []struct {
		name, method, path string
		status             int
		body               string
		fails              bool
	}{
		{"invitation", "GET", path(org, "/", uuid.NewString()), 200, fmt.Sprintf(env, fmt.Sprintf(inv, "", "")), false},
		{"extra field", "GET", path(org, "/", uuid.NewString()), 200, fmt.Sprintf(env, fmt.Sprintf(inv, "", `,"state":"pending"`)), true},
		{"extra field of a role", "GET", path(org, "/", uuid.NewString()), 200, fmt.Sprintf(env, fmt.Sprintf(inv, `,{"roleId":"`+adminRoleID+`","roleName":"a","roleType":"system","x":1}`, "")), true},
		{"role outside the enum", "GET", path(org, "/", uuid.NewString()), 200, fmt.Sprintf(env, strings.Replace(fmt.Sprintf(inv, "", ""), `"developer"`, `"member"`, 1)), true},
		{"role type outside the enum", "GET", path(org), 200, fmt.Sprintf(env, "["+strings.Replace(fmt.Sprintf(inv, "", ""), `"system"`, `"predefined"`, 1)+"]"), true},
		{"list not an array", "GET", path(org), 200, fmt.Sprintf(env, fmt.Sprintf(inv, "", "")), true},
		{"extra envelope field", "DELETE", path(org, "/", uuid.NewString()), 200, `{"status":200,"requestId":"` + uuid.NewString() + `","result":null}`, true},
		{"documented error", "GET", mpath(org), 400, fmt.Sprintf(errBody, 400, ""), false},
		{"documented error, extra field", "GET", mpath(org), 400, fmt.Sprintf(errBody, 400, `,"code":"x"`), true},
		{"undocumented status, error shape", "GET", mpath(org), 404, fmt.Sprintf(errBody, 404, ""), false},
		{"undocumented status, other shape", "GET", mpath(org), 404, `{"message":"x"}`, true},
		{"no such operation", "POST", mpath(org, "/", uuid.NewString()), 405, fmt.Sprintf(errBody, 405, `,"allow":"GET"`), true},
		{"request id not a UUID", "GET", mpath(org), 400, `{"status":400,"error":"x","requestId":"r1"}`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			req, _ := http.NewRequest(tt.method, base+tt.path, nil)
			document(t).Check(rec, req, &compattest.Response{Status: tt.status,
				Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(tt.body)})
			if failed := len(rec.failed) > 0; failed != tt.fails {
				t.Errorf("failed %v, want %v: %v", failed, tt.fails, rec.failed)
			}
		})
	}
}
