package web_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/invitd/invitd/invite"
)

// app is a local stand-in for the application an invitee returns to: it
// records each request's query.
type app struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []url.Values
}

func startApp(t *testing.T) *app {
	a := &app{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/welcome" {
			http.NotFound(w, r) // the browser's favicon.ico
			return
		}
		a.mu.Lock()
		a.seen = append(a.seen, r.URL.Query())
		a.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><title>App</title><h1 id="app">Welcome to the app</h1><p id="state">%s</p>`, r.URL.Query().Get("state"))
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *app) last(t *testing.T) url.Values {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.seen) == 0 {
		t.Fatal("the app got no request")
	}
	return a.seen[len(a.seen)-1]
}

// Accept and Decline on the page, in a real browser, end on the app's page
// at the invitation's redirect_url with its parameters added and its own
// query kept.
func TestBrowserRedirectAfterAnswer(t *testing.T) {
	e := newMailEnv(t)
	a := startApp(t)
	origins := []string{a.srv.URL}
	if _, err := e.svc.UpdateOrg(e.ctx, e.org.ID, nil, &invite.SettingsPatch{AllowedRedirectOrigins: &origins}); err != nil {
		t.Fatal(err)
	}
	ctx := chrome(t)
	for _, c := range []struct{ button, state string }{{"#accept", "accepted"}, {"#decline", "declined"}} {
		email := c.state + "@example.com"
		link := e.mailedLink(t, email, func(ci *invite.CreateInvitation) {
			ci.RedirectURL = a.srv.URL + "/welcome?from=mail"
		})
		if status, kind := open(t, ctx, link); status != 200 || kind != "invite" {
			t.Fatalf("invitation page: %d %s", status, kind)
		}
		if c.state == "accepted" {
			if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("name"), "Grace Hopper")); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(c.button))); err != nil {
			t.Fatalf("%s: %v", c.button, err)
		}
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(loc)
		if got := u.Scheme + "://" + u.Host + u.Path; got != a.srv.URL+"/welcome" {
			t.Fatalf("after %s the browser is at %s, want the app's /welcome", c.button, loc)
		}
		if h := text(t, ctx, "#app"); h != "Welcome to the app" {
			t.Errorf("the app's page shows %q", h)
		}
		inv := e.byEmail(t, email)
		q := a.last(t)
		if q.Get("invitation_id") != inv.ID.String() || q.Get("organization_id") != e.org.ID.String() ||
			q.Get("state") != c.state || q.Get("from") != "mail" {
			t.Errorf("the app got %v, want invitation_id=%s organization_id=%s state=%s from=mail", q, inv.ID, e.org.ID, c.state)
		}
		if string(inv.State) != c.state {
			t.Errorf("the invitation is %s, want %s", inv.State, c.state)
		}
		screenshot(t, ctx, "redirect-"+c.state)
	}
}

// byEmail is the organization's newest invitation of email.
func (e *env) byEmail(t *testing.T, email string) *invite.Invitation {
	t.Helper()
	p, err := e.svc.ListInvitations(e.ctx, e.org.ID, invite.ListParams{Email: email})
	if err != nil || len(p.Items) == 0 {
		t.Fatalf("invitations of %s: %v", email, err)
	}
	return p.Items[0]
}

// logoServer serves a 120×40 PNG of one colour over TLS.
func logoServer(t *testing.T, c color.RGBA) *httptest.Server {
	img := image.NewRGBA(image.Rect(0, 0, 120, 40))
	for y := range 40 {
		for x := range 120 {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(b.Bytes())
	}))
	t.Cleanup(srv.Close)
	return srv
}

// imageLoaded waits for the image sel and tells whether it loaded (a
// CSP refusal or a failed fetch leaves naturalWidth 0).
func imageLoaded(t *testing.T, ctx context.Context, sel string) bool {
	t.Helper()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise(done => {
		const img = document.querySelector(`+"`"+sel+"`"+`);
		if (!img) return done(false);
		if (img.complete) return done(img.naturalWidth > 0);
		img.onload = () => done(img.naturalWidth > 0);
		img.onerror = () => done(false);
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("image %s: %v", sel, err)
	}
	return ok
}

// A branded organization's invitation, in a real browser: the page shows
// its logo (fetched from the logo's own https origin, which the CSP
// allows), its colour and its display name; so does the mail, opened as
// the recipient's mail program would show it.
func TestBrowserBrandedInvitation(t *testing.T) {
	e := newMailEnv(t)
	logo := logoServer(t, color.RGBA{0x22, 0x88, 0x44, 0xff})
	name, brandColor, support := "Acme Cloud", "#AA3311", "help@acme.example"
	logoURL := logo.URL + "/logo.png"
	if _, err := e.svc.UpdateOrg(e.ctx, e.org.ID, nil, &invite.SettingsPatch{DisplayName: &name,
		LogoURL: &logoURL, BrandColor: &brandColor, SupportEmail: &support}); err != nil {
		t.Fatal(err)
	}
	// The logo server's certificate is the test's own.
	ctx := chrome(t, chromedp.Flag("ignore-certificate-errors", true))
	link := e.mailedLink(t, "grace@example.com", nil)

	if status, kind := open(t, ctx, link); status != 200 || kind != "invite" {
		t.Fatalf("invitation page: %d %s", status, kind)
	}
	if h := text(t, ctx, "h1"); h != "You are invited to join Acme Cloud" {
		t.Errorf("heading %q", h)
	}
	if !imageLoaded(t, ctx, "img") {
		t.Error("the page's logo did not load")
	}
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById("accept")).backgroundColor`))
	if err != nil || bg != "rgb(170, 51, 17)" {
		t.Errorf("the Accept button's colour is %q (%v), want the brand's rgb(170, 51, 17)", bg, err)
	}
	body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil || strings.Contains(body, "Acme & Co") || strings.Contains(body, "invitd") {
		t.Errorf("the page shows the organization's own name or the product's (%v):\n%s", err, body)
	}
	screenshot(t, ctx, "branded-page")

	// The mail as its recipient sees it.
	m := e.smtp.Messages()[len(e.smtp.Messages())-1]
	mailSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, m.HTML)
	}))
	t.Cleanup(mailSrv.Close)
	if _, err := chromedp.Run(ctx, chromedp.NavigateResponse(mailSrv.URL)); err != nil {
		t.Fatal(err)
	}
	if h := text(t, ctx, "h1"); h != "Join Acme Cloud" {
		t.Errorf("the mail's heading %q", h)
	}
	if !imageLoaded(t, ctx, "img") {
		t.Error("the mail's logo did not load")
	}
	btn, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("a[href='`+link+`']")).backgroundColor`))
	if err != nil || btn != "rgb(170, 51, 17)" {
		t.Errorf("the mail's button colour is %q (%v), want rgb(170, 51, 17)", btn, err)
	}
	if f := text(t, ctx, "body"); !strings.Contains(f, "Questions? Write to help@acme.example.") || strings.Contains(f, "Acme & Co") {
		t.Errorf("the mail's text:\n%s", f)
	}
	if from := m.Header.Get("From"); !strings.Contains(from, "Acme Cloud") {
		t.Errorf("the mail's From %q", from)
	}
	screenshot(t, ctx, "branded-mail")
}
