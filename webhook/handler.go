package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/job"
)

// DefaultSchedule is the wait before each retry of a delivery: the first
// within 10 seconds, then growing, over more than three days in all; a
// delivery that still fails after the last is given up.
var DefaultSchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
}

// HandlerConfig configures the delivery handler.
type HandlerConfig struct {
	Guard *Guard
	// Timeout bounds one attempt: connecting, sending and the answer; default 10s.
	Timeout time.Duration
	// Schedule is the wait before each retry (jittered up by at most a
	// fifth); default DefaultSchedule.
	Schedule []time.Duration
	// Concurrency is how many deliveries run at once on a node; default 32.
	Concurrency int
	// PerEndpoint is how many of them may go to one endpoint, so that a
	// slow or dead endpoint holds only a few; default 4.
	PerEndpoint int
	Registerer  prometheus.Registerer
}

// Handler delivers webhook_delivery jobs: one event to one endpoint.
type Handler struct {
	svc    *invite.Service
	cfg    HandlerConfig
	client *Client

	mu      sync.Mutex
	running map[string][]time.Time // when each attempt under way began, by endpoint
	freed   chan struct{}          // closed, and replaced, when an attempt ends

	results  *prometheus.CounterVec
	duration prometheus.Histogram
}

// NewHandler returns the delivery handler.
func NewHandler(svc *invite.Service, cfg HandlerConfig) (*Handler, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Schedule == nil {
		cfg.Schedule = DefaultSchedule
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 32
	}
	if cfg.PerEndpoint <= 0 {
		cfg.PerEndpoint = 4
	}
	h := &Handler{svc: svc, cfg: cfg, client: NewClient(cfg.Guard, cfg.Timeout), running: map[string][]time.Time{},
		freed: make(chan struct{}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "invitd_webhook_deliveries_total",
			Help: "Webhook delivery attempts by result: success, http_error, connection_error, refused; busy: deferred untried, the endpoint's share of attempts being under way.",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "invitd_webhook_delivery_duration_seconds", Help: "Time one webhook delivery attempt took.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 9),
		}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{h.results, h.duration} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return h, nil
}

// Kind is the job kind the handler does.
func (h *Handler) Kind() string { return invite.JobWebhookDelivery }

// Policy retries on the schedule, many deliveries at once.
func (h *Handler) Policy() job.Policy {
	s := h.cfg.Schedule
	return job.Policy{
		MaxAttempts: len(s) + 1,
		Backoff: func(n int) time.Duration {
			d := s[min(max(n, 1), len(s))-1]
			return d + mrand.N(d/5+1)
		},
		Concurrency: h.cfg.Concurrency,
		Timeout:     h.cfg.Timeout + 5*time.Second, // the exchange, and reading what it sends
	}
}

// Close drops kept connections.
func (h *Handler) Close() error {
	h.client.CloseIdleConnections()
	return nil
}

// Work sends one event to one endpoint, signed with its live secrets.
func (h *Handler) Work(ctx context.Context, j *invite.Job) (job.Attempt, error) {
	out, _ := j.Loaded.(*invite.Outgoing) // read with the claim
	if out == nil {
		return job.Attempt{}, job.Void("the endpoint or the event is gone")
	}
	w, e := out.Webhook, out.Event
	if !w.Enabled && e.Type != invite.EventWebhookTest {
		return job.Attempt{}, job.Void("the endpoint is disabled")
	}
	start, wait, why := h.take(ctx, w.ID)
	if why != "" {
		return job.Attempt{}, job.Snooze(wait, why)
	}
	defer h.give(w.ID, start)
	body, err := json.Marshal(invite.ViewEvent(e))
	if err != nil {
		return job.Attempt{}, job.Permanent(err)
	}
	hdr, err := Headers(w.Secrets(h.svc.Now()), e.ID, time.Now(), body)
	if err != nil {
		return job.Attempt{}, job.Permanent(fmt.Errorf("signing: %w", err))
	}
	res := h.client.Post(ctx, w.URL, hdr, body)
	h.duration.Observe(res.Duration.Seconds())
	a := job.Attempt{Status: res.Status, Duration: res.Duration}
	var refused *RefusedError
	switch {
	case errors.As(res.Err, &refused):
		h.results.WithLabelValues("refused").Inc()
		return a, res.Err
	case res.Err != nil:
		h.results.WithLabelValues("connection_error").Inc()
		return a, res.Err
	case res.Status < 200 || res.Status > 299:
		h.results.WithLabelValues("http_error").Inc()
		return a, fmt.Errorf("the endpoint answered %d", res.Status)
	}
	h.results.WithLabelValues("success").Inc()
	return a, nil
}

// queueFor is the longest an attempt waits on its node for one of its
// endpoint's slots before it is put off: a fast endpoint frees one within
// it, sparing the attempt a trip back to the outbox and a claim.
const queueFor = 100 * time.Millisecond

// take reserves a slot of endpoint id for an attempt beginning now; when
// the endpoint is fast, it waits up to queueFor for one. When its slots
// stay taken it says so, and how long to put the attempt off: as long as
// the oldest attempt under way has taken so far, within bounds, so that a
// stuck endpoint's queue is not looked at over and over, and holds no
// worker meanwhile.
func (h *Handler) take(ctx context.Context, id string) (start time.Time, wait time.Duration, why string) {
	var timer *time.Timer // started at the first wait
	h.mu.Lock()
	defer h.mu.Unlock()
	for waited := false; ; {
		now := time.Now()
		r := h.running[id]
		if len(r) < h.cfg.PerEndpoint {
			h.running[id] = append(r, now)
			return now, 0, ""
		}
		// Only a fast endpoint's attempt waits here: the oldest of a slow
		// one's has run longer than the wait would be.
		if waited || now.Sub(r[0]) >= queueFor {
			h.results.WithLabelValues("busy").Inc()
			d := min(max(now.Sub(r[0]), 50*time.Millisecond), h.cfg.Timeout)
			return now, d + mrand.N(d/2+1), "the endpoint has as many deliveries under way as it may"
		}
		if timer == nil {
			timer = time.NewTimer(queueFor)
			defer timer.Stop()
		}
		freed := h.freed
		h.mu.Unlock()
		select {
		case <-freed:
		case <-timer.C:
			waited = true
		case <-ctx.Done():
			waited = true
		}
		h.mu.Lock()
	}
}

// give frees the slot taken at start.
func (h *Handler) give(id string, start time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.running[id]
	if i := slices.Index(r, start); i >= 0 {
		r = slices.Delete(r, i, i+1)
	}
	close(h.freed) // wakes the attempts waiting in take
	h.freed = make(chan struct{})
	if len(r) == 0 {
		delete(h.running, id)
	} else {
		h.running[id] = r
	}
}
