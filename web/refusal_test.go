package web_test

import (
	"net/url"
	"testing"

	"github.com/invitd/invitd/invite"
)

func TestAcceptRefusedByTheDomainPolicyShowsWhy(t *testing.T) {
	for _, c := range []struct{ lang, want string }{
		{"en", "this invitation can no longer be accepted: "},
		{"ja", "この招待を承諾できませんでした: this invitation can no longer be accepted: "},
	} {
		e := newEnv(t, "Acme", nil)
		_, token := e.invite("grace@example.com", func(ci *invite.CreateInvitation) { ci.Locale = c.lang })
		b := newBrowser(t)
		csrf := csrfOf(t, b.get(e.srv.URL+"/i/"+token).body)
		domains := []string{"other.example"}
		if _, err := e.svc.UpdateOrg(e.ctx, e.org.ID, nil, &invite.SettingsPatch{AllowedEmailDomains: &domains}); err != nil {
			t.Fatal(err)
		}
		r := b.post(e.srv.URL+"/i/"+token+"/accept", url.Values{"csrf": {csrf}, "name": {"Grace"}})
		expect(t, r, 422, "invite", `id="error"`, c.want)
		if n := len(e.members()); n != 0 {
			t.Errorf("%s: %d members", c.lang, n)
		}
	}
}

func TestAcceptRefusedForSeatsShowsWhy(t *testing.T) {
	e := newEnv(t, "Acme", nil)
	two := 2
	if _, err := e.svc.UpdateOrg(e.ctx, e.org.ID, nil, &invite.SettingsPatch{MaxMembers: &two}); err != nil {
		t.Fatal(err)
	}
	_, first := e.invite("ada@example.com", nil)
	_, second := e.invite("grace@example.com", nil)
	b := newBrowser(t)
	csrf := csrfOf(t, b.get(e.srv.URL+"/i/"+first).body)
	if r := b.post(e.srv.URL+"/i/"+first+"/accept", url.Values{"csrf": {csrf}, "name": {"Ada"}}); r.status != 303 {
		t.Fatalf("first accept: %d", r.status)
	}
	one := 1
	if _, err := e.svc.UpdateOrg(e.ctx, e.org.ID, nil, &invite.SettingsPatch{MaxMembers: &one}); err != nil {
		t.Fatal(err)
	}
	r := b.post(e.srv.URL+"/i/"+second+"/accept", url.Values{"csrf": {csrf}, "name": {"Grace"}})
	expect(t, r, 409, "invite", `id="error"`, "seat limit reached: ")
	if n := len(e.members()); n != 1 {
		t.Errorf("%d members, want 1", n)
	}
}
