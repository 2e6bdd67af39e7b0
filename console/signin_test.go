package console_test

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/invitd/invitd/console"
	"github.com/invitd/invitd/internal/testnode"
	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/mail/mailtest"
)

func TestSignInWithAKey(t *testing.T) {
	n := startNode(t, options{})
	acme := n.org(t, "Acme")
	b := newBrowser(t, n.URL)

	// Without a session every page leads to the sign-in page.
	for _, p := range []string{"/console/", "/console/orgs", "/console/orgs/" + acme.ID.String() + "/invitations"} {
		b.get(p)
		if !strings.HasSuffix(b.URL, "/console/signin") {
			t.Errorf("%s without a session ended at %s", p, b.URL)
		}
		b.wantPage(http.StatusOK, "Mail me a sign-in link", "API key")
	}
	// The root leads to the console.
	b.get("/")
	if !strings.HasSuffix(b.URL, "/console/signin") {
		t.Errorf("/ ended at %s", b.URL)
	}

	b.post("/console/signin/key", url.Values{"key": {"invitd_0123456789abcdef_nope"}})
	b.wantPage(http.StatusUnauthorized, "not valid")

	b.signInWithKey(adminKey)
	if !strings.HasSuffix(b.URL, "/console/orgs") {
		t.Fatalf("an admin key starts at %s, want the organizations", b.URL)
	}
	b.wantPage(http.StatusOK, "Acme", "configured admin key")

	// The session's cookie: HttpOnly, SameSite=Lax, not Secure over http.
	u, _ := url.Parse(n.URL + "/console/")
	var sess *http.Cookie
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == console.SessionCookie {
			sess = c
		}
	}
	if sess == nil || len(sess.Value) != 43 {
		t.Fatalf("no session cookie: %+v", sess)
	}

	// An organization's key starts at its invitations, and sees no other.
	k, err := n.srv.Service.CreateKey(sys(t), &acme.ID, invite.KeyInput{Name: "console"})
	if err != nil {
		t.Fatal(err)
	}
	other := n.org(t, "Other")
	kb := newBrowser(t, n.URL)
	kb.signInWithKey(k.Token)
	if !strings.HasSuffix(kb.URL, "/console/orgs/"+acme.ID.String()+"/invitations") {
		t.Fatalf("an organization's key starts at %s", kb.URL)
	}
	kb.get("/console/orgs")
	kb.wantPage(http.StatusForbidden, "needs an admin key")
	kb.get("/console/orgs/" + other.ID.String() + "/invitations")
	kb.wantPage(http.StatusNotFound, "not found")

	// Revoking the key ends the session on the next request.
	if err := n.srv.Service.DeleteKey(sys(t), &acme.ID, k.ID); err != nil {
		t.Fatal(err)
	}
	kb.get("/console/orgs/" + acme.ID.String() + "/invitations")
	if !strings.HasSuffix(kb.URL, "/console/signin") {
		t.Errorf("a revoked key's session still opens %s", kb.URL)
	}

	// Sign-out ends the session: its cookie no longer opens anything.
	b.get("/console/orgs")
	b.post("/console/signout", nil)
	b.wantPage(http.StatusOK, "You are signed out.")
	req, _ := http.NewRequest(http.MethodGet, n.URL+"/console/orgs", nil)
	req.AddCookie(sess)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/signin" {
		t.Errorf("the ended session's cookie: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestSecureCookieBehindHTTPS(t *testing.T) {
	n := startNode(t, options{baseURL: "https://invites.example.com"})
	// The client is not https, so it is handed each cookie by hand.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(n.URL + "/console/signin")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := resp.Cookies()
	if len(form) != 1 || !form[0].Secure {
		t.Fatalf("the sign-in form's cookie behind https: %+v", form)
	}
	tok := csrfField.FindStringSubmatch(string(body))[1]
	req, _ := http.NewRequest(http.MethodPost, n.URL+"/console/signin/key",
		strings.NewReader(url.Values{"csrf": {tok}, "key": {adminKey}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(form[0])
	if resp, err = noFollow.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var sess *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == console.SessionCookie {
			sess = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || sess == nil || !sess.Secure || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/console/" {
		t.Fatalf("session cookie behind https: %+v", sess)
	}
}

func TestSignInByMail(t *testing.T) {
	smtp := mailtest.Start(t, mailtest.Options{})
	n := startNode(t, options{smtp: smtp})
	acme := n.org(t, "Acme")
	owner := n.member(t, acme.ID, "olivia@example.com", "Olivia Owner", "owner")
	n.member(t, acme.ID, "mo@example.com", "Mo Member", "member")

	b := newBrowser(t, n.URL)
	b.get("/console/signin")
	b.post("/console/signin/email", url.Values{"email": {"not an address"}})
	b.wantPage(http.StatusUnprocessableEntity, "email")

	// The same answer for an owner, a plain member and a stranger; only the
	// owner gets mail.
	var answers []string
	for _, addr := range []string{"Olivia@Example.com", "mo@example.com", "nobody@example.com"} {
		b.get("/console/signin")
		b.post("/console/signin/email", url.Values{"email": {addr}})
		b.wantPage(http.StatusOK, "a sign-in link is on its way")
		answers = append(answers, b.Last)
	}
	if answers[0] != answers[1] || answers[1] != answers[2] {
		t.Error("the answers differ between an owner, a member and a stranger")
	}
	m, link := signInMail(t, smtp, 1)
	if m.To[0] != "olivia@example.com" || !strings.Contains(m.Subject, "Acme") || !strings.HasPrefix(link, n.URL+"/console/signin/") {
		t.Fatalf("sign-in mail to %v, subject %q, link %s", m.To, m.Subject, link)
	}
	time.Sleep(200 * time.Millisecond)
	if got := len(smtp.Messages()); got != 1 {
		t.Errorf("%d mails, want only the owner's", got)
	}

	// Opening the link (as a mail scanner does) does not use it.
	mb := newBrowser(t, n.URL)
	for range 2 {
		mb.get(link)
		mb.wantPage(http.StatusOK, "Sign in")
	}
	mb.post(link, nil)
	if !strings.HasSuffix(mb.URL, "/console/orgs/"+acme.ID.String()+"/invitations") {
		t.Fatalf("the link signed in to %s", mb.URL)
	}
	mb.wantPage(http.StatusOK, "Olivia Owner", "olivia@example.com")

	// What the member does is recorded as theirs.
	mb.post("/console/orgs/"+acme.ID.String()+"/invitations", url.Values{"email": {"new@example.com"}, "role": {"member"}})
	mb.wantPage(http.StatusOK, "Invitation created.", "new@example.com", "Olivia Owner")
	ev := n.events(t, acme.ID, invite.EventInvitationCreated)
	last := ev[len(ev)-1]
	if last.Actor != (invite.Actor{Type: invite.ActorMember, ID: owner.ID.String(), Name: "Olivia Owner"}) {
		t.Errorf("the console's invitation was made by %+v", last.Actor)
	}

	// The link works once.
	other := newBrowser(t, n.URL)
	other.get(link)
	other.post(link, nil)
	other.wantPage(http.StatusUnauthorized, "was used already")

	// Made a plain member, the owner's session ends.
	role := "member"
	if _, err := n.srv.Service.UpdateMember(sys(t), acme.ID, owner.ID, invite.MemberPatch{Role: &role}); err != nil {
		t.Fatal(err)
	}
	mb.get("/console/orgs/" + acme.ID.String() + "/invitations")
	if !strings.HasSuffix(mb.URL, "/console/signin") {
		t.Errorf("a demoted member's session still opens %s", mb.URL)
	}
}

func TestFormsNeedTheirToken(t *testing.T) {
	n := startNode(t, options{})
	acme := n.org(t, "Acme")
	path := "/console/orgs/" + acme.ID.String() + "/invitations"
	b := newBrowser(t, n.URL)
	b.signInWithKey(adminKey)
	other := newBrowser(t, n.URL)
	other.signInWithKey(adminKey)

	// No token, another session's token, a sign-in form's token: refused,
	// and nothing is written.
	b.get(path)
	for name, tok := range map[string]string{"none": "", "another session's": other.csrf, "made up": strings.Repeat("A", 43)} {
		b.post(path, url.Values{"csrf": {tok}, "email": {"x@example.com"}, "role": {"member"}})
		if b.Status != http.StatusForbidden {
			t.Errorf("%s token: %d, want 403", name, b.Status)
		}
	}
	// A form posted from another site is refused by the browser's own headers.
	b.get(path)
	req, _ := http.NewRequest(http.MethodPost, n.URL+path, strings.NewReader(url.Values{"csrf": {b.csrf}, "email": {"y@example.com"}, "role": {"member"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if st := b.do(req); st != http.StatusForbidden {
		t.Errorf("a cross-site post: %d, want 403", st)
	}
	// The sign-in forms need theirs too.
	fresh := newBrowser(t, n.URL)
	fresh.post("/console/signin/key", url.Values{"csrf": {""}, "key": {adminKey}})
	fresh.wantPage(http.StatusForbidden, "expired")

	c, err := n.srv.Service.CountInvitations(sys(t), invite.InvitationFilter{Org: acme.ID})
	if err != nil || c != 0 {
		t.Errorf("%d invitations after refused forms (%v)", c, err)
	}
	// With its token the same form works.
	b.get(path)
	b.post(path, url.Values{"email": {"z@example.com"}, "role": {"member"}})
	b.wantPage(http.StatusOK, "Invitation created.")
}

func TestSignInAttemptsAreBounded(t *testing.T) {
	n := startNode(t, options{})
	b := newBrowser(t, n.URL)
	limited := false
	for i := range 60 {
		b.get("/console/signin")
		b.post("/console/signin/key", url.Values{"key": {"wrong"}})
		if b.Status == http.StatusTooManyRequests {
			limited = i >= 25
			break
		}
	}
	if !limited {
		t.Fatal("60 wrong keys in a row from one address were all tried")
	}
	b.wantPage(http.StatusTooManyRequests, "Too many sign-in attempts")
}

// A session made on one node is honoured by another node of the same
// database: sessions live in the database, not in a node's memory.
func TestSessionOnAnotherNode(t *testing.T) {
	for name, db := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + t.TempDir() + "/shared.db" },
		"postgres": func(t *testing.T) string { return testnode.PostgresDB(t) },
	} {
		t.Run(name, func(t *testing.T) {
			dsn := db(t)
			a := startNode(t, options{db: dsn})
			b := startNode(t, options{db: dsn})
			acme := a.org(t, "Acme")
			k, err := a.srv.Service.CreateKey(sys(t), &acme.ID, invite.KeyInput{Name: "console"})
			if err != nil {
				t.Fatal(err)
			}
			ba := newBrowser(t, a.URL)
			ba.signInWithKey(k.Token)
			ua, _ := url.Parse(a.URL + "/console/")
			cookies := ba.c.Jar.Cookies(ua)

			bb := newBrowser(t, b.URL)
			ub, _ := url.Parse(b.URL + "/console/")
			bb.c.Jar.SetCookies(ub, cookies)
			bb.get("/console/orgs/" + acme.ID.String() + "/members")
			bb.wantPage(http.StatusOK, "Members", "console")
			// A form of node a's page is taken by node b.
			bb.csrf = ba.csrf
			bb.post("/console/orgs/"+acme.ID.String()+"/invitations", url.Values{"email": {"both@example.com"}, "role": {"member"}})
			bb.wantPage(http.StatusOK, "Invitation created.")
			// Signed out on node b, the session is gone on node a too.
			bb.post("/console/signout", nil)
			ba.get("/console/orgs/" + acme.ID.String() + "/members")
			if !strings.HasSuffix(ba.URL, "/console/signin") {
				t.Errorf("signed out on one node, the session still opens %s on the other", ba.URL)
			}
		})
	}
}

// The invitations page pages through the list with its filters kept.
func TestInvitationsPaging(t *testing.T) {
	n := startNode(t, options{})
	acme := n.org(t, "Acme")
	for i := range 30 {
		role := "member"
		if i%10 == 0 {
			role = "restricted"
		}
		if _, err := n.srv.Service.CreateInvitation(sys(t), acme.ID, invite.CreateInvitation{
			Email: "p" + strconv.Itoa(i) + "@example.com", Role: role, NoEmail: true}); err != nil {
			t.Fatal(err)
		}
	}
	b := newBrowser(t, n.URL)
	b.signInWithKey(adminKey)
	path := "/console/orgs/" + acme.ID.String() + "/invitations"
	seen := map[string]bool{}
	rows := regexp.MustCompile(`>(p[0-9]+@example\.com)</a>`)
	next := regexp.MustCompile(`id="next" href="([^"]+)"`)
	for page, u := 0, path+"?state=pending"; u != ""; page++ {
		if page > 3 {
			t.Fatal("the pages never end")
		}
		b.get(html.UnescapeString(u))
		b.wantPage(http.StatusOK)
		for _, m := range rows.FindAllStringSubmatch(b.Last, -1) {
			if seen[m[1]] {
				t.Errorf("%s on two pages", m[1])
			}
			seen[m[1]] = true
		}
		u = ""
		if m := next.FindStringSubmatch(b.Last); m != nil {
			u = m[1]
		}
	}
	if len(seen) != 30 {
		t.Errorf("the pages showed %d of 30 invitations", len(seen))
	}
	b.get(path + "?role=restricted")
	if got := len(rows.FindAllString(b.Last, -1)); got != 3 {
		t.Errorf("the restricted filter shows %d rows, want 3", got)
	}
	b.get(path + "?state=bogus")
	b.wantPage(http.StatusUnprocessableEntity, "state")
}

// The sign-in mail speaks the organization's language.
func TestSignInMailInJapanese(t *testing.T) {
	smtp := mailtest.Start(t, mailtest.Options{})
	n := startNode(t, options{smtp: smtp})
	ja := "ja"
	o, err := n.srv.Service.CreateOrg(sys(t), "株式会社アクメ", &invite.SettingsPatch{Locale: &ja})
	if err != nil {
		t.Fatal(err)
	}
	n.member(t, o.ID, "hana@example.com", "花子", "admin")
	if err := n.srv.Service.RequestSignInLink(t.Context(), "hana@example.com"); err != nil {
		t.Fatal(err)
	}
	m, link := signInMail(t, smtp, 1)
	if m.Subject != "株式会社アクメ のコンソールへのサインイン" || !strings.Contains(m.Text, "花子 様") ||
		!strings.Contains(m.Text, "一度だけ") || m.Header.Get("Content-Language") != "ja" {
		t.Errorf("Japanese sign-in mail: %q %q\n%s", m.Subject, m.Header.Get("Content-Language"), m.Text)
	}
	if !strings.HasPrefix(link, n.URL+"/console/signin/") {
		t.Errorf("link %s", link)
	}
}
