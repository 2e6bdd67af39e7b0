package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/store/sqlite"
	"github.com/invitd/invitd/web"
)

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     testing.TB
	ctx   context.Context // carries invite.System
	svc   *invite.Service
	org   *invite.Organization
	clock *clock
	srv   *httptest.Server
	// posts counts the POST requests the server answered.
	posts atomic.Int64
	// postStatuses lists the statuses of those answers.
	postMu       sync.Mutex
	postStatuses []int
	// postHold holds the answer to each POST this long (nanoseconds) after
	// the handler ran, as a slow network would.
	postHold atomic.Int64
}

func newEnv(t testing.TB, orgName string, wake func(kind string)) *env {
	t.Helper()
	ctx := invite.WithPrincipal(context.Background(), invite.System)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "x.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, ctx: ctx, clock: &clock{t: time.Now().UTC()}}
	e.svc, err = invite.NewService(st, invite.Config{Now: e.clock.Now, Wake: wake})
	if err != nil {
		t.Fatal(err)
	}
	if e.org, err = e.svc.CreateOrg(ctx, orgName, nil); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	pages := web.New(e.svc, web.Options{})
	mux.Handle("/i/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// As the server's middleware does: the request's id goes with the
		// events it causes.
		if id := r.Header.Get("X-Request-Id"); invite.RequestIDUsable(id) {
			r = r.WithContext(invite.WithRequestID(r.Context(), id))
		}
		if r.Method != http.MethodPost {
			pages.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: 200}
		pages.ServeHTTP(sw, r)
		e.posts.Add(1)
		e.postMu.Lock()
		e.postStatuses = append(e.postStatuses, sw.status)
		e.postMu.Unlock()
		time.Sleep(time.Duration(e.postHold.Load()))
	}))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// invite creates an invitation without mail and returns it with its token.
func (e *env) invite(email string, mod func(*invite.CreateInvitation)) (*invite.Invitation, string) {
	e.t.Helper()
	c := invite.CreateInvitation{Email: email, Role: "admin", Permissions: []string{"billing", "members"},
		Inviter: invite.Inviter{ID: "u1", Name: "Ada Lovelace"}, NoEmail: true}
	if mod != nil {
		mod(&c)
	}
	res, err := e.svc.CreateInvitation(e.ctx, e.org.ID, c)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Invitation, res.Token
}

func (e *env) members() []*invite.Member {
	e.t.Helper()
	p, err := e.svc.ListMembers(e.ctx, e.org.ID, invite.MemberParams{})
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Items
}

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) response {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, string(body)}
}

func (b *browser) get(u string) response {
	b.t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) response {
	b.t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf field in:\n%s", body)
	}
	return m[1]
}

func pageKind(body string) string {
	m := regexp.MustCompile(`data-page="([a-z]+)"`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func expect(t *testing.T, r response, status int, kind string, contains ...string) {
	t.Helper()
	if r.status != status || pageKind(r.body) != kind {
		t.Fatalf("got %d %q, want %d %q:\n%s", r.status, pageKind(r.body), status, kind, r.body)
	}
	for _, s := range contains {
		if !strings.Contains(r.body, s) {
			t.Errorf("page lacks %q:\n%s", s, r.body)
		}
	}
}

func TestInvitationPageShowsTheOfferAndIsSafe(t *testing.T) {
	e := newEnv(t, `Acme <script>alert(1)</script>`, nil)
	inv, token := e.invite("grace@example.com", nil)
	b := newBrowser(t)
	r := b.get(e.srv.URL + "/i/" + token)
	expect(t, r, 200, "invite",
		"Acme &lt;script&gt;alert(1)&lt;/script&gt;", "Ada Lovelace", "grace@example.com", "admin",
		"<li>billing</li>", "<li>members</li>", inv.ExpiresAt.UTC().Format("2 January 2006"),
		`name="name"`, `action="/i/`+token+`/accept"`, `action="/i/`+token+`/decline"`,
		`<meta name="viewport" content="width=device-width, initial-scale=1">`)
	if strings.Contains(r.body, "<script>") || strings.Contains(r.body, "<script ") {
		t.Error("the page has a script element")
	}
	if strings.Contains(r.body, "http://") || strings.Contains(r.body, "https://") {
		t.Error("the page refers to another host")
	}
	csp := r.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "style-src 'sha256-") {
		t.Errorf("CSP = %q", csp)
	}
	for h, want := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if !strings.Contains(r.header.Get("Set-Cookie"), web.CookieName+"=") || !strings.Contains(r.header.Get("Set-Cookie"), "HttpOnly") {
		t.Errorf("Set-Cookie = %q", r.header.Get("Set-Cookie"))
	}
	// The CSS hash in the CSP matches the style element, so browsers apply it.
	if head := r.body[:strings.Index(r.body, "</head>")]; !strings.Contains(head, "<style>:root{") {
		t.Errorf("no embedded style: %s", head)
	}
}

func TestAcceptCreatesTheMemberOnce(t *testing.T) {
	e := newEnv(t, "Acme", nil)
	_, token := e.invite("grace@example.com", nil)
	b := newBrowser(t)
	page := b.get(e.srv.URL + "/i/" + token)
	csrf := csrfOf(t, page.body)

	r := b.post(e.srv.URL+"/i/"+token+"/accept", url.Values{"csrf": {csrf}, "name": {"  "}})
	expect(t, r, 422, "invite", "Please enter your name.")
	if n := len(e.members()); n != 0 {
		t.Fatalf("%d members after an empty name", n)
	}

	r = b.post(e.srv.URL+"/i/"+token+"/accept", url.Values{"csrf": {csrf}, "name": {"Grace Hopper"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/i/"+token+"?done=accepted" {
		t.Fatalf("accept: %d to %q", r.status, r.header.Get("Location"))
	}
	expect(t, b.get(e.srv.URL+r.header.Get("Location")), 200, "accepted", "You have joined Acme as admin.")
	ms := e.members()
	if len(ms) != 1 || ms[0].Email != "grace@example.com" || ms[0].Name != "Grace Hopper" || ms[0].Role != "admin" {
		t.Fatalf("members = %+v", ms)
	}

	// The same form again (a double submit) shows the already-accepted page.
	r = b.post(e.srv.URL+"/i/"+token+"/accept", url.Values{"csrf": {csrf}, "name": {"Grace Hopper"}})
	expect(t, r, 409, "already", "already been accepted")
	expect(t, b.get(e.srv.URL+"/i/"+token), 200, "already")
	// Decline after accept changes nothing.
	expect(t, b.post(e.srv.URL+"/i/"+token+"/decline", url.Values{"csrf": {csrf}}), 409, "already")
	if n := len(e.members()); n != 1 {
		t.Errorf("%d members, want 1", n)
	}
}

func TestConcurrentSubmitsMakeOneMember(t *testing.T) {
	e := newEnv(t, "Acme", nil)
	_, token := e.invite("grace@example.com", nil)
	b := newBrowser(t)
	csrf := csrfOf(t, b.get(e.srv.URL+"/i/"+token).body)
	const n = 8
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			r := b.post(e.srv.URL+"/i/"+token+"/accept", url.Values{"csrf": {csrf}, "name": {"Grace"}})
			if r.status == 409 && pageKind(r.body) != "already" {
				t.Errorf("conflict page is %q", pageKind(r.body))
			}
			statuses <- r.status
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[303] != 1 || count[409] != n-1 {
		t.Errorf("statuses = %v, want one 303 and %d 409", count, n-1)
	}
	if m := len(e.members()); m != 1 {
		t.Errorf("%d members, want 1", m)
	}
}

func TestDecline(t *testing.T) {
	e := newEnv(t, "Acme", nil)
	inv, token := e.invite("grace@example.com", nil)
	b := newBrowser(t)
	csrf := csrfOf(t, b.get(e.srv.URL+"/i/"+token).body)
	r := b.post(e.srv.URL+"/i/"+token+"/decline", url.Values{"csrf": {csrf}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("decline: %d", r.status)
	}
	expect(t, b.get(e.srv.URL+r.header.Get("Location")), 200, "declineddone", "You declined the invitation to Acme.")
	expect(t, b.get(e.srv.URL+"/i/"+token), 410, "declined")
	expect(t, b.post(e.srv.URL+"/i/"+token+"/accept", url.Values{"csrf": {csrf}, "name": {"Grace"}}), 409, "declined")
	got, _ := e.svc.GetInvitation(e.ctx, e.org.ID, invite.InvitationRef{ID: inv.ID})
	if got.State != invite.StateDeclined || len(e.members()) != 0 {
		t.Errorf("state %s, %d members", got.State, len(e.members()))
	}
}

func TestEndedLinksHaveTheirOwnPages(t *testing.T) {
	e := newEnv(t, "Acme", nil)
	b := newBrowser(t)

	_, expiring := e.invite("late@example.com", func(c *invite.CreateInvitation) { c.ExpiresIn = 3600 })
	csrf := csrfOf(t, b.get(e.srv.URL+"/i/"+expiring).body)
	e.clock.Add(2 * time.Hour)
	expect(t, b.get(e.srv.URL+"/i/"+expiring), 410, "expired", "Invitation expired")
	expect(t, b.post(e.srv.URL+"/i/"+expiring+"/accept", url.Values{"csrf": {csrf}, "name": {"Late"}}), 410, "expired")

	inv, cancelled := e.invite("gone@example.com", nil)
	if _, err := e.svc.CancelInvitation(e.ctx, e.org.ID, invite.InvitationRef{ID: inv.ID}); err != nil {
		t.Fatal(err)
	}
	expect(t, b.get(e.srv.URL+"/i/"+cancelled), 410, "cancelled", "was cancelled")

	inv, old := e.invite("resent@example.com", nil)
	e.clock.Add(2 * time.Minute)
	if _, err := e.svc.ResendInvitation(e.ctx, e.org.ID, invite.InvitationRef{ID: inv.ID}); err != nil {
		t.Fatal(err)
	}
	expect(t, b.get(e.srv.URL+"/i/"+old), 404, "notfound", "only the newest link works")

	expect(t, b.get(e.srv.URL+"/i/"+strings.Repeat("A", 43)), 404, "notfound")
	expect(t, b.get(e.srv.URL+"/i/short"), 404, "notfound")
	expect(t, b.get(e.srv.URL+"/i/"), 404, "notfound")
	expect(t, b.get(e.srv.URL+"/i/"+strings.Repeat("A", 43)+"/x/y"), 404, "notfound")
	expect(t, b.post(e.srv.URL+"/i/"+strings.Repeat("A", 43)+"/accept", url.Values{"csrf": {csrf}, "name": {"X"}}), 404, "notfound")

	_, live := e.invite("live@example.com", nil)
	r := b.get(e.srv.URL + "/i/" + live + "/accept")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/i/"+live {
		t.Errorf("GET of the form address: %d %q", r.status, r.header.Get("Location"))
	}
}

func TestFormsNeedTheCSRFCookie(t *testing.T) {
	e := newEnv(t, "Acme", nil)
	_, token := e.invite("grace@example.com", nil)
	b := newBrowser(t)
	csrf := csrfOf(t, b.get(e.srv.URL+"/i/"+token).body)

	expect(t, b.post(e.srv.URL+"/i/"+token+"/accept", url.Values{"name": {"Grace"}}), 403, "forbidden", `href="/i/`+token+`"`)
	expect(t, b.post(e.srv.URL+"/i/"+token+"/accept", url.Values{"csrf": {strings.Repeat("x", 43)}, "name": {"Grace"}}), 403, "forbidden")
	// Another browser (no cookie) with the field copied from the page.
	expect(t, newBrowser(t).post(e.srv.URL+"/i/"+token+"/accept", url.Values{"csrf": {csrf}, "name": {"Grace"}}), 403, "forbidden")
	expect(t, newBrowser(t).post(e.srv.URL+"/i/"+token+"/decline", url.Values{"csrf": {csrf}}), 403, "forbidden")
	// A cross-site form post with the right cookie and field is refused by
	// the browser's own Sec-Fetch-Site header.
	req, _ := http.NewRequest("POST", e.srv.URL+"/i/"+token+"/accept", strings.NewReader(url.Values{"csrf": {csrf}, "name": {"Grace"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	expect(t, b.do(req), 403, "forbidden")
	if n := len(e.members()); n != 0 {
		t.Fatalf("%d members after refused posts", n)
	}
	// The same cookie serves every invitation page of this browser.
	_, other := e.invite("other@example.com", nil)
	if got := csrfOf(t, b.get(e.srv.URL+"/i/"+other).body); got != csrf {
		t.Error("a second page replaced the form token")
	}
}

func TestSeveralNodesServeTheSameLinks(t *testing.T) {
	e := newEnv(t, "Acme", nil)
	_, token := e.invite("grace@example.com", nil)
	other := httptest.NewServer(web.New(e.svc, web.Options{}))
	defer other.Close()
	b := newBrowser(t)
	csrf := csrfOf(t, b.get(e.srv.URL+"/i/"+token).body)
	// The cookie jar is per host; carry the cookie to the second node as a
	// load balancer in front of both would.
	u, _ := url.Parse(other.URL)
	src, _ := url.Parse(e.srv.URL)
	b.c.Jar.SetCookies(u, b.c.Jar.Cookies(src))
	r := b.post(other.URL+"/i/"+token+"/accept", url.Values{"csrf": {csrf}, "name": {"Grace"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("accept on another node: %d\n%s", r.status, r.body)
	}
	if n := len(e.members()); n != 1 {
		t.Errorf("%d members", n)
	}
}

func TestPageLanguage(t *testing.T) {
	e := newEnv(t, "Acme", nil)
	_, ja := e.invite("ja@example.com", func(c *invite.CreateInvitation) { c.Locale = "ja-JP" })
	_, en := e.invite("en@example.com", nil)
	b := newBrowser(t)
	r := b.get(e.srv.URL + "/i/" + ja)
	expect(t, r, 200, "invite", `<html lang="ja">`, "Acme への招待が届いています", "招待を承諾する", "辞退する")
	expect(t, b.get(e.srv.URL+"/i/"+en), 200, "invite", `<html lang="en">`, "Accept invitation")

	req, _ := http.NewRequest("GET", e.srv.URL+"/i/"+strings.Repeat("B", 43), nil)
	req.Header.Set("Accept-Language", "fr;q=0.9, ja-JP;q=0.8, en;q=0.5")
	expect(t, b.do(req), 404, "notfound", "招待リンクが無効です")
}

func TestHEADAndMethods(t *testing.T) {
	e := newEnv(t, "Acme", nil)
	_, token := e.invite("grace@example.com", nil)
	b := newBrowser(t)
	req, _ := http.NewRequest("HEAD", e.srv.URL+"/i/"+token, nil)
	if r := b.do(req); r.status != 200 || r.body != "" {
		t.Errorf("HEAD: %d %q", r.status, r.body)
	}
	req, _ = http.NewRequest("DELETE", e.srv.URL+"/i/"+token, nil)
	if r := b.do(req); r.status == 200 || r.status == 303 {
		t.Errorf("DELETE: %d", r.status)
	}
	if n := len(e.members()); n != 0 {
		t.Error(fmt.Sprint(n, " members"))
	}
}

func TestOversizedFormIsRefused(t *testing.T) {
	e := newEnv(t, "Acme", nil)
	_, token := e.invite("grace@example.com", nil)
	b := newBrowser(t)
	csrf := csrfOf(t, b.get(e.srv.URL+"/i/"+token).body)
	r := b.post(e.srv.URL+"/i/"+token+"/accept", url.Values{"csrf": {csrf}, "name": {strings.Repeat("x", 64<<10)}})
	expect(t, r, 400, "badform")
	long := b.post(e.srv.URL+"/i/"+token+"/accept", url.Values{"csrf": {csrf}, "name": {strings.Repeat("x", 300)}})
	expect(t, long, 422, "invite", "name is longer than 200 bytes")
	if n := len(e.members()); n != 0 {
		t.Errorf("%d members", n)
	}
}
