package main

import (
	"bytes"
	"errors"
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
