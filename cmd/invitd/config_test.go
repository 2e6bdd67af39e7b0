package main

import (
	"net/http"
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

// INVITD_METRICS_ADDR moves /metrics to a listener of its own, guarded by
// INVITD_METRICS_TOKEN when set; a token too short to guard stops the start.
func TestMetricsSettings(t *testing.T) {
	metricsAddr := testnode.FreeAddr(t)
	n := testnode.StartReady(t, "INVITD_DB=sqlite:"+filepath.Join(t.TempDir(), "invitd.db"),
		"INVITD_METRICS_ADDR="+metricsAddr, "INVITD_METRICS_TOKEN=cmd-metrics-token-0123456789")
	fetch := func(url, token string) int {
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := fetch(n.URL+"/metrics", "cmd-metrics-token-0123456789"); got != 404 {
		t.Errorf("main listener /metrics: %d, want 404", got)
	}
	if got := fetch("http://"+metricsAddr+"/metrics", ""); got != 401 {
		t.Errorf("metrics listener without the token: %d, want 401", got)
	}
	if got := fetch("http://"+metricsAddr+"/metrics", "cmd-metrics-token-0123456789"); got != 200 {
		t.Errorf("metrics listener with the token: %d, want 200", got)
	}
	if !strings.Contains(n.Logs.String(), "metrics listening") {
		t.Errorf("the log does not say where metrics are:\n%s", n.Logs)
	}
	if out := startFails(t, "INVITD_METRICS_TOKEN=short"); !strings.Contains(out, "metrics token") {
		t.Errorf("a short token:\n%s", out)
	}
}

// A secret too short to derive links from stops the start, and so does
// PostgreSQL without one: its nodes must share it.
func TestSecretIsCheckedAtStart(t *testing.T) {
	if out := startFails(t, "INVITD_SECRET=short"); !strings.Contains(out, "INVITD_SECRET must be at least 32 bytes") {
		t.Errorf("a short secret: the error does not say so:\n%s", out)
	}
	if out := startFails(t, "INVITD_SECRET="+testnode.Secret, "INVITD_SECRET_PREVIOUS=short"); !strings.Contains(out, "INVITD_SECRET_PREVIOUS must be at least 32 bytes") {
		t.Errorf("a short previous secret: the error does not say so:\n%s", out)
	}
	db := testnode.PostgresDB(t)
	if out := startFails(t, "INVITD_DB="+db, "INVITD_SECRET="); !strings.Contains(out, "INVITD_SECRET is required with PostgreSQL") {
		t.Errorf("PostgreSQL without a secret: the error does not say so:\n%s", out)
	}
}

// On SQLite without INVITD_SECRET, the server and the shell use the secret
// kept beside the database: a link the shell prints opens on the server.
func TestSQLiteKeepsItsSecretBesideTheDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "invitd.db")
	db := "sqlite:" + path
	org := runCLI(t, db, "org", "create", "--name", "Shell Co")["id"].(string)
	link := runCLI(t, db, "invite", "create", "--org", org, "--email", "sam@example.com", "--no-email")["accept_url"].(string)
	fi, err := os.Stat(path + ".secret")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the secret file: %v, %v", fi, err)
	}
	n := testnode.StartReady(t, "INVITD_DB="+db, "INVITD_SECRET=")
	token := link[strings.LastIndex(link, "/")+1:]
	res, err := http.Get(n.URL + "/v1/invitations/" + token)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("the shell's link on the server: %d, want 200", res.StatusCode)
	}
}

// INVITD_SMTP_CONNECTIONS outside 1 to 64, or not a whole number, stops
// the start, naming it.
func TestSMTPConnectionsSetting(t *testing.T) {
	for _, env := range []string{"INVITD_SMTP_CONNECTIONS=0", "INVITD_SMTP_CONNECTIONS=two", "INVITD_SMTP_CONNECTIONS=1.5", "INVITD_SMTP_CONNECTIONS=65"} {
		if out := startFails(t, env); !strings.Contains(out, "INVITD_SMTP_CONNECTIONS") {
			t.Errorf("%s:\n%s", env, out)
		}
	}
}

// INVITD_KEY_RATE and INVITD_KEY_BURST set each key's bucket on the node;
// a value that is not a positive number stops the start.
func TestKeyRateSettings(t *testing.T) {
	for _, env := range []string{"INVITD_KEY_RATE=0", "INVITD_KEY_RATE=fast", "INVITD_KEY_BURST=-3", "INVITD_KEY_BURST=2.5"} {
		name, _, _ := strings.Cut(env, "=")
		if out := startFails(t, env); !strings.Contains(out, name) {
			t.Errorf("%s:\n%s", env, out)
		}
	}
	n := testnode.StartReady(t, "INVITD_DB=sqlite:"+filepath.Join(t.TempDir(), "invitd.db"),
		"INVITD_KEY_RATE=0.5", "INVITD_KEY_BURST=2")
	for i, want := range []int{200, 200, 429} {
		status, body, err := n.Call("GET", "/v1/organizations", nil)
		if err != nil || status != want {
			t.Fatalf("request %d: %d %v %v, want %d", i, status, body, err, want)
		}
	}
}
