package clickhouse_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/api/compat/clickhouse"
	"github.com/invitd/invitd/api/compat/internal/compattest"
	"github.com/invitd/invitd/invite"
)

const prefix = "/compat/clickhouse"

// The document's invitation, field → JSON type.
var invitationFields = compattest.Fields{
	"role":          "string",
	"id":            "uuid",
	"email":         "email",
	"createdAt":     "date-time",
	"expireAt":      "date-time",
	"assignedRoles": "array",
}

// The ids of invitd's predefined roles, the same in every organization and
// written down in the surface's doc.
const (
	ownerRoleID      = "b45027e3-52f2-5b76-85b7-13cf736a5ecc"
	adminRoleID      = "409bf50a-96ae-5ddb-844a-4b8c4f13c541"
	memberRoleID     = "4be008c3-79b7-5974-9e39-f731292e1720"
	restrictedRoleID = "ab8495c6-fb71-59a0-9c9d-5a25b29e1447"
)

// wantRoles asserts that obj (an invitation or a member) reads as the
// legacy role and has the one assigned role name (system, with id).
func wantRoles(t *testing.T, obj map[string]any, legacy, name, id string) {
	t.Helper()
	roles, _ := obj["assignedRoles"].([]any)
	if obj["role"] != legacy || len(roles) != 1 {
		t.Errorf("roles of %v: want %s and one assigned role %s", obj, legacy, name)
		return
	}
	r, _ := roles[0].(map[string]any)
	compattest.CheckFields(t, "assigned role", r, compattest.Fields{"roleId": "uuid", "roleName": "string", "roleType": "string"})
	typ := "system"
	if id == "" {
		typ = "custom"
	}
	if r["roleName"] != name || r["roleType"] != typ || (id != "" && r["roleId"] != id) {
		t.Errorf("assigned role %v, want %s (%s) %s", r, name, typ, id)
	}
}

// client sends ClickHouse requests; every answer is checked against the
// vendor's document (see contract_test.go).
type client struct {
	t            *testing.T
	base         string
	user, secret string
	noAuth       bool
}

func setup(t *testing.T, clock *compattest.Clock) (*compattest.Env, *client) {
	t.Helper()
	env := compattest.New(t, clock)
	base := compattest.Serve(t, prefix, clickhouse.New(env.Svc))
	return env, &client{t: t, base: base, user: env.Key.ID, secret: env.Key.Secret}
}

func (c *client) do(method, path string, body any) *compattest.Response {
	c.t.Helper()
	return document(c.t).Do(c.t, method, c.base+path, body, func(r *http.Request) {
		if !c.noAuth {
			r.SetBasicAuth(c.user, c.secret)
		}
	})
}

func (c *client) as(user, secret string) *client {
	return &client{t: c.t, base: c.base, user: user, secret: secret}
}

// result checks the success envelope and returns result.
func result(t *testing.T, r *compattest.Response) any {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	m := r.Object(t)
	compattest.CheckFields(t, "envelope", m, compattest.Fields{"status": "integer", "requestId": "uuid", "result": "object|array"})
	if m["status"] != float64(200) {
		t.Errorf("status field %v", m["status"])
	}
	if m["requestId"] != r.Header.Get("X-Request-Id") {
		t.Errorf("requestId %v, header %q", m["requestId"], r.Header.Get("X-Request-Id"))
	}
	return m["result"]
}

func invitation(t *testing.T, r *compattest.Response) map[string]any {
	t.Helper()
	v := result(t, r)
	compattest.CheckFields(t, "invitation", v, invitationFields)
	return v.(map[string]any)
}

func invitations(t *testing.T, r *compattest.Response) []map[string]any {
	t.Helper()
	v, ok := result(t, r).([]any)
	if !ok {
		t.Fatalf("result is not an array: %s", r.Body)
	}
	out := make([]map[string]any, len(v))
	for i, x := range v {
		compattest.CheckFields(t, "invitation", x, invitationFields)
		out[i] = x.(map[string]any)
	}
	return out
}

func wantError(t *testing.T, r *compattest.Response, status int) string {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	m := r.Object(t)
	compattest.CheckFields(t, "error", m, compattest.Fields{"status": "integer", "error": "string", "requestId": "uuid"})
	if int(m["status"].(float64)) != status {
		t.Errorf("status field %v, want %d", m["status"], status)
	}
	msg := m["error"].(string)
	if msg == "" || strings.Contains(msg, "json:") || strings.Contains(msg, "sql") {
		t.Errorf("error %q is empty or leaks an internal error", msg)
	}
	return msg
}

func path(org string, rest ...string) string {
	return "/v1/organizations/" + org + "/invitations" + strings.Join(rest, "")
}

func TestCreateListGetDelete(t *testing.T) {
	env, c := setup(t, nil)
	ctx := compattest.System
	org := env.Org.ID.UUID()

	m := invitation(t, c.do(http.MethodPost, path(org), map[string]any{"email": "Dev.Person@Example.COM", "role": "developer"}))
	if m["email"] != "dev.person@example.com" {
		t.Fatalf("created %v", m)
	}
	wantRoles(t, m, "developer", "member", memberRoleID)
	id := uuid.MustParse(m["id"].(string))
	inv, err := env.Svc.GetInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Role != "member" || inv.State != invite.StatePending || inv.Email != "dev.person@example.com" {
		t.Errorf("stored %+v", inv)
	}
	if m["expireAt"] != inv.ExpiresAt.UTC().Format(time.RFC3339) || m["createdAt"] != inv.CreatedAt.UTC().Format(time.RFC3339) {
		t.Errorf("times %v %v, stored %v %v", m["createdAt"], m["expireAt"], inv.CreatedAt, inv.ExpiresAt)
	}
	if d := inv.ExpiresAt.Sub(inv.CreatedAt); d != invite.DefaultTTL {
		t.Errorf("lifetime %v", d)
	}

	a := invitation(t, c.do(http.MethodPost, path(org), map[string]any{"email": "admin@example.com", "role": "ADMIN"}))
	wantRoles(t, a, "admin", "admin", adminRoleID)
	// invitd's restricted role has no legacy name: it is asked for by id and
	// reads as developer.
	res := invitation(t, c.do(http.MethodPost, path(org), map[string]any{"email": "restricted@example.com", "assignedRoleIds": []string{restrictedRoleID}}))
	wantRoles(t, res, "developer", "restricted", restrictedRoleID)
	if got, _ := env.Svc.GetInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: uuid.MustParse(res["id"].(string))}); got.Role != "restricted" {
		t.Errorf("restricted invitation stored as %q", got.Role)
	}
	def := invitation(t, c.do(http.MethodPost, path(org), map[string]any{"email": "default@example.com"}))
	wantRoles(t, def, "developer", "member", memberRoleID)
	// An owner made natively reads as admin.
	owner := env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "owner@example.com", Role: "owner"})

	// The org's ULID is accepted in the path as well as its UUID.
	for _, o := range []string{org, env.Org.ID.String(), strings.ToUpper(org)} {
		items := invitations(t, c.do(http.MethodGet, path(o), nil))
		if len(items) != 5 {
			t.Fatalf("%s: %d items", o, len(items))
		}
		if items[0]["id"] != id.String() || items[4]["id"] != owner.ID.String() {
			t.Errorf("list order: %v", items)
		}
		wantRoles(t, items[4], "admin", "owner", ownerRoleID)
	}

	got := invitation(t, c.do(http.MethodGet, path(org, "/", id.String()), nil))
	if fmt.Sprint(got) != fmt.Sprint(m) {
		t.Errorf("get %v, create %v", got, m)
	}

	r := c.do(http.MethodDelete, path(org, "/", id.String()), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	env2 := r.Object(t)
	compattest.CheckFields(t, "delete", env2, compattest.Fields{"status": "integer", "requestId": "uuid"})
	if got, _ := env.Svc.GetInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: id}); got.State != invite.StateCancelled {
		t.Errorf("after delete: %s", got.State)
	}
	wantError(t, c.do(http.MethodGet, path(org, "/", id.String()), nil), http.StatusNotFound)
	wantError(t, c.do(http.MethodDelete, path(org, "/", id.String()), nil), http.StatusNotFound)
	if items := invitations(t, c.do(http.MethodGet, path(org), nil)); len(items) != 4 {
		t.Errorf("%d listed after delete", len(items))
	}
}

func TestListIsNotPaginated(t *testing.T) {
	env, c := setup(t, nil)
	const total = 1100 // more than one internal read, and than an hour's default limit
	noLimit := invite.NoLimit
	if _, err := env.Svc.UpdateOrg(compattest.System, env.Org.ID, nil, &invite.SettingsPatch{MaxInvitationsPerHour: &noLimit}); err != nil {
		t.Fatal(err)
	}
	for i := range total {
		env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: fmt.Sprintf("u%04d@example.com", i)})
	}
	items := invitations(t, c.do(http.MethodGet, path(env.Org.ID.UUID()), nil))
	if len(items) != total {
		t.Fatalf("%d items, want %d", len(items), total)
	}
	seen := map[string]bool{}
	for i, it := range items {
		if want := fmt.Sprintf("u%04d@example.com", i); it["email"] != want {
			t.Fatalf("item %d is %v, want %s", i, it["email"], want)
		}
		if seen[it["id"].(string)] {
			t.Fatalf("duplicate %v", it["id"])
		}
		seen[it["id"].(string)] = true
	}
}

func TestExpiredAndFinishedAreGone(t *testing.T) {
	clock := compattest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	env, c := setup(t, clock)
	old := env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "old@example.com"})
	clock.Add(invite.DefaultTTL)
	live := env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "live@example.com"})
	items := invitations(t, c.do(http.MethodGet, path(env.Org.ID.UUID()), nil))
	if len(items) != 1 || items[0]["id"] != live.ID.String() {
		t.Fatalf("list %v", items)
	}
	wantError(t, c.do(http.MethodGet, path(env.Org.ID.UUID(), "/", old.ID.String()), nil), http.StatusNotFound)
	// The address is free again.
	invitation(t, c.do(http.MethodPost, path(env.Org.ID.UUID()), map[string]any{"email": "old@example.com", "role": "admin"}))
}

func TestBadInput(t *testing.T) {
	env, c := setup(t, nil)
	org := env.Org.ID.UUID()
	env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "taken@example.com"})
	for _, tt := range []struct {
		name   string
		body   any
		status int
	}{
		{"empty body", nil, http.StatusBadRequest},
		{"no email", `{"role":"admin"}`, http.StatusBadRequest},
		{"not JSON", `{"email":`, http.StatusBadRequest},
		{"string body", `"a@example.com"`, http.StatusBadRequest},
		{"email array", `{"email":["a@example.com"]}`, http.StatusBadRequest},
		{"role object", `{"email":"a@example.com","role":{}}`, http.StatusBadRequest},
		{"unknown role", `{"email":"a@example.com","role":"owner"}`, http.StatusBadRequest},
		{"role outside the enum", `{"email":"a@example.com","role":"member"}`, http.StatusBadRequest},
		{"bad email", `{"email":"a@b"}`, http.StatusBadRequest},
		{"duplicate", `{"email":"Taken@Example.com","role":"admin"}`, http.StatusConflict},
		{"too large", `{"email":"` + strings.Repeat("a", 1<<20) + `@example.com"}`, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, c.do(http.MethodPost, path(org), tt.body), tt.status)
		})
	}
	wantError(t, c.do(http.MethodGet, path("not-a-uuid"), nil), http.StatusBadRequest)
	wantError(t, c.do(http.MethodGet, path(org, "/42"), nil), http.StatusBadRequest)
	wantError(t, c.do(http.MethodGet, path(org, "/", strings.ReplaceAll(uuid.NewString(), "-", "")), nil), http.StatusBadRequest)
	wantError(t, c.do(http.MethodGet, path(org, "/", uuid.NewString()), nil), http.StatusNotFound)
	r := c.do(http.MethodPatch, path(org), "{}")
	wantError(t, r, http.StatusMethodNotAllowed)
	if r.Header.Get("Allow") != "GET, POST" {
		t.Errorf("Allow %q", r.Header.Get("Allow"))
	}
	wantError(t, c.do(http.MethodGet, "/v1/organizations/"+org+"/services", nil), http.StatusNotFound)
}

func TestAuth(t *testing.T) {
	env, c := setup(t, nil)
	ctx := compattest.System
	org := env.Org.ID.UUID()
	inv := env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "a@example.com"})
	other := env.NewOrg(t, "Other")
	otherKey, err := env.Svc.CreateKey(ctx, &other.ID, invite.KeyInput{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}

	noAuth := &client{t: t, base: c.base, noAuth: true}
	r := noAuth.do(http.MethodGet, path(org), nil)
	wantError(t, r, http.StatusUnauthorized)
	if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}
	wantError(t, document(t).Do(t, http.MethodGet, c.base+path(org), nil, func(r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+env.Key.Token)
	}), http.StatusUnauthorized)
	for _, cc := range []*client{
		c.as(env.Key.ID, "wrong"),
		c.as("nokey", env.Key.Secret),
		c.as(env.Key.ID, ""),
		c.as(otherKey.ID, env.Key.Secret),
	} {
		wantError(t, cc.do(http.MethodGet, path(org), nil), http.StatusUnauthorized)
		wantError(t, cc.do(http.MethodPost, path(org), map[string]any{"email": "x@example.com"}), http.StatusUnauthorized)
	}
	// Another org's key: the org does not exist for it.
	oc := c.as(otherKey.ID, otherKey.Secret)
	wantError(t, oc.do(http.MethodGet, path(org), nil), http.StatusNotFound)
	wantError(t, oc.do(http.MethodGet, path(org, "/", inv.ID.String()), nil), http.StatusNotFound)
	wantError(t, oc.do(http.MethodDelete, path(org, "/", inv.ID.String()), nil), http.StatusNotFound)
	wantError(t, oc.do(http.MethodPost, path(org), map[string]any{"email": "x@example.com"}), http.StatusNotFound)
	// Its own org does not hold the invitation either.
	wantError(t, oc.do(http.MethodGet, path(other.ID.UUID(), "/", inv.ID.String()), nil), http.StatusNotFound)
	if items := invitations(t, oc.do(http.MethodGet, path(other.ID.UUID()), nil)); len(items) != 0 {
		t.Errorf("other org lists %v", items)
	}
	// An admin key (id and secret) manages any organization; an unknown one is 404.
	ac := c.as(env.Admin.ID, env.Admin.Secret)
	if items := invitations(t, ac.do(http.MethodGet, path(org), nil)); len(items) != 1 {
		t.Errorf("admin lists %d", len(items))
	}
	wantError(t, ac.do(http.MethodGet, path(uuid.NewString()), nil), http.StatusNotFound)
}

func TestInternalErrorsAreGeneric(t *testing.T) {
	env, c := setup(t, nil)
	env.Break(t, "invitations") // the key is still checked
	if msg := wantError(t, c.do(http.MethodGet, path(env.Org.ID.UUID()), nil), http.StatusInternalServerError); msg != "internal error" {
		t.Errorf("message %q", msg)
	}
}
