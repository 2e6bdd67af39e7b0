package e2e_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitd/invitd/job"
	"github.com/invitd/invitd/server"
	"github.com/invitd/invitd/webhook"
)

// A receiver that fails once gets the event again, with the same
// webhook-id and body, and the delivery shows two attempts that succeeded.
func TestRetryAfterAnError(t *testing.T) {
	rc := newReceiver(t, func(n int, _ *http.Request) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	n := startServer(t, server.Config{WebhookAllow: loopback})
	org := n.createOrg(t)
	h := n.createWebhook(t, org, rc.URL, "*")
	var e event
	n.must(t, http.StatusAccepted, "POST", "/v1/organizations/"+org+"/webhooks/"+h.ID+"/test", nil, &e)

	rc.waitFor(t, 10*time.Second, "a retry", func(reqs []*request) bool { return len(reqs) >= 2 })
	var d *delivery
	eventually(t, 5*time.Second, "the delivery succeeds", func() bool {
		d = n.deliveryOf(t, org, h.ID, e.ID)
		return d != nil && d.State == "succeeded"
	})
	time.Sleep(300 * time.Millisecond) // room for a third request
	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("the receiver got %d requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		if r.ID() != e.ID {
			t.Errorf("request %d has webhook-id %q, want the event's %q", i, r.ID(), e.ID)
		}
		if err := verify(r, h.Secret); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if !bytes.Equal(reqs[0].Body, reqs[1].Body) {
		t.Errorf("the retry sent another body:\n%s\n%s", reqs[0].Body, reqs[1].Body)
	}
	if reqs[0].Status != 500 || reqs[1].Status != 200 {
		t.Errorf("the receiver answered %d then %d", reqs[0].Status, reqs[1].Status)
	}
	if d.Attempts != 2 || d.StatusCode == nil || *d.StatusCode != 200 || d.Error != nil || d.AttemptedAt == nil || d.NextAttemptAt != nil {
		t.Errorf("delivery = %+v (status %v, error %v), want succeeded on attempt 2 with 200", d, ptr(d.StatusCode), ptr(d.Error))
	}
	if gap := reqs[1].At.Sub(reqs[0].At); gap < 50*time.Millisecond {
		t.Errorf("the retry came %v after the failure, before the first wait of the schedule (50ms)", gap)
	}
}

func ptr[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// An endpoint that never answers is cut at the timeout and retried, while
// another endpoint gets all of a burst of events before that first attempt
// would have ended: the stuck one holds only its own share of the workers.
func TestStuckEndpointDoesNotHoldOthers(t *testing.T) {
	const timeout, perEndpoint = 1500 * time.Millisecond, 4
	release := make(chan struct{})
	var (
		mu           sync.Mutex
		first        time.Time // when the stuck endpoint's first request came
		open, isOpen int       // its requests under way, and the most at once
	)
	stuck := newReceiver(t, func(_ int, r *http.Request) int {
		mu.Lock()
		if first.IsZero() {
			first = time.Now()
		}
		open++
		isOpen = max(isOpen, open)
		mu.Unlock()
		select {
		case <-r.Context().Done():
		case <-release:
		}
		mu.Lock()
		open--
		mu.Unlock()
		return http.StatusOK
	})
	good := newReceiver(t, nil)
	// The lease leaves room for an attempt that runs the whole timeout.
	n := startServer(t, server.Config{WebhookAllow: loopback,
		Jobs: job.Config{PollInterval: 20 * time.Millisecond, Lease: 4 * time.Second},
		Webhooks: webhook.HandlerConfig{Timeout: timeout, PerEndpoint: perEndpoint,
			Schedule: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}}})
	t.Cleanup(func() { close(release) }) // before the server stops
	org := n.createOrg(t)
	base := "/v1/organizations/" + org
	sh := n.createWebhook(t, org, stuck.URL, "*")
	gh := n.createWebhook(t, org, good.URL, "*")

	var org1 event
	n.must(t, http.StatusOK, "PATCH", base, obj{"name": "Stuck Inc"}, nil)
	stuck.waitFor(t, 5*time.Second, "the first request to the stuck endpoint", func([]*request) bool {
		mu.Lock()
		defer mu.Unlock()
		return !first.IsZero()
	})
	mu.Lock()
	start := first
	mu.Unlock()

	// A burst while the stuck endpoint holds its attempts.
	const burst = 30
	var wg sync.WaitGroup
	errs := make(chan error, burst)
	for i := range burst {
		wg.Go(func() {
			status, b, err := n.call("", "POST", base+"/invitations", obj{"email": fmt.Sprintf("b%02d@example.com", i), "send_email": false}, nil)
			if err == nil && status != http.StatusCreated {
				err = fmt.Errorf("create = %d %s", status, b)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	log := n.events(t, org, "")
	if len(log) != burst+1 {
		t.Fatalf("the log holds %d events, want %d", len(log), burst+1)
	}
	org1 = log[0]
	good.waitIDs(t, 5*time.Second, ids(log))
	var last time.Time
	for _, r := range good.requests() {
		last = r.At
	}
	took := last.Sub(start)
	t.Logf("the other endpoint had all %d events %v after the stuck endpoint's first request", len(log), took.Round(time.Millisecond))
	if took >= timeout {
		t.Errorf("the other endpoint's events took %v, not less than the stuck attempt's timeout %v", took, timeout)
	}
	if d := n.deliveryOf(t, org, sh.ID, org1.ID); d == nil || d.Attempts != 0 {
		t.Errorf("the stuck endpoint's first attempt was over before the burst was delivered: %+v", d)
	}

	// The stuck attempt is cut at the timeout, and the delivery retries.
	var d *delivery
	eventually(t, 5*time.Second, "the stuck attempt ends", func() bool {
		d = n.deliveryOf(t, org, sh.ID, org1.ID)
		return d != nil && d.Attempts >= 1
	})
	if d.State != "retrying" || d.StatusCode != nil || d.Error == nil || d.NextAttemptAt == nil {
		t.Errorf("the stuck delivery is %+v (status %v, error %v), want retrying with no status", d, ptr(d.StatusCode), ptr(d.Error))
	} else if !strings.Contains(*d.Error, timeout.String()) {
		t.Errorf("the stuck delivery's error %q does not name the timeout", *d.Error)
	}
	if got := time.Duration(d.DurationMS) * time.Millisecond; got < timeout || got > timeout+500*time.Millisecond {
		t.Errorf("the stuck attempt took %v, want about the timeout %v", got, timeout)
	}
	// Retries follow; which delivery gets the endpoint's next slot is not
	// told, so any will do.
	stuck.waitFor(t, 10*time.Second, "a second attempt at the stuck endpoint", func(reqs []*request) bool {
		seen := map[string]bool{}
		for _, r := range reqs {
			if seen[r.ID()] {
				return true
			}
			seen[r.ID()] = true
		}
		return false
	})
	mu.Lock()
	most := isOpen
	mu.Unlock()
	if most > perEndpoint {
		t.Errorf("the stuck endpoint had %d requests under way at once, more than its share of %d", most, perEndpoint)
	}
	t.Logf("the stuck endpoint held %d attempts at once", most)
	for _, d := range n.deliveries(t, org, gh.ID) {
		if d.State != "succeeded" || d.Attempts != 1 {
			t.Errorf("a delivery to the other endpoint is %+v", d)
		}
	}
}

// A burst to a healthy endpoint is not held back by the endpoint's share of
// attempts: a delivery that finds the share taken waits on its node for a
// slot, which a fast endpoint frees within milliseconds, rather than go back
// to the outbox for a claim later.
func TestABurstToAFastEndpointIsNotHeldBack(t *testing.T) {
	rcv := newReceiver(t, nil)
	n := startServer(t, server.Config{WebhookAllow: loopback,
		Jobs: job.Config{PollInterval: 20 * time.Millisecond, Lease: 3 * time.Second}})
	org := n.createOrg(t)
	base := "/v1/organizations/" + org
	n.createWebhook(t, org, rcv.URL, "*")
	const burst = 30
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			n.must(t, http.StatusCreated, "POST", base+"/invitations", obj{"email": fmt.Sprintf("f%02d@example.com", i), "send_email": false}, nil)
		})
	}
	wg.Wait()
	rcv.waitIDs(t, 10*time.Second, ids(n.events(t, org, "")))
	reqs := rcv.requests()
	first, last := reqs[0].At, reqs[0].At
	for _, r := range reqs {
		if r.At.Before(first) {
			first = r.At
		}
		if r.At.After(last) {
			last = r.At
		}
	}
	// With the default share of 4 at once, the burst must queue; a fixed
	// second's wait per deferral made its tail arrive a second or more late.
	if took := last.Sub(first); took > 900*time.Millisecond {
		t.Errorf("the burst of %d took %v to arrive at a fast endpoint", burst, took)
	}
	// Going back to the outbox put off most of such a burst (24 of 30); on a
	// loaded machine an attempt may seem slow now and then, so a few may be.
	put := metric(t, n, `invitd_webhook_deliveries_total{result="busy"}`)
	if put > burst/3 {
		t.Errorf("%d of %d deliveries to a fast endpoint were put off for its share of attempts", put, burst)
	}
	t.Logf("%d deliveries arrived within %v, %d put off", len(reqs), last.Sub(first).Round(time.Millisecond), put)
}
