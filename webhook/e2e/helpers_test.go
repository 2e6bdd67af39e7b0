// Package e2e_test shows events, webhooks and expiry working end to end:
// real servers (in process, or the invitd binary) on real SQLite files or
// PostgreSQL, delivering over loopback HTTP to receivers in the test, whose
// signatures are checked with the Standard Webhooks reference library.
package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/invitd/invitd/internal/testnode"
	"github.com/invitd/invitd/job"
	"github.com/invitd/invitd/server"
	"github.com/invitd/invitd/webhook"
)

func TestMain(m *testing.M) { os.Exit(testnode.Main(m)) }

const adminKey = testnode.AdminKey

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// quick are the short settings every in-process node starts with unless
// the test says otherwise.
func quick(cfg server.Config) server.Config {
	if cfg.Jobs == (job.Config{}) {
		cfg.Jobs = job.Config{PollInterval: 20 * time.Millisecond, Lease: 2 * time.Second}
	}
	if cfg.Webhooks.Timeout == 0 {
		cfg.Webhooks.Timeout = time.Second
	}
	if cfg.Webhooks.Schedule == nil {
		cfg.Webhooks.Schedule = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}
	}
	return cfg
}

// node is an invitd reached over HTTP: in process or a process of its own.
type node struct {
	URL    string
	client *http.Client
	srv    *server.Server // nil for a process
}

var httpClient = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// startServer opens cfg (a fresh SQLite file when cfg.DB is empty) and serves
// it on a loopback port until the test ends; its log is shown if the test
// fails.
func startServer(t *testing.T, cfg server.Config) *node {
	t.Helper()
	cfg = quick(cfg)
	if cfg.DB == "" {
		cfg.DB = "sqlite:" + filepath.Join(t.TempDir(), "invitd.db")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.AdminKey = adminKey
	cfg.BaseURL = "http://" + ln.Addr().String()
	logs := &testnode.Buffer{}
	cfg.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.Open(ctx, cfg)
	if err != nil {
		cancel()
		ln.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		srv.Close()
		if t.Failed() {
			t.Logf("log of %s:\n%s", cfg.BaseURL, logs)
		}
	})
	return &node{URL: cfg.BaseURL, client: httpClient, srv: srv}
}

// processNode wraps a running `invitd serve`.
func processNode(n *testnode.Node) *node { return &node{URL: n.URL, client: httpClient} }

// noKey sends a request without credentials.
const noKey = "none"

// call sends a JSON request with key (the admin key when empty) and decodes
// the answer, if any, into out.
func (n *node) call(key, method, path string, body, out any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, n.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	switch key {
	case "":
		req.Header.Set("Authorization", "Bearer "+adminKey)
	case noKey:
	default:
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := n.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, b, err
	}
	if out != nil && len(b) > 0 && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			return res.StatusCode, b, fmt.Errorf("%s %s: decoding %q: %w", method, path, b, err)
		}
	}
	return res.StatusCode, b, nil
}

// must sends a request with the admin key and wants status.
func (n *node) must(t testing.TB, status int, method, path string, body, out any) {
	t.Helper()
	n.mustAs(t, "", status, method, path, body, out)
}

// mustAs sends a request with key and wants status.
func (n *node) mustAs(t testing.TB, key string, status int, method, path string, body, out any) {
	t.Helper()
	got, b, err := n.call(key, method, path, body, out)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if got != status {
		t.Fatalf("%s %s = %d %s, want %d", method, path, got, b, status)
	}
}

type obj = map[string]any

func (n *node) createOrg(t testing.TB) string {
	t.Helper()
	var o struct{ ID string }
	n.must(t, http.StatusCreated, "POST", "/v1/organizations", obj{"name": "Acme"}, &o)
	return o.ID
}

// hook is a webhook endpoint as created, with its secret.
type hook struct {
	ID     string `json:"id"`
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

func (n *node) createWebhook(t testing.TB, org, u string, events ...string) hook {
	t.Helper()
	var h hook
	n.must(t, http.StatusCreated, "POST", "/v1/organizations/"+org+"/webhooks", obj{"url": u, "events": events}, &h)
	if !strings.HasPrefix(h.ID, "wh_") || !strings.HasPrefix(h.Secret, "whsec_") {
		t.Fatalf("created webhook %+v", h)
	}
	return h
}

// event is an event as the log lists it and a delivery carries it.
type event struct {
	ID             string `json:"id"`
	Type           string `json:"type"`
	OrganizationID string `json:"organization_id"`
	CreatedAt      string `json:"created_at"`
	Actor          struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"actor"`
	RequestID *string         `json:"request_id"`
	Data      json.RawMessage `json:"data"`
}

// dataID is the id of the object the event carries.
func (e event) dataID() string {
	var d struct{ ID string }
	_ = json.Unmarshal(e.Data, &d)
	return d.ID
}

// events reads the whole of org's log, of the given types ("" for all).
func (n *node) events(t testing.TB, org, types string) []event {
	t.Helper()
	var all []event
	after := ""
	for range 1000 {
		q := url.Values{"limit": {"100"}}
		if types != "" {
			q.Set("type", types)
		}
		if after != "" {
			q.Set("after", after)
		}
		var page struct {
			Data       []event `json:"data"`
			NextCursor string  `json:"next_cursor"`
		}
		n.must(t, http.StatusOK, "GET", "/v1/organizations/"+org+"/events?"+q.Encode(), nil, &page)
		all = append(all, page.Data...)
		if page.NextCursor == "" {
			t.Fatal("the event log answered an empty next_cursor")
		}
		if len(page.Data) < 100 {
			return all
		}
		after = page.NextCursor
	}
	t.Fatal("the event log does not end")
	return nil
}

// delivery is an endpoint's delivery as the API lists it.
type delivery struct {
	EventID       string  `json:"event_id"`
	EventType     string  `json:"event_type"`
	State         string  `json:"state"`
	Attempts      int     `json:"attempts"`
	StatusCode    *int    `json:"status_code"`
	DurationMS    int64   `json:"duration_ms"`
	Error         *string `json:"error"`
	AttemptedAt   *string `json:"attempted_at"`
	NextAttemptAt *string `json:"next_attempt_at"`
}

// deliveries lists an endpoint's deliveries, newest first (one page of 100).
func (n *node) deliveries(t testing.TB, org, hookID string) []delivery {
	t.Helper()
	var page struct {
		Data []delivery `json:"data"`
	}
	n.must(t, http.StatusOK, "GET", "/v1/organizations/"+org+"/webhooks/"+hookID+"/deliveries?limit=100", nil, &page)
	return page.Data
}

// deliveryOf finds the delivery of event id, nil if there is none.
func (n *node) deliveryOf(t testing.TB, org, hookID, id string) *delivery {
	t.Helper()
	for _, d := range n.deliveries(t, org, hookID) {
		if d.EventID == id {
			return &d
		}
	}
	return nil
}

// request is one request a receiver got.
type request struct {
	Header http.Header
	Body   []byte
	At     time.Time
	Status int // what the receiver answered
	// Cut: the sender went away before the answer, so it never saw one.
	Cut bool
}

// ID is the request's webhook-id.
func (r *request) ID() string { return r.Header.Get(webhook.HeaderID) }

// receiver is an HTTP endpoint on loopback that records every request.
type receiver struct {
	*httptest.Server
	// answer, when set, decides the status of the nth request (from 1)
	// before it is recorded; it may block.
	answer func(n int, r *http.Request) int

	open atomic.Int32 // requests under way

	mu      sync.Mutex
	reqs    []*request
	arrived chan struct{}
}

func newReceiver(t testing.TB, answer func(n int, r *http.Request) int) *receiver {
	rc := &receiver{answer: answer, arrived: make(chan struct{}, 1)}
	var count sync.Mutex
	n := 0
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		rc.open.Add(1)
		defer rc.open.Add(-1)
		count.Lock()
		n++
		i := n
		count.Unlock()
		status := http.StatusNoContent
		if rc.answer != nil {
			status = rc.answer(i, r)
		}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, &request{Header: r.Header.Clone(), Body: body, At: time.Now(), Status: status,
			Cut: r.Context().Err() != nil})
		rc.mu.Unlock()
		select {
		case rc.arrived <- struct{}{}:
		default:
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []*request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*request(nil), rc.reqs...)
}

// byID groups the requests by webhook-id.
func (rc *receiver) byID() map[string][]*request {
	m := map[string][]*request{}
	for _, r := range rc.requests() {
		m[r.ID()] = append(m[r.ID()], r)
	}
	return m
}

// waitFor waits until ok holds of the requests so far, or fails the test
// after timeout saying what.
func (rc *receiver) waitFor(t testing.TB, timeout time.Duration, what string, ok func([]*request) bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !ok(rc.requests()) {
		select {
		case <-rc.arrived:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("%s: not within %v (%d requests arrived)", what, timeout, len(rc.requests()))
		}
	}
}

// waitIDs waits until a request with each of ids has arrived.
func (rc *receiver) waitIDs(t testing.TB, timeout time.Duration, ids []string) {
	t.Helper()
	rc.waitFor(t, timeout, fmt.Sprintf("%d events to %s", len(ids), rc.URL), func(reqs []*request) bool {
		return len(missing(reqs, ids)) == 0
	})
}

// missing lists the ids no request carried.
func missing(reqs []*request, ids []string) []string {
	seen := map[string]bool{}
	for _, r := range reqs {
		seen[r.ID()] = true
	}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			out = append(out, id)
		}
	}
	return out
}

// verify checks r's signature with secret using the reference library.
func verify(r *request, secret string) error {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return err
	}
	return wh.Verify(r.Body, r.Header)
}

// decode reads a delivered event and checks that it is one: its id is the
// webhook-id, and it has a type and an object.
func decode(t testing.TB, r *request) event {
	t.Helper()
	var e event
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("delivery %s is not JSON: %v: %q", r.ID(), err, r.Body)
	}
	if e.ID != r.ID() || !strings.HasPrefix(e.ID, "evt_") {
		t.Errorf("delivery with webhook-id %q carries event id %q", r.ID(), e.ID)
	}
	if e.Type == "" || e.dataID() == "" {
		t.Errorf("delivery %s has type %q and data %s", r.ID(), e.Type, e.Data)
	}
	return e
}

func ids(evs []event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// eventually polls ok every 20ms until it holds, or fails after timeout.
func eventually(t testing.TB, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
	}
}

// quiesce waits until every event in org's log has been delivered to the
// endpoint and the delivery recorded, so that nothing is leased: a test
// moves its clock only then, because a lease is measured on that clock and
// a jump would end the leases of attempts still running.
func (n *node) quiesce(t testing.TB, org, hookID string) {
	t.Helper()
	eventually(t, 10*time.Second, "every delivery settles", func() bool {
		done := map[string]bool{}
		for _, d := range n.deliveries(t, org, hookID) {
			done[d.EventID] = d.State == "succeeded"
		}
		for _, e := range n.events(t, org, "") {
			if !done[e.ID] {
				return false
			}
		}
		return true
	})
}
