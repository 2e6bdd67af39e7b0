package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/invitd/invitd/internal/testnode"
)

// invitd runs the built binary and returns its output and exit code.
func invitd(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return o.String(), e.String(), exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

func TestVersion(t *testing.T) {
	rev, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout, so no revision to compare: %v", err)
	}
	// Built as a user builds it from a checkout, with its VCS stamp.
	bin := filepath.Join(t.TempDir(), "invitd")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, arg := range []string{"version", "--version"} {
		out, _, code := invitd(t, bin, arg)
		// The module version is a tag, or a pseudo-version of the revision.
		want := regexp.MustCompile(`^invitd v\S+ \(revision ` + strings.TrimSpace(string(rev)) + `, \S+(, modified)?\) go1\.\S+ \w+/\w+\n$`)
		if code != 0 || !want.MatchString(out) {
			t.Errorf("invitd %s: exit %d, %q; want %s", arg, code, out, want)
		}
	}
}

func TestHelp(t *testing.T) {
	bin := testnode.Binary(t)
	for _, arg := range []string{"help", "-h", "--help"} {
		out, _, code := invitd(t, bin, arg)
		if code != 0 || !strings.Contains(out, "invitd serve") || !strings.Contains(out, "invitd version") {
			t.Errorf("invitd %s: exit %d\n%s", arg, code, out)
		}
	}
	// A command's -h exits 0 and shows its own flags and no others'.
	for _, c := range []struct {
		args       []string
		has, hasNo []string
	}{
		{[]string{"invite", "get", "-h"}, []string{"-id", "-org", "-db"}, []string{"-email", "-csv", "-url"}},
		{[]string{"key", "create", "--help"}, []string{"-admin", "-scopes", "-expires-in", "-org"}, []string{"-email", "-csv"}},
		{[]string{"invite", "import", "-h"}, []string{"-csv", "-dry-run"}, []string{"-email", "-scopes"}},
		{[]string{"serve", "-h"}, []string{"-addr", "-smtp-url"}, []string{"-csv", "-org"}},
	} {
		out, errOut, code := invitd(t, bin, c.args...)
		all := out + errOut
		if code != 0 {
			t.Errorf("invitd %v: exit %d\n%s", c.args, code, all)
		}
		for _, f := range c.has {
			if !strings.Contains(all, "  "+f+" ") && !strings.Contains(all, "  "+f+"\n") {
				t.Errorf("invitd %v does not show %s:\n%s", c.args, f, all)
			}
		}
		for _, f := range c.hasNo {
			if strings.Contains(all, "  "+f+" ") || strings.Contains(all, "  "+f+"\n") {
				t.Errorf("invitd %v shows another command's %s:\n%s", c.args, f, all)
			}
		}
	}
	// A flag of another command is refused.
	if _, errOut, code := invitd(t, bin, "org", "create", "--name", "x", "--email", "a@example.com"); code != 1 || !strings.Contains(errOut, "flag provided but not defined: -email") {
		t.Errorf("org create --email: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := invitd(t, bin, "frobnicate"); code != 1 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("an unknown command: exit %d\n%s", code, errOut)
	}
}

func TestPublicURL(t *testing.T) {
	for _, c := range []struct {
		configured, addr, want string
		warns                  bool
	}{
		{"https://invite.example.com/base", ":8080", "https://invite.example.com/base", false},
		{"", ":8080", "http://localhost:8080", true},
		{"", "0.0.0.0:8080", "http://localhost:8080", true},
		{"", "[::]:8080", "http://localhost:8080", true},
		{"", "127.0.0.1:9000", "http://127.0.0.1:9000", true},
		{"invite.example.com", ":8080", "invite.example.com", true},
		{"ftp://invite.example.com", ":8080", "ftp://invite.example.com", true},
		{"https://", ":8080", "https://", true},
	} {
		got, warning := publicURL(c.configured, c.addr)
		if got != c.want || (warning != "") != c.warns {
			t.Errorf("publicURL(%q, %q) = %q, %q; want %q, warning %v", c.configured, c.addr, got, warning, c.want, c.warns)
		}
	}
}

// A start without INVITD_BASE_URL warns and makes links that work on this
// machine; its request log writes durations as text.
func TestStartWithoutBaseURL(t *testing.T) {
	addr := testnode.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	n := testnode.Start(t, "INVITD_DB=sqlite:"+filepath.Join(t.TempDir(), "invitd.db"),
		"INVITD_BASE_URL=", "INVITD_ADDR=:"+port, "INVITD_LOG_LEVEL=debug")
	n.URL = "http://127.0.0.1:" + port
	n.WaitReady(t)
	_, org, err := n.Call("POST", "/v1/organizations", map[string]any{"name": "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	status, inv, err := n.Call("POST", "/v1/organizations/"+org["id"].(string)+"/invitations",
		map[string]any{"email": "a@example.com", "send_email": false})
	if err != nil || status != 201 {
		t.Fatalf("create: %d %v", status, err)
	}
	if link, _ := inv["accept_url"].(string); !strings.HasPrefix(link, "http://localhost:"+port+"/i/") {
		t.Errorf("accept_url %q, want http://localhost:%s/i/...", link, port)
	}
	logs := n.Logs.String()
	if !strings.Contains(logs, `"level":"WARN","msg":"INVITD_BASE_URL is not set`) {
		t.Errorf("no warning about INVITD_BASE_URL:\n%s", logs)
	}
	if !regexp.MustCompile(`"duration":"[0-9.]+(ns|µs|ms|s)"`).MatchString(logs) || regexp.MustCompile(`"duration":[0-9]`).MatchString(logs) {
		t.Errorf("request durations are not written as text:\n%s", logs)
	}
}

// A start that cannot listen makes no admin key: the key it would print
// could never be shown again.
func TestNoAdminKeyWhenThePortIsTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	db := "sqlite:" + filepath.Join(t.TempDir(), "invitd.db")
	cmd := exec.Command(testnode.Binary(t), "serve", "--addr", taken.Addr().String(), "--db", db)
	cmd.Env = append(os.Environ(), "INVITD_ADMIN_KEY=")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "address already in use") {
		t.Fatalf("serve on a taken port: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "invitd_") {
		t.Fatalf("a start that could not listen printed a key:\n%s", out)
	}
	// The next start, which can listen, makes the first key.
	first := startPrintingKey(t, db)
	if !strings.Contains(first, "invitd_") || !strings.Contains(first, "invitd key create --admin") {
		t.Fatalf("the first start that listens printed no key:\n%s", first)
	}
}

// invitd backup copies the database of a serving node, under load; a node
// started on the copy has every invitation answered before it began.
func TestBackupWhileServing(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "invitd.db")
	n := testnode.StartReady(t, "INVITD_DB="+db, "INVITD_KEY_RATE=100000", "INVITD_KEY_BURST=100000")
	_, org, err := n.Call("POST", "/v1/organizations", map[string]any{"name": "Acme", "settings": map[string]any{"max_invitations_per_hour": -1}})
	if err != nil {
		t.Fatal(err)
	}
	orgID := org["id"].(string)
	create := func(i int) string {
		status, inv, err := n.Call("POST", "/v1/organizations/"+orgID+"/invitations",
			map[string]any{"email": fmt.Sprintf("b%d@example.com", i), "send_email": false})
		if err != nil || status != 201 {
			t.Errorf("create %d: %d %v", i, status, err)
			return ""
		}
		return inv["id"].(string)
	}
	var before []string
	for i := range 50 {
		before = append(before, create(i))
	}
	// Writes go on while the backup runs.
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		i := 1000
		for {
			select {
			case <-stop:
				done <- i - 1000
				return
			default:
				create(i)
				i++
			}
		}
	}()
	dest := filepath.Join(dir, "copy.db")
	out, errOut, code := invitd(t, testnode.Binary(t), "backup", "--db", db, dest)
	close(stop)
	during := <-done
	if code != 0 || !strings.Contains(errOut, "invitd.db.secret") {
		t.Fatalf("backup: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("%d invitations were made while the backup ran", during)
	if _, errOut, code := invitd(t, testnode.Binary(t), "backup", "--db", db, dest); code != 1 || !strings.Contains(errOut, "exists") {
		t.Errorf("a second backup onto the same file: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := invitd(t, testnode.Binary(t), "backup", "--db", "postgres://x@127.0.0.1/none", dest+"2"); code != 1 || !strings.Contains(errOut, "pg_dump") {
		t.Errorf("backup of PostgreSQL: exit %d\n%s", code, errOut)
	}
	restored := testnode.StartReady(t, "INVITD_DB=sqlite:"+dest)
	for _, id := range before {
		if status, inv, err := restored.Call("GET", "/v1/organizations/"+orgID+"/invitations/"+id, nil); err != nil || status != 200 || inv["state"] != "pending" {
			t.Fatalf("invitation %s is not in the backup: %d %v %v", id, status, inv, err)
		}
	}
}
