package mail_test

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/mail"
	"github.com/invitd/invitd/mail/mailtest"
)

// remote is a mail configuration naming srv mail.example.com, a host that is
// not loopback, with query appended to its URL: the client connects to the
// in-process server whatever the name.
func remote(t *testing.T, srv *mailtest.Server, query string) mail.Config {
	_, port, _ := net.SplitHostPort(srv.Addr)
	cfg := fast("smtp://mail.example.com:" + port + query)
	mail.SetDial(&cfg, func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != "mail.example.com:"+port {
			t.Errorf("dialled %s", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Addr)
	})
	return cfg
}

// Mail to a host that is not loopback is not sent in clear: a server that
// offers no STARTTLS gets no mail, each attempt fails with the reason and is
// retried, and the invitation ends in error saying why.
func TestSMTPToARemoteHostRequiresSTARTTLS(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	e := newEnv(t, nil, nil)
	cfg := remote(t, srv, "")
	cfg.MaxAttempts = 3
	e.start(cfg)
	inv := e.invite("clear@example.com", nil)

	var got *invite.Invitation
	eventually(t, 10*time.Second, "the invitation is in error", func() bool {
		got = e.get(inv)
		return got.State == invite.StateError
	})
	if !strings.Contains(got.Error, "does not offer STARTTLS") || !strings.Contains(got.Error, "not sent in clear") ||
		!strings.Contains(got.Error, "tls=opportunistic") {
		t.Errorf("reason = %q, want one saying STARTTLS is missing and how to allow clear text", got.Error)
	}
	if n := e.jobs("retried"); n != 2 {
		t.Errorf("retried %v times, want 2", n)
	}
	if srv.Connections() < 3 {
		t.Errorf("%d connections, want one per attempt", srv.Connections())
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d mails were sent in clear", n)
	}
	// Each refused attempt closes its connection: the server would hold a
	// leaked one for its 10 s read timeout, so 5 s tells the two apart.
	eventually(t, 5*time.Second, "the server sees every connection closed", func() bool { return srv.Open() == 0 })
}

// The URL opts out of STARTTLS explicitly; with STARTTLS offered, a remote
// host gets the mail over it.
func TestSMTPToARemoteHost(t *testing.T) {
	for name, c := range map[string]struct {
		query string
		// tls is whether the server offers STARTTLS, used whether the
		// session that carried the mail went through it.
		tls, used bool
	}{
		"tls=opportunistic without STARTTLS": {"?tls=opportunistic", false, false},
		"tls=none without STARTTLS":          {"?tls=none", false, false},
		"starttls=none without STARTTLS":     {"?starttls=none", false, false},
		"tls=none with STARTTLS":             {"?tls=none", true, false},
		"default with STARTTLS":              {"", true, true},
		"tls=required with STARTTLS":         {"?tls=required", true, true},
		"tls=opportunistic with STARTTLS":    {"?tls=opportunistic", true, true},
	} {
		t.Run(name, func(t *testing.T) {
			srv := mailtest.Start(t, mailtest.Options{TLS: c.tls})
			e := newEnv(t, nil, nil)
			cfg := remote(t, srv, c.query)
			if c.tls {
				// The server's certificate names localhost, not mail.example.com.
				cfg.TLS = &tls.Config{RootCAs: srv.CertPool, ServerName: "localhost"}
			}
			e.start(cfg)
			e.invite("remote@example.com", nil)
			m := srv.Wait(t, 1, 10*time.Second)[0]
			if m.To[0] != "remote@example.com" {
				t.Errorf("recipient %v", m.To)
			}
			if m.TLS != c.used {
				t.Errorf("mail went with TLS %v, want %v", m.TLS, c.used)
			}
		})
	}
}

// A relay on this machine, named localhost, still gets mail in clear when it
// offers no STARTTLS, as before; tls=required there refuses it.
func TestSMTPToLocalhost(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	_, port, _ := net.SplitHostPort(srv.Addr)
	e := newEnv(t, nil, nil)
	e.start(fast("smtp://localhost:" + port))
	e.invite("local@example.com", nil)
	srv.Wait(t, 1, 10*time.Second)

	strict := mailtest.Start(t, mailtest.Options{})
	e2 := newEnv(t, nil, nil)
	cfg := fast(strict.URL() + "?tls=required")
	cfg.MaxAttempts = 1
	e2.start(cfg)
	inv := e2.invite("local@example.com", nil)
	var got *invite.Invitation
	eventually(t, 10*time.Second, "the invitation is in error", func() bool {
		got = e2.get(inv)
		return got.State == invite.StateError
	})
	if !strings.Contains(got.Error, "tls=required") || len(strict.Messages()) != 0 {
		t.Errorf("reason = %q, %d mails", got.Error, len(strict.Messages()))
	}
}

// smtps:// is TLS from the first byte, and the server sees it so.
func TestSMTPSIsTLS(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{Implicit: true})
	e := newEnv(t, nil, nil)
	cfg := fast(srv.URL())
	cfg.TLS = &tls.Config{RootCAs: srv.CertPool}
	e.start(cfg)
	e.invite("smtps@example.com", nil)
	if m := srv.Wait(t, 1, 10*time.Second)[0]; !m.TLS {
		t.Error("the mail went in clear")
	}
}
