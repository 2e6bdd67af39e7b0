// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp) in
// the test process and keeps what it receives, so tests can read the mail
// invitd sends.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one mail the server accepted.
type Message struct {
	From    string
	To      []string
	Raw     []byte
	Header  mail.Header
	Subject string
	// Text and HTML are the decoded bodies of the text/plain and text/html parts.
	Text, HTML string
	// Parts lists the content types of the MIME parts, in order.
	Parts []string
	// Helo is the name the client greeted with (EHLO or HELO).
	Helo string
	// TLS tells whether the session that carried the mail was encrypted,
	// by STARTTLS or by an smtps listener, so a test sees TLS was used
	// and not only offered.
	TLS bool
}

var linkRe = regexp.MustCompile(`https?://[^\s"<>]+/i/([A-Za-z0-9_-]+)`)

// Link returns the first invitation link of the plain text part and its token.
func (m *Message) Link() (link, token string) {
	if s := linkRe.FindStringSubmatch(m.Text); s != nil {
		return s[0], s[1]
	}
	return "", ""
}

// Reply decides the server's answer to one command; nil accepts it. Stage is
// "MAIL", "RCPT" or "DATA"; n counts the calls of that stage from 1.
type Reply func(stage string, n int, arg string) error

// Options configure a Server.
type Options struct {
	// Reply answers commands; nil accepts everything.
	Reply Reply
	// TLS offers STARTTLS with a self-signed certificate for 127.0.0.1;
	// the client must trust Server.CertPool.
	TLS bool
	// Implicit makes the listener TLS from the start (smtps).
	Implicit bool
	// User and Password, when set, are required through AUTH PLAIN.
	User, Password string
}

// Server is an SMTP server on 127.0.0.1.
type Server struct {
	Addr string
	// CertPool trusts the server's certificate when TLS is on.
	CertPool *x509.CertPool

	opts    Options
	srv     *smtp.Server
	ln      net.Listener
	conns   atomic.Int64
	open    atomic.Int64
	mu      sync.Mutex
	msgs    []*Message
	counts  map[string]int
	arrived chan struct{}
	closed  bool
}

// Start runs a server on 127.0.0.1:0 until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Listen("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Listen runs a server on addr, for a test that starts it late on a known port.
func Listen(addr string, opts Options) (*Server, error) {
	s := &Server{opts: opts, counts: map[string]int{}, arrived: make(chan struct{}, 1)}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "mailtest.local"
	s.srv.AllowInsecureAuth = opts.User != "" && !opts.TLS && !opts.Implicit
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	s.srv.ErrorLog = nopLogger{}
	s.srv.EnableSMTPUTF8 = true
	var tc *tls.Config
	if opts.TLS || opts.Implicit {
		cert, pool, err := selfSigned()
		if err != nil {
			return nil, err
		}
		s.CertPool = pool
		tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	// Counted below TLS, so that go-smtp still sees a *tls.Conn from an
	// smtps listener.
	s.ln = &countingListener{Listener: ln, n: &s.conns, open: &s.open}
	if opts.Implicit {
		s.ln = tls.NewListener(s.ln, tc)
	} else if opts.TLS {
		s.srv.TLSConfig = tc
	}
	s.Addr = ln.Addr().String()
	go func() { _ = s.srv.Serve(s.ln) }()
	return s, nil
}

// URL is the smtp:// (or smtps://) address of the server, with the credentials.
func (s *Server) URL() string {
	scheme := "smtp"
	if s.opts.Implicit {
		scheme = "smtps"
	}
	user := ""
	if s.opts.User != "" {
		user = s.opts.User + ":" + s.opts.Password + "@"
	}
	return scheme + "://" + user + s.Addr
}

// Close stops the server and drops its connections.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	_ = s.srv.Close()
}

// Connections counts the connections accepted so far.
func (s *Server) Connections() int { return int(s.conns.Load()) }

// Open counts the connections accepted and not closed yet. The server closes
// one when the client closes its end (or after 10 s without a command), so a
// count that stays up after the client is done is a connection it leaked.
func (s *Server) Open() int { return int(s.open.Load()) }

// Messages returns the mail accepted so far.
func (s *Server) Messages() []*Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Message(nil), s.msgs...)
}

// Wait waits until n mails have arrived, or fails the test after timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []*Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.arrived:
		case <-deadline.C:
			t.Fatalf("mailtest: %d of %d mails arrived in %v", len(s.Messages()), n, timeout)
		}
	}
}

func (s *Server) reply(stage, arg string) error {
	if s.opts.Reply == nil {
		return nil
	}
	s.mu.Lock()
	s.counts[stage]++
	n := s.counts[stage]
	s.mu.Unlock()
	return s.opts.Reply(stage, n, arg)
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	// go-smtp starts a new session after STARTTLS, on the TLS connection.
	_, isTLS := c.TLSConnectionState()
	return &session{s: s, tls: isTLS, conn: c}, nil
}

type session struct {
	s      *Server
	conn   *smtp.Conn
	tls    bool
	authed bool
	from   string
	to     []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != ss.s.opts.User || pass != ss.s.opts.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.User != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	if err := ss.s.reply("MAIL", from); err != nil {
		return err
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.s.reply("RCPT", to); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := ss.s.reply("DATA", strings.Join(ss.to, ",")); err != nil {
		return err
	}
	m, err := Parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: err.Error()}
	}
	m.From, m.To, m.TLS, m.Helo = ss.from, append([]string(nil), ss.to...), ss.tls, ss.conn.Hostname()
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, m)
	ss.s.mu.Unlock()
	select {
	case ss.s.arrived <- struct{}{}:
	default:
	}
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// Parse reads a raw mail into a Message, decoding its subject and parts.
func Parse(raw []byte) (*Message, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	m := &Message{Raw: raw, Header: msg.Header}
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	if err := m.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Message) walk(ctype, cte string, body io.Reader) error {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return fmt.Errorf("content type %q: %w", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := m.walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	m.Parts = append(m.Parts, mt)
	switch strings.ToLower(cte) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, &crlfStripper{r: body})
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("%s part: %w", mt, err)
	}
	if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
		return fmt.Errorf("%s part: unexpected charset %s", mt, cs)
	}
	switch mt {
	case "text/plain":
		m.Text = strings.ReplaceAll(string(b), "\r\n", "\n")
	case "text/html":
		m.HTML = strings.ReplaceAll(string(b), "\r\n", "\n")
	}
	return nil
}

type crlfStripper struct{ r io.Reader }

func (c *crlfStripper) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	j := 0
	for _, b := range p[:n] {
		if b != '\r' && b != '\n' {
			p[j] = b
			j++
		}
	}
	return j, err
}

// SMTPError builds a reply with code, e.g. 451 or 550.
func SMTPError(code int, msg string) error {
	class := code / 100
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{class, 0, 0}, Message: msg}
}

type countingListener struct {
	net.Listener
	n, open *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.n.Add(1)
	l.open.Add(1)
	return &countedConn{Conn: c, open: l.open}, nil
}

// countedConn takes itself off the open count when first closed.
type countedConn struct {
	net.Conn
	open *atomic.Int64
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
