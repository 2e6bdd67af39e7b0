// Package mail delivers invitation mail: its Handler is the job runner's
// handler of send_invitation jobs. It renders the mail from templates and
// sends it outside any transaction; the runner records the result (sent,
// retried later with backoff, or failed for good, which moves the
// invitation to error).
package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	gomail "github.com/wneessen/go-mail"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/job"
)

// Config says where and how mail goes.
type Config struct {
	// SMTPURL is smtp://user:pass@host:port (STARTTLS, required unless the
	// host is loopback or the URL says tls=opportunistic or tls=none) or
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
	// Connections is how many invitation mails a node sends at once, each
	// over its own kept SMTP connection; default DefaultConnections. One leaves
	// the node waiting on the server's answers between mails.
	Connections int

	// dial replaces the SMTP client's TCP dial; set by tests only.
	dial dialFunc
}

// DefaultConnections is Config.Connections when it is not set.
const DefaultConnections = 2

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
	if c.Connections <= 0 {
		c.Connections = DefaultConnections
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
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

// Handler sends send_invitation jobs' mail; the job runner calls it.
type Handler struct {
	svc       *invite.Service
	cfg       Config
	log       *slog.Logger
	templates *Templates
	// senders holds Connections senders, each used by one attempt at a time.
	senders chan sender
	logged  bool // the senders write mail to the log
	metrics *metrics
	// domain is the sender address's, for the Message-ID and the greeting.
	domain string
}

// NewHandler returns the mail handler; reg, when not nil, receives its metrics.
func NewHandler(svc *invite.Service, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Handler, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.defaults()
	if _, err := url.Parse(cfg.BaseURL); err != nil {
		return nil, fmt.Errorf("mail: base url: %w", err)
	}
	from := gomail.NewMsg()
	if err := from.From(cfg.From); err != nil {
		return nil, fmt.Errorf("mail: from address %q: %w", cfg.From, err)
	}
	addr := from.GetFrom()[0].Address
	domain := addr[strings.LastIndex(addr, "@")+1:]
	t, err := LoadTemplates(cfg.TemplatesDir)
	if err != nil {
		return nil, err
	}
	h := &Handler{svc: svc, cfg: cfg, log: log.With("component", "mail"), templates: t, domain: domain,
		senders: make(chan sender, cfg.Connections), logged: cfg.SMTPURL == ""}
	for range cfg.Connections {
		s, err := h.newSender()
		if err != nil {
			return nil, err
		}
		h.senders <- s
	}
	if h.metrics, err = newMetrics(reg); err != nil {
		return nil, err
	}
	return h, nil
}

// Kind is the job kind the handler does.
func (h *Handler) Kind() string { return invite.JobSendInvitation }

// newSender is a sender as the configuration says: to the SMTP server, or
// to the log when there is none.
func (h *Handler) newSender() (sender, error) {
	if h.logged {
		return logSender{log: h.log}, nil
	}
	return newSMTPSender(h.cfg.SMTPURL, h.cfg.TLS, h.cfg.dial, h.domain, h.log)
}

// Policy sends Connections mails at a time per node, each over a kept
// connection.
func (h *Handler) Policy() job.Policy {
	return job.Policy{
		MaxAttempts: h.cfg.MaxAttempts,
		Backoff:     func(n int) time.Duration { return job.Backoff(n, h.cfg.MinBackoff, h.cfg.MaxBackoff) },
		Concurrency: h.cfg.Connections,
		Timeout:     2 * SMTPTimeout,
	}
}

// Idle closes the connections kept open too long without mail. The runner
// calls it with no attempt running, so every sender is in the pool.
func (h *Handler) Idle() { h.eachSender(sender.idle) }

// Close ends the SMTP connections.
func (h *Handler) Close() error {
	h.eachSender(func(s sender) { _ = s.close() })
	return nil
}

// eachSender runs fn on each sender not in use.
func (h *Handler) eachSender(fn func(sender)) {
	for range len(h.senders) {
		s := <-h.senders
		fn(s)
		h.senders <- s
	}
}

// Work sends one job's mail.
func (h *Handler) Work(ctx context.Context, j *invite.Job) (job.Attempt, error) {
	m, err := h.svc.MailFor(ctx, j)
	if err != nil {
		return job.Attempt{}, loadError(err, "invitation gone or its token replaced", "mail job", "invitation")
	}
	inv := *m.Invitation
	inv.Observe(h.svc.Now())
	if inv.State != invite.StatePending {
		return job.Attempt{}, job.Void("invitation is " + string(inv.State))
	}
	out, err := h.compose(m)
	if err == nil {
		s := <-h.senders
		err = h.deliver(ctx, s, out)
		h.senders <- s
	}
	if err != nil {
		return job.Attempt{}, err
	}
	if h.logged {
		return job.Attempt{}, nil // the sender logged it, as not sent
	}
	h.log.Info("invitation mail sent", "job", j.ID, "invitation", inv.ID, "to", inv.Email, "locale", out.locale)
	return job.Attempt{}, nil
}

// loadError is an attempt's answer to a failure to load its job's mail:
// nothing left to send (gone says why), a damaged job, or a failure that a
// later attempt may not meet.
func loadError(err error, gone, jobName, what string) error {
	if errors.Is(err, invite.ErrNotFound) {
		return job.Void(gone)
	}
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &syntaxErr) || errors.As(err, &typeErr) {
		return job.Permanent(fmt.Errorf("the %s is damaged: %w", jobName, err))
	}
	return fmt.Errorf("loading the %s failed: %w", what, err)
}

// deliver sends out by s and says how the attempt went: a refusal for good
// (an address no server takes, a permanent SMTP answer) or one to retry.
func (h *Handler) deliver(ctx context.Context, s sender, out *outgoing) error {
	start := time.Now()
	err := s.send(ctx, out)
	h.metrics.sendSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		temporary, reason := classify(err)
		if !temporary {
			return job.Permanent(errors.New(reason))
		}
		return errors.New(reason)
	}
	h.metrics.sent.Inc()
	return nil
}

// compose renders m into a message.
func (h *Handler) compose(m *invite.Mail) (*outgoing, error) {
	c, err := h.templates.Render(m, h.cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	msg := gomail.NewMsg()
	if err := msg.From(h.cfg.From); err != nil {
		return nil, err
	}
	// An organization's display name replaces the sender's name; the
	// address stays the configured one.
	if name := m.Organization.Settings.DisplayName; name != "" {
		if err := msg.FromFormat(name, msg.GetFrom()[0].Address); err != nil {
			return nil, err
		}
	}
	if err := msg.To(m.Invitation.Email); err != nil {
		return nil, job.Permanent(&badRecipient{addr: m.Invitation.Email, err: err})
	}
	msg.Subject(c.Subject)
	msg.SetMessageIDWithValue(rand.Text() + "@" + h.domain)
	msg.SetDate()
	msg.SetGenHeader(gomail.HeaderContentLang, c.Locale)
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, c.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, c.HTML)
	return &outgoing{invitation: m.Invitation.ID.String(), locale: c.Locale, to: m.Invitation.Email, subject: c.Subject, link: Link(h.cfg.BaseURL, m.Token), msg: msg}, nil
}

// badRecipient is an address no server will take.
type badRecipient struct {
	addr string
	err  error
}

func (e *badRecipient) Error() string {
	return fmt.Sprintf("the address %q cannot receive mail: %v", e.addr, e.err)
}
