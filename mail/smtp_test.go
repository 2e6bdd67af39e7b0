package mail

import (
	"log/slog"
	"strings"
	"testing"

	gomail "github.com/wneessen/go-mail"
)

// The STARTTLS policy each SMTP URL gets: required to any host that is not
// loopback unless the URL opts out, as before to a loopback one.
func TestSTARTTLSPolicyPerURL(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for raw, want := range map[string]gomail.TLSPolicy{
		"smtp://mail.example.com":                      gomail.TLSMandatory,
		"smtp://u:p@mail.example.com:587":              gomail.TLSMandatory,
		"smtp://10.0.0.7":                              gomail.TLSMandatory,
		"smtp://[2001:db8::1]:25":                      gomail.TLSMandatory,
		"smtp://127.0.0.1.nip.io":                      gomail.TLSMandatory,
		"smtp://localhost.example.com":                 gomail.TLSMandatory,
		"smtp://mail.example.com?tls=required":         gomail.TLSMandatory,
		"smtp://mail.example.com?tls=opportunistic":    gomail.TLSOpportunistic,
		"smtp://mail.example.com?tls=none":             gomail.NoTLS,
		"smtp://mail.example.com?tls=None":             gomail.NoTLS,
		"smtp://mail.example.com?starttls=none":        gomail.NoTLS,
		"smtp://mail.example.com?starttls=no&tls=none": gomail.NoTLS,
		"smtp://127.0.0.1:2525":                        gomail.TLSOpportunistic,
		"smtp://127.8.9.10":                            gomail.TLSOpportunistic,
		"smtp://[::1]:25":                              gomail.TLSOpportunistic,
		"smtp://[::ffff:127.0.0.1]:25":                 gomail.TLSOpportunistic,
		"smtp://localhost:1025":                        gomail.TLSOpportunistic,
		"smtp://LocalHost.":                            gomail.TLSOpportunistic,
		"smtp://localhost?tls=required":                gomail.TLSMandatory,
		"smtp://127.0.0.1?tls=none":                    gomail.NoTLS,
	} {
		s, err := newSMTPSender(raw, nil, nil, "example.com", log)
		if err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		if s.policy != want || s.implicit {
			t.Errorf("%s: policy %v (implicit %v), want %v", raw, s.policy, s.implicit, want)
		}
	}
	for _, raw := range []string{"smtps://mail.example.com", "smtps://mail.example.com?tls=required"} {
		if s, err := newSMTPSender(raw, nil, nil, "example.com", log); err != nil || !s.implicit {
			t.Errorf("%s: %v", raw, err)
		}
	}
	for raw, words := range map[string]string{
		"smtp://mail.example.com?tls=maybe":                  `tls="maybe"`,
		"smtp://mail.example.com?tls=":                       "", // empty is the default, not an error
		"smtp://mail.example.com?starttls=sometimes":         `starttls="sometimes"`,
		"smtp://mail.example.com?tls=none&starttls=required": "disagree",
		"smtps://mail.example.com?tls=none":                  "TLS from the start",
		"smtps://mail.example.com?tls=opportunistic":         "TLS from the start",
		// A key the sender does not know is not dropped quietly: TLS=required
		// would otherwise leave localhost on STARTTLS when offered.
		"smtp://localhost?TLS=required":                 `unknown query key "TLS" (keys are lowercase: tls, starttls, auth, timeout)`,
		"smtp://mail.example.com?TLS=x&tls=none":        `unknown query key "TLS"`,
		"smtp://mail.example.com?Timeout=5s":            `unknown query key "Timeout"`,
		"smtps://u:p@mail.example.com?authh=plain":      `unknown query key "authh"`,
		"smtp://mail.example.com?tls=none&tls=required": `tls= is given twice`,
	} {
		_, err := newSMTPSender(raw, nil, nil, "example.com", log)
		if words == "" {
			if err != nil {
				t.Errorf("%s: %v", raw, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), words) {
			t.Errorf("%s: err = %v, want one saying %q", raw, err, words)
		}
	}
}
