package webhook_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/webhook"
)

// Every receiver in these tests listens on loopback, which only a Guard
// that allows 127.0.0.0/8 reaches; no test dials any other address.
func loopbackGuard(t *testing.T) *webhook.Guard {
	t.Helper()
	allow, err := webhook.ParseAllow("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	return &webhook.Guard{Allow: allow}
}

// receiver starts an HTTP server on loopback that counts its requests.
func receiver(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestPostDeliversSignedMessage(t *testing.T) {
	oldSecret, newSecret := invite.NewWebhookSecret(), invite.NewWebhookSecret()
	body := []byte(`{"type":"invitation.created","data":{"id":"inv_7"}}`)
	// The receiver has only the new secret, as after it rotated.
	wh, err := standardwebhooks.NewWebhook(newSecret)
	if err != nil {
		t.Fatal(err)
	}
	var verifyErr error
	var gotType, gotUA string
	srv, hits := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		verifyErr = wh.Verify(got, r.Header)
		gotType, gotUA = r.Header.Get("Content-Type"), r.Header.Get("User-Agent")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "thanks")
	})

	h, err := webhook.Headers([]string{oldSecret, newSecret}, "msg_e2e", time.Now(), body)
	if err != nil {
		t.Fatal(err)
	}
	c := webhook.NewClient(loopbackGuard(t), 5*time.Second)
	res := c.Post(context.Background(), srv.URL+"/hooks", h, body)
	if res.Err != nil || res.Status != http.StatusAccepted || string(res.Body) != "thanks" || res.Truncated {
		t.Fatalf("Post = %+v, want 202 thanks", res)
	}
	if res.Duration <= 0 {
		t.Errorf("Duration = %v", res.Duration)
	}
	if hits.Load() != 1 {
		t.Errorf("receiver hit %d times", hits.Load())
	}
	if verifyErr != nil {
		t.Errorf("receiver's verification: %v", verifyErr)
	}
	if gotType != "application/json" || gotUA == "" || strings.HasPrefix(gotUA, "Go-http-client") {
		t.Errorf("Content-Type %q, User-Agent %q", gotType, gotUA)
	}
	if h.Get("Content-Type") != "" {
		t.Error("Post changed the caller's headers")
	}
}

// connCounter starts an HTTP server on loopback that counts the
// connections made to it.
func connCounter(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func TestPostReusesConnections(t *testing.T) {
	srv, conns := connCounter(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	})

	c := webhook.NewClient(loopbackGuard(t), 5*time.Second)
	for i := range 3 {
		if res := c.Post(context.Background(), srv.URL, nil, []byte(`{}`)); res.Err != nil || res.Status != 200 {
			t.Fatalf("Post %d = %+v", i, res)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("3 deliveries opened %d connections, want 1", n)
	}
}

// Endpoints often share a host (one receiving service, a path each), so
// more deliveries than one endpoint's share run to a host at once; each
// round of them reuses the connections of the round before.
func TestConcurrentPostsToOneHostReuseConnections(t *testing.T) {
	const concurrent = 16
	var arrived sync.WaitGroup
	srv, conns := connCounter(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		// Each round's deliveries are all under way at once, so that they
		// need as many connections as there are deliveries.
		arrived.Done()
		arrived.Wait()
	})

	c := webhook.NewClient(loopbackGuard(t), 5*time.Second)
	for round := range 4 {
		arrived.Add(concurrent)
		var wg sync.WaitGroup
		for i := range concurrent {
			wg.Add(1)
			go func() {
				defer wg.Done()
				u := srv.URL + "/hook/" + strconv.Itoa(i)
				if res := c.Post(context.Background(), u, nil, []byte(`{}`)); res.Err != nil || res.Status != 200 {
					t.Errorf("round %d, Post %d = %+v", round, i, res)
				}
			}()
		}
		wg.Wait()
	}
	if n := conns.Load(); n != concurrent {
		t.Errorf("4 rounds of %d deliveries at once to one host opened %d connections, want %d", concurrent, n, concurrent)
	}
}

func TestPostRefusesLoopbackByDefault(t *testing.T) {
	srv, hits := receiver(t, func(http.ResponseWriter, *http.Request) {})
	c := webhook.NewClient(nil, 5*time.Second)
	res := c.Post(context.Background(), srv.URL, nil, []byte(`{}`))
	if res.Status != 0 || res.Err == nil {
		t.Fatalf("Post = %+v, want status 0 and an error", res)
	}
	refused(t, res.Err)
	if hits.Load() != 0 {
		t.Error("the receiver was reached")
	}
}

func TestPostRefusesNameResolvingToLoopback(t *testing.T) {
	srv, hits := receiver(t, func(http.ResponseWriter, *http.Request) {})
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	g := &webhook.Guard{LookupIP: resolver(t, map[string][]string{"hooks.example": {"127.0.0.1"}})}
	u := "http://hooks.example:" + strconv.Itoa(port) + "/"
	if err := g.CheckURL(context.Background(), u); err == nil {
		t.Error("CheckURL accepted a name resolving to 127.0.0.1")
	}
	res := webhook.NewClient(g, 5*time.Second).Post(context.Background(), u, nil, nil)
	re := refused(t, res.Err)
	if res.Status != 0 || re.Host != "hooks.example" {
		t.Errorf("Post = %+v, refused %+v", res, re)
	}
	if hits.Load() != 0 {
		t.Error("the receiver was reached")
	}
}

// A name that is public when the URL is checked and loopback when the
// delivery connects (DNS rebinding) is refused by the dialer, on the
// address it was about to connect to.
func TestPostRefusesRebindingAtConnect(t *testing.T) {
	srv, hits := receiver(t, func(http.ResponseWriter, *http.Request) {})
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	var lookups atomic.Int32
	g := &webhook.Guard{LookupIP: func(_ context.Context, host string) ([]netip.Addr, error) {
		if host != "rebind.example" {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		if lookups.Add(1) == 1 {
			return []netip.Addr{netip.MustParseAddr("203.0.113.5")}, nil
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}}
	u := "http://rebind.example:" + strconv.Itoa(port) + "/hook"
	if err := g.CheckURL(context.Background(), u); err != nil {
		t.Fatalf("CheckURL on the first, public answer: %v", err)
	}

	res := webhook.NewClient(g, 5*time.Second).Post(context.Background(), u, nil, []byte(`{}`))
	if res.Status != 0 {
		t.Errorf("Status = %d, want 0", res.Status)
	}
	re := refused(t, res.Err)
	if re.Addr != netip.MustParseAddr("127.0.0.1") || !strings.Contains(re.Reason, "loopback") {
		t.Errorf("refused %+v, want 127.0.0.1 as loopback", re)
	}
	// The refusal came from the dialer (net.Dialer wraps its Control's
	// error in a *net.OpError), not from a second lookup's check.
	var op *net.OpError
	if !errors.As(res.Err, &op) || op.Op != "dial" {
		t.Errorf("error %v does not come from a dial", res.Err)
	}
	if n := lookups.Load(); n != 2 {
		t.Errorf("%d lookups, want 2 (the check and the connection)", n)
	}
	if hits.Load() != 0 {
		t.Error("the receiver was reached")
	}
}

func TestPostRefusesMalformedURLs(t *testing.T) {
	c := webhook.NewClient(loopbackGuard(t), 5*time.Second)
	for _, u := range []string{"ftp://127.0.0.1/", "http://u:p@127.0.0.1/", "127.0.0.1:80"} {
		res := c.Post(context.Background(), u, nil, nil)
		if res.Status != 0 {
			t.Errorf("Post(%q) status %d", u, res.Status)
		}
		refused(t, res.Err)
	}
}

func TestPostConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	res := webhook.NewClient(loopbackGuard(t), 5*time.Second).Post(context.Background(), "http://"+addr+"/", nil, nil)
	var re *webhook.RefusedError
	if res.Status != 0 || res.Err == nil || errors.As(res.Err, &re) {
		t.Errorf("Post to a closed port = %+v, want status 0 and a connection error", res)
	}
	if strings.Contains(res.Err.Error(), "Post ") {
		t.Errorf("error repeats the request: %v", res.Err)
	}
}

// A receiver that accepts the connection and never answers is cut off at
// the timeout.
func TestPostTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})

	const timeout = 300 * time.Millisecond
	res := webhook.NewClient(loopbackGuard(t), timeout).Post(context.Background(), "http://"+ln.Addr().String()+"/", nil, []byte(`{}`))
	if res.Status != 0 || !errors.Is(res.Err, context.DeadlineExceeded) {
		t.Errorf("Post = %+v, want status 0 and a deadline error", res)
	}
	if res.Duration < timeout || res.Duration > timeout+2*time.Second {
		t.Errorf("Duration = %v, want about %v", res.Duration, timeout)
	}
	if res.Err != nil && !strings.Contains(res.Err.Error(), "300ms") {
		t.Errorf("error does not name the timeout: %v", res.Err)
	}
}

// A receiver that sends its status and then stalls the body is cut off at
// the timeout too: the timeout bounds the whole exchange.
func TestPostTimeoutDuringBody(t *testing.T) {
	release := make(chan struct{})
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close

	res := webhook.NewClient(loopbackGuard(t), 300*time.Millisecond).Post(context.Background(), srv.URL, nil, nil)
	if res.Status != 0 || !errors.Is(res.Err, context.DeadlineExceeded) || !strings.Contains(res.Err.Error(), "status 200") {
		t.Errorf("Post = %+v, want status 0 and a deadline error that names status 200", res)
	}
}

func TestPostDoesNotFollowRedirects(t *testing.T) {
	target, targetHits := receiver(t, func(http.ResponseWriter, *http.Request) {})
	for _, code := range []int{301, 302, 303, 307, 308} {
		src, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/elsewhere", code)
		})
		res := webhook.NewClient(loopbackGuard(t), 5*time.Second).Post(context.Background(), src.URL, nil, []byte(`{}`))
		if res.Err != nil || res.Status != code {
			t.Errorf("redirect %d: Post = %+v, want status %d and no error", code, res, code)
		}
	}
	if n := targetHits.Load(); n != 0 {
		t.Errorf("the redirect target was hit %d times", n)
	}
}

// The answer is read no further than MaxBody: the receiver sends 1 MiB and
// then holds the body open, so a client that read to the end would wait
// for the timeout.
func TestPostReadsAtMost64KiB(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	release := make(chan struct{})
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, big)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	res := webhook.NewClient(loopbackGuard(t), 5*time.Second).Post(context.Background(), srv.URL, nil, nil)
	if res.Err != nil || res.Status != 200 {
		t.Fatalf("Post = status %d, err %v", res.Status, res.Err)
	}
	if res.Duration > 2*time.Second {
		t.Errorf("Post took %v: it read past the first 64 KiB", res.Duration)
	}
	if len(res.Body) != webhook.MaxBody || webhook.MaxBody != 64<<10 || !res.Truncated {
		t.Errorf("body of %d bytes, truncated %v; want %d, true", len(res.Body), res.Truncated, 64<<10)
	}

	// A body of exactly MaxBody is whole.
	exact, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, big[:webhook.MaxBody])
	})
	res = webhook.NewClient(loopbackGuard(t), 5*time.Second).Post(context.Background(), exact.URL, nil, nil)
	if res.Err != nil || len(res.Body) != webhook.MaxBody || res.Truncated {
		t.Errorf("exact body: %d bytes, truncated %v, err %v", len(res.Body), res.Truncated, res.Err)
	}
}

func TestPostServerError(t *testing.T) {
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	res := webhook.NewClient(loopbackGuard(t), 5*time.Second).Post(context.Background(), srv.URL, nil, nil)
	if res.Status != 500 || res.Err != nil || strings.TrimSpace(string(res.Body)) != "boom" {
		t.Errorf("Post = %+v, want 500 boom and no error", res)
	}
}

// Cancelling the caller's context ends the delivery with the context's own
// error, not the timeout's.
func TestPostCancelled(t *testing.T) {
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	res := webhook.NewClient(loopbackGuard(t), 5*time.Second).Post(ctx, srv.URL, nil, nil)
	if res.Status != 0 || !errors.Is(res.Err, context.Canceled) {
		t.Errorf("Post = %+v, want status 0 and context.Canceled", res)
	}
}
