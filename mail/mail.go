// Package mail delivers invitation mail from the outbox.
//
// Every invitd process runs one Worker. It claims send_invitation jobs
// through the core (the store leases them, so each job goes to one worker
// across all processes), renders the mail from templates, sends it outside
// any transaction and then records the result: done, retry later with
// backoff, or failed for good, which moves the invitation to error.
package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	gomail "github.com/wneessen/go-mail"

	"github.com/invitd/invitd/invite"
)

// Config says where and how mail goes.
type Config struct {
	// SMTPURL is smtp://user:pass@host:port (STARTTLS when offered) or
	// smtps://user:pass@host:port (TLS from the start); empty writes each
	// mail to the log instead.
	SMTPURL string
	// From is the sender address, as "Name <addr>" or a bare address.
	From string
	// BaseURL is the public address of invitd; links are BaseURL/i/<token>.
	BaseURL string
	// TemplatesDir overrides the embedded templates file by file when set.
	TemplatesDir string

	// TLS configures the TLS client (e.g. extra root CAs); nil uses the system's.
	TLS *tls.Config
	// MaxAttempts is how often a mail is tried before the invitation moves
	// to error; default 8.
	MaxAttempts int
	// MinBackoff is the wait after the first failed try, doubled each try up
	// to MaxBackoff, with jitter; defaults 30s and 1h.
	MinBackoff, MaxBackoff time.Duration
	// Batch is how many jobs one claim takes; default 50.
	Batch int
	// Lease is how long a claim holds its jobs, and so how long the jobs of a
	// crashed worker wait before another takes them; default 2m.
	Lease time.Duration
	// PollInterval is how often the outbox is looked at without a Wake; default 1s.
	PollInterval time.Duration
}

func (c *Config) defaults() {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 30 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Hour
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.Batch <= 0 {
		c.Batch = 50
	}
	if c.Lease <= 0 {
		c.Lease = 2 * time.Minute
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://127.0.0.1:8080"
	}
	if c.From == "" {
		host := "localhost"
		if u, err := url.Parse(c.BaseURL); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
		c.From = "invitd <noreply@" + host + ">"
	}
}

// Worker claims mail jobs from the outbox and sends them.
type Worker struct {
	svc       *invite.Service
	cfg       Config
	log       *slog.Logger
	id        string
	wake      chan struct{}
	templates *Templates
	sender    sender
	metrics   *metrics
	running   sync.Mutex
}

// NewWorker returns a worker; reg, when not nil, receives its metrics.
func NewWorker(svc *invite.Service, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Worker, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.defaults()
	if _, err := url.Parse(cfg.BaseURL); err != nil {
		return nil, fmt.Errorf("mail: base url: %w", err)
	}
	if err := gomail.NewMsg().From(cfg.From); err != nil {
		return nil, fmt.Errorf("mail: from address %q: %w", cfg.From, err)
	}
	t, err := LoadTemplates(cfg.TemplatesDir)
	if err != nil {
		return nil, err
	}
	w := &Worker{svc: svc, cfg: cfg, log: log.With("component", "mail"), id: workerID(),
		wake: make(chan struct{}, 1), templates: t}
	if cfg.SMTPURL == "" {
		w.sender = logSender{log: w.log}
	} else {
		s, err := newSMTPSender(cfg.SMTPURL, cfg.TLS, w.log)
		if err != nil {
			return nil, err
		}
		w.sender = s
	}
	if w.metrics, err = newMetrics(svc, reg); err != nil {
		return nil, err
	}
	return w, nil
}

// workerID names this worker uniquely across processes and hosts.
func workerID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "host"
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// ID is the name the worker claims jobs under.
func (w *Worker) ID() string { return w.id }

// Wake makes the worker look at the outbox now.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run works until ctx is done.
func (w *Worker) Run(ctx context.Context) {
	ctx = invite.Background(ctx) // its writes may wait for the requests' commits
	w.running.Lock()
	defer w.running.Unlock()
	defer func() { _ = w.sender.close() }()
	t := time.NewTicker(w.cfg.PollInterval)
	defer t.Stop()
	for {
		for ctx.Err() == nil && w.runOnce(ctx) > 0 {
		}
		w.sender.idle()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// runOnce claims one batch and works through it; it returns how many jobs it claimed.
func (w *Worker) runOnce(ctx context.Context) int {
	leaseEnd := time.Now().Add(w.cfg.Lease)
	jobs, err := w.svc.ClaimJobs(ctx, w.id, w.cfg.Batch, w.cfg.Lease)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("outbox claim failed", "err", err)
		}
		return 0
	}
	// Leave room at the end of the lease for one slow exchange, so no job is
	// sent after another worker may have claimed it.
	margin := 2 * SMTPTimeout
	if margin > w.cfg.Lease/2 {
		margin = w.cfg.Lease / 2
	}
	var mails []*invite.Mail
	var loadErrs []error
	for i, j := range jobs {
		if ctx.Err() != nil || time.Until(leaseEnd) < margin {
			w.release(ctx, jobs[i:])
			break
		}
		// Mails are loaded a few at a time: one read for several sends, yet
		// fresh enough that a job voided meanwhile is rarely sent.
		if i%loadChunk == 0 {
			var err error
			if mails, loadErrs, err = w.svc.MailsFor(ctx, jobs[i:min(i+loadChunk, len(jobs))]); err != nil {
				for k := range loadErrs {
					loadErrs[k] = err
				}
			}
		}
		w.process(ctx, j, mails[i%loadChunk], loadErrs[i%loadChunk])
	}
	return len(jobs)
}

// loadChunk is how many jobs' mails are read together.
const loadChunk = 10

// settle runs a store call that must happen even while ctx ends: the mail
// went out (or not) and the outbox must say so.
func settle(ctx context.Context, fn func(context.Context) error) error {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return fn(c)
}

// release gives unworked jobs back for another claim at once.
func (w *Worker) release(ctx context.Context, jobs []*invite.Job) {
	for _, j := range jobs {
		err := settle(ctx, func(c context.Context) error {
			return w.svc.JobRetry(c, j, w.svc.Now(), "released unsent")
		})
		if err != nil && !errors.Is(err, invite.ErrNotFound) {
			w.log.Warn("outbox release failed", "job", j.ID, "err", err)
		}
	}
}

// process sends one job's mail m, loaded with loadErr, and records the outcome.
func (w *Worker) process(ctx context.Context, j *invite.Job, m *invite.Mail, loadErr error) {
	log := w.log.With("job", j.ID, "invitation", j.InvitationID, "attempt", j.Attempts)
	if j.Kind != invite.JobSendInvitation {
		// Not ours; leave it for the worker that knows the kind.
		_ = settle(ctx, func(c context.Context) error {
			return w.svc.JobRetry(c, j, w.svc.Now().Add(w.cfg.Lease), "not a mail job")
		})
		return
	}
	err := loadErr
	if errors.Is(err, invite.ErrNotFound) {
		w.done(ctx, log, j, "invitation gone or its token replaced")
		return
	}
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &syntaxErr) || errors.As(err, &typeErr) {
		w.fail(ctx, log, j, "the mail job is damaged: "+err.Error())
		return
	}
	if err != nil {
		w.retry(ctx, log, j, "loading the invitation failed: "+err.Error())
		return
	}
	inv := *m.Invitation
	inv.Observe(w.svc.Now())
	if inv.State != invite.StatePending {
		w.done(ctx, log, j, "invitation is "+string(inv.State))
		return
	}
	out, err := w.compose(m)
	var bad *badRecipient
	if errors.As(err, &bad) {
		w.fail(ctx, log, j, err.Error())
		return
	}
	if err != nil {
		w.retry(ctx, log, j, err.Error())
		return
	}
	start := time.Now()
	err = w.sender.send(ctx, out)
	w.metrics.sendSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		temporary, reason := classify(err)
		if temporary && j.Attempts < w.cfg.MaxAttempts {
			w.retry(ctx, log, j, reason)
			return
		}
		if temporary {
			reason = fmt.Sprintf("gave up after %d attempts; last error: %s", j.Attempts, reason)
		}
		w.fail(ctx, log, j, reason)
		return
	}
	w.metrics.sent.Inc()
	log.Info("invitation mail sent", "to", inv.Email, "locale", out.locale)
	w.done(ctx, log, j, "")
}

func (w *Worker) done(ctx context.Context, log *slog.Logger, j *invite.Job, why string) {
	if why != "" {
		log.Debug("mail job dropped", "why", why)
	}
	err := settle(ctx, func(c context.Context) error { return w.svc.JobDone(c, j) })
	if err != nil && !errors.Is(err, invite.ErrNotFound) {
		log.Error("outbox job done failed", "err", err)
	}
}

func (w *Worker) retry(ctx context.Context, log *slog.Logger, j *invite.Job, reason string) {
	wait := Backoff(j.Attempts, w.cfg.MinBackoff, w.cfg.MaxBackoff)
	log.Warn("invitation mail deferred", "reason", reason, "retry_in", wait.Round(time.Millisecond))
	w.metrics.retried.Inc()
	err := settle(ctx, func(c context.Context) error {
		return w.svc.JobRetry(c, j, w.svc.Now().Add(wait), truncate(reason, 1000))
	})
	if err != nil && !errors.Is(err, invite.ErrNotFound) {
		log.Error("outbox job retry failed", "err", err)
	}
}

func (w *Worker) fail(ctx context.Context, log *slog.Logger, j *invite.Job, reason string) {
	log.Error("invitation mail failed for good", "reason", reason)
	w.metrics.failed.Inc()
	err := settle(ctx, func(c context.Context) error { return w.svc.JobFailed(c, j, truncate(reason, 1000)) })
	if err != nil && !errors.Is(err, invite.ErrNotFound) {
		log.Error("outbox job failed failed", "err", err)
	}
}

// Backoff is the wait after the given (1-based) failed attempt: min doubled
// per attempt, capped at max, then jittered into its upper half.
func Backoff(attempt int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + mrand.N(half+1)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// compose renders m into a message.
func (w *Worker) compose(m *invite.Mail) (*outgoing, error) {
	c, err := w.templates.Render(m, w.cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	msg := gomail.NewMsg()
	if err := msg.From(w.cfg.From); err != nil {
		return nil, err
	}
	if err := msg.To(m.Invitation.Email); err != nil {
		return nil, &badRecipient{addr: m.Invitation.Email, err: err}
	}
	msg.Subject(c.Subject)
	msg.SetMessageID()
	msg.SetDate()
	msg.SetGenHeader(gomail.HeaderContentLang, c.Locale)
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, c.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, c.HTML)
	return &outgoing{locale: c.Locale, to: m.Invitation.Email, subject: c.Subject, link: Link(w.cfg.BaseURL, m.Token), msg: msg}, nil
}

// badRecipient is an address no server will take.
type badRecipient struct {
	addr string
	err  error
}

func (e *badRecipient) Error() string {
	return fmt.Sprintf("the address %q cannot receive mail: %v", e.addr, e.err)
}
