package web_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitd/invitd/internal/browsertest"
	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/job"
	"github.com/invitd/invitd/mail"
	"github.com/invitd/invitd/mail/mailtest"
)

// chrome and screenshot are the shared browser helpers.
var (
	chrome     = browsertest.Chrome
	screenshot = browsertest.Screenshot
)

// mailEnv is the web env with a job runner sending mail to a real SMTP server.
type mailEnv struct {
	*env
	smtp *mailtest.Server
}

func newMailEnv(t *testing.T) *mailEnv {
	var runner atomic.Pointer[job.Runner]
	e := newEnv(t, "Acme & Co", func(kind string) {
		if r := runner.Load(); r != nil {
			r.Wake(kind)
		}
	})
	srv := mailtest.Start(t, mailtest.Options{})
	h, err := mail.NewHandler(e.svc, mail.Config{SMTPURL: srv.URL(), BaseURL: e.srv.URL}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := job.New(e.svc, job.Config{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r.Register(h)
	runner.Store(r)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &mailEnv{env: e, smtp: srv}
}

// mailedLink invites email and returns the link from the mail that arrives.
func (e *mailEnv) mailedLink(t *testing.T, email string, mod func(*invite.CreateInvitation)) string {
	t.Helper()
	before := len(e.smtp.Messages())
	e.invite(email, func(c *invite.CreateInvitation) {
		c.NoEmail = false
		if mod != nil {
			mod(c)
		}
	})
	m := e.smtp.Wait(t, before+1, 10*time.Second)[before]
	if m.To[0] != email {
		t.Fatalf("mail went to %v, want %s", m.To, email)
	}
	link, _ := m.Link()
	if !strings.HasPrefix(link, e.srv.URL+"/i/") {
		t.Fatalf("mail has no link to %s:\n%s", e.srv.URL, m.Text)
	}
	return link
}

// open loads u and returns the status and the page kind.
func open(t *testing.T, ctx context.Context, u string) (int64, string) {
	t.Helper()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
	if err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	return resp.Status, kindOf(t, ctx)
}

func kindOf(t *testing.T, ctx context.Context) string {
	t.Helper()
	k, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("page").dataset.page`))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// click clicks sel and waits for the page it leads to.
func click(t *testing.T, ctx context.Context, sel string) (int64, string) {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
	return resp.Status, kindOf(t, ctx)
}

func TestBrowserAccept(t *testing.T) {
	e := newMailEnv(t)
	ctx := chrome(t)
	link := e.mailedLink(t, "grace@example.com", nil)

	// A phone-sized viewport: the page must fit without sideways scrolling.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	if status, kind := open(t, ctx, link); status != 200 || kind != "invite" {
		t.Fatalf("invitation page: %d %s", status, kind)
	}
	if h := text(t, ctx, "h1"); h != "You are invited to join Acme & Co" {
		t.Errorf("heading %q", h)
	}
	for sel, want := range map[string]string{"#org": "Acme & Co", "#inviter": "Ada Lovelace", "#role": "admin", "#permissions": "billing"} {
		if got := text(t, ctx, sel); !strings.Contains(got, want) {
			t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}
	fits, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
	if err != nil || !fits {
		t.Errorf("the page is wider than a phone screen (%v)", err)
	}
	// The embedded style sheet is applied (the CSP allows it by hash).
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById("accept")).backgroundColor`))
	if err != nil || bg == "" || bg == "rgba(0, 0, 0, 0)" || bg == "rgb(239, 239, 239)" {
		t.Errorf("the Accept button is not styled: %q %v", bg, err)
	}
	screenshot(t, ctx, "accept-1-invitation-phone")

	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1024, 900), chromedp.SendKeys(chromedp.ID("name"), "Grace Hopper")); err != nil {
		t.Fatal(err)
	}
	status, kind := click(t, ctx, "#accept")
	if status != 200 || kind != "accepted" {
		t.Fatalf("after Accept: %d %s", status, kind)
	}
	if msg := text(t, ctx, "#message"); msg != "You have joined Acme & Co as admin." {
		t.Errorf("success message %q", msg)
	}
	screenshot(t, ctx, "accept-2-success")
	ms := e.members()
	if len(ms) != 1 || ms[0].Name != "Grace Hopper" || ms[0].Email != "grace@example.com" {
		t.Fatalf("members = %+v", ms)
	}

	if status, kind := open(t, ctx, link); status != 200 || kind != "already" {
		t.Fatalf("the link again: %d %s", status, kind)
	}
	if h := text(t, ctx, "h1"); h != "Invitation already accepted" {
		t.Errorf("heading %q", h)
	}
	screenshot(t, ctx, "accept-3-already-accepted")
	if n := len(e.members()); n != 1 {
		t.Errorf("%d members, want 1", n)
	}
}

func TestBrowserDoubleSubmit(t *testing.T) {
	e := newMailEnv(t)
	ctx := chrome(t)
	link := e.mailedLink(t, "twice@example.com", nil)
	if status, kind := open(t, ctx, link); status != 200 || kind != "invite" {
		t.Fatalf("invitation page: %d %s", status, kind)
	}
	// Click Accept twice, the second click while the answer to the first is
	// on its way (held a little): the browser drops the first request and
	// shows the answer to the second; the server finishes both, making the
	// member once and answering the second with the already-accepted page.
	e.postHold.Store(int64(150 * time.Millisecond))
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("name"), "Twice")); err != nil {
		t.Fatal(err)
	}
	_, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`(() => {
		const b = document.getElementById("accept");
		b.click();
		setTimeout(() => b.click(), 20);
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	var kind string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		k, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("page")||{dataset:{}}).dataset.page || ""`))
		if err == nil && (k == "accepted" || k == "already") {
			kind = k
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if kind != "already" {
		t.Errorf("after a double submit the browser shows %q, want the already-accepted page", kind)
	}
	screenshot(t, ctx, "double-submit-result")
	for end := time.Now().Add(5 * time.Second); e.posts.Load() < 2 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	e.postMu.Lock()
	statuses := fmt.Sprint(e.postStatuses)
	e.postMu.Unlock()
	if statuses != "[303 409]" {
		t.Errorf("the two posts were answered %s, want [303 409]", statuses)
	}
	if n := len(e.members()); n != 1 {
		t.Errorf("%d members after a double submit, want 1", n)
	}
}

func TestBrowserDecline(t *testing.T) {
	e := newMailEnv(t)
	ctx := chrome(t)
	link := e.mailedLink(t, "nope@example.com", nil)
	if status, kind := open(t, ctx, link); status != 200 || kind != "invite" {
		t.Fatalf("invitation page: %d %s", status, kind)
	}
	status, kind := click(t, ctx, "#decline")
	if status != 200 || kind != "declineddone" {
		t.Fatalf("after Decline: %d %s", status, kind)
	}
	screenshot(t, ctx, "decline-1-done")
	if n := len(e.members()); n != 0 {
		t.Errorf("%d members after a decline", n)
	}
	if status, kind := open(t, ctx, link); status != 410 || kind != "declined" {
		t.Fatalf("the link again: %d %s", status, kind)
	}
	screenshot(t, ctx, "decline-2-declined")
}

func TestBrowserExpiredLink(t *testing.T) {
	e := newMailEnv(t)
	ctx := chrome(t)
	link := e.mailedLink(t, "late@example.com", func(c *invite.CreateInvitation) { c.Locale = "ja"; c.ExpiresIn = 3600 })
	e.clock.Add(61 * time.Minute)
	status, kind := open(t, ctx, link)
	if status != 410 || kind != "expired" {
		t.Fatalf("expired link: %d %s", status, kind)
	}
	if h := text(t, ctx, "h1"); h != "招待の有効期限が切れています" {
		t.Errorf("heading %q", h)
	}
	screenshot(t, ctx, "expired-ja")

	if status, kind := open(t, ctx, e.srv.URL+"/i/"+strings.Repeat("Z", 43)); status != 404 || kind != "notfound" {
		t.Fatalf("unknown link: %d %s", status, kind)
	}
	screenshot(t, ctx, "unknown-link")
}
