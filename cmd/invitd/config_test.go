package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/invitd/invitd/internal/testnode"
)

// startFails runs `invitd serve` with env and returns what it printed; the
// start must fail before it listens.
func startFails(t *testing.T, env ...string) string {
	t.Helper()
	cmd := exec.Command(testnode.Binary(t), "serve")
	cmd.Env = append(os.Environ(), "INVITD_ADDR="+testnode.FreeAddr(t), "INVITD_ADMIN_KEY="+testnode.AdminKey,
		"INVITD_DB=sqlite:"+filepath.Join(t.TempDir(), "invitd.db"))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err == nil || strings.Contains(string(out), "invitd listening") {
		t.Fatalf("invitd serve with %v started:\n%s", env, out)
	}
	return string(out)
}

// An SMTP URL whose TLS choice cannot be honoured stops the start.
func TestSMTPTLSChoiceIsCheckedAtStart(t *testing.T) {
	for url, words := range map[string]string{
		"smtp://mail.example.com?tls=maybe": `tls="maybe"`,
		"smtps://mail.example.com?tls=none": "TLS from the start",
	} {
		if out := startFails(t, "INVITD_SMTP_URL="+url); !strings.Contains(out, words) {
			t.Errorf("%s: the error does not say %q:\n%s", url, words, out)
		}
	}
}
