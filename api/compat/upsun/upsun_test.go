package upsun_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

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

const specPath = "../testdata/upsun-organization-invitations.openapi.json"

// loadSpec is Upsun's document, made strict, read once. Its Error lists
// only error; the fields the seeds add to it are added to the schema, so
// that they are checked too. An answer the document gives no schema for (a
// 401, a 400 of the list, a 404's body) is checked against Error, via the
// 403 every operation documents.
var loadSpec = compattest.Cached(specPath, prefix, compattest.SpecOptions{
	Extra: map[string]string{"/components/schemas/Error": `{
		"status": {"type": "string"}, "code": {"type": "integer"}, "message": {"type": "string"},
		"title": {"type": "string"}, "detail": {"type": "object"}}`},
	ErrorStatus: http.StatusForbidden,
})

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

func TestCreateAndCancel(t *testing.T) {
	env, c := setup(t, nil)
	ctx := compattest.System
	m := created(t, c.do(http.MethodPost, invPath(env.Org.ID), map[string]any{
		"email": "Jane.Smith@Example.com", "permissions": []string{"billing", "members"}, "force": false}))
	if m["email"] != "jane.smith@example.com" || m["state"] != "pending" || m["organization_id"] != env.Org.ID.String() ||
		m["finished_at"] != nil || fmt.Sprint(m["permissions"]) != "[billing members]" {
		t.Fatalf("created %v", m)
	}
	id := uuid.MustParse(m["id"].(string))
	inv, err := env.Svc.GetInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(inv.Permissions, []string{"billing", "members"}) || inv.State != invite.StatePending || inv.SendCount != 1 {
		t.Errorf("stored %+v", inv)
	}
	if m["created_at"] != inv.CreatedAt.UTC().Format(time.RFC3339) || m["updated_at"] != inv.UpdatedAt.UTC().Format(time.RFC3339) {
		t.Errorf("times %v %v, stored %v", m["created_at"], m["updated_at"], inv.CreatedAt)
	}
	// Empty permissions are allowed; the org's default role is used.
	e := created(t, c.do(http.MethodPost, invPath(env.Org.ID), map[string]any{"email": "np@example.com", "permissions": []string{}}))
	if len(e["permissions"].([]any)) != 0 {
		t.Errorf("permissions %v", e["permissions"])
	}

	// The inviter reads as owner.
	inviter := uuid.NewString()
	env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "o@example.com", Inviter: invite.Inviter{ID: inviter, Name: "Alice Admin"}})
	var owner map[string]any
	for _, it := range items(t, c.do(http.MethodGet, invPath(env.Org.ID), nil)) {
		if it["email"] == "o@example.com" {
			owner = it["owner"].(map[string]any)
		}
	}
	if owner["id"] != inviter || owner["display_name"] != "Alice Admin" {
		t.Errorf("owner %v", owner)
	}

	// Duplicate: 409 without force; force cancels the old one and makes a new one.
	wantError(t, c.do(http.MethodPost, invPath(env.Org.ID), map[string]any{"email": "jane.smith@example.com", "permissions": []string{"admin"}}), http.StatusConflict)
	f := created(t, c.do(http.MethodPost, invPath(env.Org.ID), map[string]any{"email": "jane.smith@example.com", "permissions": []string{"admin"}, "force": true}))
	if f["id"] == m["id"] || fmt.Sprint(f["permissions"]) != "[admin]" {
		t.Errorf("forced %v", f)
	}
	old, _ := env.Svc.GetInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: id})
	if old.State != invite.StateCancelled {
		t.Errorf("old state %s", old.State)
	}
	cancelled := items(t, c.do(http.MethodGet, invPath(env.Org.ID, "?filter[state]=cancelled"), nil))
	if len(cancelled) != 1 || cancelled[0]["id"] != id.String() || cancelled[0]["state"] != "cancelled" || cancelled[0]["finished_at"] == nil {
		t.Errorf("cancelled list %v", cancelled)
	}

	// Cancel: 204, no body; the record stays, listed as cancelled.
	r := c.do(http.MethodDelete, invPath(env.Org.ID, "/", f["id"].(string)), nil)
	if r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("delete: %d %q", r.Status, r.Body)
	}
	got := ids(items(t, c.do(http.MethodGet, invPath(env.Org.ID, "?filter[state]=cancelled"), nil)))
	if !slices.Contains(got, f["id"].(string)) || len(got) != 2 {
		t.Errorf("cancelled ids %v", got)
	}
	if slices.Contains(ids(items(t, c.do(http.MethodGet, invPath(env.Org.ID), nil))), f["id"].(string)) {
		t.Errorf("cancelled invitation listed as pending")
	}
	wantError(t, c.do(http.MethodDelete, invPath(env.Org.ID, "/", f["id"].(string)), nil), http.StatusConflict)
	wantError(t, c.do(http.MethodDelete, invPath(env.Org.ID, "/", uuid.NewString()), nil), http.StatusNotFound)
	wantError(t, c.do(http.MethodDelete, invPath(env.Org.ID, "/12"), nil), http.StatusNotFound)
}

func TestCreateRejectsBadInput(t *testing.T) {
	env, c := setup(t, nil)
	ctx := compattest.System
	inv := env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "member@example.com"})
	if _, _, err := env.Svc.AcceptInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: inv.ID}, invite.Accept{Email: "member@example.com"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		body any
		code int
	}{
		{"empty body", nil, http.StatusBadRequest},
		{"no permissions", `{"email":"a@example.com"}`, http.StatusBadRequest},
		{"null permissions", `{"email":"a@example.com","permissions":null}`, http.StatusBadRequest},
		{"permissions string", `{"email":"a@example.com","permissions":"admin"}`, http.StatusBadRequest},
		{"permissions numbers", `{"email":"a@example.com","permissions":[1]}`, http.StatusBadRequest},
		{"unknown permission", `{"email":"a@example.com","permissions":["root"]}`, http.StatusBadRequest},
		{"no email", `{"permissions":["admin"]}`, http.StatusBadRequest},
		{"bad email", `{"email":"@example.com","permissions":["admin"]}`, http.StatusBadRequest},
		{"force string", `{"email":"a@example.com","permissions":["admin"],"force":"yes"}`, http.StatusBadRequest},
		{"not JSON", `email=a@example.com`, http.StatusBadRequest},
		{"member", `{"email":"MEMBER@example.com","permissions":["admin"]}`, http.StatusConflict},
		{"member forced", `{"email":"member@example.com","permissions":["admin"],"force":true}`, http.StatusConflict},
		{"too large", `{"email":"a@example.com","permissions":["` + strings.Repeat("x", 1<<20) + `"]}`, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, c.do(http.MethodPost, invPath(env.Org.ID), tt.body), tt.code)
		})
	}
}

func TestStateMapping(t *testing.T) {
	clock := compattest.NewClock(time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC))
	env, c := setup(t, clock)
	ctx := compattest.System
	mk := func(email string) *invite.Invitation {
		return env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: email})
	}
	expired := mk("expired@example.com")
	clock.Add(invite.DefaultTTL + time.Hour)
	pending := mk("pending@example.com")
	accepted := mk("accepted@example.com")
	if _, _, err := env.Svc.AcceptInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: accepted.ID}, invite.Accept{Email: "accepted@example.com"}); err != nil {
		t.Fatal(err)
	}
	declined := mk("declined@example.com")
	if _, err := env.Svc.DeclineInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: declined.ID}); err != nil {
		t.Fatal(err)
	}
	cancelled := mk("cancelled@example.com")
	if _, err := env.Svc.CancelInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: cancelled.ID}); err != nil {
		t.Fatal(err)
	}
	failed, err := env.Svc.CreateInvitation(ctx, env.Org.ID, invite.CreateInvitation{Email: "failed@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	// The mail is given up, as the job runner records it.
	jobs, err := env.Svc.ClaimJobs(ctx, "test", []string{invite.JobSendInvitation}, 10, time.Minute)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("jobs %v, %v", jobs, err)
	}
	if err := env.Svc.SettleJob(ctx, jobs[0], invite.JobResult{Outcome: invite.Failed, Error: "mailbox does not exist"}); err != nil {
		t.Fatal(err)
	}

	want := map[string][]string{
		"":                   {pending.ID.String()},
		"pending":            {pending.ID.String()},
		"processing":         nil,
		"accepted":           {accepted.ID.String()},
		"cancelled":          {expired.ID.String(), declined.ID.String(), cancelled.ID.String()},
		"error":              {failed.Invitation.ID.String()},
		"pending,error":      {pending.ID.String(), failed.Invitation.ID.String()},
		"[eq]=accepted":      {accepted.ID.String()},
		"[in]=pending,error": {pending.ID.String(), failed.Invitation.ID.String()},
		"[ne]=pending":       {expired.ID.String(), accepted.ID.String(), declined.ID.String(), cancelled.ID.String(), failed.Invitation.ID.String()},
	}
	for q, w := range want {
		t.Run("state "+q, func(t *testing.T) {
			p := invPath(env.Org.ID)
			switch {
			case strings.HasPrefix(q, "["):
				p += "?filter[state]" + q
			case q != "":
				p += "?filter[state]=" + q
			}
			got := items(t, c.do(http.MethodGet, p, nil))
			if !slices.Equal(ids(got), w) {
				t.Fatalf("got %v, want %v", ids(got), w)
			}
			for _, it := range got {
				if s := it["state"].(string); strings.Contains(q, "[ne]") == strings.Contains(q, s) && (q != "" || s != "pending") {
					t.Errorf("item in state %s listed for %q", s, q)
				}
			}
		})
	}
	for _, q := range []string{"declined", "expired", "PENDING", "all", "pending,bogus"} {
		wantError(t, c.do(http.MethodGet, invPath(env.Org.ID, "?filter[state]="+q), nil), http.StatusBadRequest)
	}
}

// walk follows rel links from first until there are none, returning every
// page's ids in the order of the list.
func walk(t *testing.T, c *client, first, rel string) (pages [][]string) {
	t.Helper()
	u := first
	for range 1000 {
		r := c.do(http.MethodGet, u, nil)
		pages = append(pages, ids(items(t, r)))
		l := links(t, r)
		for _, v := range l {
			if !strings.HasPrefix(v, c.base+"/organizations/") {
				t.Fatalf("link %q is not under %s", v, c.base)
			}
		}
		next, ok := l[rel]
		if !ok {
			return pages
		}
		u = next
	}
	t.Fatal("no end to the list")
	return nil
}

func TestCursorPaging(t *testing.T) {
	start := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	clock := compattest.NewClock(start)
	env, c := setup(t, clock)
	ctx := compattest.System
	const total = 250
	var all []*invite.Invitation
	for i := range total {
		// Groups of three share a timestamp, so order falls back to the tie-break.
		clock.Set(start.Add(time.Duration(i/3) * time.Second))
		all = append(all, env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: fmt.Sprintf("u%03d@example.com", i), Permissions: []string{"projects:list"}}))
	}
	// Resend some, latest first, so updated_at order differs from creation order.
	clock.Set(start.Add(time.Hour))
	for i := total - 1; i >= 0; i -= 7 {
		clock.Add(time.Second)
		if _, err := env.Svc.ResendInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: all[i].ID}); err != nil {
			t.Fatal(err)
		}
	}
	// Finished invitations are not in the default list.
	clock.Add(time.Second)
	extra := env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "extra@example.com"})
	if _, err := env.Svc.CancelInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: extra.ID}); err != nil {
		t.Fatal(err)
	}

	fresh := make([]*invite.Invitation, total)
	for i, inv := range all {
		got, err := env.Svc.GetInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: inv.ID})
		if err != nil {
			t.Fatal(err)
		}
		fresh[i] = got
	}
	order := func(less func(a, b *invite.Invitation) bool) []string {
		s := slices.Clone(fresh)
		sort.SliceStable(s, func(i, j int) bool { return less(s[i], s[j]) })
		var out []string
		for _, inv := range s {
			out = append(out, inv.ID.String())
		}
		return out
	}
	byUpdated := func(a, b *invite.Invitation) bool {
		if !a.UpdatedAt.Equal(b.UpdatedAt) {
			return a.UpdatedAt.Before(b.UpdatedAt)
		}
		return a.Number < b.Number
	}
	created := order(func(a, b *invite.Invitation) bool {
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.Number < b.Number
	})
	updated := order(byUpdated)
	if slices.Equal(created, updated) {
		t.Fatal("the orders do not differ; the test proves nothing")
	}
	downdated := slices.Clone(updated)
	slices.Reverse(downdated)

	for _, tt := range []struct {
		sort string
		want []string
	}{{"", created}, {"updated_at", updated}, {"-updated_at", downdated}} {
		for _, size := range []int{7, 64, 100} {
			t.Run(fmt.Sprintf("sort=%s size=%d", tt.sort, size), func(t *testing.T) {
				q := url.Values{"page[size]": {fmt.Sprint(size)}}
				if tt.sort != "" {
					q.Set("sort", tt.sort)
				}
				first := invPath(env.Org.ID, "?"+q.Encode())
				fwd := walk(t, c, first, "next")
				if got := slices.Concat(fwd...); !slices.Equal(got, tt.want) {
					t.Fatalf("forward: %d ids, want %d in order", len(got), len(tt.want))
				}
				for i, p := range fwd {
					if len(p) != size && (i != len(fwd)-1 || len(p) == 0) {
						t.Fatalf("page %d has %d items", i, len(p))
					}
				}
				r := c.do(http.MethodGet, first, nil)
				if _, ok := links(t, r)["prev"]; ok {
					t.Errorf("first page has a prev link")
				}
				// From the last page back to the first by prev links.
				lastURL := first
				for range len(fwd) - 1 {
					lastURL = links(t, c.do(http.MethodGet, lastURL, nil))["next"]
				}
				back := walk(t, c, lastURL, "prev")
				slices.Reverse(back)
				if !slices.EqualFunc(back, fwd, slices.Equal[[]string]) {
					t.Fatalf("backward pages differ from forward pages")
				}
			})
		}
	}

	// The default page size is 100.
	r := c.do(http.MethodGet, invPath(env.Org.ID), nil)
	if n := len(items(t, r)); n != upsun.DefaultPageSize {
		t.Errorf("default page has %d items", n)
	}
	next := links(t, r)["next"]
	nu, err := url.Parse(next)
	if err != nil || nu.Query().Get("page[after]") == "" {
		t.Fatalf("next link %q", next)
	}
	// A cursor made for one sort is refused by another.
	wantError(t, c.do(http.MethodGet, invPath(env.Org.ID, "?sort=updated_at&page[after]="+url.QueryEscape(nu.Query().Get("page[after]"))), nil), http.StatusBadRequest)
	// Paging past the end: an empty page that links back.
	lastID := created[len(created)-1]
	var lastInv *invite.Invitation
	for _, inv := range fresh {
		if inv.ID.String() == lastID {
			lastInv = inv
		}
	}
	cur := invite.EncodeCursor("created_at", invite.PositionOf(lastInv, invite.SortCreatedAt))
	r = c.do(http.MethodGet, invPath(env.Org.ID, "?page[after]="+cur), nil)
	if got := items(t, r); len(got) != 0 {
		t.Errorf("past the end: %d items", len(got))
	}
	if l := links(t, r); l["next"] != "" || l["prev"] == "" {
		t.Errorf("links past the end: %v", l)
	}
}

func TestListRejectsBadParameters(t *testing.T) {
	env, c := setup(t, nil)
	env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "a@example.com"})
	for _, q := range []string{
		"page[size]=0", "page[size]=101", "page[size]=-5", "page[size]=ten", "page[size]=1.5",
		"sort=created_at", "sort=-created_at", "sort=email", "sort=updated_at,-updated_at",
		"page[after]=garbage", "page[before]=%7B%7D", "page[after]=eyJzIjoiY3JlYXRlZF9hdCJ9",
		"page[after]=x&page[before]=y",
	} {
		t.Run(q, func(t *testing.T) {
			wantError(t, c.do(http.MethodGet, invPath(env.Org.ID, "?"+q), nil), http.StatusBadRequest)
		})
	}
	for _, q := range []string{"page[size]=1", "page[size]=100", "page[size]=", "sort=updated_at", "sort=-updated_at"} {
		if got := items(t, c.do(http.MethodGet, invPath(env.Org.ID, "?"+q), nil)); len(got) != 1 {
			t.Errorf("%s: %d items", q, len(got))
		}
	}
	r := c.do(http.MethodGet, invPath(env.Org.ID, "/"+uuid.NewString()), nil)
	wantError(t, r, http.StatusMethodNotAllowed)
	if r.Header.Get("Allow") != "DELETE" {
		t.Errorf("Allow %q", r.Header.Get("Allow"))
	}
	wantError(t, c.do(http.MethodPut, invPath(env.Org.ID), "{}"), http.StatusMethodNotAllowed)
	wantError(t, c.do(http.MethodGet, "/organizations", nil), http.StatusNotFound)
}

func TestAuth(t *testing.T) {
	env, c := setup(t, nil)
	ctx := compattest.System
	inv := env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "a@example.com"})
	other := env.NewOrg(t, "Other")
	otherKey, err := env.Svc.CreateKey(ctx, &other.ID, "other")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		set  func(*http.Request)
	}{
		{"none", func(*http.Request) {}},
		{"basic", func(r *http.Request) { r.SetBasicAuth(env.Key.ID, env.Key.Secret) }},
		{"bare token", func(r *http.Request) { r.Header.Set("Authorization", env.Key.Token) }},
		{"empty bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") }},
		{"wrong token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer invitd_abc_def") }},
		{"not a key", func(r *http.Request) { r.Header.Set("Authorization", "Bearer hello") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := c.as("").send(http.MethodGet, invPath(env.Org.ID), nil, tt.set)
			wantError(t, r, http.StatusUnauthorized)
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
			}
		})
	}
	// The scheme is case-insensitive.
	items(t, c.send(http.MethodGet, invPath(env.Org.ID), nil, func(r *http.Request) {
		r.Header.Set("Authorization", "bearer "+env.Key.Token)
	}))
	oc := c.as(otherKey.Token)
	wantError(t, oc.do(http.MethodGet, invPath(env.Org.ID), nil), http.StatusNotFound)
	wantError(t, oc.do(http.MethodPost, invPath(env.Org.ID), map[string]any{"email": "b@example.com", "permissions": []string{}}), http.StatusNotFound)
	wantError(t, oc.do(http.MethodDelete, invPath(env.Org.ID, "/", inv.ID.String()), nil), http.StatusNotFound)
	wantError(t, oc.do(http.MethodDelete, invPath(other.ID, "/", inv.ID.String()), nil), http.StatusNotFound)
	if got, _ := env.Svc.GetInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: inv.ID}); got.State != invite.StatePending {
		t.Errorf("another org's key changed the invitation")
	}
	// The UUID form of the org id is accepted; a malformed id is refused.
	if got := items(t, c.do(http.MethodGet, "/organizations/"+env.Org.ID.UUID()+"/invitations", nil)); len(got) != 1 {
		t.Errorf("uuid form: %d", len(got))
	}
	wantError(t, c.do(http.MethodGet, "/organizations/acme/invitations", nil), http.StatusBadRequest)
	// An admin key manages any existing org.
	ac := c.as(env.Admin.Token)
	if got := items(t, ac.do(http.MethodGet, invPath(env.Org.ID), nil)); len(got) != 1 {
		t.Errorf("admin: %d", len(got))
	}
	wantError(t, ac.do(http.MethodGet, invPath(invite.NewOrgID()), nil), http.StatusNotFound)
}

func TestInternalErrorsAreGeneric(t *testing.T) {
	env, c := setup(t, nil)
	env.Svc.Store().Close()
	if msg := wantError(t, c.do(http.MethodGet, invPath(env.Org.ID), nil), http.StatusInternalServerError); msg != "internal error" {
		t.Errorf("message %q", msg)
	}
}
