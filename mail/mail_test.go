package mail_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/job"
	"github.com/invitd/invitd/mail"
	"github.com/invitd/invitd/mail/mailtest"
	"github.com/invitd/invitd/store/sqlite"
)

const baseURL = "https://invitd.example.com"

// env is a service on a real SQLite file and, once started, a job runner
// with the mail handler.
type env struct {
	t      testing.TB
	ctx    context.Context // carries invite.System
	svc    *invite.Service
	org    *invite.Organization
	reg    *prometheus.Registry
	runner atomic.Pointer[job.Runner]
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newEnv(t testing.TB, now func() time.Time, orgPatch *invite.SettingsPatch) *env {
	t.Helper()
	ctx := invite.WithPrincipal(context.Background(), invite.System)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "x.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, ctx: ctx, reg: prometheus.NewRegistry(), logs: &syncBuffer{}}
	e.svc, err = invite.NewService(st, invite.Config{Now: now, Wake: func(kind string) {
		if r := e.runner.Load(); r != nil {
			r.Wake(kind)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if e.org, err = e.svc.CreateOrg(ctx, "Acme & <Co>", orgPatch); err != nil {
		t.Fatal(err)
	}
	return e
}

// fast is a mail configuration for tests: short waits everywhere.
func fast(smtpURL string) mail.Config {
	return mail.Config{SMTPURL: smtpURL, From: "Acme Invitations <invites@example.com>", BaseURL: baseURL,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
}

// runnerConfig polls often, so that a retry due after a short backoff runs
// without a wake.
func (e *env) runnerConfig() job.Config {
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return job.Config{PollInterval: 10 * time.Millisecond, Lease: 30 * time.Second, Log: log, Registerer: e.reg}
}

// start runs a job runner with the mail handler until the test ends.
func (e *env) start(cfg mail.Config) *mail.Handler {
	e.t.Helper()
	return e.startWith(cfg, e.runnerConfig())
}

// startWith is start with the runner configured by rc.
func (e *env) startWith(cfg mail.Config, rc job.Config) *mail.Handler {
	e.t.Helper()
	h, err := mail.NewHandler(e.svc, cfg, rc.Log, e.reg)
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := job.New(e.svc, rc)
	if err != nil {
		e.t.Fatal(err)
	}
	r.Register(h)
	e.runner.Store(r)
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	go func() { defer close(e.done); r.Run(ctx) }()
	e.t.Cleanup(e.stop)
	return h
}

func (e *env) stop() {
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.cancel = nil
	}
}

func (e *env) invite(email string, mod func(*invite.CreateInvitation)) *invite.Invitation {
	e.t.Helper()
	return e.inviteAs(e.ctx, email, mod)
}

func (e *env) inviteAs(ctx context.Context, email string, mod func(*invite.CreateInvitation)) *invite.Invitation {
	e.t.Helper()
	c := invite.CreateInvitation{Email: email, Role: "admin", Permissions: []string{"billing", "members"},
		Inviter: invite.Inviter{ID: "u1", Name: "Ada <Lovelace>"}}
	if mod != nil {
		mod(&c)
	}
	res, err := e.svc.CreateInvitation(ctx, e.org.ID, c)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Invitation
}

func (e *env) get(inv *invite.Invitation) *invite.Invitation {
	e.t.Helper()
	got, err := e.svc.GetInvitation(e.ctx, e.org.ID, invite.InvitationRef{ID: inv.ID})
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// metric returns the value of a counter or gauge in the registry: the
// series whose labels include the given name/value pairs. A labelled series
// not yet made reads 0, as a counter never incremented would.
func (e *env) metric(name string, labels ...string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	if len(labels) > 0 {
		return 0
	}
	e.t.Fatalf("no metric %s", name)
	return 0
}

// jobs returns a count of send_invitation attempts by result (succeeded,
// retried, failed, void).
func (e *env) jobs(result string) float64 {
	e.t.Helper()
	return e.metric("invitd_jobs_total", "kind", invite.JobSendInvitation, "result", result)
}

// eventually polls cond until it holds or fails the test.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// outboxEmpty tells whether no mail job is queued; the other kinds (each
// invitation's expiry) stay queued, for no handler of theirs runs here.
func (e *env) outboxEmpty() bool {
	st, _, err := e.svc.JobStats(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, s := range st {
		if s.Kind == invite.JobSendInvitation && s.Due+s.Scheduled > 0 {
			return false
		}
	}
	return true
}

func TestMailArrivesWithBothPartsAndAWorkingLink(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	e := newEnv(t, nil, nil)
	e.start(fast(srv.URL()))
	inv := e.invite("  Grace@Example.COM ", nil)

	m := srv.Wait(t, 1, 10*time.Second)[0]
	if len(m.To) != 1 || m.To[0] != "grace@example.com" {
		t.Errorf("envelope recipients = %v, want grace@example.com", m.To)
	}
	if m.From != "invites@example.com" {
		t.Errorf("envelope sender = %q", m.From)
	}
	if got := m.Header.Get("To"); !strings.Contains(got, "grace@example.com") {
		t.Errorf("To header = %q", got)
	}
	if want := "Ada <Lovelace> invited you to join Acme & <Co>"; m.Subject != want {
		t.Errorf("subject = %q, want %q", m.Subject, want)
	}
	if strings.Join(m.Parts, ",") != "text/plain,text/html" {
		t.Errorf("parts = %v, want text/plain then text/html", m.Parts)
	}
	if ct := m.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
		t.Errorf("content type = %q", ct)
	}
	if m.Header.Get("Date") == "" {
		t.Errorf("missing Date: %v", m.Header)
	}
	// The sender's domain names the message and greets the server, not
	// this machine's host name.
	if id := m.Header.Get("Message-Id"); !regexp.MustCompile(`^<[A-Za-z0-9]{20,}@example\.com>$`).MatchString(id) {
		t.Errorf("Message-ID %q, want <random@example.com>", id)
	}
	if m.Helo != "example.com" {
		t.Errorf("EHLO %q, want the sender's domain example.com", m.Helo)
	}
	link, token := m.Link()
	if !strings.HasPrefix(link, baseURL+"/i/") {
		t.Fatalf("no link in the text part:\n%s", m.Text)
	}
	if !strings.Contains(m.HTML, `href="`+link+`"`) {
		t.Errorf("the HTML part does not link %s:\n%s", link, m.HTML)
	}
	v, err := e.svc.GetByToken(e.ctx, token)
	if err != nil {
		t.Fatalf("the mailed token does not work: %v", err)
	}
	if v.Invitation.ID != inv.ID || v.Invitation.State != invite.StatePending {
		t.Errorf("token leads to %s (%s), want %s pending", v.Invitation.ID, v.Invitation.State, inv.ID)
	}
	for _, s := range []string{"Acme & <Co>", "Ada <Lovelace>", "admin", "billing, members", v.Invitation.ExpiresAt.UTC().Format("2 January 2006")} {
		if !strings.Contains(m.Text, s) {
			t.Errorf("text part lacks %q:\n%s", s, m.Text)
		}
	}
	for _, s := range []string{"Acme &amp; &lt;Co&gt;", "Ada &lt;Lovelace&gt;"} {
		if !strings.Contains(m.HTML, s) {
			t.Errorf("HTML part lacks escaped %q", s)
		}
	}
	for _, s := range []string{"<Co>", "<Lovelace>"} {
		if strings.Contains(m.HTML, s) {
			t.Errorf("HTML part has %q unescaped", s)
		}
	}
	eventually(t, 5*time.Second, "the job is done", e.outboxEmpty)
	if got := e.metric("invitd_mail_sent_total"); got != 1 {
		t.Errorf("sent counter = %v, want 1", got)
	}
	if got := e.jobs("succeeded"); got != 1 {
		t.Errorf("succeeded attempts = %v, want 1", got)
	}
	if got := e.metric("invitd_jobs_waiting", "kind", invite.JobSendInvitation); got != 0 {
		t.Errorf("waiting gauge = %v, want 0", got)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d mails arrived, want exactly 1", n)
	}
}

func TestTemporaryRejectionIsRetried(t *testing.T) {
	for _, stage := range []string{"MAIL", "RCPT", "DATA"} {
		t.Run(stage, func(t *testing.T) {
			srv := mailtest.Start(t, mailtest.Options{Reply: func(s string, n int, _ string) error {
				if s == stage && n == 1 {
					return mailtest.SMTPError(451, "try again later")
				}
				return nil
			}})
			e := newEnv(t, nil, nil)
			e.start(fast(srv.URL()))
			inv := e.invite("retry@example.com", nil)

			m := srv.Wait(t, 1, 10*time.Second)[0]
			if m.To[0] != "retry@example.com" {
				t.Errorf("recipient = %v", m.To)
			}
			_, token := m.Link()
			if _, err := e.svc.GetByToken(e.ctx, token); err != nil {
				t.Errorf("token from the retried mail: %v", err)
			}
			eventually(t, 5*time.Second, "the job is done", e.outboxEmpty)
			if got := e.get(inv); got.State != invite.StatePending || got.Error != "" {
				t.Errorf("invitation is %s %q, want pending", got.State, got.Error)
			}
			if got := e.jobs("retried"); got != 1 {
				t.Errorf("retried counter = %v, want 1", got)
			}
			if got := e.metric("invitd_mail_sent_total"); got != 1 {
				t.Errorf("sent counter = %v, want 1", got)
			}
		})
	}
}

func TestPermanentRejectionMovesTheInvitationToError(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{Reply: func(s string, _ int, _ string) error {
		if s == "RCPT" {
			return mailtest.SMTPError(550, "no such mailbox here")
		}
		return nil
	}})
	e := newEnv(t, nil, nil)
	e.start(fast(srv.URL()))
	inv := e.invite("nobody@example.com", nil)

	var got *invite.Invitation
	eventually(t, 10*time.Second, "the invitation is in error", func() bool {
		got = e.get(inv)
		return got.State == invite.StateError
	})
	if !strings.Contains(got.Error, "550") || !strings.Contains(got.Error, "no such mailbox here") || !strings.Contains(got.Error, "rejected") {
		t.Errorf("error reason = %q, want the server's 550 answer", got.Error)
	}
	if got.FinishedAt == nil {
		t.Error("finished_at not set")
	}
	eventually(t, 5*time.Second, "the job is gone", e.outboxEmpty)
	if got := e.jobs("failed"); got != 1 {
		t.Errorf("failed counter = %v, want 1", got)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d mails accepted, want none", n)
	}
	// A resend after fixing the problem goes through the same worker again.
	if got.State != invite.StateError {
		t.Fatal("not in error")
	}
}

func TestTooManyTemporaryFailuresGiveUp(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{Reply: func(s string, _ int, _ string) error {
		if s == "RCPT" {
			return mailtest.SMTPError(452, "mailbox full")
		}
		return nil
	}})
	e := newEnv(t, nil, nil)
	cfg := fast(srv.URL())
	cfg.MaxAttempts = 3
	e.start(cfg)
	inv := e.invite("full@example.com", nil)

	var got *invite.Invitation
	eventually(t, 10*time.Second, "the invitation is in error", func() bool {
		got = e.get(inv)
		return got.State == invite.StateError
	})
	if !strings.Contains(got.Error, "gave up after 3 attempts") || !strings.Contains(got.Error, "452") {
		t.Errorf("error reason = %q", got.Error)
	}
	if got := e.jobs("retried"); got != 2 {
		t.Errorf("retried counter = %v, want 2", got)
	}
	if got := e.jobs("failed"); got != 1 {
		t.Errorf("failed counter = %v, want 1", got)
	}
}

func TestServerDownAtCreateDeliversOnceItIsUp(t *testing.T) {
	// Reserve a port, then leave it closed: connections are refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	e := newEnv(t, nil, nil)
	e.start(fast("smtp://" + addr))
	inv := e.invite("patient@example.com", nil)
	if inv.State != invite.StatePending {
		t.Fatalf("create with the mail server down: state %s", inv.State)
	}
	eventually(t, 10*time.Second, "a delivery attempt failed", func() bool {
		return e.jobs("retried") >= 2
	})
	if got := e.get(inv); got.State != invite.StatePending {
		t.Fatalf("invitation is %s while the server is down, want pending", got.State)
	}
	if !strings.Contains(e.logs.String(), "cannot reach the mail server") {
		t.Errorf("log does not say why:\n%s", e.logs.String())
	}

	srv, err := mailtest.Listen(addr, mailtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	m := srv.Wait(t, 1, 10*time.Second)[0]
	_, token := m.Link()
	if v, err := e.svc.GetByToken(e.ctx, token); err != nil || v.Invitation.ID != inv.ID {
		t.Fatalf("token from the late mail: %v", err)
	}
	eventually(t, 5*time.Second, "the job is done", e.outboxEmpty)
	time.Sleep(50 * time.Millisecond)
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d mails, want 1", n)
	}
}

func TestBurstSharesConnections(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	e := newEnv(t, nil, nil)
	e.start(fast(srv.URL()))
	const n = 150
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			for j := i; j < n; j += 3 {
				e.invite(fmt.Sprintf("burst%03d@example.com", j), nil)
			}
		})
	}
	wg.Wait()
	msgs := srv.Wait(t, n, 30*time.Second)
	seen := map[string]bool{}
	for _, m := range msgs {
		seen[m.To[0]] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct recipients, want %d", len(seen), n)
	}
	// 100 messages per connection at most, kept open between claims.
	if c := srv.Connections(); c > 4 {
		t.Errorf("%d mails used %d connections, want at most 4", n, c)
	}
	eventually(t, 5*time.Second, "the outbox is empty", e.outboxEmpty)
	time.Sleep(50 * time.Millisecond)
	if got := len(srv.Messages()); got != n {
		t.Errorf("%d mails arrived, want exactly %d", got, n)
	}
}

func TestLocaleChoosesTheTemplates(t *testing.T) {
	ja := "ja"
	cases := []struct {
		name        string
		orgLocale   *string
		invLocale   string
		wantSubject string
		wantText    string
		wantLang    string
	}{
		{"invitation ja-JP", nil, "ja-JP", "Ada <Lovelace> さんから Acme & <Co> への招待が届いています", "有効期限", "ja"},
		{"org ja", &ja, "", "Ada <Lovelace> さんから Acme & <Co> への招待が届いています", "年", "ja"},
		{"invitation en over org ja", &ja, "en", "Ada <Lovelace> invited you to join Acme & <Co>", "The link works until", "en"},
		{"unknown falls back to en", nil, "fr-CA", "Ada <Lovelace> invited you to join Acme & <Co>", "The link works until", "en"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := mailtest.Start(t, mailtest.Options{})
			e := newEnv(t, nil, &invite.SettingsPatch{Locale: c.orgLocale})
			e.start(fast(srv.URL()))
			e.invite("locale@example.com", func(ci *invite.CreateInvitation) { ci.Locale = c.invLocale })
			m := srv.Wait(t, 1, 10*time.Second)[0]
			if m.Subject != c.wantSubject {
				t.Errorf("subject = %q, want %q", m.Subject, c.wantSubject)
			}
			if !strings.Contains(m.Text, c.wantText) {
				t.Errorf("text lacks %q:\n%s", c.wantText, m.Text)
			}
			if !strings.Contains(m.HTML, `lang="`+c.wantLang+`"`) {
				t.Errorf("HTML is not lang=%s", c.wantLang)
			}
			if got := m.Header.Get("Content-Language"); got != c.wantLang {
				t.Errorf("Content-Language = %q, want %q", got, c.wantLang)
			}
			if _, token := m.Link(); token == "" {
				t.Error("no link")
			}
		})
	}
}

func TestWithoutSMTPTheMailGoesToTheLog(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.start(fast(""))
	inv := e.invite("offline@example.com", nil)
	eventually(t, 5*time.Second, "the job is done", e.outboxEmpty)
	logs := e.logs.String()
	for _, s := range []string{"offline@example.com", "invited you to join Acme", baseURL + "/i/"} {
		if !strings.Contains(logs, s) {
			t.Errorf("log lacks %q:\n%s", s, logs)
		}
	}
	// Written to the log once, and not said to be sent.
	if n := strings.Count(logs, "offline@example.com"); n != 1 || strings.Contains(logs, "invitation mail sent") {
		t.Errorf("the mail is logged %d times, or as sent:\n%s", n, logs)
	}
	i := strings.Index(logs, baseURL+"/i/")
	token := strings.Fields(logs[i+len(baseURL+"/i/"):])[0]
	if v, err := e.svc.GetByToken(e.ctx, token); err != nil || v.Invitation.ID != inv.ID {
		t.Errorf("logged link does not work: %v", err)
	}
}

func TestVoidedJobsSendNothingStale(t *testing.T) {
	clock := time.Now()
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	srv := mailtest.Start(t, mailtest.Options{})
	e := newEnv(t, now, nil)
	cancelled := e.invite("cancelled@example.com", nil)
	if _, err := e.svc.CancelInvitation(e.ctx, e.org.ID, invite.InvitationRef{ID: cancelled.ID}); err != nil {
		t.Fatal(err)
	}
	declined := e.invite("declined@example.com", nil)
	if _, err := e.svc.DeclineInvitation(e.ctx, e.org.ID, invite.InvitationRef{ID: declined.ID}); err != nil {
		t.Fatal(err)
	}
	accepted := e.invite("accepted@example.com", nil)
	if _, _, err := e.svc.AcceptInvitation(e.ctx, e.org.ID, invite.InvitationRef{ID: accepted.ID}, invite.Accept{Email: "accepted@example.com"}); err != nil {
		t.Fatal(err)
	}
	resent := e.invite("resent@example.com", nil)
	mu.Lock()
	clock = clock.Add(2 * time.Minute)
	mu.Unlock()
	if _, err := e.svc.ResendInvitation(e.ctx, e.org.ID, invite.InvitationRef{ID: resent.ID}); err != nil {
		t.Fatal(err)
	}
	e.start(fast(srv.URL()))
	m := srv.Wait(t, 1, 10*time.Second)[0]
	eventually(t, 5*time.Second, "the outbox is empty", e.outboxEmpty)
	time.Sleep(50 * time.Millisecond)
	if msgs := srv.Messages(); len(msgs) != 1 || m.To[0] != "resent@example.com" {
		t.Fatalf("got %d mails (first to %v), want one to resent@example.com", len(msgs), m.To)
	}
	_, token := m.Link()
	if v, err := e.svc.GetByToken(e.ctx, token); err != nil || v.Invitation.ID != resent.ID {
		t.Errorf("the resent mail's token does not work: %v", err)
	}
}

func TestAuthOverSTARTTLSAndImplicitTLS(t *testing.T) {
	for _, implicit := range []bool{false, true} {
		t.Run(fmt.Sprintf("implicit=%v", implicit), func(t *testing.T) {
			srv := mailtest.Start(t, mailtest.Options{TLS: !implicit, Implicit: implicit, User: "bot", Password: "s3cret:/@"})
			e := newEnv(t, nil, nil)
			cfg := fast(strings.Replace(srv.URL(), "s3cret:/@@", "s3cret%3A%2F%40@", 1))
			cfg.TLS = &tls.Config{RootCAs: srv.CertPool}
			e.start(cfg)
			e.invite("tls@example.com", nil)
			m := srv.Wait(t, 1, 10*time.Second)[0]
			if m.To[0] != "tls@example.com" {
				t.Errorf("recipient %v", m.To)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{TLS: true, User: "bot", Password: "right"})
		e := newEnv(t, nil, nil)
		cfg := fast(strings.Replace(srv.URL(), ":right@", ":wrong@", 1))
		cfg.TLS = &tls.Config{RootCAs: srv.CertPool}
		cfg.MaxAttempts = 2
		e.start(cfg)
		inv := e.invite("auth@example.com", nil)
		var got *invite.Invitation
		eventually(t, 10*time.Second, "the invitation is in error", func() bool {
			got = e.get(inv)
			return got.State == invite.StateError
		})
		if !strings.Contains(got.Error, "535") {
			t.Errorf("reason = %q, want the 535 answer", got.Error)
		}
	})
}

func TestTemplatesDirOverridesFileByFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "en"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "en", "subject.txt"), []byte("Welcome aboard {{.OrgName}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "en", "body.html"), []byte(`<p>Join {{.OrgName}}: <a href="{{.Link}}">here</a></p>`), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := mailtest.Start(t, mailtest.Options{})
	e := newEnv(t, nil, nil)
	cfg := fast(srv.URL())
	cfg.TemplatesDir = dir
	e.start(cfg)
	e.invite("custom@example.com", nil)
	m := srv.Wait(t, 1, 10*time.Second)[0]
	if m.Subject != "Welcome aboard Acme & <Co>" {
		t.Errorf("subject = %q", m.Subject)
	}
	if !strings.HasPrefix(m.HTML, "<p>Join Acme &amp; &lt;Co&gt;: <a href=\"https://invitd.example.com/i/") {
		t.Errorf("html = %q", m.HTML)
	}
	if !strings.Contains(m.Text, "The link works until") {
		t.Errorf("the embedded text part is not kept:\n%s", m.Text)
	}

	bad := t.TempDir()
	os.MkdirAll(filepath.Join(bad, "de"), 0o755)
	os.WriteFile(filepath.Join(bad, "de", "subject.txt"), []byte("Einladung"), 0o644)
	if _, err := mail.NewHandler(e.svc, mail.Config{TemplatesDir: bad}, nil, nil); err == nil || !strings.Contains(err.Error(), "body.txt") {
		t.Errorf("a locale without a body: err = %v", err)
	}
	os.WriteFile(filepath.Join(bad, "de", "body.txt"), []byte("{{.Nope"), 0o644)
	if _, err := mail.NewHandler(e.svc, mail.Config{TemplatesDir: bad}, nil, nil); err == nil {
		t.Error("a broken template was accepted")
	}
}

// The queue gauges read the shared outbox at each scrape: mail waiting and
// its age, and the expiries scheduled for later.
func TestQueueGauges(t *testing.T) {
	clock := time.Now()
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	e := newEnv(t, now, nil)
	if _, err := job.New(e.svc, e.runnerConfig()); err != nil {
		t.Fatal(err)
	}
	e.invite("a@example.com", nil)
	e.invite("b@example.com", nil)
	mu.Lock()
	clock = clock.Add(90 * time.Second)
	mu.Unlock()
	if got := e.metric("invitd_jobs_waiting", "kind", invite.JobSendInvitation); got != 2 {
		t.Errorf("mail waiting = %v, want 2", got)
	}
	if got := e.metric("invitd_jobs_oldest_waiting_seconds", "kind", invite.JobSendInvitation); got < 89 || got > 91 {
		t.Errorf("oldest mail waits %v s, want 90", got)
	}
	if got := e.metric("invitd_jobs_scheduled", "kind", invite.JobExpireInvitation); got != 2 {
		t.Errorf("expiries scheduled = %v, want 2", got)
	}
	if got := e.metric("invitd_jobs_waiting", "kind", invite.JobExpireInvitation); got != 0 {
		t.Errorf("expiries waiting = %v, want 0: they are a week away", got)
	}
}

func TestConfigErrors(t *testing.T) {
	e := newEnv(t, nil, nil)
	for _, u := range []string{"http://host", "smtp://", "smtp://host:99999", "smtp://host?starttls=maybe", "smtp://u:p@host?auth=magic"} {
		if _, err := mail.NewHandler(e.svc, mail.Config{SMTPURL: u}, nil, nil); err == nil {
			t.Errorf("SMTP URL %q accepted", u)
		}
	}
	if _, err := mail.NewHandler(e.svc, mail.Config{From: "not an address"}, nil, nil); err == nil {
		t.Error("bad From accepted")
	}
}

// The handler's policy carries the configured attempts, connections and
// backoff to the runner: doubling from MinBackoff, capped at MaxBackoff, jittered into the
// upper half.
func TestPolicyBacksOffWithJitterAndCap(t *testing.T) {
	e := newEnv(t, nil, nil)
	h, err := mail.NewHandler(e.svc, mail.Config{MinBackoff: time.Second, MaxBackoff: 10 * time.Second, MaxAttempts: 5}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := h.Policy()
	if p.MaxAttempts != 5 || p.Concurrency != 2 {
		t.Errorf("policy = %+v, want 5 attempts, two at a time (the default connections)", p)
	}
	max := 10 * time.Second
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: max, 20: max} {
		for range 50 {
			d := p.Backoff(attempt)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: backoff %v outside [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
	def, err := mail.NewHandler(e.svc, mail.Config{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := def.Policy(); p.MaxAttempts != 8 || p.Backoff(1) < 15*time.Second || p.Backoff(1) > 30*time.Second || p.Backoff(30) > time.Hour {
		t.Errorf("default policy: %d attempts, first backoff %v, last %v; want 8, 30s, 1h", p.MaxAttempts, p.Backoff(1), p.Backoff(30))
	}
}

func TestAKeptConnectionThatDiedIsReplaced(t *testing.T) {
	first := mailtest.Start(t, mailtest.Options{})
	e := newEnv(t, nil, nil)
	e.start(fast(first.URL()))
	e.invite("one@example.com", nil)
	first.Wait(t, 1, 10*time.Second)
	eventually(t, 5*time.Second, "the first job is done", e.outboxEmpty)
	first.Close()
	second, err := mailtest.Listen(first.Addr, mailtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	e.invite("two@example.com", nil)
	if m := second.Wait(t, 1, 10*time.Second)[0]; m.To[0] != "two@example.com" {
		t.Errorf("recipient %v", m.To)
	}
	eventually(t, 5*time.Second, "the second job is done", e.outboxEmpty)
	if got := e.jobs("retried"); got != 0 {
		t.Errorf("retried counter = %v, want 0: the new connection should be transparent\n%s", got, e.logs.String())
	}
	if got := e.jobs("succeeded"); got != 2 {
		t.Errorf("succeeded attempts = %v, want 2", got)
	}
}

// Each of Connections sends on its own: a mail the server is slow to take
// holds back no other while a connection is free, and holds back the rest
// with one connection.
func TestConnectionsSendAtOnce(t *testing.T) {
	for _, conns := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d connection(s)", conns), func(t *testing.T) {
			release := make(chan struct{})
			var once sync.Once
			free := func() { once.Do(func() { close(release) }) }
			defer free()
			srv := mailtest.Start(t, mailtest.Options{Reply: func(stage string, _ int, arg string) error {
				if stage == "RCPT" && strings.Contains(arg, "slow@") {
					<-release
				}
				return nil
			}})
			e := newEnv(t, nil, nil)
			cfg := fast(srv.URL())
			cfg.Connections = conns
			e.start(cfg)
			e.invite("slow@example.com", nil)
			time.Sleep(100 * time.Millisecond) // the slow mail is under way
			e.invite("quick@example.com", nil)
			if conns > 1 {
				m := srv.Wait(t, 1, 10*time.Second)[0]
				if m.To[0] != "quick@example.com" {
					t.Errorf("first mail to %v, want quick@example.com", m.To)
				}
			} else {
				time.Sleep(300 * time.Millisecond)
				if n := len(srv.Messages()); n != 0 {
					t.Errorf("%d mails arrived behind the held one on a single connection", n)
				}
			}
			free()
			srv.Wait(t, 2, 10*time.Second)
		})
	}
}
