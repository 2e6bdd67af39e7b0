package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/invitd/invitd/invite"
)

func allowRedirects(t *testing.T, e *env, def string) {
	t.Helper()
	origins := []string{"https://app.example.com"}
	p := &invite.SettingsPatch{AllowedRedirectOrigins: &origins}
	if def != "" {
		p.DefaultRedirectURL = &def
	}
	org, err := e.svc.UpdateOrg(e.ctx, e.org.ID, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	e.org = org
}

func checkTarget(t *testing.T, loc string, inv *invite.Invitation, state string) {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil || u.Scheme != "https" || u.Host != "app.example.com" || u.Path != "/welcome" {
		t.Fatalf("Location %q", loc)
	}
	q := u.Query()
	if q.Get("invitation_id") != inv.ID.String() || q.Get("organization_id") != inv.OrgID.String() || q.Get("state") != state || q.Get("from") != "mail" {
		t.Fatalf("Location query %v", q)
	}
}

func TestAnswerRedirectsToTheInvitationsRedirectURL(t *testing.T) {
	e := newEnv(t, "Acme", nil)
	allowRedirects(t, e, "")
	for _, c := range []struct{ action, state string }{{"accept", "accepted"}, {"decline", "declined"}} {
		inv, token := e.invite(c.action+"@example.com", func(ci *invite.CreateInvitation) {
			ci.RedirectURL = "https://app.example.com/welcome?from=mail"
		})
		b := newBrowser(t)
		page := b.get(e.srv.URL + "/i/" + token)
		// The form's submit is followed by a redirect to the app; Chromium
		// checks that against form-action.
		if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example.com;") {
			t.Errorf("CSP %q", csp)
		}
		r := b.post(e.srv.URL+"/i/"+token+"/"+c.action, url.Values{"csrf": {csrfOf(t, page.body)}, "name": {"Grace"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("%s: %d", c.action, r.status)
		}
		checkTarget(t, r.header.Get("Location"), inv, c.state)
	}
}

func TestDefaultRedirectIsAContinueLink(t *testing.T) {
	e := newEnv(t, "Acme", nil)
	allowRedirects(t, e, "https://app.example.com/welcome?from=mail")
	inv, token := e.invite("grace@example.com", nil)
	b := newBrowser(t)
	page := b.get(e.srv.URL + "/i/" + token)
	if csp := page.header.Get("Content-Security-Policy"); strings.Contains(csp, "app.example.com") {
		t.Errorf("CSP %q names the default redirect, which no form leads to", csp)
	}
	r := b.post(e.srv.URL+"/i/"+token+"/accept", url.Values{"csrf": {csrfOf(t, page.body)}, "name": {"Grace"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/i/"+token+"?done=accepted" {
		t.Fatalf("accept: %d to %q", r.status, r.header.Get("Location"))
	}
	res := b.get(e.srv.URL + r.header.Get("Location"))
	expect(t, res, 200, "accepted", `id="continue"`, "Continue")
	i := strings.Index(res.body, `id="continue"`)
	start := strings.LastIndex(res.body[:i], `href="`) + len(`href="`)
	href := res.body[start : start+strings.Index(res.body[start:], `"`)]
	checkTarget(t, strings.ReplaceAll(href, "&amp;", "&"), inv, "accepted")
}
