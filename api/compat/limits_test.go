package compat_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/invitd/invitd/api/compat/clickhouse"
	"github.com/invitd/invitd/api/compat/internal/compattest"
	"github.com/invitd/invitd/api/compat/jicoo"
	"github.com/invitd/invitd/api/compat/upsun"
	"github.com/invitd/invitd/invite"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// setupLimited is setup with the per-key request limits on: each key's
// bucket holds burst and refills at rate a second, on the env's clock.
func setupLimited(t *testing.T, rate float64, burst int) (*surfaces, *compattest.Clock) {
	clock := compattest.NewClock(t0)
	env := compattest.NewLimited(t, clock, rate, burst)
	return &surfaces{t: t, env: env,
		jicoo: compattest.Serve(t, "/compat/jicoo", jicoo.New(env.Svc)),
		ch:    compattest.Serve(t, "/compat/clickhouse", clickhouse.New(env.Svc)),
		upsun: compattest.Serve(t, "/compat/upsun", upsun.New(env.Svc)),
	}, clock
}

// want429 checks a 429's Retry-After, RateLimit-Policy and RateLimit fields
// and returns its body.
func want429(t *testing.T, r *compattest.Response, retryAfter, policy, ratelimit string) map[string]any {
	t.Helper()
	status(t, r, http.StatusTooManyRequests)
	for k, want := range map[string]string{"Retry-After": retryAfter, "RateLimit-Policy": policy, "RateLimit": ratelimit} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s %q, want %q", k, got, want)
		}
	}
	return r.Object(t)
}

// ClickHouse documents 10 requests per 10 seconds per key: the 11th within
// any 10 s is refused, in ClickHouse's error shape, until the first leaves.
func TestClickHouseTenPerTenSeconds(t *testing.T) {
	s, clock := setupLimited(t, 1000, 1000)
	for i := range 10 {
		status(t, s.chDo(http.MethodGet, "", nil), http.StatusOK)
		if i < 9 {
			clock.Add(time.Second)
		}
	}
	clock.Add(500 * time.Millisecond) // 9.5 s after the first
	body := want429(t, s.chDo(http.MethodGet, "", nil), "1", `"clickhouse";q=10;w=10`, `"clickhouse";r=0;t=1`)
	compattest.CheckFields(t, "clickhouse 429", body, compattest.Fields{"status": "integer", "error": "string", "requestId": "uuid"})
	if body["status"] != 429.0 {
		t.Errorf("body status %v", body["status"])
	}
	// The same key on another surface is not held to ClickHouse's limit.
	for range 12 {
		status(t, s.jicooDo(http.MethodGet, "/v1/organization_invitations", nil), http.StatusOK)
	}
	clock.Add(500 * time.Millisecond)
	status(t, s.chDo(http.MethodGet, "", nil), http.StatusOK)
	status(t, s.chDo(http.MethodGet, "", nil), http.StatusTooManyRequests)

	// An organization with no request limit lifts ClickHouse's too.
	none := invite.NoLimit
	if _, err := s.env.Svc.UpdateOrg(compattest.System, s.env.Org.ID, nil, &invite.SettingsPatch{MaxRequestsPerSecond: &none}); err != nil {
		t.Fatal(err)
	}
	clock.Add(6 * time.Second) // past the node's copy of the setting
	for range 15 {
		status(t, s.chDo(http.MethodGet, "", nil), http.StatusOK)
	}
}

// Jicoo and Upsun answer the key's bucket running dry in their own error
// shapes, with the same fields.
func TestJicooAndUpsunRequestLimitShapes(t *testing.T) {
	s, clock := setupLimited(t, 1, 2)
	status(t, s.jicooDo(http.MethodGet, "/v1/organization_invitations", nil), http.StatusOK)
	status(t, s.upsunDo(http.MethodGet, "", nil), http.StatusOK)
	body := want429(t, s.jicooDo(http.MethodGet, "/v1/organization_invitations", nil), "1", `"default";q=2;w=2`, `"default";r=0;t=1`)
	errs, _ := body["errors"].(map[string]any)
	if errs["status"] != 429.0 || errs["code"] != "too_many_requests" || errs["message"] == "" {
		t.Errorf("jicoo 429 body %v", body)
	}
	body = want429(t, s.upsunDo(http.MethodGet, "", nil), "1", `"default";q=2;w=2`, `"default";r=0;t=1`)
	if body["code"] != 429.0 || body["status"] != "error" || body["title"] != "Too Many Requests" || body["error"] == "" {
		t.Errorf("upsun 429 body %v", body)
	}
	clock.Add(time.Second)
	status(t, s.upsunDo(http.MethodGet, "", nil), http.StatusOK)
}

// The per-recipient limit holds across Upsun's force re-invites, a create on
// Jicoo after a cancel and ClickHouse's create, each answered in its shape.
func TestRecipientLimitOnEverySurface(t *testing.T) {
	s, _ := setupLimited(t, 1000, 1000)
	bob := map[string]any{"email": "bob@example.com", "permissions": []string{}, "force": true}
	var last string
	for range 3 {
		r := s.upsunDo(http.MethodPost, "", bob)
		status(t, r, http.StatusCreated)
		last = r.Object(t)["id"].(string)
	}
	day := `"recipient";q=3;w=86400`
	body := want429(t, s.upsunDo(http.MethodPost, "", bob), "86400", day, `"recipient";r=0;t=86400`)
	if body["code"] != 429.0 || body["status"] != "error" {
		t.Errorf("upsun 429 body %v", body)
	}
	list := s.upsunDo(http.MethodGet, "", nil)
	status(t, list, http.StatusOK)
	var items []map[string]any
	list.JSON(t, &items)
	pending := 0
	for _, it := range items {
		if it["state"] == "pending" {
			pending++
			if it["id"] != last {
				t.Errorf("the refused re-invite replaced the pending invitation: %v", it)
			}
		}
	}
	if pending != 1 {
		t.Errorf("%d pending after a refused re-invite, want 1", pending)
	}
	id, _ := invite.ParseInvitationRef(last)
	if _, err := s.env.Svc.CancelInvitation(compattest.System, s.env.Org.ID, id); err != nil {
		t.Fatal(err)
	}
	body = want429(t, s.jicooDo(http.MethodPost, "/v1/organization_invitations", map[string]any{"email": "bob@example.com"}),
		"86400", day, `"recipient";r=0;t=86400`)
	if errs, _ := body["errors"].(map[string]any); errs["code"] != "too_many_requests" {
		t.Errorf("jicoo 429 body %v", body)
	}
	body = want429(t, s.chDo(http.MethodPost, "", map[string]any{"email": "bob@example.com"}), "86400", day, `"recipient";r=0;t=86400`)
	if body["status"] != 429.0 {
		t.Errorf("clickhouse 429 body %v", body)
	}
}
