package storetest

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
)

func ptr[T any](v T) *T { return &v }

func testPolicies(t *testing.T, e *env) {
	t.Run("seats count members and pending invitations", func(t *testing.T) {
		o := e.org(t, &invite.SettingsPatch{MaxMembers: ptr(3)})
		a, ta := e.quiet(t, o.ID)
		if _, _, err := e.acceptByToken(sys(t), ta, "A"); err != nil {
			t.Fatal(err)
		}
		p2, _ := e.quiet(t, o.ID)
		short := e.invite(t, o.ID, invite.CreateInvitation{NoEmail: true, ExpiresIn: 3600}).Invitation
		// 1 member + 2 pending = 3 of 3.
		_, err := e.svc.CreateInvitation(sys(t), o.ID, invite.CreateInvitation{Email: e.email(), NoEmail: true})
		wantKind(t, err, invite.KindConflict, "seat limit reached: 3 of 3 seats used (1 members, 2 pending invitations)")
		got, err := e.svc.GetOrgWithSeats(sys(t), o.ID)
		if err != nil || got.Seats == nil || *got.Seats != (invite.Seats{Limit: 3, Members: 1, Pending: 2}) {
			t.Fatalf("seats = %+v, %v; want 3 limit, 1 member, 2 pending", got.Seats, err)
		}
		// An expired invitation holds no seat; sending it again takes one.
		e.clock.Advance(time.Hour)
		e.invite(t, o.ID, invite.CreateInvitation{NoEmail: true})
		_, err = e.svc.ResendInvitation(sys(t), o.ID, ref(short.ID))
		wantKind(t, err, invite.KindConflict, "seat limit reached: 3 of 3 seats used (1 members, 2 pending invitations)")
		if inv := e.get(t, o.ID, short.ID); inv.State != invite.StateExpired {
			t.Fatalf("the refused resend left the invitation %s", inv.State)
		}
		// A resend of a pending one takes no new seat.
		if _, err := e.svc.ResendInvitation(sys(t), o.ID, ref(p2.ID)); err != nil {
			t.Fatalf("resending a pending invitation with every seat used: %v", err)
		}
		if _, err := e.svc.ResendInvitation(sys(t), o.ID, ref(a.ID)); err == nil {
			t.Fatal("resending an accepted invitation worked")
		}
		// Members alone filling the seats refuse an accept.
		if _, err := e.svc.UpdateOrg(sys(t), o.ID, nil, &invite.SettingsPatch{MaxMembers: ptr(1)}); err != nil {
			t.Fatal(err)
		}
		_, tok := e.quietForce(t, o.ID)
		_, _, err = e.acceptByToken(sys(t), tok, "")
		wantKind(t, err, invite.KindConflict, "seat limit reached", "1 members")
	})

	t.Run("accepting into the last seat works", func(t *testing.T) {
		o := e.org(t, &invite.SettingsPatch{MaxMembers: ptr(1)})
		inv, tok := e.quiet(t, o.ID)
		if _, m, err := e.acceptByToken(sys(t), tok, ""); err != nil || m.InvitationID == nil || *m.InvitationID != inv.ID {
			t.Fatalf("accept into the last seat: %v (member %+v)", err, m)
		}
		_, err := e.svc.CreateInvitation(sys(t), o.ID, invite.CreateInvitation{Email: e.email(), NoEmail: true})
		wantKind(t, err, invite.KindConflict, "1 of 1 seats used (1 members, 0 pending invitations)")
	})

	t.Run("domain policy", func(t *testing.T) {
		o := e.org(t, &invite.SettingsPatch{
			AllowedEmailDomains: &[]string{"Example.com", "*.corp.example"},
			BlockedEmailDomains: &[]string{"*.example.com"},
		})
		if got := o.Settings.AllowedEmailDomains; strings.Join(got, ",") != "example.com,*.corp.example" {
			t.Fatalf("allowed domains stored as %v", got)
		}
		for _, email := range []string{"a@example.com", "b@eu.corp.example", "c@x.y.corp.example"} {
			e.invite(t, o.ID, invite.CreateInvitation{Email: email, NoEmail: true})
		}
		for email, words := range map[string][]string{
			"d@corp.example":     {"not in allowed_email_domains", "corp.example"},
			"e@other.org":        {"not in allowed_email_domains"},
			"f@mail.example.com": {`rule "*.example.com" of blocked_email_domains`},
		} {
			_, err := e.svc.CreateInvitation(sys(t), o.ID, invite.CreateInvitation{Email: email, NoEmail: true})
			wantKind(t, err, invite.KindInvalid, words...)
		}
		// A policy changed after the invitation refuses its accept and its resend.
		victim := e.invite(t, o.ID, invite.CreateInvitation{Email: "g@example.com", NoEmail: true}).Invitation
		if _, err := e.svc.UpdateOrg(sys(t), o.ID, nil, &invite.SettingsPatch{BlockedEmailDomains: &[]string{"example.com"}}); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.ResendInvitation(sys(t), o.ID, ref(victim.ID))
		wantKind(t, err, invite.KindInvalid, "blocked_email_domains")
		_, _, err = e.svc.AcceptInvitation(sys(t), o.ID, ref(victim.ID), invite.Accept{Email: victim.Email})
		wantKind(t, err, invite.KindInvalid, "can no longer be accepted", "blocked_email_domains")
		if got := e.get(t, o.ID, victim.ID); got.State != invite.StatePending {
			t.Fatalf("a refused accept left the invitation %s", got.State)
		}
		for _, bad := range [][]string{{"exa mple.com"}, {"*.com"}, {"http://example.com"}, {"*"}} {
			_, err := e.svc.UpdateOrg(sys(t), o.ID, nil, &invite.SettingsPatch{AllowedEmailDomains: &bad})
			wantKind(t, err, invite.KindInvalid, "allowed_email_domains")
		}
	})

	t.Run("redirect_url must be of an allowed origin", func(t *testing.T) {
		o := e.org(t, &invite.SettingsPatch{AllowedRedirectOrigins: &[]string{"https://App.Example.com/", "http://127.0.0.1:8080"}})
		if got := strings.Join(o.Settings.AllowedRedirectOrigins, ","); got != "https://app.example.com,http://127.0.0.1:8080" {
			t.Fatalf("origins stored as %s", got)
		}
		ok := e.invite(t, o.ID, invite.CreateInvitation{NoEmail: true, RedirectURL: "https://app.example.com/welcome?x=1"}).Invitation
		if got := e.get(t, o.ID, ok.ID); got.RedirectURL != "https://app.example.com/welcome?x=1" {
			t.Fatalf("redirect_url stored as %q", got.RedirectURL)
		}
		e.invite(t, o.ID, invite.CreateInvitation{NoEmail: true, RedirectURL: "http://127.0.0.1:8080/done"})
		// A scheme's own port names the same origin, either way round.
		e.invite(t, o.ID, invite.CreateInvitation{NoEmail: true, RedirectURL: "https://app.example.com:443/x"})
		o443, err := e.svc.UpdateOrg(sys(t), o.ID, nil, &invite.SettingsPatch{AllowedRedirectOrigins: &[]string{"https://app.example.com:443", "http://127.0.0.1:8080"}})
		if err != nil || o443.Settings.AllowedRedirectOrigins[0] != "https://app.example.com" {
			t.Fatalf("https://app.example.com:443 stored as %v (%v)", o443, err)
		}
		for raw, words := range map[string]string{
			"https://evil.example/":         "not in allowed_redirect_origins",
			"https://app.example.com:444/":  "not in allowed_redirect_origins",
			"http://app.example.com/":       "must be https",
			"javascript:alert(1)":           "absolute https URL",
			"/relative":                     "absolute https URL",
			"https://user@app.example.com/": "absolute https URL",
		} {
			_, err := e.svc.CreateInvitation(sys(t), o.ID, invite.CreateInvitation{Email: e.email(), NoEmail: true, RedirectURL: raw})
			wantKind(t, err, invite.KindInvalid, words)
		}
		// The target carries the answer.
		inv, tok := e.quietWith(t, o.ID, invite.CreateInvitation{RedirectURL: "https://app.example.com/welcome?x=1"})
		v, err := e.svc.AcceptByToken(sys(t), tok, "")
		if err != nil {
			t.Fatal(err)
		}
		target, own := invite.RedirectAfter(v.Invitation, v.Organization)
		u, _ := url.Parse(target)
		q := u.Query()
		if !own || u.Host != "app.example.com" || q.Get("x") != "1" || q.Get("invitation_id") != inv.ID.String() ||
			q.Get("organization_id") != o.ID.String() || q.Get("state") != "accepted" {
			t.Fatalf("redirect after accept = %q (own %v)", target, own)
		}
		// The default, which must be allowed too, is offered when the invitation names none.
		_, err = e.svc.UpdateOrg(sys(t), o.ID, nil, &invite.SettingsPatch{DefaultRedirectURL: ptr("https://other.example/")})
		wantKind(t, err, invite.KindInvalid, "default_redirect_url", "not in allowed_redirect_origins")
		o2, err := e.svc.UpdateOrg(sys(t), o.ID, nil, &invite.SettingsPatch{DefaultRedirectURL: ptr("https://app.example.com/home")})
		if err != nil {
			t.Fatal(err)
		}
		plain, ptok := e.quiet(t, o.ID)
		v, err = e.svc.DeclineByToken(sys(t), ptok)
		if err != nil {
			t.Fatal(err)
		}
		target, own = invite.RedirectAfter(v.Invitation, o2)
		if own || !strings.HasPrefix(target, "https://app.example.com/home?") || !strings.Contains(target, "state=declined") ||
			!strings.Contains(target, plain.ID.String()) {
			t.Fatalf("default redirect after decline = %q (own %v)", target, own)
		}
		// An origin no longer allowed leads nowhere.
		o3, err := e.svc.UpdateOrg(sys(t), o.ID, nil, &invite.SettingsPatch{
			AllowedRedirectOrigins: &[]string{"https://app.example.com"}, DefaultRedirectURL: ptr("")})
		if err != nil {
			t.Fatal(err)
		}
		inv.RedirectURL = "http://127.0.0.1:8080/done"
		if target, _ := invite.RedirectAfter(inv, o3); target != "" {
			t.Fatalf("redirect to an origin no longer allowed: %q", target)
		}
	})

	t.Run("branding and reminder settings are validated", func(t *testing.T) {
		o := e.org(t, &invite.SettingsPatch{DisplayName: ptr(" Acme "), LogoURL: ptr("https://cdn.acme.test/logo.png"),
			BrandColor: ptr("#A1B2C3"), SupportEmail: ptr("Help@Acme.test"), ReminderAfter: ptr(int64(86400))})
		st := o.Settings
		if st.DisplayName != "Acme" || st.BrandColor != "#a1b2c3" || st.SupportEmail != "help@acme.test" || o.DisplayName() != "Acme" {
			t.Fatalf("branding stored as %+v", st)
		}
		for _, p := range []struct {
			patch invite.SettingsPatch
			words string
		}{
			{invite.SettingsPatch{LogoURL: ptr("http://cdn.acme.test/logo.png")}, "logo_url"},
			{invite.SettingsPatch{BrandColor: ptr("red")}, "brand_color"},
			{invite.SettingsPatch{BrandColor: ptr("#12345")}, "brand_color"},
			{invite.SettingsPatch{SupportEmail: ptr("not an address")}, "support_email"},
			{invite.SettingsPatch{DisplayName: ptr("two\nlines")}, "display_name"},
			{invite.SettingsPatch{DisplayName: ptr(strings.Repeat("x", 101))}, "display_name"},
			{invite.SettingsPatch{ReminderAfter: ptr(int64(59))}, "reminder_after"},
			{invite.SettingsPatch{MaxMembers: ptr(-1)}, "max_members"},
			{invite.SettingsPatch{AllowedRedirectOrigins: &[]string{"https://a.example/path"}}, "allowed_redirect_origins"},
			{invite.SettingsPatch{AllowedRedirectOrigins: &[]string{"http://a.example"}}, "allowed_redirect_origins"},
			{invite.SettingsPatch{AllowedRedirectOrigins: &[]string{"https://a.example?"}}, "allowed_redirect_origins"},
			{invite.SettingsPatch{AllowedRedirectOrigins: &[]string{"https://a.example#"}}, "allowed_redirect_origins"},
		} {
			_, err := e.svc.UpdateOrg(sys(t), o.ID, nil, &p.patch)
			wantKind(t, err, invite.KindInvalid, p.words)
		}
		if got, _ := e.svc.GetOrg(sys(t), o.ID); got.Settings.BrandColor != "#a1b2c3" {
			t.Fatalf("a refused patch changed the settings: %+v", got.Settings)
		}
	})

	t.Run("the member keeps the invitation's metadata and id", func(t *testing.T) {
		o := e.org(t, nil)
		inv, tok := e.quietWith(t, o.ID, invite.CreateInvitation{Metadata: json.RawMessage(`{"plan": "pro", "n": 2}`)})
		_, m, err := e.acceptByToken(sys(t), tok, "")
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.GetMember(sys(t), o.ID, m.ID)
		if err != nil || string(got.Metadata) != `{"plan":"pro","n":2}` || got.InvitationID == nil || *got.InvitationID != inv.ID {
			t.Fatalf("member after accept: %+v, %v", got, err)
		}
	})
}

// quietWith creates an invitation without mail, as c asks, and returns it
// with its token.
func (e *env) quietWith(t *testing.T, org invite.OrgID, c invite.CreateInvitation) (*invite.Invitation, string) {
	t.Helper()
	c.NoEmail = true
	res := e.invite(t, org, c)
	return res.Invitation, res.Token
}

// quietForce is quiet past a seat limit: the invitation is made while the
// organization has none, which is put back after.
func (e *env) quietForce(t *testing.T, org invite.OrgID) (*invite.Invitation, string) {
	t.Helper()
	o, err := e.svc.GetOrg(sys(t), org)
	if err != nil {
		t.Fatal(err)
	}
	limit := o.Settings.MaxMembers
	if _, err := e.svc.UpdateOrg(sys(t), org, nil, &invite.SettingsPatch{MaxMembers: ptr(0)}); err != nil {
		t.Fatal(err)
	}
	inv, tok := e.quiet(t, org)
	if _, err := e.svc.UpdateOrg(sys(t), org, nil, &invite.SettingsPatch{MaxMembers: &limit}); err != nil {
		t.Fatal(err)
	}
	return inv, tok
}
