package web_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/invitd/invitd/invite"
)

func brand(t *testing.T, e *env, logo string) {
	t.Helper()
	name, color := "Acme Cloud", "#AA3311"
	org, err := e.svc.UpdateOrg(e.ctx, e.org.ID, nil, &invite.SettingsPatch{DisplayName: &name, LogoURL: &logo, BrandColor: &color})
	if err != nil {
		t.Fatal(err)
	}
	e.org = org
}

func TestBrandedPage(t *testing.T) {
	e := newEnv(t, "acme-internal", nil)
	_, plainToken := e.invite("ada@example.com", nil)
	plain := newBrowser(t).get(e.srv.URL + "/i/" + plainToken)
	plainCSP := plain.header.Get("Content-Security-Policy")
	if !regexp.MustCompile(`^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'$`).MatchString(plainCSP) {
		t.Errorf("unbranded CSP %q", plainCSP)
	}

	brand(t, e, "https://cdn.example.net/acme/logo.png")
	_, token := e.invite("grace@example.com", nil)
	r := newBrowser(t).get(e.srv.URL + "/i/" + token)
	expect(t, r, 200, "invite", "You are invited to join Acme Cloud",
		`<img src="https://cdn.example.net/acme/logo.png" alt="Acme Cloud"`, `<style>:root{--accent:#aa3311}</style>`)
	if strings.Contains(r.body, "acme-internal") {
		t.Error("the page shows the org name, not its display name")
	}
	if strings.Contains(r.body, "<footer>invitd") || !strings.Contains(plain.body, "<footer>invitd") {
		t.Error("the product's name shows on the branded page, or not on the plain one")
	}
	csp := r.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "; img-src https://cdn.example.net;") || strings.Count(csp, "img-src") != 1 {
		t.Errorf("CSP %q", csp)
	}
	// Two hashed style blocks, no 'unsafe-inline', nothing else widened.
	if strings.Contains(csp, "unsafe") || strings.Count(csp, "'sha256-") != 2 {
		t.Errorf("CSP %q", csp)
	}
	if strings.Replace(csp, " img-src https://cdn.example.net;", "", 1) == plainCSP {
		t.Errorf("CSP %q has no hash for the brand style", csp)
	}
	if got := strings.Replace(csp, "; img-src https://cdn.example.net", "", 1); len(strings.Fields(got)) != len(strings.Fields(plainCSP))+1 {
		t.Errorf("CSP %q against unbranded %q", csp, plainCSP)
	}
}
