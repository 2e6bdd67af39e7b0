package mail_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/mail/mailtest"
)

func strp(s string) *string { return &s }

// A branded organization's mail says its display name, not its name or the
// product's, in the sender, subject, heading and text; shows its logo; has
// its colour on the button; and its footer gives the support address.
func TestBrandedMail(t *testing.T) {
	for _, c := range []struct {
		locale, subject, footerText, footerHTML string
	}{
		{"en", "Ada <Lovelace> invited you to join Acme Cloud", "Questions? Write to help@acme.example.",
			`Questions? Write to <a href="mailto:help@acme.example"`},
		{"ja", "Ada <Lovelace> さんから Acme Cloud への招待が届いています", "ご不明な点は help@acme.example までお問い合わせください。",
			`ご不明な点は <a href="mailto:help@acme.example"`},
	} {
		t.Run(c.locale, func(t *testing.T) {
			srv := mailtest.Start(t, mailtest.Options{})
			e := newEnv(t, nil, &invite.SettingsPatch{DisplayName: strp("Acme Cloud"),
				LogoURL: strp("https://cdn.acme.example/logo.png"), BrandColor: strp("#C0FFEE"),
				SupportEmail: strp("help@acme.example")})
			e.start(fast(srv.URL()))
			e.invite("grace@example.com", func(ci *invite.CreateInvitation) { ci.Locale = c.locale })
			m := srv.Wait(t, 1, 10*time.Second)[0]
			if m.Subject != c.subject {
				t.Errorf("subject = %q, want %q", m.Subject, c.subject)
			}
			if from := m.Header.Get("From"); !strings.Contains(from, "Acme Cloud") || !strings.Contains(from, "<invites@example.com>") {
				t.Errorf("From = %q, want the display name with the configured address", from)
			}
			if m.From != "invites@example.com" {
				t.Errorf("envelope sender = %q", m.From)
			}
			for _, s := range []string{`<img src="https://cdn.acme.example/logo.png" alt="Acme Cloud"`,
				"background:#c0ffee;", "Acme Cloud", c.footerHTML} {
				if !strings.Contains(m.HTML, s) {
					t.Errorf("HTML lacks %q:\n%s", s, m.HTML)
				}
			}
			if !strings.Contains(m.Text, "Acme Cloud") || !strings.Contains(m.Text, c.footerText) {
				t.Errorf("text lacks the display name or %q:\n%s", c.footerText, m.Text)
			}
			for _, part := range []string{m.Subject, m.Text, m.HTML, m.Header.Get("From")} {
				if strings.Contains(part, "Acme & <Co>") || strings.Contains(part, "Acme &amp; &lt;Co&gt;") {
					t.Errorf("the organization's own name shows where the display name should:\n%s", part)
				}
			}
		})
	}

	// Without branding: the configured sender, the default colour, no logo,
	// no footer.
	srv := mailtest.Start(t, mailtest.Options{})
	e := newEnv(t, nil, nil)
	e.start(fast(srv.URL()))
	e.invite("grace@example.com", nil)
	m := srv.Wait(t, 1, 10*time.Second)[0]
	if from := m.Header.Get("From"); !strings.Contains(from, "Acme Invitations") {
		t.Errorf("From = %q, want the configured sender", from)
	}
	if !strings.Contains(m.HTML, "background:#1f6feb;") || strings.Contains(m.HTML, "<img") || strings.Contains(m.HTML, "Questions?") {
		t.Errorf("an unbranded mail has branding:\n%s", m.HTML)
	}
}

// A reminder says it is one, in its subject and at the top of its body, in
// each language, and its link opens the invitation; the first mail did not.
func TestReminderMail(t *testing.T) {
	for _, c := range []struct{ locale, subjectPrefix, lead string }{
		{"en", "Reminder: ", "This is a reminder: this invitation is still waiting for your answer."},
		{"ja", "【リマインダー】", "この招待はまだ回答をお待ちしています。"},
	} {
		t.Run(c.locale, func(t *testing.T) {
			var mu sync.Mutex
			now := time.Now().UTC()
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			srv := mailtest.Start(t, mailtest.Options{})
			after := int64(3600)
			e := newEnv(t, clock, &invite.SettingsPatch{ReminderAfter: &after})
			e.start(fast(srv.URL()))
			inv := e.invite("grace@example.com", func(ci *invite.CreateInvitation) { ci.Locale = c.locale })
			first := srv.Wait(t, 1, 10*time.Second)[0]
			if strings.HasPrefix(first.Subject, c.subjectPrefix) || strings.Contains(first.Text, c.lead) {
				t.Errorf("the first mail reads as a reminder: %q\n%s", first.Subject, first.Text)
			}
			eventually(t, 5*time.Second, "the first mail's job is done", e.outboxEmpty)
			mu.Lock()
			now = now.Add(2 * time.Hour)
			mu.Unlock()
			if n, err := e.svc.SendReminders(e.ctx, 100); err != nil || n != 1 {
				t.Fatalf("SendReminders = %d, %v; want 1", n, err)
			}
			m := srv.Wait(t, 2, 10*time.Second)[1]
			if !strings.HasPrefix(m.Subject, c.subjectPrefix) || strings.TrimPrefix(m.Subject, c.subjectPrefix) != first.Subject {
				t.Errorf("reminder subject = %q, want %q + %q", m.Subject, c.subjectPrefix, first.Subject)
			}
			for name, body := range map[string]string{"text": m.Text, "html": m.HTML} {
				if !strings.Contains(body, c.lead) {
					t.Errorf("the reminder's %s lacks %q:\n%s", name, c.lead, body)
				}
			}
			_, token := m.Link()
			v, err := e.svc.GetByToken(e.ctx, token)
			if err != nil || v.Invitation.ID != inv.ID {
				t.Fatalf("the reminder's link: %v", err)
			}
		})
	}
}
