package api_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/server"
)

// clock is a settable clock for the server.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// orgKey makes an organization with settings and a key for it through the
// core, so that no key's requests are spent on it.
func (e *env) orgKey(settings *invite.SettingsPatch) (org, key string) {
	e.t.Helper()
	ctx := invite.WithPrincipal(context.Background(), invite.System)
	o, err := e.srv.Service.CreateOrg(ctx, "Limited", settings)
	if err != nil {
		e.t.Fatal(err)
	}
	k, err := e.srv.Service.CreateKey(ctx, &o.ID, invite.KeyInput{Name: "k"})
	if err != nil {
		e.t.Fatal(err)
	}
	return o.ID.String(), k.Token
}

// want429 checks a 429's problem and its Retry-After, RateLimit-Policy and
// RateLimit fields.
func (r *resp) want429(t *testing.T, retryAfter int, policy, ratelimit string) {
	t.Helper()
	r.want(t, http.StatusTooManyRequests)
	if got := r.Header.Get("Retry-After"); got != strconv.Itoa(retryAfter) {
		t.Errorf("Retry-After %q, want %d", got, retryAfter)
	}
	if got := r.Header.Get("RateLimit-Policy"); got != policy {
		t.Errorf("RateLimit-Policy %q, want %q", got, policy)
	}
	if got := r.Header.Get("RateLimit"); got != ratelimit {
		t.Errorf("RateLimit %q, want %q", got, ratelimit)
	}
}

// Each key has a bucket on the node: the configured one, or its
// organization's max_requests_per_second with bursts of twice that.
func TestRequestsPerKey(t *testing.T) {
	e := newEnvWith(t, false, func(c *server.Config) { c.KeyRate, c.KeyBurst = 2, 4 })
	org, key := e.orgKey(nil)
	for range 4 {
		e.call("GET", "/v1/organizations/"+org+"/invitations", key, nil).want(t, 200)
	}
	r := e.call("GET", "/v1/organizations/"+org+"/invitations", key, nil)
	r.want429(t, 1, `"default";q=4;w=2`, `"default";r=0;t=1`)
	// Another key has its own bucket; the admin key too.
	_, other := e.orgKey(nil)
	e.call("GET", "/v1/organizations/"+org, other, nil).want(t, 404)
	e.call("GET", "/v1/organizations/"+org, adminKey, nil).want(t, 200)
	// Half a second brings one request back.
	time.Sleep(550 * time.Millisecond)
	e.call("GET", "/v1/organizations/"+org, key, nil).want(t, 200)
	e.call("GET", "/v1/organizations/"+org, key, nil).want(t, 429)

	one, none := 1, invite.NoLimit
	slow, slowKey := e.orgKey(&invite.SettingsPatch{MaxRequestsPerSecond: &one})
	e.call("GET", "/v1/organizations/"+slow, slowKey, nil).want(t, 200)
	e.call("GET", "/v1/organizations/"+slow, slowKey, nil).want(t, 200)
	e.call("GET", "/v1/organizations/"+slow, slowKey, nil).want429(t, 1, `"default";q=2;w=2`, `"default";r=0;t=1`)
	free, freeKey := e.orgKey(&invite.SettingsPatch{MaxRequestsPerSecond: &none})
	for range 20 {
		e.call("GET", "/v1/organizations/"+free, freeKey, nil).want(t, 200)
	}
	// Unauthenticated requests are not counted against a key, and a bad
	// key is a 401, not a 429.
	e.call("GET", "/v1/organizations/"+org, "invitd_0123456789abcdef_nope", nil).want(t, 401)
}

// The mail and hourly limits answer 429 with the same fields, and the
// settings refuse what is not a limit with a 422.
func TestMailAndInvitationLimitsOverHTTP(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	e := newEnvWith(t, false, func(c *server.Config) { c.Now = clk.now })
	org, key := e.orgKey(nil)
	base := "/v1/organizations/" + org + "/invitations"
	bob := map[string]any{"email": "bob@example.com"}
	id := e.call("POST", base, key, bob).want(t, 201).str(t, "id")
	clk.add(time.Minute)
	e.call("POST", base+"/"+id+"/resend", key, nil).want(t, 200)
	e.call("POST", base+"/"+id+"/resend", key, nil).want429(t, 60, `"resend";q=1;w=60`, `"resend";r=0;t=60`)
	clk.add(time.Minute)
	e.call("POST", base+"/"+id+"/cancel", key, nil).want(t, 200)
	id = e.call("POST", base, key, bob).want(t, 201).str(t, "id")
	e.call("POST", base+"/"+id+"/cancel", key, nil).want(t, 200)
	day := 24 * 3600
	e.call("POST", base, key, bob).want429(t, day-120, `"recipient";q=3;w=86400`,
		`"recipient";r=0;t=`+strconv.Itoa(day-120))
	// Without mail the address may still be invited.
	e.call("POST", base, key, map[string]any{"email": "bob@example.com", "send_email": false}).want(t, 201)

	two := 2
	busy, busyKey := e.orgKey(&invite.SettingsPatch{MaxInvitationsPerHour: &two})
	busyBase := "/v1/organizations/" + busy + "/invitations"
	e.call("POST", busyBase, busyKey, map[string]any{"email": "a@example.com"}).want(t, 201)
	clk.add(10 * time.Minute)
	e.call("POST", busyBase, busyKey, map[string]any{"email": "b@example.com"}).want(t, 201)
	e.call("POST", busyBase, busyKey, map[string]any{"email": "c@example.com"}).want429(t, 50*60,
		`"invitations";q=2;w=3600`, `"invitations";r=0;t=3000`)

	for _, bad := range []any{-2, 2_000_000, "many", 1.5} {
		r := e.call("PATCH", "/v1/organizations/"+busy, adminKey, map[string]any{"settings": map[string]any{"max_invitations_per_hour": bad}})
		r.want(t, 422)
	}
	r := e.call("PATCH", "/v1/organizations/"+busy, adminKey, map[string]any{"settings": map[string]any{
		"max_mails_per_recipient_per_day": 5, "max_invitations_per_hour": -1, "max_requests_per_second": 10}}).want(t, 200)
	st := r.json(t)["settings"].(map[string]any)
	if st["max_mails_per_recipient_per_day"] != 5.0 || st["max_invitations_per_hour"] != -1.0 || st["max_requests_per_second"] != 10.0 {
		t.Errorf("settings after the update: %v", st)
	}
	e.call("POST", busyBase, busyKey, map[string]any{"email": "c@example.com"}).want(t, 201)
}
