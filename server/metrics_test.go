package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitd/invitd/server"
)

// logBuffer is a log that requests may write while the test reads it.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serve runs invitd with cfg on ln until the test ends and returns its log.
func serve(t *testing.T, cfg server.Config, ln net.Listener) (*server.Server, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	cfg.DB = "sqlite:" + filepath.Join(t.TempDir(), "x.db")
	cfg.AdminKey = adminKey
	cfg.Log = slog.New(slog.NewTextHandler(logs, nil))
	srv, err := server.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		srv.Close()
	})
	return srv, logs
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// get fetches url with the headers given as name, value pairs.
func get(t *testing.T, url string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

const metricsToken = "metrics-token-0123456789"

// With a token, /metrics answers only a request that carries it.
func TestMetricsTokenIsRequired(t *testing.T) {
	ln := listen(t)
	serve(t, server.Config{MetricsToken: metricsToken}, ln)
	url := "http://" + ln.Addr().String() + "/metrics"
	for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong-token-0123456789", "Bearer " + metricsToken + "x",
		"Bearer " + metricsToken[:len(metricsToken)-1], "Basic " + metricsToken, metricsToken} {
		status, h, body := get(t, url, "Authorization", auth)
		if status != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") ||
			strings.Contains(body, "invitd_http_requests_total") {
			t.Errorf("Authorization %q: %d %q %q", auth, status, h.Get("WWW-Authenticate"), body)
		}
	}
	for _, auth := range []string{"Bearer " + metricsToken, "bearer " + metricsToken} {
		if status, _, body := get(t, url, "Authorization", auth); status != 200 || !strings.Contains(body, "invitd_http_requests_total") {
			t.Errorf("Authorization %q: %d %.200s", auth, status, body)
		}
	}
}

// With a metrics address, /metrics is served there and not on the main
// listener; a token, when set too, guards it there.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	for _, token := range []string{"", metricsToken} {
		ln := listen(t)
		srv, _ := serve(t, server.Config{MetricsAddr: "127.0.0.1:0", MetricsToken: token}, ln)
		main, metrics := "http://"+ln.Addr().String(), "http://"+srv.MetricsAddr()
		if srv.MetricsAddr() == "" || srv.MetricsAddr() == ln.Addr().String() {
			t.Fatalf("metrics address %q", srv.MetricsAddr())
		}
		if status, _, _ := get(t, main+"/metrics", "Authorization", "Bearer "+token); status != 404 {
			t.Errorf("token %q: the main listener answers /metrics %d, want 404", token, status)
		}
		if status, _, _ := get(t, main+"/healthz"); status != 200 {
			t.Errorf("token %q: main /healthz %d", token, status)
		}
		status, _, body := get(t, metrics+"/metrics", "Authorization", "Bearer "+token)
		if status != 200 || !strings.Contains(body, `invitd_http_requests_total{route="GET /healthz",status="200"} 1`) {
			t.Errorf("token %q: metrics listener: %d %.300s", token, status, body)
		}
		if status, _, _ := get(t, metrics+"/v1/organizations", "Authorization", "Bearer "+adminKey); status != 404 {
			t.Errorf("token %q: the metrics listener serves the API: %d", token, status)
		}
		if token != "" {
			if status, _, _ := get(t, metrics+"/metrics"); status != 401 {
				t.Errorf("metrics listener without the token: %d, want 401", status)
			}
		}
	}
	if _, err := server.Open(context.Background(), server.Config{
		DB: "sqlite:" + filepath.Join(t.TempDir(), "x.db"), AdminKey: adminKey, MetricsAddr: "127.0.0.1:99999",
	}); err == nil || !strings.Contains(err.Error(), "metrics") {
		t.Errorf("a bad metrics address: %v", err)
	}
}

// farListener makes each connection seem to come from 203.0.113.7, a client
// on another machine, while it really travels over loopback; it says it
// listens on every address, as a public listener does.
type farListener struct{ net.Listener }

func (l farListener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4zero, Port: l.Listener.Addr().(*net.TCPAddr).Port}
}

// url is where a client reaches l.
func (l farListener) url() string { return "http://" + l.Listener.Addr().String() }

func (l farListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return farConn{c}, nil
}

type farConn struct{ net.Conn }

func (farConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(203, 0, 113, 7), Port: 40000} }

// With neither setting, /metrics answers clients on this machine only, not
// one elsewhere nor one a proxy forwards; the rest of the API answers all.
func TestMetricsByDefaultOnlyForThisMachine(t *testing.T) {
	ln := listen(t)
	serve(t, server.Config{}, ln)
	url := "http://" + ln.Addr().String()
	if status, _, body := get(t, url+"/metrics"); status != 200 || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("loopback client: %d %.200s", status, body)
	}
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip"} {
		if status, _, body := get(t, url+"/metrics", h, "for=198.51.100.4"); status != 403 || strings.Contains(body, "go_goroutines") {
			t.Errorf("forwarded with %s: %d %.200s", h, status, body)
		}
	}

	far := farListener{listen(t)}
	_, logs := serve(t, server.Config{}, far)
	url = far.url()
	status, _, body := get(t, url+"/metrics")
	if status != 403 || strings.Contains(body, "go_goroutines") || !strings.Contains(body, "INVITD_METRICS_TOKEN") {
		t.Errorf("a client elsewhere: %d %.200s", status, body)
	}
	if status, _, _ := get(t, url+"/healthz"); status != 200 {
		t.Errorf("a client elsewhere, /healthz: %d", status)
	}
	// A token opens /metrics to a client elsewhere that has it.
	far2 := farListener{listen(t)}
	serve(t, server.Config{MetricsToken: metricsToken}, far2)
	if status, _, _ := get(t, far2.url()+"/metrics", "Authorization", "Bearer "+metricsToken); status != 200 {
		t.Errorf("a client elsewhere with the token: %d", status)
	}
	// The start on a public address says how to open /metrics; serve waits
	// for nothing, so the line may follow the first answers.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "GET /metrics answers only clients on this machine") {
		if time.Now().After(deadline) {
			t.Fatalf("no log line says how to open /metrics:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMetricsTokenMustBeUsable(t *testing.T) {
	for _, tok := range []string{"short", "has a space in it 0123", "tab\tin-the-token-0123456"} {
		if _, err := server.Open(context.Background(), server.Config{
			DB: "sqlite:" + filepath.Join(t.TempDir(), "x.db"), AdminKey: adminKey, MetricsToken: tok,
		}); err == nil || !strings.Contains(err.Error(), "metrics token") {
			t.Errorf("token %q: %v", tok, err)
		}
	}
}
