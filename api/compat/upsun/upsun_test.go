package upsun_test

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/invitd/invitd/api/compat/internal/compattest"
	"github.com/invitd/invitd/api/compat/upsun"
	"github.com/invitd/invitd/invite"
)

const prefix = "/compat/upsun"

// The seed's invitation, field → JSON type.
var invitationFields = compattest.Fields{
	"id":              "uuid",
	"state":           "string",
	"organization_id": "ulid",
	"email":           "email",
	"owner":           "object",
	"created_at":      "date-time",
	"updated_at":      "date-time",
	"finished_at":     "date-time|null",
	"permissions":     "array",
}

var ownerFields = compattest.Fields{"id": "uuid", "display_name": "string"}

// error is what Upsun's document requires; the others are what the seeds
// give its error body.
var errorFields = compattest.Fields{"error": "string", "status": "string", "code": "integer", "message": "string", "title": "string", "detail": "object"}

// Upsun's permission enum.
var permissionEnum = []string{"admin", "billing", "plans", "members", "project:create", "projects:list"}

// loadSpec is Upsun's document, the contract of every answer.
var loadSpec = compattest.UpsunSpec

// client sends requests as an Upsun client does; every answer is checked
// against Upsun's document.
type client struct {
	t     *testing.T
	spec  *compattest.Spec
	base  string
	token string
}

func setup(t *testing.T, clock *compattest.Clock) (*compattest.Env, *client) {
	t.Helper()
	env := compattest.New(t, clock)
	base := compattest.Serve(t, prefix, upsun.New(env.Svc))
	return env, &client{t: t, spec: loadSpec(t), base: base, token: env.Key.Token}
}

func (c *client) do(method, path string, body any) *compattest.Response {
	c.t.Helper()
	return c.send(method, path, body, nil)
}

// send is do with set adjusting the request after the token is set.
func (c *client) send(method, path string, body any, set func(*http.Request)) *compattest.Response {
	c.t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = c.base + path
	}
	return c.spec.Do(c.t, method, u, body, func(r *http.Request) {
		if c.token != "" {
			r.Header.Set("Authorization", "Bearer "+c.token)
		}
		if set != nil {
			set(r)
		}
	})
}

func (c *client) as(token string) *client {
	return &client{t: c.t, spec: c.spec, base: c.base, token: token}
}

func invPath(org invite.OrgID, rest ...string) string {
	return "/organizations/" + org.String() + "/invitations" + strings.Join(rest, "")
}

func checkItem(t *testing.T, v any) map[string]any {
	t.Helper()
	compattest.CheckFields(t, "invitation", v, invitationFields)
	m := v.(map[string]any)
	compattest.CheckFields(t, "owner", m["owner"], ownerFields)
	if !slices.Contains(upsun.States, m["state"].(string)) {
		t.Errorf("state %v not in %v", m["state"], upsun.States)
	}
	for _, p := range m["permissions"].([]any) {
		if s, ok := p.(string); !ok || !slices.Contains(permissionEnum, s) {
			t.Errorf("permission %#v not in the enum", p)
		}
	}
	if (m["state"] == upsun.StatePending) != (m["finished_at"] == nil) {
		t.Errorf("state %v with finished_at %v", m["state"], m["finished_at"])
	}
	return m
}

func items(t *testing.T, r *compattest.Response) []map[string]any {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	var arr []any
	r.JSON(t, &arr) // a bare array
	out := make([]map[string]any, len(arr))
	for i, v := range arr {
		out[i] = checkItem(t, v)
	}
	return out
}

func created(t *testing.T, r *compattest.Response) map[string]any {
	t.Helper()
	if r.Status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	return checkItem(t, r.Object(t))
}

func wantError(t *testing.T, r *compattest.Response, code int) string {
	t.Helper()
	if r.Status != code {
		t.Fatalf("status %d, want %d: %s", r.Status, code, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	m := r.Object(t)
	compattest.CheckFields(t, "error", m, errorFields)
	if int(m["code"].(float64)) != code || m["title"] != http.StatusText(code) {
		t.Errorf("code %v title %v, want %d", m["code"], m["title"], code)
	}
	msg := m["message"].(string)
	if m["error"] != msg {
		t.Errorf("error %q and message %q differ", m["error"], msg)
	}
	if msg == "" || strings.Contains(msg, "json:") || strings.Contains(msg, "sql") {
		t.Errorf("message %q is empty or leaks an internal error", msg)
	}
	return msg
}

var linkRe = regexp.MustCompile(`<([^>]+)>;\s*rel="(next|prev)"`)

func links(t *testing.T, r *compattest.Response) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range linkRe.FindAllStringSubmatch(r.Header.Get("Link"), -1) {
		out[m[2]] = m[1]
	}
	return out
}

func ids(list []map[string]any) []string {
	var out []string
	for _, m := range list {
		out = append(out, m["id"].(string))
	}
	return out
}
