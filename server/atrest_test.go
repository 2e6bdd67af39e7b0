package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invitd/invitd/internal/testnode"
	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/job"
	"github.com/invitd/invitd/mail"
	"github.com/invitd/invitd/mail/mailtest"
	"github.com/invitd/invitd/server"
)

// After 500 invitations are mailed, some of them retried and some still
// waiting when the copy is taken, a copy of the database (SQLite's file
// with its WAL and shm; a pg_dump) and the log hold no byte string that
// opens any of them, nor a webhook's signing secret.
func TestACopyOfTheDatabaseOpensNothing(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var db, secret string
			var dump func() []byte
			if backend == "sqlite" {
				path := filepath.Join(t.TempDir(), "invitd.db")
				db = "sqlite:" + path
				dump = func() []byte { return readFiles(t, path, path+"-wal", path+"-shm") }
			} else {
				db, secret = testnode.PostgresDB(t), testnode.Secret
				dump = func() []byte { return pgDump(t, db) }
			}
			checkCopies(t, db, secret, dump)
		})
	}
}

func checkCopies(t *testing.T, db, secret string, dump func() []byte) {
	const total, held = 500, 20
	// Every seventh mail is refused once and retried; mail to held.example
	// is refused until the first copy has been taken.
	var holding atomic.Bool
	holding.Store(true)
	var refused atomic.Int64
	smtp := mailtest.Start(t, mailtest.Options{Reply: func(stage string, n int, arg string) error {
		if stage == "RCPT" && strings.HasSuffix(arg, "@held.example") && holding.Load() {
			return mailtest.SMTPError(451, "try again later")
		}
		if stage == "DATA" && n%7 == 0 {
			refused.Add(1)
			return mailtest.SMTPError(451, "try again later")
		}
		return nil
	}})
	logs := &logBuffer{}
	srv, err := server.Open(context.Background(), server.Config{
		DB: db, Secret: secret, AdminKey: adminKey, BaseURL: "http://invitd.test",
		KeyRate: 1e9, KeyBurst: invite.MaxLimitSetting, // the creates come as fast as they can
		Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		// Held mail is retried until released, never given up.
		Mail: mail.Config{SMTPURL: smtp.URL(), MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, MaxAttempts: 1000},
		Jobs: job.Config{PollInterval: 50 * time.Millisecond},
		// The endpoint is never called; an address needs no lookup.
		WebhookAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ln := listen(t)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		<-done
		srv.Close()
	}()
	c := &client{t: t, url: "http://" + ln.Addr().String()}
	admin := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+adminKey) }

	sys := invite.WithPrincipal(context.Background(), invite.System)
	o, err := srv.Service.CreateOrg(sys, "Acme", nil)
	if err != nil {
		t.Fatal(err)
	}
	url, off := "http://127.0.0.1:9/in", false
	hook, err := srv.Service.CreateWebhook(sys, o.ID, invite.WebhookInput{URL: &url, Enabled: &off})
	if err != nil {
		t.Fatal(err)
	}

	emails := make([]string, total)
	for i := range emails {
		emails[i] = fmt.Sprintf("copy%03d@example.com", i)
		if i%(total/held) == 0 {
			emails[i] = fmt.Sprintf("copy%03d@held.example", i)
		}
	}
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 8 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < total; i = next.Add(1) - 1 {
				if status, body := c.do("POST", "/v1/organizations/"+o.ID.String()+"/invitations",
					map[string]any{"email": emails[i]}, admin); status != http.StatusCreated {
					t.Errorf("invite %s: %d %s", emails[i], status, body)
				}
			}
		})
	}
	wg.Wait()
	smtp.Wait(t, total-held, 60*time.Second)
	first := dump() // taken while the held mail waits in the outbox
	holding.Store(false)
	msgs := smtp.Wait(t, total, 60*time.Second)
	if refused.Load() < total/7 {
		t.Errorf("only %d mails were refused once; the test means some to be retried", refused.Load())
	}
	second := dump()

	var tokens []string
	for _, m := range msgs {
		_, token := m.Link()
		if _, err := srv.Service.GetByToken(sys, token); err != nil {
			t.Fatalf("the link mailed to %s does not open its invitation: %v", m.To[0], err)
		}
		tokens = append(tokens, token)
	}
	// Invitees open their links over HTTP too; the request log, at debug
	// level here, must not keep them.
	for _, tok := range tokens[:20] {
		if status, body := c.do("GET", "/v1/invitations/"+tok, nil, func(*http.Request) {}); status != http.StatusOK {
			t.Fatalf("GET /v1/invitations/<token>: %d %s", status, body)
		}
		if status, _ := c.do("GET", "/i/"+tok, nil, func(*http.Request) {}); status != http.StatusOK {
			t.Fatalf("GET /i/<token>: %d", status)
		}
	}
	if !strings.Contains(logs.String(), `"route":"GET /i/{token}"`) {
		t.Fatalf("the requests were not logged:\n%.2000s", logs.String())
	}
	copies := map[string][]byte{"the copy taken while mail waited": first, "the copy taken after": second, "the log": []byte(logs.String())}
	for what, b := range copies {
		// The copies are of the real thing: every address is in each.
		for _, e := range emails[:10] {
			if what != "the log" && !bytes.Contains(b, []byte(e)) {
				t.Fatalf("%s (%d bytes) does not hold %s: the scan reads the wrong bytes", what, len(b), e)
			}
		}
		found := 0
		for _, tok := range tokens {
			if holds(b, tok) {
				found++
			}
		}
		if found > 0 {
			t.Errorf("%s holds %d of the %d links that went out", what, found, len(tokens))
		}
		for _, s := range []string{hook.Secret, strings.TrimPrefix(hook.Secret, "whsec_")} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds the webhook's signing secret", what)
			}
		}
	}
}

// holds tells whether b holds token in any form that could rebuild it: as
// sent, its raw bytes, or the raw or hex form of its proof.
func holds(b []byte, token string) bool {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != 48 {
		return true // not a link of this version: count it, the test is wrong
	}
	for _, form := range [][]byte{[]byte(token), raw, raw[16:], []byte(hex.EncodeToString(raw[16:]))} {
		if bytes.Contains(b, form) {
			return true
		}
	}
	return false
}

func readFiles(t *testing.T, paths ...string) []byte {
	t.Helper()
	var all []byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

func pgDump(t *testing.T, url string) []byte {
	t.Helper()
	bin, err := exec.LookPath("pg_dump")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pg_dump is needed under CI")
		}
		t.Skip("needs pg_dump")
	}
	out, err := exec.Command(bin, "--no-owner", "--dbname", url).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	return out
}
