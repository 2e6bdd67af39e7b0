// Package server assembles invitd: the store, the core, every HTTP surface,
// the job runner with its handlers and the operational endpoints.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/invitd/invitd/api"
	"github.com/invitd/invitd/api/compat/clickhouse"
	"github.com/invitd/invitd/api/compat/jicoo"
	"github.com/invitd/invitd/api/compat/upsun"
	"github.com/invitd/invitd/console"
	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/job"
	"github.com/invitd/invitd/lifecycle"
	"github.com/invitd/invitd/mail"
	"github.com/invitd/invitd/store"
	"github.com/invitd/invitd/web"
	"github.com/invitd/invitd/webhook"
)

// Config is everything `invitd serve` is told.
type Config struct {
	DB       string // sqlite:PATH or postgres://...
	AdminKey string
	// Secret derives the invitation links and seals the webhook secrets
	// (INVITD_SECRET); on SQLite, when unset, one is kept beside the
	// database. PreviousSecret still opens what it made, during a rotation
	// (INVITD_SECRET_PREVIOUS).
	Secret, PreviousSecret string
	BaseURL                string
	Mail                   mail.Config
	Jobs                   job.Config
	Webhooks               webhook.HandlerConfig
	// WebhookAllow are networks webhook URLs may reach although they are
	// not public (INVITD_WEBHOOK_ALLOW_NETWORKS).
	WebhookAllow []netip.Prefix
	// EventRetention is how long events are kept; default 90 days.
	EventRetention time.Duration
	// ReminderInterval is how often the sweep that queues due reminders
	// runs (once across the nodes of a database); default 1 minute.
	ReminderInterval time.Duration
	// MetricsAddr, when set, is a listen address of its own for /metrics,
	// which the main listener then does not serve (INVITD_METRICS_ADDR).
	MetricsAddr string
	// MetricsToken, when set, is the bearer token /metrics requires,
	// wherever it is served (INVITD_METRICS_TOKEN). With neither setting,
	// /metrics answers only clients on this machine.
	MetricsToken string
	// BodyTimeout bounds the reading of a request's body on every route;
	// default and most 10s (the native API's operations cut theirs at 5s).
	BodyTimeout time.Duration
	// KeyRate and KeyBurst are each API key's request bucket on this node
	// where its organization sets none (INVITD_KEY_RATE, INVITD_KEY_BURST);
	// 0 means 50 a second, bursts of 100.
	KeyRate  float64
	KeyBurst int
	// ConsoleIdle ends a console session this long after its last use
	// (INVITD_CONSOLE_IDLE); 0 means 12 hours.
	ConsoleIdle time.Duration
	// Now is the clock; time.Now when nil (tests move it).
	Now func() time.Time
	Log *slog.Logger
}

// DefaultEventRetention is how long events are kept unless told otherwise.
const DefaultEventRetention = 90 * 24 * time.Hour

// DefaultReminderInterval is how often the reminder sweep runs unless told otherwise.
const DefaultReminderInterval = time.Minute

// Server is a running invitd, less its listener.
type Server struct {
	Service   *invite.Service
	store     invite.Store
	runner    *job.Runner
	retention lifecycle.Retention
	reminders lifecycle.Reminders
	handler   http.Handler
	log       *slog.Logger
	// metricsLn and metrics serve /metrics apart when MetricsAddr is set.
	metricsLn net.Listener
	metrics   http.Handler
	// metricsLocalOnly is /metrics on the main listener, with no token.
	metricsLocalOnly bool
}

// Open opens the database (migrating it) and builds every part.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	st, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	secret, err := store.Secret(cfg.DB, cfg.Secret, cfg.PreviousSecret)
	if err != nil {
		st.Close()
		return nil, err
	}
	s := &Server{store: st, log: cfg.Log}
	if err := s.build(cfg, secret); err != nil {
		st.Close()
		return nil, err
	}
	n, err := s.Service.SealWebhookSecrets(invite.WithPrincipal(ctx, invite.System))
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("webhook secrets: %w", err)
	}
	if n > 0 {
		cfg.Log.Info("sealed webhook signing secrets under the current secret", "endpoints", n)
	}
	if cfg.MetricsAddr != "" {
		// Bound now, so that an address in use stops the start.
		if s.metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			st.Close()
			return nil, fmt.Errorf("metrics listener: %w", err)
		}
	}
	return s, nil
}

// minMetricsTokenLen is the shortest metrics token accepted: shorter ones are guessed.
const minMetricsTokenLen = 16

func checkMetricsToken(tok string) error {
	if tok == "" {
		return nil
	}
	if len(tok) < minMetricsTokenLen {
		return fmt.Errorf("metrics token: at least %d characters", minMetricsTokenLen)
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] <= ' ' || tok[i] > '~' {
			return errors.New("metrics token: printable ASCII without spaces only, as it travels in a header")
		}
	}
	return nil
}

// build makes the core, the job runner with its handlers, and every surface.
func (s *Server) build(cfg Config, secret *invite.Secret) error {
	st := s.store
	if err := checkMetricsToken(cfg.MetricsToken); err != nil {
		return err
	}
	guard := &webhook.Guard{Allow: cfg.WebhookAllow}
	var err error
	s.Service, err = invite.NewService(st, invite.Config{
		AdminKey: cfg.AdminKey, Now: cfg.Now, Wake: func(kind string) { s.runner.Wake(kind) },
		CheckWebhookURL: guard.Check, Secret: secret, RequestsPerSecond: cfg.KeyRate, RequestBurst: cfg.KeyBurst,
		SessionIdle: cfg.ConsoleIdle,
	})
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.Jobs.Log, cfg.Jobs.Registerer = cfg.Log, reg
	if s.runner, err = job.New(s.Service, cfg.Jobs); err != nil {
		return err
	}
	cfg.Mail.BaseURL = cfg.BaseURL
	mailer, err := mail.NewHandler(s.Service, cfg.Mail, cfg.Log, reg)
	if err != nil {
		return err
	}
	cfg.Webhooks.Guard, cfg.Webhooks.Registerer = guard, reg
	hooks, err := webhook.NewHandler(s.Service, cfg.Webhooks)
	if err != nil {
		return err
	}
	if cfg.EventRetention <= 0 {
		cfg.EventRetention = DefaultEventRetention
	}
	s.retention = lifecycle.Retention{Service: s.Service, Keep: cfg.EventRetention, Every: time.Hour}
	signIns, err := mailer.SignIn()
	if err != nil {
		return err
	}
	s.runner.Register(mailer)
	s.runner.Register(signIns)
	s.runner.Register(hooks)
	s.runner.Register(lifecycle.Expiry{Service: s.Service})
	s.runner.Register(s.retention)
	if cfg.ReminderInterval <= 0 {
		cfg.ReminderInterval = DefaultReminderInterval
	}
	s.reminders = lifecycle.Reminders{Service: s.Service, Every: cfg.ReminderInterval}
	s.runner.Register(s.reminders)

	mux := http.NewServeMux()
	api.Register(mux, s.Service, api.Options{Log: cfg.Log, BaseURL: cfg.BaseURL})
	mux.Handle("/compat/jicoo/", http.StripPrefix("/compat/jicoo", jicoo.New(s.Service)))
	mux.Handle("/compat/clickhouse/", http.StripPrefix("/compat/clickhouse", clickhouse.New(s.Service)))
	mux.Handle("/compat/upsun/", http.StripPrefix("/compat/upsun", upsun.New(s.Service)))
	mux.Handle("/i/", web.New(s.Service, web.Options{Log: cfg.Log, BasePath: basePath(cfg.BaseURL)}))
	mux.Handle("/console/", console.New(s.Service, console.Options{Log: cfg.Log, BasePath: basePath(cfg.BaseURL),
		Secure: strings.HasPrefix(cfg.BaseURL, "https://")}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, basePath(cfg.BaseURL)+"/console/", http.StatusFound)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			s.log.Warn("not ready", "err", err)
			writeStatus(w, http.StatusServiceUnavailable, "database unreachable")
			return
		}
		writeStatus(w, http.StatusOK, "ok")
	})
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	if cfg.MetricsAddr != "" {
		m := http.NewServeMux()
		m.Handle("GET /metrics", metricsGuard(metrics, cfg.MetricsToken, false))
		s.metrics = m
	} else {
		// Metrics tell who uses invitd and how much: not for anyone who can
		// reach a public listener unless a token is asked for.
		s.metricsLocalOnly = cfg.MetricsToken == ""
		mux.Handle("GET /metrics", metricsGuard(metrics, cfg.MetricsToken, s.metricsLocalOnly))
	}
	if cfg.BodyTimeout <= 0 || cfg.BodyTimeout > MaxBodyTimeout {
		cfg.BodyTimeout = MaxBodyTimeout
	}
	shapes := &shapeByPrefix{fallback: api.WriteError}
	shapes.add("/compat/jicoo/", jicoo.WriteError)
	shapes.add("/compat/clickhouse/", clickhouse.WriteError)
	shapes.add("/compat/upsun/", upsun.WriteError)
	shapes.add("/i/", web.WriteError)
	s.handler = instrument(keepTokensPrivate(bodyDeadline(checkInput(mux, shapes), cfg.BodyTimeout)), reg, cfg.Log)
	return nil
}

// tokenPrefixes start the paths that carry an invitation's token.
var tokenPrefixes = []string{"/i/", "/v1/invitations/"}

// keepTokensPrivate keeps every answer on a path that carries a token out
// of caches, and its URL out of referrers: those of the handlers, and also
// those the router gives itself (a 405, a redirect that cleans the path).
func keepTokensPrivate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range tokenPrefixes {
			if strings.HasPrefix(r.URL.Path, p) {
				w.Header().Set("Cache-Control", "no-store")
				w.Header().Set("Referrer-Policy", "no-referrer")
				break
			}
		}
		next.ServeHTTP(w, r)
	})
}

// MaxBodyTimeout is the longest a request's body may take to arrive.
const MaxBodyTimeout = 10 * time.Second

// bodyDeadline gives a request with a body d to send it: a body that stalls
// fails its reads then (each surface answers 408), instead of holding its
// handler, and a shutdown, for as long as the client likes.
func bodyDeadline(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		}
		next.ServeHTTP(w, r)
	})
}

// metricsGuard lets a request through to next when it carries the bearer
// token, or, with no token, when localOnly is false or the client is on this
// machine.
func metricsGuard(next http.Handler, token string, localOnly bool) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case token != "":
			scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			// Comparing digests keeps the time independent of the length too.
			sum := sha256.Sum256([]byte(got))
			if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
				http.Error(w, "metrics need the bearer token", http.StatusUnauthorized)
				return
			}
		case localOnly && !fromThisMachine(r):
			http.Error(w, "metrics are served only to clients on this machine; "+
				"set INVITD_METRICS_TOKEN or INVITD_METRICS_ADDR to scrape from elsewhere", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// fromThisMachine tells whether r comes from a loopback address and not
// through a proxy that says it forwards it: a proxy on this machine would
// make every client look local.
func fromThisMachine(r *http.Request) bool {
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Real-Ip"} {
		if _, ok := r.Header[h]; ok {
			return false
		}
	}
	return isLoopback(r.RemoteAddr)
}

// MetricsAddr is the address of the listener of its own that serves
// /metrics, or "" when the main listener serves it.
func (s *Server) MetricsAddr() string {
	if s.metricsLn == nil {
		return ""
	}
	return s.metricsLn.Addr().String()
}

func writeStatus(w http.ResponseWriter, code int, status string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(`{"status":"` + status + `"}` + "\n"))
}

// Handler serves every surface.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers on ln (and on the metrics listener, when there is one) and
// runs the job runner until ctx is done, then drains requests in flight for
// up to 20 seconds.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	sys := invite.WithPrincipal(ctx, invite.System)
	if err := s.retention.Ensure(sys); err != nil {
		return err
	}
	if err := s.reminders.Ensure(sys); err != nil {
		return err
	}
	if s.metricsLocalOnly && !isLoopback(ln.Addr().String()) {
		s.log.Info("GET /metrics answers only clients on this machine; " +
			"set INVITD_METRICS_TOKEN or INVITD_METRICS_ADDR to scrape from elsewhere")
	}
	srv := httpServer(s.handler)
	var wg sync.WaitGroup
	workCtx, stopWork := context.WithCancel(context.Background())
	wg.Add(1)
	go func() { defer wg.Done(); s.runner.Run(workCtx) }()
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	var msrv *http.Server
	if s.metricsLn != nil {
		msrv = httpServer(s.metrics)
		go func() { errc <- msrv.Serve(s.metricsLn) }()
	}
	var err error
	select {
	case err = <-errc:
		// One listener failed: stop the other too.
		if msrv != nil {
			_ = srv.Close()
			_ = msrv.Close()
		}
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		if msrv != nil {
			_ = msrv.Shutdown(shut)
		}
		err = srv.Shutdown(shut)
		cancel()
	}
	stopWork()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Close closes the store, and the metrics listener if Serve never ran.
func (s *Server) Close() error {
	if s.metricsLn != nil {
		_ = s.metricsLn.Close()
	}
	return s.store.Close()
}

// isLoopback tells whether hostport ("ip:port") is a loopback address.
func isLoopback(hostport string) bool {
	ap, err := netip.ParseAddrPort(hostport)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// IdleTimeout is how long a node keeps a client's connection open between
// requests. A client should let one idle for less: a request it sends as the
// node closes the connection fails, and is not sent again unless it is
// idempotent.
const IdleTimeout = 2 * time.Minute

// httpServer is how every listener of the node answers: headers within 10
// seconds (bodies: see bodyDeadline), idle connections kept IdleTimeout.
func httpServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: IdleTimeout}
}

// instrument counts requests by route and status and logs failures.
func instrument(next http.Handler, reg prometheus.Registerer, log *slog.Logger) http.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "invitd_http_requests_total", Help: "HTTP requests by route and status.",
	}, []string{"route", "status"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "invitd_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"route"})
	reg.MustRegister(requests, duration)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := r.Header.Get("X-Request-Id")
		if !invite.RequestIDUsable(rid) {
			rid = invite.NewRequestID()
		}
		w.Header().Set("X-Request-Id", rid)
		r = r.WithContext(invite.WithRequestID(r.Context(), rid))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern // set by the mux while routing
		if route == "" {
			route = "unmatched"
		}
		requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
		duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		level := slog.LevelDebug
		if rec.status >= 500 {
			level = slog.LevelError
		}
		log.Log(r.Context(), level, "request", "method", r.Method, "route", route, // not the path: it may hold a token
			"status", rec.status, "duration", time.Since(start), "request_id", rid)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// basePath is the path of the public address, which a proxy in front
// strips: "/invites" of https://example.com/invites/.
func basePath(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil {
		return ""
	}
	return strings.TrimRight(u.Path, "/")
}
