package jicoo_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitd/invitd/api/compat/internal/compattest"
	"github.com/invitd/invitd/api/compat/jicoo"
	"github.com/invitd/invitd/invite"
)

const prefix = "/compat/jicoo"

// The seed's OrganizationInvitation, field → JSON type.
var invitationFields = compattest.Fields{
	"id":        "integer",
	"email":     "email",
	"role":      "string",
	"createdAt": "date-time",
	"updatedAt": "date-time",
}

var userFields = compattest.Fields{
	"id":        "uuid",
	"name":      "string",
	"email":     "email",
	"role":      "string",
	"createdAt": "date-time",
	"updatedAt": "date-time",
}

var teamFields = compattest.Fields{
	"id":        "ulid",
	"name":      "string",
	"createdAt": "date-time",
	"updatedAt": "date-time",
}

type client struct {
	t    *testing.T
	base string
	key  string
}

func setup(t *testing.T, clock *compattest.Clock) (*compattest.Env, *client) {
	t.Helper()
	env := compattest.New(t, clock)
	base := compattest.Serve(t, prefix, jicoo.New(env.Svc))
	return env, &client{t: t, base: base, key: env.Key.Token}
}

func (c *client) do(method, path string, body any) *compattest.Response {
	c.t.Helper()
	return compattest.Do(c.t, method, c.base+path, body, func(r *http.Request) {
		if c.key != "" {
			r.Header.Set(jicoo.APIKeyHeader, c.key)
		}
	})
}

func (c *client) as(key string) *client { return &client{t: c.t, base: c.base, key: key} }

// data decodes {"data": ...}, checking that data is the envelope's only field.
func data(t *testing.T, r *compattest.Response, status int) any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	m := r.Object(t)
	if len(m) != 1 {
		t.Fatalf("envelope has fields %v, want only data", m)
	}
	d, ok := m["data"]
	if !ok {
		t.Fatalf("no data in %s", r.Body)
	}
	return d
}

func list(t *testing.T, r *compattest.Response) []map[string]any {
	t.Helper()
	d, ok := data(t, r, http.StatusOK).([]any)
	if !ok {
		t.Fatalf("data is not an array: %s", r.Body)
	}
	out := make([]map[string]any, len(d))
	for i, v := range d {
		compattest.CheckFields(t, "item", v, invitationFields)
		out[i] = v.(map[string]any)
	}
	return out
}

func checkInvitation(t *testing.T, v any) map[string]any {
	t.Helper()
	compattest.CheckFields(t, "invitation", v, invitationFields)
	m := v.(map[string]any)
	if id := m["id"].(float64); id <= 0 {
		t.Errorf("id %v is not > 0", id)
	}
	if !slices.Contains(jicoo.Roles, m["role"].(string)) {
		t.Errorf("role %v is not in %v", m["role"], jicoo.Roles)
	}
	return m
}

// wantError checks Jicoo's error shape and status.
func wantError(t *testing.T, r *compattest.Response, status int) string {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q", ct)
	}
	m := r.Object(t)
	compattest.CheckFields(t, "error", m, compattest.Fields{"errors": "object"})
	e := m["errors"]
	compattest.CheckFields(t, "errors", e, compattest.Fields{"status": "integer", "code": "string", "message": "string"})
	em := e.(map[string]any)
	if int(em["status"].(float64)) != status {
		t.Errorf("errors.status %v, want %d", em["status"], status)
	}
	msg := em["message"].(string)
	if msg == "" || strings.Contains(msg, "json:") || strings.Contains(msg, "sql") {
		t.Errorf("message %q is empty or leaks an internal error", msg)
	}
	return msg
}

func TestSeedSampleRequestAsWritten(t *testing.T) {
	env, c := setup(t, nil)
	env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "user@example.com", Role: "owner"})
	// curl --request GET '/v1/organization_invitations?page&perPage&email'
	//   --header 'Content-Type: application/json' --data-raw '{}'
	r := compattest.Do(t, http.MethodGet, c.base+"/v1/organization_invitations?page&perPage&email", "{}", func(r *http.Request) {
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set(jicoo.APIKeyHeader, c.key)
	})
	items := list(t, r)
	if len(items) != 1 {
		t.Fatalf("got %d items, want 1", len(items))
	}
	m := checkInvitation(t, items[0])
	if m["email"] != "user@example.com" || m["role"] != "owner" {
		t.Errorf("item %v", m)
	}
	// The sample's key header is empty: that is no key.
	r = compattest.Do(t, http.MethodGet, c.base+"/v1/organization_invitations?page&perPage&email", "{}", func(r *http.Request) {
		r.Header.Set(jicoo.APIKeyHeader, "")
	})
	wantError(t, r, http.StatusUnauthorized)
}

func TestCreateGetDelete(t *testing.T) {
	env, c := setup(t, nil)
	ctx := compattest.System
	r := c.do(http.MethodPost, "/v1/organization_invitations", map[string]any{"email": "  New.Person@Example.COM ", "role": "admin"})
	m := checkInvitation(t, data(t, r, http.StatusCreated))
	if m["email"] != "new.person@example.com" || m["role"] != "admin" {
		t.Fatalf("created %v", m)
	}
	id := int64(m["id"].(float64))
	inv, err := env.Svc.GetInvitation(ctx, env.Org.ID, invite.InvitationRef{Number: id})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Email != "new.person@example.com" || inv.Role != "admin" || inv.State != invite.StatePending || inv.SendCount != 1 {
		t.Fatalf("stored %+v", inv)
	}
	if m["createdAt"] != inv.CreatedAt.UTC().Format(time.RFC3339) || m["updatedAt"] != inv.UpdatedAt.UTC().Format(time.RFC3339) {
		t.Errorf("times %v %v, stored %v %v", m["createdAt"], m["updatedAt"], inv.CreatedAt, inv.UpdatedAt)
	}

	got := checkInvitation(t, data(t, c.do(http.MethodGet, fmt.Sprintf("/v1/organization_invitations/%d", id), nil), http.StatusOK))
	if fmt.Sprint(got) != fmt.Sprint(m) {
		t.Errorf("get %v, create %v", got, m)
	}

	// Role is optional: the org's default role.
	m2 := checkInvitation(t, data(t, c.do(http.MethodPost, "/v1/organization_invitations", map[string]any{"email": "plain@example.com"}), http.StatusCreated))
	if m2["role"] != "member" {
		t.Errorf("default role %v", m2["role"])
	}
	for _, role := range jicoo.Roles {
		m := checkInvitation(t, data(t, c.do(http.MethodPost, "/v1/organization_invitations",
			map[string]any{"email": role + "@example.com", "role": role}), http.StatusCreated))
		if m["role"] != role {
			t.Errorf("role %v, want %s", m["role"], role)
		}
	}

	// Delete cancels: 204 without a body, then gone from this surface.
	r = c.do(http.MethodDelete, fmt.Sprintf("/v1/organization_invitations/%d", id), nil)
	if r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("delete: %d %q", r.Status, r.Body)
	}
	inv, _ = env.Svc.GetInvitation(ctx, env.Org.ID, invite.InvitationRef{Number: id})
	if inv.State != invite.StateCancelled || inv.FinishedAt == nil {
		t.Errorf("after delete: %+v", inv)
	}
	wantError(t, c.do(http.MethodGet, fmt.Sprintf("/v1/organization_invitations/%d", id), nil), http.StatusNotFound)
	wantError(t, c.do(http.MethodDelete, fmt.Sprintf("/v1/organization_invitations/%d", id), nil), http.StatusNotFound)
	for _, it := range list(t, c.do(http.MethodGet, "/v1/organization_invitations?perPage=100", nil)) {
		if int64(it["id"].(float64)) == id {
			t.Errorf("deleted invitation still listed")
		}
	}
	// A new invitation to the same address is allowed once the old one is gone.
	data(t, c.do(http.MethodPost, "/v1/organization_invitations", map[string]any{"email": "new.person@example.com"}), http.StatusCreated)
}

func TestCreateRejectsBadInput(t *testing.T) {
	env, c := setup(t, nil)
	env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "taken@example.com"})
	big := `{"email":"a@example.com","role":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name   string
		body   any
		status int
	}{
		{"empty body", nil, http.StatusBadRequest},
		{"empty object", "{}", http.StatusBadRequest},
		{"not JSON", "{email", http.StatusBadRequest},
		{"array", "[]", http.StatusBadRequest},
		{"trailing data", `{"email":"a@example.com"} {}`, http.StatusBadRequest},
		{"email number", `{"email":42}`, http.StatusBadRequest},
		{"role number", `{"email":"a@example.com","role":1}`, http.StatusBadRequest},
		{"unknown role", `{"email":"a@example.com","role":"superuser"}`, http.StatusBadRequest},
		{"role case", `{"email":"a@example.com","role":"Admin"}`, http.StatusBadRequest},
		{"bad email", `{"email":"not-an-email"}`, http.StatusUnprocessableEntity},
		{"two addresses", `{"email":"a@example.com, b@example.com"}`, http.StatusUnprocessableEntity},
		{"duplicate pending", `{"email":"TAKEN@example.com"}`, http.StatusUnprocessableEntity},
		{"too large", big, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, c.do(http.MethodPost, "/v1/organization_invitations", tt.body), tt.status)
		})
	}
	n, err := env.Svc.CountInvitations(compattest.System, invite.InvitationFilter{Org: env.Org.ID})
	if err != nil || n != 1 {
		t.Errorf("invitations after bad requests: %d, %v", n, err)
	}
}

func TestPaging(t *testing.T) {
	env, c := setup(t, nil)
	const total = 250
	want := make([]int64, 0, total)
	for i := range total {
		inv := env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: fmt.Sprintf("user%03d@example.com", i)})
		want = append(want, inv.Number)
	}
	// One that is not pending is never listed.
	gone := env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "gone@example.com"})
	if _, err := env.Svc.CancelInvitation(compattest.System, env.Org.ID, invite.InvitationRef{ID: gone.ID}); err != nil {
		t.Fatal(err)
	}

	if items := list(t, c.do(http.MethodGet, "/v1/organization_invitations", nil)); len(items) != jicoo.DefaultPerPage {
		t.Errorf("default page has %d items, want %d", len(items), jicoo.DefaultPerPage)
	}

	const per = 30
	pages := (total + per - 1) / per
	byPage := map[int][]int64{}
	for _, order := range [][]int{ascending(pages + 1), descending(pages + 1)} {
		var got []int64
		for _, p := range order {
			items := list(t, c.do(http.MethodGet, fmt.Sprintf("/v1/organization_invitations?page=%d&perPage=%d", p, per), nil))
			var ids []int64
			for _, it := range items {
				ids = append(ids, int64(it["id"].(float64)))
			}
			if p == pages+1 && len(ids) != 0 {
				t.Fatalf("page past the end has %d items", len(ids))
			}
			if prev, seen := byPage[p]; seen && !slices.Equal(prev, ids) {
				t.Fatalf("page %d changed between walks", p)
			}
			byPage[p] = ids
		}
		for p := 1; p <= pages; p++ {
			got = append(got, byPage[p]...)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("walk %v: got %d ids %v..., want %d in creation order", order[:2], len(got), got[:min(5, len(got))], len(want))
		}
	}
	if n := len(byPage[pages]); n != total-(pages-1)*per {
		t.Errorf("last page has %d items", n)
	}
	// Numeric forms of the number-typed parameters.
	if items := list(t, c.do(http.MethodGet, "/v1/organization_invitations?page=2.0&perPage=10", nil)); len(items) != 10 || int64(items[0]["id"].(float64)) != want[10] {
		t.Errorf("page=2.0: %v", items)
	}
	if items := list(t, c.do(http.MethodGet, "/v1/organization_invitations?page=2147483647&perPage=100", nil)); len(items) != 0 {
		t.Errorf("huge page: %d items", len(items))
	}

	// Filter by email, normalized.
	items := list(t, c.do(http.MethodGet, "/v1/organization_invitations?email="+url.QueryEscape(" USER007@example.com"), nil))
	if len(items) != 1 || items[0]["email"] != "user007@example.com" {
		t.Errorf("email filter: %v", items)
	}
	if items := list(t, c.do(http.MethodGet, "/v1/organization_invitations?email=nobody@example.com", nil)); len(items) != 0 {
		t.Errorf("unknown email: %v", items)
	}
	if items := list(t, c.do(http.MethodGet, "/v1/organization_invitations?email=gone@example.com", nil)); len(items) != 0 {
		t.Errorf("cancelled invitation listed: %v", items)
	}

	for _, q := range []string{"page=0", "page=-1", "page=abc", "page=1.5", "page=99999999999", "perPage=0", "perPage=101", "perPage=x", "page=NaN"} {
		t.Run(q, func(t *testing.T) {
			wantError(t, c.do(http.MethodGet, "/v1/organization_invitations?"+q, nil), http.StatusBadRequest)
		})
	}
	wantError(t, c.do(http.MethodGet, "/v1/organization_invitations?email=not-an-email", nil), http.StatusUnprocessableEntity)
}

func ascending(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i + 1
	}
	return s
}

func descending(n int) []int {
	s := ascending(n)
	slices.Reverse(s)
	return s
}

func TestExpiredAndAcceptedAreNotInvitations(t *testing.T) {
	clock := compattest.NewClock(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	env, c := setup(t, clock)
	ctx := compattest.System
	old := env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "old@example.com"})
	clock.Add(8 * 24 * time.Hour)
	acc := env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "acc@example.com"})
	if _, _, err := env.Svc.AcceptInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: acc.ID}, invite.Accept{Email: "acc@example.com"}); err != nil {
		t.Fatal(err)
	}
	live := env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "live@example.com"})
	items := list(t, c.do(http.MethodGet, "/v1/organization_invitations", nil))
	if len(items) != 1 || int64(items[0]["id"].(float64)) != live.Number {
		t.Fatalf("list %v, want only %d", items, live.Number)
	}
	for _, n := range []int64{old.Number, acc.Number} {
		wantError(t, c.do(http.MethodGet, fmt.Sprintf("/v1/organization_invitations/%d", n), nil), http.StatusNotFound)
	}
}

func TestAuth(t *testing.T) {
	env, c := setup(t, nil)
	ctx := compattest.System
	inv := env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "a@example.com"})
	other := env.NewOrg(t, "Other")
	otherKey, err := env.Svc.CreateKey(ctx, &other.ID, invite.KeyInput{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := env.Svc.CreateKey(ctx, &env.Org.ID, invite.KeyInput{Name: "revoked"})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Svc.DeleteKey(ctx, &env.Org.ID, revoked.ID); err != nil {
		t.Fatal(err)
	}
	paths := []string{"/v1/organization_invitations", fmt.Sprintf("/v1/organization_invitations/%d", inv.Number),
		"/v1/organization_users", "/v1/organization_team"}
	for _, tt := range []struct {
		name   string
		key    string
		status int
	}{
		{"no key", "", http.StatusUnauthorized},
		{"garbage", "sk_live_xxxxxx", http.StatusUnauthorized},
		{"wrong secret", env.Key.Token[:len(env.Key.Token)-4] + "0000", http.StatusUnauthorized},
		{"key id only", invite.KeyPrefix + env.Key.ID, http.StatusUnauthorized},
		{"revoked", revoked.Token, http.StatusUnauthorized},
		{"admin key", env.Admin.Token, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range paths {
				wantError(t, c.as(tt.key).do(http.MethodGet, p, nil), tt.status)
			}
			wantError(t, c.as(tt.key).do(http.MethodPost, "/v1/organization_invitations", map[string]any{"email": "x@example.com"}), tt.status)
		})
	}
	// Another organization's key sees its own organization only.
	oc := c.as(otherKey.Token)
	if items := list(t, oc.do(http.MethodGet, "/v1/organization_invitations", nil)); len(items) != 0 {
		t.Errorf("other org lists %v", items)
	}
	wantError(t, oc.do(http.MethodGet, fmt.Sprintf("/v1/organization_invitations/%d", inv.Number), nil), http.StatusNotFound)
	wantError(t, oc.do(http.MethodDelete, fmt.Sprintf("/v1/organization_invitations/%d", inv.Number), nil), http.StatusNotFound)
	if got, _ := env.Svc.GetInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: inv.ID}); got.State != invite.StatePending {
		t.Errorf("other org's delete changed the invitation: %s", got.State)
	}
}

func TestRoutingErrors(t *testing.T) {
	_, c := setup(t, nil)
	for _, p := range []string{"abc", "0", "-3", "1.5", "01234567-89ab-cdef-0123-456789abcdef", "99999999999999999999"} {
		wantError(t, c.do(http.MethodGet, "/v1/organization_invitations/"+p, nil), http.StatusBadRequest)
	}
	wantError(t, c.do(http.MethodGet, "/v1/organization_invitations/123456", nil), http.StatusNotFound)
	r := c.do(http.MethodPut, "/v1/organization_invitations", "{}")
	wantError(t, r, http.StatusMethodNotAllowed)
	if allow := r.Header.Get("Allow"); allow != "GET, POST" {
		t.Errorf("Allow %q", allow)
	}
	wantError(t, c.do(http.MethodPatch, "/v1/organization_invitations/1", "{}"), http.StatusMethodNotAllowed)
	wantError(t, c.do(http.MethodGet, "/v1/bookings", nil), http.StatusNotFound)
}

func TestOrganizationUsers(t *testing.T) {
	env, c := setup(t, nil)
	ctx := compattest.System
	var ids []string
	for i := range 5 {
		email := fmt.Sprintf("member%d@example.com", i)
		inv := env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: email, Role: "member"})
		_, m, err := env.Svc.AcceptInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: inv.ID}, invite.Accept{Email: email, Name: fmt.Sprintf("Member %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID.String())
	}
	users := func(q string) []map[string]any {
		d, ok := data(t, c.do(http.MethodGet, "/v1/organization_users"+q, nil), http.StatusOK).([]any)
		if !ok {
			t.Fatalf("data is not an array")
		}
		out := make([]map[string]any, len(d))
		for i, v := range d {
			compattest.CheckFields(t, "user", v, userFields)
			out[i] = v.(map[string]any)
		}
		return out
	}
	var walked []string
	for p := 1; p <= 3; p++ {
		for _, u := range users(fmt.Sprintf("?page=%d&perPage=2", p)) {
			walked = append(walked, u["id"].(string))
		}
	}
	if !slices.Equal(walked, ids) {
		t.Errorf("users walked %v, want %v", walked, ids)
	}
	if got := users("?page&perPage&email=MEMBER3@example.com"); len(got) != 1 || got[0]["id"] != ids[3] || got[0]["name"] != "Member 3" {
		t.Errorf("email filter: %v", got)
	}
	wantError(t, c.do(http.MethodGet, "/v1/organization_users?perPage=500", nil), http.StatusBadRequest)

	u := data(t, c.do(http.MethodGet, "/v1/organization_users/"+ids[0], nil), http.StatusOK)
	compattest.CheckFields(t, "user", u, userFields)
	if u.(map[string]any)["role"] != "member" {
		t.Errorf("user %v", u)
	}
	u = data(t, c.do(http.MethodPatch, "/v1/organization_users/"+ids[0], map[string]any{"role": "admin"}), http.StatusOK)
	compattest.CheckFields(t, "user", u, userFields)
	if u.(map[string]any)["role"] != "admin" {
		t.Errorf("patched %v", u)
	}
	if m, _ := env.Svc.GetMember(ctx, env.Org.ID, mustUUID(t, ids[0])); m.Role != "admin" {
		t.Errorf("stored role %q", m.Role)
	}
	wantError(t, c.do(http.MethodPatch, "/v1/organization_users/"+ids[0], map[string]any{"role": "boss"}), http.StatusBadRequest)
	wantError(t, c.do(http.MethodPatch, "/v1/organization_users/"+ids[0], `{"role":true}`), http.StatusBadRequest)
	wantError(t, c.do(http.MethodGet, "/v1/organization_users/not-a-uuid", nil), http.StatusBadRequest)
	wantError(t, c.do(http.MethodGet, "/v1/organization_users/01234567-89ab-4def-8123-456789abcdef", nil), http.StatusNotFound)

	r := c.do(http.MethodDelete, "/v1/organization_users/"+ids[1], nil)
	if r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("delete user: %d %q", r.Status, r.Body)
	}
	wantError(t, c.do(http.MethodGet, "/v1/organization_users/"+ids[1], nil), http.StatusNotFound)
	if got := users(""); len(got) != 4 {
		t.Errorf("%d users after delete", len(got))
	}
	// An existing member cannot be invited again.
	wantError(t, c.do(http.MethodPost, "/v1/organization_invitations", map[string]any{"email": "member0@example.com"}), http.StatusUnprocessableEntity)
}

func mustUUID(t *testing.T, s string) (id [16]byte) {
	t.Helper()
	ref, err := invite.ParseInvitationRef(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref.ID
}

func TestOrganizationTeam(t *testing.T) {
	env, c := setup(t, nil)
	for _, p := range []string{"/v1/organization_team", "/v1/organization_teams/" + env.Org.ID.String(), "/v1/organization_teams/" + env.Org.ID.UUID()} {
		d := data(t, c.do(http.MethodGet, p, nil), http.StatusOK)
		compattest.CheckFields(t, "team", d, teamFields)
		m := d.(map[string]any)
		if m["id"] != env.Org.ID.String() || m["name"] != "Acme" {
			t.Errorf("%s: %v", p, m)
		}
	}
	other := env.NewOrg(t, "Other")
	wantError(t, c.do(http.MethodGet, "/v1/organization_teams/"+other.ID.String(), nil), http.StatusNotFound)
	wantError(t, c.do(http.MethodGet, "/v1/organization_teams/nope", nil), http.StatusNotFound)
}

func TestInternalErrorsAreGenericAndLogged(t *testing.T) {
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	env, c := setup(t, nil)
	env.Break(t, "invitations") // the key is still checked
	msg := wantError(t, c.do(http.MethodGet, "/v1/organization_invitations", nil), http.StatusInternalServerError)
	if msg != "internal error" {
		t.Errorf("message %q", msg)
	}
	if l := logs.String(); !strings.Contains(l, "surface=jicoo") || !strings.Contains(l, "no such table") {
		t.Errorf("the cause was not logged: %q", l)
	}
}
