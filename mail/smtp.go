package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
)

// outgoing is one mail ready to send.
type outgoing struct {
	invitation string // its id, for the log; "" for a sign-in mail
	locale     string
	to         string
	subject    string
	link       string
	msg        *gomail.Msg
}

// sender delivers mail. A sender is used by one goroutine at a time.
type sender interface {
	send(ctx context.Context, m *outgoing) error
	// idle tells the sender the outbox is empty for now.
	idle()
	close() error
}

// LoggedMessage is the log message of a mail written to the log, with no
// SMTP server configured, in place of sending it.
const LoggedMessage = "invitation mail (no SMTP server configured, not sent)"

// SignInLoggedMessage is LoggedMessage's of a console sign-in mail.
const SignInLoggedMessage = "console sign-in mail (no SMTP server configured, not sent)"

// logSender writes each mail to the log, for a first run with no SMTP server.
type logSender struct{ log *slog.Logger }

func (s logSender) send(ctx context.Context, m *outgoing) error {
	if m.invitation == "" {
		s.log.InfoContext(ctx, SignInLoggedMessage, "to", m.to, "subject", m.subject, "link", m.link)
		return nil
	}
	s.log.InfoContext(ctx, LoggedMessage, "invitation", m.invitation, "to", m.to, "subject", m.subject, "link", m.link)
	return nil
}

func (logSender) idle()        {}
func (logSender) close() error { return nil }

// smtpSender keeps one SMTP connection open while mail keeps coming.
type smtpSender struct {
	client *gomail.Client
	conn   *gosmtp.Client
	addr   string
	log    *slog.Logger
	// policy is the STARTTLS policy of an smtp:// URL, asked for in it when
	// explicit; implicit is smtps://.
	policy   gomail.TLSPolicy
	explicit bool
	implicit bool
	// sent counts messages on the current connection.
	sent int
	// maxPerConn closes a connection after this many messages.
	maxPerConn int
	// dials counts connections made, for tests and logs.
	dials int
	// dialled is the connection of the dial under way, closed by dial if
	// go-mail fails to set up a client on it.
	dialled net.Conn
	// lastUse is when the connection last carried a message.
	lastUse time.Time
	// keepIdle is how long an unused connection stays open.
	keepIdle time.Duration
}

// SMTPTimeout bounds each step of an SMTP exchange.
const SMTPTimeout = 30 * time.Second

// dialFunc connects to the SMTP server; tests point a name at a local server.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// newSMTPSender parses raw, an smtp:// or smtps:// URL:
//
//	smtp://[user:pass@]host[:port]   STARTTLS, required unless the host is
//	                                 loopback; port 587 with credentials, else 25
//	smtps://[user:pass@]host[:port]  TLS from the start; port 465
//
// Query parameters: tls=required|opportunistic|none (smtp:// only; starttls=
// is the older name); auth=plain, login, cram-md5, scram-sha-256, ...
// (default: the best the server offers over an encrypted connection);
// timeout=10s. Keys are lowercase; any other key, or one given twice, is an
// error. dial, when not nil, replaces the TCP dial (smtp:// only).
// helo is the name the sender greets with: the sender address's domain, as
// the Message-ID's is, rather than this machine's host name, which says
// nothing to the receiver and may be internal.
func newSMTPSender(raw string, tlsConf *tls.Config, dial dialFunc, helo string, log *slog.Logger) (*smtpSender, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("smtp url: %w", errors.Unwrap(err))
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("smtp url: no host")
	}
	q := u.Query()
	if err := checkQuery(q); err != nil {
		return nil, err
	}
	timeout := SMTPTimeout
	if v := q.Get("timeout"); v != "" {
		if timeout, err = time.ParseDuration(v); err != nil || timeout <= 0 {
			return nil, fmt.Errorf("smtp url: timeout %q is not a duration", v)
		}
	}
	mode, err := tlsMode(q)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if tlsConf != nil {
		tc = tlsConf.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	// The sender checks a kept connection itself before reusing it after a
	// pause, rather than with a NOOP before every message.
	opts := []gomail.Option{gomail.WithTimeout(timeout), gomail.WithTLSConfig(tc), gomail.WithoutNoop(), gomail.WithHELO(helo)}
	port := 25
	if u.User != nil {
		port = 587
	}
	s := &smtpSender{log: log, maxPerConn: 100, keepIdle: 5 * time.Second}
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		// A relay on this machine is reached without crossing a network, so
		// it may speak in clear as before; anywhere else the invitation
		// link, which opens the invitation, would cross the network readable.
		s.policy, s.explicit = gomail.TLSMandatory, mode != ""
		switch mode {
		case "":
			if isLoopback(host) {
				s.policy = gomail.TLSOpportunistic
			}
		case "required":
		case "opportunistic":
			s.policy = gomail.TLSOpportunistic
		case "none":
			s.policy = gomail.NoTLS
		}
		opts = append(opts, gomail.WithTLSPolicy(s.policy))
		if dial == nil {
			var d net.Dialer
			dial = d.DialContext
		}
		// go-mail does not close the connection when the session setup
		// after the dial fails, as when STARTTLS is required and not
		// offered; the sender keeps it to close it then. smtps:// keeps go-mail's own
		// TLS dial: with a dial of ours go-mail would take the session
		// for unencrypted and choose AUTH as if in clear.
		opts = append(opts, gomail.WithDialContextFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err == nil {
				s.dialled = c
			}
			return c, err
		}))
	case "smtps":
		if mode != "" && mode != "required" {
			return nil, fmt.Errorf("smtp url: smtps:// is TLS from the start; tls=%s is for smtp://", mode)
		}
		port = 465
		s.implicit = true
		opts = append(opts, gomail.WithSSL())
	default:
		return nil, fmt.Errorf("smtp url: scheme must be smtp or smtps, not %q", u.Scheme)
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("smtp url: bad port %q", p)
		}
	}
	opts = append(opts, gomail.WithPort(port))
	if u.User != nil {
		pass, _ := u.User.Password()
		auth := gomail.SMTPAuthAutoDiscover
		if v := q.Get("auth"); v != "" {
			if err := auth.UnmarshalString(v); err != nil {
				return nil, fmt.Errorf("smtp url: %w", err)
			}
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	if s.client, err = gomail.NewClient(host, opts...); err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	s.addr = net.JoinHostPort(host, strconv.Itoa(port))
	switch {
	case s.implicit:
		log.Info("mail goes by SMTP over TLS", "server", s.addr)
	case s.policy == gomail.TLSMandatory:
		log.Info("mail goes by SMTP with STARTTLS required", "server", s.addr)
	case isLoopback(host):
		log.Info("mail goes by SMTP to this machine, with STARTTLS when offered", "server", s.addr)
	default:
		log.Warn("mail may go by SMTP in clear, as the SMTP URL allows", "server", s.addr, "tls", mode)
	}
	return s, nil
}

// queryKeys are the SMTP URL's query keys, lowercase as they must be written.
var queryKeys = []string{"tls", "starttls", "auth", "timeout"}

// checkQuery refuses a query key that is not one of queryKeys, or one given
// twice: either would be dropped quietly, and a dropped TLS=required leaves
// a loopback host on STARTTLS only when offered.
func checkQuery(q url.Values) error {
	for _, k := range slices.Sorted(maps.Keys(q)) {
		vs := q[k]
		if !slices.Contains(queryKeys, k) {
			return fmt.Errorf("smtp url: unknown query key %q (keys are lowercase: %s)", k, strings.Join(queryKeys, ", "))
		}
		if len(vs) > 1 {
			return fmt.Errorf("smtp url: %s= is given twice", k)
		}
	}
	return nil
}

// tlsMode reads tls= (or its older name starttls=) from an SMTP URL's query:
// "required", "opportunistic", "none", or "" when not given.
func tlsMode(q url.Values) (string, error) {
	mode := ""
	for _, name := range []string{"tls", "starttls"} {
		v := strings.ToLower(q.Get(name))
		switch v {
		case "":
			continue
		case "required", "mandatory":
			v = "required"
		case "opportunistic":
		case "none", "no", "off":
			v = "none"
		default:
			return "", fmt.Errorf("smtp url: %s=%q: must be required, opportunistic or none", name, q.Get(name))
		}
		if mode != "" && mode != v {
			return "", fmt.Errorf("smtp url: tls=%s and starttls=%s disagree", mode, v)
		}
		mode = v
	}
	return mode, nil
}

// isLoopback tells whether host is a loopback IP literal or "localhost".
// Other names are not looked up: what they resolve to may change.
func isLoopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func (s *smtpSender) dial(ctx context.Context) error {
	s.dialled = nil
	c, err := s.client.DialToSMTPClientWithContext(ctx)
	if s.dialled != nil && err != nil {
		_ = s.dialled.Close()
	}
	s.dialled = nil
	if err != nil {
		// go-mail tells a missing STARTTLS only in words; the tests against a
		// server without it fail if those words change.
		if s.policy == gomail.TLSMandatory && !s.implicit && strings.Contains(err.Error(), "does not support STARTTLS") {
			return &noSTARTTLSError{addr: s.addr, explicit: s.explicit}
		}
		return &dialError{addr: s.addr, err: err}
	}
	s.conn, s.sent = c, 0
	s.dials++
	return nil
}

func (s *smtpSender) send(ctx context.Context, m *outgoing) error {
	if s.conn != nil && time.Since(s.lastUse) > time.Second {
		if err := s.conn.Noop(); err != nil {
			s.drop()
		}
	}
	reused := s.conn != nil
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return err
		}
	}
	err := s.client.SendWithSMTPClient(s.conn, m.msg)
	var se *gomail.SendError
	if err != nil && reused && errors.As(err, &se) &&
		(se.Reason == gomail.ErrConnCheck || se.Reason == gomail.ErrSMTPMailFrom && se.ErrorCode() == 0) {
		// The kept connection died before this message was begun: one new try.
		s.drop()
		if err := s.dial(ctx); err != nil {
			return err
		}
		err = s.client.SendWithSMTPClient(s.conn, m.msg)
	}
	if err != nil && m.msg.IsDelivered() {
		// The server took the message; only the reset after it failed.
		s.drop()
		err = nil
	}
	if err != nil {
		if !errors.As(err, &se) || se.ErrorCode() == 0 || se.ErrorCode() == 421 {
			s.drop()
		}
		return err
	}
	s.lastUse = time.Now()
	if s.sent++; s.sent >= s.maxPerConn {
		s.quit()
	}
	return nil
}

// drop forgets a connection that may be broken.
func (s *smtpSender) drop() {
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
}

// quit ends a working connection politely.
func (s *smtpSender) quit() {
	if s.conn != nil {
		if err := s.client.CloseWithSMTPClient(s.conn); err != nil {
			s.log.Debug("smtp quit", "err", err)
		}
		_ = s.conn.Close()
		s.conn = nil
	}
}

// idle closes the connection once it has not been used for keepIdle, so a
// trickle of invitations shares one connection as a burst does.
func (s *smtpSender) idle() {
	if s.conn != nil && time.Since(s.lastUse) >= s.keepIdle {
		s.quit()
	}
}

func (s *smtpSender) close() error { s.quit(); return nil }

// dialError is a failure to reach or greet the server, always worth a retry.
type dialError struct {
	addr string
	err  error
}

func (e *dialError) Error() string {
	return fmt.Sprintf("cannot reach the mail server %s: %v", e.addr, e.err)
}
func (e *dialError) Unwrap() error { return e.err }

// noSTARTTLSError is a server that does not offer STARTTLS where the URL
// requires it. It is retried like a server that cannot be reached: the
// server may be fixed, or the URL.
type noSTARTTLSError struct {
	addr     string
	explicit bool
}

func (e *noSTARTTLSError) Error() string {
	why := "which a host that is not loopback needs"
	if e.explicit {
		why = "which the SMTP URL's tls=required asks for"
	}
	return fmt.Sprintf("the mail server %s does not offer STARTTLS, %s: the mail was not sent in clear "+
		"(tls=opportunistic in the SMTP URL would allow it)", e.addr, why)
}

// classify tells whether a send error may pass on a later try, and says
// what happened in words an admin reads in the invitation's error.
func classify(err error) (temporary bool, reason string) {
	var de *dialError
	if errors.As(err, &de) {
		return true, de.Error()
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		switch {
		case se.IsTemp():
			return true, "the mail server deferred the message: " + se.Error()
		case code >= 500 && code < 600:
			return false, "the mail server rejected the message: " + se.Error()
		default:
			return true, "sending failed: " + se.Error()
		}
	}
	return true, err.Error()
}
