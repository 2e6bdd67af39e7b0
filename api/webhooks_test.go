package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitd/invitd/server"
	"github.com/invitd/invitd/webhook"
)

// publicURL is on the public internet by its literal address, so the guard
// passes it without DNS; nothing is delivered to it in these tests.
const publicURL = "https://93.184.215.14/hooks"

func TestWebhookCRUD(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("Acme")
	base := "/v1/organizations/" + org + "/webhooks"

	c := e.call("POST", base, key, map[string]any{"url": publicURL, "description": " CRM sync "}).want(t, 201).json(t)
	id, secret := c["id"].(string), c["secret"].(string)
	if !strings.HasPrefix(id, "wh_") || !strings.HasPrefix(secret, "whsec_") || c["url"] != publicURL ||
		c["description"] != "CRM sync" || c["enabled"] != true || c["organization_id"] != org ||
		len(c["events"].([]any)) != 1 || c["events"].([]any)[0] != "*" || c["created_at"] == nil || c["updated_at"] == nil {
		t.Fatalf("create: %v", c)
	}
	// The secret is shown only when it is made.
	got := e.call("GET", base+"/"+id, key, nil).want(t, 200)
	if _, ok := got.json(t)["secret"]; ok || got.json(t)["url"] != publicURL {
		t.Fatalf("get: %s", got.Body)
	}
	list := e.call("GET", base, key, nil).want(t, 200)
	if l := list.json(t); len(l["data"].([]any)) != 1 || l["next_cursor"] != nil || strings.Contains(string(list.Body), secret) {
		t.Fatalf("list: %s", list.Body)
	}

	p := e.call("PATCH", base+"/"+id, key, map[string]any{"events": []string{"invitation.*", "member.created"}, "enabled": false, "description": "off"}).want(t, 200)
	pm := p.json(t)
	if ev := pm["events"].([]any); len(ev) != 2 || ev[0] != "invitation.*" || pm["enabled"] != false || pm["description"] != "off" || pm["url"] != publicURL {
		t.Fatalf("patch: %s", p.Body)
	}
	if _, ok := pm["secret"]; ok {
		t.Fatalf("patch shows the secret: %s", p.Body)
	}
	e.call("PATCH", base+"/"+id, key, map[string]any{"events": []string{"invitation.bogus"}}).want(t, 422)
	e.call("PATCH", base+"/"+id, key, map[string]any{"url": "http://127.0.0.1:9/hook"}).want(t, 422)
	e.call("PATCH", base+"/"+id, key, map[string]any{"enabled": "yes"}).want(t, 422)
	if g := e.call("GET", base+"/"+id, key, nil).want(t, 200).json(t); g["url"] != publicURL || len(g["events"].([]any)) != 2 {
		t.Fatalf("a refused patch changed the endpoint: %v", g)
	}
	// Enabled again by a patch that names nothing else.
	if g := e.call("PATCH", base+"/"+id, key, map[string]any{"enabled": true}).want(t, 200).json(t); g["enabled"] != true || g["description"] != "off" {
		t.Fatalf("patch enabled: %v", g)
	}

	r := e.call("POST", base+"/"+id+"/rotate_secret", key, nil).want(t, 200).json(t)
	if s, _ := r["secret"].(string); !strings.HasPrefix(s, "whsec_") || s == secret || r["id"] != id {
		t.Fatalf("rotate_secret: %v", r)
	}
	if _, ok := e.call("GET", base+"/"+id, key, nil).want(t, 200).json(t)["secret"]; ok {
		t.Fatal("get shows the secret after a rotation")
	}

	off := e.call("POST", base, key, map[string]any{"url": publicURL + "/2", "events": []string{"member.*"}, "enabled": false}).want(t, 201).json(t)
	if off["enabled"] != false || off["events"].([]any)[0] != "member.*" || off["description"] != "" {
		t.Fatalf("create disabled: %v", off)
	}
	for _, b := range []any{
		map[string]any{},
		map[string]any{"url": ""},
		map[string]any{"url": publicURL, "events": []string{"bogus"}},
		map[string]any{"url": publicURL, "description": "a\nb"},
		map[string]any{"url": publicURL + "/" + strings.Repeat("x", 2048)},
	} {
		e.call("POST", base, key, b).want(t, 422)
	}

	e.call("DELETE", base+"/"+id, key, nil).want(t, 204)
	e.call("GET", base+"/"+id, key, nil).want(t, 404)
	e.call("DELETE", base+"/"+id, key, nil).want(t, 404)
	e.call("POST", base+"/"+id+"/rotate_secret", key, nil).want(t, 404)
	if l := e.call("GET", base, key, nil).want(t, 200).json(t); len(l["data"].([]any)) != 1 {
		t.Fatalf("list after delete: %v", l)
	}
}

// A URL that reaches the service's own networks is refused when it is
// registered (the server wires the SSRF guard into the core).
func TestWebhookURLRefused(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("Acme")
	base := "/v1/organizations/" + org + "/webhooks"
	for _, u := range []string{
		"http://127.0.0.1:8080/hook", "http://[::1]/hook", "http://10.0.0.1/hook", "http://192.168.1.10/hook",
		"http://169.254.169.254/latest/meta-data", "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/",
		"ftp://93.184.215.14/hook", "https://user:pass@93.184.215.14/hook", "not a url", "/relative",
	} {
		r := e.call("POST", base, key, map[string]any{"url": u}).want(t, 422)
		if r.str(t, "detail") == "" {
			t.Errorf("%s: no detail", u)
		}
	}
	if l := e.call("GET", base, key, nil).want(t, 200).json(t); len(l["data"].([]any)) != 0 {
		t.Fatalf("a refused URL was stored: %v", l)
	}
}

func TestWebhookTenancy(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("A")
	other, otherKey := e.org("B")
	base := "/v1/organizations/" + org + "/webhooks"
	// An admin key manages any organization's endpoints.
	id := e.call("POST", base, adminKey, map[string]any{"url": publicURL}).want(t, 201).str(t, "id")
	e.call("GET", base+"/"+id, key, nil).want(t, 200)
	e.call("GET", base, adminKey, nil).want(t, 200)
	ev := e.call("POST", base+"/"+id+"/test", key, nil).want(t, 202).str(t, "id")

	for _, c := range []struct{ method, path string }{
		{"GET", ""}, {"POST", ""}, {"GET", "/" + id}, {"PATCH", "/" + id}, {"DELETE", "/" + id},
		{"POST", "/" + id + "/rotate_secret"}, {"GET", "/" + id + "/deliveries"},
		{"POST", "/" + id + "/deliveries/" + ev + "/retry"}, {"POST", "/" + id + "/test"},
	} {
		var b any
		if c.method == "POST" && c.path == "" || c.method == "PATCH" {
			b = map[string]any{"url": publicURL}
		}
		// Another organization's key finds nothing, under either organization.
		e.call(c.method, base+c.path, otherKey, b).want(t, 404)
		if c.path != "" {
			e.call(c.method, "/v1/organizations/"+other+"/webhooks"+c.path, otherKey, b).want(t, 404)
		}
		e.call(c.method, base+c.path, "", b).want(t, 401)
	}
	if g := e.call("GET", base+"/"+id, key, nil).want(t, 200).json(t); g["url"] != publicURL {
		t.Fatalf("the endpoint changed: %v", g)
	}
}

// Without a job runner a test event's delivery waits, listed as pending.
func TestWebhookTestQueuesADelivery(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("Acme")
	base := "/v1/organizations/" + org + "/webhooks"
	id := e.call("POST", base, key, map[string]any{"url": publicURL, "enabled": false}).want(t, 201).str(t, "id")
	ev := e.call("POST", base+"/"+id+"/test", key, nil).want(t, 202).json(t)
	if ev["type"] != "webhook.test" || !strings.HasPrefix(ev["id"].(string), "evt_") || ev["data"].(map[string]any)["id"] != id {
		t.Fatalf("test event: %v", ev)
	}
	if _, ok := ev["data"].(map[string]any)["secret"]; ok {
		t.Fatalf("the test event carries the secret: %v", ev)
	}
	l := e.call("GET", base+"/"+id+"/deliveries", key, nil).want(t, 200).json(t)
	d := l["data"].([]any)
	if len(d) != 1 || l["next_cursor"] != nil {
		t.Fatalf("deliveries: %v", l)
	}
	if dm := d[0].(map[string]any); dm["event_id"] != ev["id"] || dm["event_type"] != "webhook.test" || dm["state"] != "pending" ||
		dm["attempts"].(float64) != 0 || dm["status_code"] != nil {
		t.Fatalf("delivery: %v", dm)
	}
	// The test is in the log too.
	if evs, _ := e.events("/v1/organizations/"+org+"/events", key, "type=webhook.test"); len(evs) != 1 || evs[0]["id"] != ev["id"] {
		t.Fatalf("log: %v", evs)
	}
}

// receiver is a webhook endpoint on loopback that records what it gets.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	status int // what it answers; 200 when 0
}

type received struct {
	path   string
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.URL.Path, req.Header.Clone(), b})
		status := r.status
		r.mu.Unlock()
		if status == 0 {
			status = 200
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) answer(status int) {
	r.mu.Lock()
	r.status = status
	r.mu.Unlock()
}

// messages returns what came to path, by event type.
func (r *receiver) messages(path string) []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []received
	for _, m := range r.got {
		if m.path == path {
			out = append(out, m)
		}
	}
	return out
}

func (m received) event(t *testing.T) map[string]any {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(m.body, &ev); err != nil {
		t.Fatalf("delivery body: %v: %s", err, m.body)
	}
	return ev
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newDeliveringEnv runs the job runner, and lets webhooks reach loopback,
// with a short retry schedule: one retry, 20ms after the first attempt.
func newDeliveringEnv(t *testing.T) *env {
	return newEnvWith(t, true, func(c *server.Config) {
		c.WebhookAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Webhooks.Schedule = []time.Duration{20 * time.Millisecond}
		c.Webhooks.Timeout = 2 * time.Second
		c.Jobs.PollInterval = 50 * time.Millisecond
	})
}

func (e *env) delivery(path, key string) map[string]any {
	e.t.Helper()
	d := e.call("GET", path+"?limit=1", key, nil).want(e.t, 200).json(e.t)["data"].([]any)
	if len(d) == 0 {
		return nil
	}
	return d[0].(map[string]any)
}

func TestWebhookDeliveries(t *testing.T) {
	e := newDeliveringEnv(t)
	org, key := e.org("Acme")
	rcv := newReceiver(t)
	base := "/v1/organizations/" + org + "/webhooks"
	// Loopback beyond the allowed address is still refused.
	e.call("POST", base, key, map[string]any{"url": "http://127.0.0.2:9/hook"}).want(t, 422)

	c := e.call("POST", base, key, map[string]any{"url": rcv.URL + "/hook", "events": []string{"invitation.*"}}).want(t, 201).json(t)
	id, secret := c["id"].(string), c["secret"].(string)
	off := e.call("POST", base, key, map[string]any{"url": rcv.URL + "/off", "enabled": false}).want(t, 201).str(t, "id")
	deliveries := base + "/" + id + "/deliveries"

	ev := e.call("POST", base+"/"+id+"/test", key, nil).want(t, 202).json(t)
	evID := ev["id"].(string)
	eventually(t, "the test event", func() bool { return len(rcv.messages("/hook")) == 1 })
	m := rcv.messages("/hook")[0]
	if got := m.event(t); got["id"] != evID || got["type"] != "webhook.test" || got["organization_id"] != org {
		t.Fatalf("delivered: %s", m.body)
	}
	// Signed as Standard Webhooks: the id, the timestamp and the body, with the secret shown at create.
	ts, _ := strconv.ParseInt(m.header.Get("Webhook-Timestamp"), 10, 64)
	sig, err := webhook.Sign(secret, evID, time.Unix(ts, 0), m.body)
	if err != nil || m.header.Get("Webhook-Id") != evID || !strings.Contains(m.header.Get("Webhook-Signature"), sig) {
		t.Fatalf("signature: %v %v", m.header, err)
	}
	eventually(t, "the delivery to succeed", func() bool { d := e.delivery(deliveries, key); return d != nil && d["state"] == "succeeded" })
	if d := e.delivery(deliveries, key); d["event_id"] != evID || d["status_code"].(float64) != 200 || d["attempts"].(float64) != 1 ||
		d["error"] != nil || d["attempted_at"] == nil {
		t.Fatalf("delivery: %v", d)
	}

	// A disabled endpoint gets tests and nothing else; an enabled one what it subscribed to.
	e.call("POST", base+"/"+off+"/test", key, nil).want(t, 202)
	e.call("POST", "/v1/organizations/"+org+"/invitations", key, map[string]any{"email": "a@example.com", "send_email": false}).want(t, 201)
	e.call("PATCH", "/v1/organizations/"+org, key, map[string]any{"name": "Acme Inc"}).want(t, 200)
	eventually(t, "invitation.created", func() bool { return len(rcv.messages("/hook")) == 2 && len(rcv.messages("/off")) == 1 })
	if got := rcv.messages("/hook")[1].event(t); got["type"] != "invitation.created" {
		t.Fatalf("second delivery: %v", got)
	}
	if got := rcv.messages("/off")[0].event(t); got["type"] != "webhook.test" {
		t.Fatalf("the disabled endpoint got %v", got)
	}

	// Retry sends the event again now, with the same id.
	d := e.call("POST", deliveries+"/"+evID+"/retry", key, nil).want(t, 202).json(t)
	if d["event_id"] != evID || d["state"] != "pending" {
		t.Fatalf("retry: %v", d)
	}
	eventually(t, "the retried event", func() bool { return len(rcv.messages("/hook")) == 3 })
	if m := rcv.messages("/hook")[2]; m.header.Get("Webhook-Id") != evID {
		t.Fatalf("retry sent %s", m.header.Get("Webhook-Id"))
	}
	// No delivery of an unknown event, nor of one this endpoint never got.
	e.call("POST", deliveries+"/evt_01JZZZZZZZZZZZZZZZZZZZZZZZ/retry", key, nil).want(t, 404)
	keyEv, _ := e.events("/v1/organizations/"+org+"/events", key, "type=api_key.created")
	e.call("POST", deliveries+"/"+keyEv[0]["id"].(string)+"/retry", key, nil).want(t, 404)
	e.call("POST", base+"/wh_nope/deliveries/"+evID+"/retry", key, nil).want(t, 404)
	// A disabled endpoint takes no retry: it would be dropped unsent.
	offTest := e.call("GET", base+"/"+off+"/deliveries", key, nil).want(t, 200).json(t)["data"].([]any)[0].(map[string]any)
	e.call("POST", base+"/"+off+"/deliveries/"+offTest["event_id"].(string)+"/retry", key, nil).want(t, 409)

	// Deliveries page newest first.
	var seen []string
	cursor := ""
	for range 5 {
		l := e.call("GET", deliveries+"?limit=1&cursor="+url.QueryEscape(cursor), key, nil).want(t, 200).json(t)
		for _, it := range l["data"].([]any) {
			seen = append(seen, it.(map[string]any)["event_type"].(string))
		}
		if l["next_cursor"] == nil {
			break
		}
		cursor = l["next_cursor"].(string)
	}
	if got := strings.Join(seen, " "); got != "invitation.created webhook.test" {
		t.Fatalf("deliveries: %s", got)
	}
	for _, q := range []string{"cursor=garbage", "limit=0", "limit=101"} {
		e.call("GET", deliveries+"?"+q, key, nil).want(t, 422)
	}
	e.call("GET", base+"/wh_nope/deliveries", key, nil).want(t, 404)
}

// A delivery the endpoint keeps refusing is given up after the schedule;
// a retry sends it again once the endpoint is back.
func TestWebhookDeliveryGivenUpThenRetried(t *testing.T) {
	e := newDeliveringEnv(t)
	org, key := e.org("Acme")
	rcv := newReceiver(t)
	rcv.answer(503)
	base := "/v1/organizations/" + org + "/webhooks"
	id := e.call("POST", base, key, map[string]any{"url": rcv.URL + "/hook"}).want(t, 201).str(t, "id")
	deliveries := base + "/" + id + "/deliveries"
	evID := e.call("POST", base+"/"+id+"/test", key, nil).want(t, 202).str(t, "id")

	eventually(t, "the delivery to be given up", func() bool { d := e.delivery(deliveries, key); return d != nil && d["state"] == "failed" })
	d := e.delivery(deliveries, key)
	if d["status_code"].(float64) != 503 || d["attempts"].(float64) != 2 || d["error"] == nil || d["next_attempt_at"] != nil {
		t.Fatalf("given up: %v", d)
	}
	if n := len(rcv.messages("/hook")); n != 2 {
		t.Fatalf("%d attempts reached the endpoint, want 2", n)
	}

	rcv.answer(0)
	e.call("POST", deliveries+"/"+evID+"/retry", key, nil).want(t, 202)
	eventually(t, "the retried delivery to succeed", func() bool { return e.delivery(deliveries, key)["state"] == "succeeded" })
	if d := e.delivery(deliveries, key); d["status_code"].(float64) != 200 || d["error"] != nil {
		t.Fatalf("after retry: %v", d)
	}
}
