package client_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitd/invitd/client"
)

// receiver is a real HTTP endpoint that checks each delivery with
// VerifyWebhook, as an integrator's would.
type receiver struct {
	srv    *httptest.Server
	secret func() string
	mu     sync.Mutex
	got    []delivery
}

type delivery struct {
	header http.Header
	body   []byte
	err    error
}

func startReceiver(t *testing.T, secret func() string) *receiver {
	r := &receiver{secret: secret}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		err := client.VerifyWebhook(r.secret(), req.Header, body)
		r.mu.Lock()
		r.got = append(r.got, delivery{req.Header.Clone(), body, err})
		r.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) wait(t *testing.T, n int) []delivery {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r.mu.Lock()
		got := append([]delivery(nil), r.got...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
	}
	t.Fatalf("fewer than %d deliveries arrived", n)
	return nil
}

func TestWebhooks(t *testing.T) {
	e := start(t)
	var mu sync.Mutex
	secret := ""
	rcv := startReceiver(t, func() string { mu.Lock(); defer mu.Unlock(); return secret })
	w, err := e.c.CreateWebhook(e.ctx, e.org, client.WebhookInput{URL: client.Ptr(rcv.srv.URL + "/hook"), Description: client.Ptr("tests")})
	ok(t, err)
	if !strings.HasPrefix(w.Secret, "whsec_") || !w.Enabled {
		t.Fatalf("created %+v", w)
	}
	mu.Lock()
	secret = w.Secret
	mu.Unlock()
	ev, err := e.c.TestWebhook(e.ctx, e.org, w.ID)
	ok(t, err)
	d := rcv.wait(t, 1)[0]
	if d.err != nil || !strings.Contains(string(d.body), ev.ID) {
		t.Fatalf("the test delivery does not verify: %v %s", d.err, d.body)
	}
	// What a receiver must refuse.
	ts, _ := strconv.ParseInt(d.header.Get("webhook-timestamp"), 10, 64)
	old := d.header.Clone()
	old.Set("webhook-timestamp", strconv.FormatInt(ts-600, 10))
	for name, c := range map[string]struct {
		secret string
		header http.Header
		body   []byte
	}{
		"tampered body":    {w.Secret, d.header, append(append([]byte(nil), d.body...), ' ')},
		"other secret":     {"whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==", d.header, d.body},
		"old timestamp":    {w.Secret, old, d.body},
		"no signature":     {w.Secret, http.Header{"Webhook-Id": {"x"}, "Webhook-Timestamp": {d.header.Get("webhook-timestamp")}}, d.body},
		"secret not whsec": {"c2VjcmV0", d.header, d.body},
	} {
		if err := client.VerifyWebhook(c.secret, c.header, c.body); err == nil {
			t.Errorf("%s: verified", name)
		}
	}

	got, err := e.c.GetWebhook(e.ctx, e.org, w.ID)
	ok(t, err)
	if got.Secret != "" || got.URL != rcv.srv.URL+"/hook" {
		t.Fatalf("get %+v", got)
	}
	up, err := e.c.UpdateWebhook(e.ctx, e.org, w.ID, client.WebhookInput{Events: &[]string{"invitation.*"}})
	ok(t, err)
	if len(up.Events) != 1 || up.Events[0] != "invitation.*" {
		t.Fatalf("updated %+v", up)
	}
	list, err := e.c.Webhooks(e.ctx, e.org)
	ok(t, err)
	if len(list) != 1 {
		t.Fatalf("webhooks %v", list)
	}
	dels := collect(t, e.c.Deliveries(e.ctx, e.org, w.ID, 1))
	if len(dels) != 1 || dels[0].EventID != ev.ID || dels[0].State != "succeeded" {
		t.Fatalf("deliveries %+v", dels)
	}
	if _, err := e.c.RedeliverEvent(e.ctx, e.org, w.ID, ev.ID); err != nil {
		t.Fatal(err)
	}
	if again := rcv.wait(t, 2)[1]; again.err != nil || again.header.Get("webhook-id") != d.header.Get("webhook-id") {
		t.Fatalf("the redelivery: %v, id %q want %q", again.err, again.header.Get("webhook-id"), d.header.Get("webhook-id"))
	}
	// After a rotation, deliveries verify with the new secret.
	rot, err := e.c.RotateWebhookSecret(e.ctx, e.org, w.ID)
	ok(t, err)
	if !strings.HasPrefix(rot.Secret, "whsec_") || rot.Secret == w.Secret {
		t.Fatalf("rotated %+v", rot)
	}
	mu.Lock()
	secret = rot.Secret
	mu.Unlock()
	if _, err := e.c.TestWebhook(e.ctx, e.org, w.ID); err != nil {
		t.Fatal(err)
	}
	if third := rcv.wait(t, 3)[2]; third.err != nil {
		t.Fatalf("a delivery after the rotation does not verify with the new secret: %v", third.err)
	}
	ok(t, e.c.DeleteWebhook(e.ctx, e.org, w.ID))
	if _, err := e.c.GetWebhook(e.ctx, e.org, w.ID); !client.IsNotFound(err) {
		t.Fatalf("a deleted webhook: %v", err)
	}
}
