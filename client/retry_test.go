package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitd/invitd/client"
)

// front is a proxy before the real server whose answers a test scripts:
// each request is handled by the next step, or proxied when none is left.
type front struct {
	srv   *httptest.Server
	mu    sync.Mutex
	steps []func(w http.ResponseWriter, r *http.Request, proxy http.Handler)
	seen  []http.Header
}

func startFront(t *testing.T, target string) *front {
	u, _ := url.Parse(target)
	proxy := httputil.NewSingleHostReverseProxy(u)
	f := &front{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.seen = append(f.seen, r.Header.Clone())
		var step func(http.ResponseWriter, *http.Request, http.Handler)
		if len(f.steps) > 0 {
			step, f.steps = f.steps[0], f.steps[1:]
		}
		f.mu.Unlock()
		if step == nil {
			proxy.ServeHTTP(w, r)
			return
		}
		step(w, r, proxy)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *front) then(steps ...func(http.ResponseWriter, *http.Request, http.Handler)) {
	f.mu.Lock()
	f.steps = append(f.steps, steps...)
	f.mu.Unlock()
}

func (f *front) requests() []http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]http.Header(nil), f.seen...)
}

func status(code int, retryAfter string) func(http.ResponseWriter, *http.Request, http.Handler) {
	return func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		io.Copy(io.Discard, r.Body)
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"status":%d,"title":%q,"detail":"scripted"}`, code, http.StatusText(code))
	}
}

// forwardThenFail lets the request reach the server, then loses its answer.
func forwardThenFail(w http.ResponseWriter, r *http.Request, proxy http.Handler) {
	proxy.ServeHTTP(httptest.NewRecorder(), r)
	http.Error(w, "bad gateway", http.StatusBadGateway)
}

func TestRetries(t *testing.T) {
	e := start(t)
	f := startFront(t, e.url)
	c := client.New(f.srv.URL, e.key)

	// A 429 is tried again after its Retry-After.
	f.then(status(429, "1"))
	begin := time.Now()
	if _, err := c.GetOrganization(e.ctx, e.org); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(begin); waited < time.Second {
		t.Errorf("the retry came after %v, before the Retry-After of 1s", waited)
	}
	if n := len(f.requests()); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}

	// A create whose answer was lost is sent again with the same key and
	// makes one invitation.
	f.then(forwardThenFail)
	inv, err := c.CreateInvitation(e.ctx, e.org, client.CreateInvitation{Email: "once@example.com", SendEmail: client.Ptr(false)})
	if err != nil {
		t.Fatal(err)
	}
	seen := f.requests()[2:]
	if len(seen) != 2 || seen[0].Get("Idempotency-Key") == "" || seen[0].Get("Idempotency-Key") != seen[1].Get("Idempotency-Key") {
		t.Fatalf("the create's tries carried keys %q and %q", seen[0].Get("Idempotency-Key"), seen[len(seen)-1].Get("Idempotency-Key"))
	}
	if all := collect(t, e.c.Invitations(e.ctx, e.org, client.ListInvitations{Email: "once@example.com"})); len(all) != 1 || all[0].ID != inv.ID {
		t.Fatalf("%d invitations of once@example.com, want the one answered", len(all))
	}

	// A create without an idempotency key (an organization) is not sent
	// again after a 5xx that may have written it.
	before := len(f.requests())
	f.then(status(500, ""))
	_, err = client.New(f.srv.URL, adminKey).CreateOrganization(e.ctx, "Maybe", nil)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 500 || len(f.requests()) != before+1 {
		t.Fatalf("a 500 on an organization create: %v, %d requests", err, len(f.requests())-before)
	}

	// A Retry-After longer than the client waits ends the call with it.
	short := client.New(f.srv.URL, e.key, client.WithMaxRetryWait(500*time.Millisecond))
	f.then(status(429, "120"))
	begin = time.Now()
	_, err = short.GetOrganization(e.ctx, e.org)
	if !errors.As(err, &ce) || ce.Status != 429 || ce.RetryAfter != 2*time.Minute || time.Since(begin) > 5*time.Second {
		t.Fatalf("a long Retry-After: %v after %v", err, time.Since(begin))
	}
	// Retries are bounded.
	none := client.New(f.srv.URL, e.key, client.WithRetries(1))
	f.then(status(503, "0"), status(503, "0"), status(503, "0"))
	before = len(f.requests())
	if _, err := none.GetOrganization(e.ctx, e.org); !errors.As(err, &ce) || ce.Status != 503 || len(f.requests()) != before+2 {
		t.Fatalf("retries past the bound: %v, %d requests", err, len(f.requests())-before)
	}
	// A cancelled context ends the wait.
	f.then(status(429, "10"))
	ctx, cancel := context.WithTimeout(e.ctx, 200*time.Millisecond)
	defer cancel()
	begin = time.Now()
	if _, err := c.GetOrganization(ctx, e.org); !errors.Is(err, context.DeadlineExceeded) || time.Since(begin) > 5*time.Second {
		t.Fatalf("a cancelled wait: %v after %v", err, time.Since(begin))
	}
	if !strings.Contains(ce.Error(), "503") {
		t.Errorf("Error() = %q", ce.Error())
	}
}
