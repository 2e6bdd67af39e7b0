package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/invitd/invitd/internal/testnode"
)

func TestMain(m *testing.M) { os.Exit(testnode.Main(m)) }

// Every invitation answered 201 survives kill -9 of the process.
func TestKill9LosesNoAnsweredInvitation(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "invitd.db")
	// The load, and the reads that check it, are more than the limits let through.
	unlimited := []string{"INVITD_DB=" + db, "INVITD_KEY_RATE=100000", "INVITD_KEY_BURST=100000"}
	n := testnode.StartReady(t, unlimited...)
	status, org, err := n.Call("POST", "/v1/organizations", map[string]any{"name": "Durable",
		"settings": map[string]any{"max_invitations_per_hour": -1}})
	if err != nil || status != 201 {
		t.Fatalf("create org: %d %v", status, err)
	}
	orgID := org["id"].(string)

	var mu sync.Mutex
	var answered []string
	var seq atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				email := fmt.Sprintf("d%d@example.com", seq.Add(1))
				status, inv, err := n.Call("POST", "/v1/organizations/"+orgID+"/invitations", map[string]any{"email": email})
				if err != nil {
					return // the process is gone
				}
				if status == 201 {
					mu.Lock()
					answered = append(answered, inv["id"].(string))
					mu.Unlock()
				}
			}
		}()
	}
	// Kill it in the middle of the load.
	for {
		mu.Lock()
		k := len(answered)
		mu.Unlock()
		if k >= 300 || ctx.Err() != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	n.Kill()
	wg.Wait()
	if len(answered) < 300 {
		t.Fatalf("only %d invitations were answered before the deadline", len(answered))
	}

	n2 := testnode.StartReady(t, unlimited...)
	for _, id := range answered {
		status, inv, err := n2.Call("GET", "/v1/organizations/"+orgID+"/invitations/"+id, nil)
		if err != nil || status != 200 || inv["state"] != "pending" {
			t.Fatalf("invitation %s answered 201 before the crash is lost: %d %v %v", id, status, inv, err)
		}
	}
	t.Logf("%d invitations answered 201 before kill -9, all present after restart", len(answered))
}

func TestFirstStartPrintsAnAdminKeyOnce(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "invitd.db")
	start := func() string { return startPrintingKey(t, db) }
	first := start()
	i := strings.Index(first, "invitd_")
	if i < 0 {
		t.Fatalf("first start printed no key:\n%s", first)
	}
	key := strings.Fields(first[i:])[0]
	if second := start(); strings.Contains(second, "invitd_") {
		t.Fatalf("second start printed a key again:\n%s", second)
	}
	// The printed key is an admin key.
	n := testnode.StartReady(t, "INVITD_DB="+db, "INVITD_ADMIN_KEY=")
	req, _ := http.NewRequest("GET", n.URL+"/v1/organizations", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("bootstrap key refused: %v %v", res.StatusCode, err)
	}
	res.Body.Close()
}

// startPrintingKey starts serve on db without an admin key and returns what
// it printed until it listened; it stops it then.
func startPrintingKey(t *testing.T, db string) string {
	t.Helper()
	cmd := exec.Command(testnode.Binary(t), "serve", "--addr", testnode.FreeAddr(t), "--db", db)
	cmd.Env = append(os.Environ(), "INVITD_ADMIN_KEY=")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	var out strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "invitd listening") {
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return out.String()
}

func TestSIGTERMShutsDownGracefully(t *testing.T) {
	n := testnode.StartReady(t, "INVITD_DB=sqlite:"+filepath.Join(t.TempDir(), "invitd.db"))
	if err := n.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, n.Logs)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("invitd did not stop after SIGTERM")
	}
}

func runCLI(t *testing.T, db string, args ...string) map[string]any {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), append(args, "--db", db), &out, &errb); err != nil {
		t.Fatalf("invitd %v: %v\n%s", args, err, errb.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("invitd %v printed no JSON object: %s", args, out.String())
	}
	return m
}

func TestCLI(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "cli.db")
	org := runCLI(t, db, "org", "create", "--name", "Shell Co")["id"].(string)
	if key := runCLI(t, db, "key", "create", "--org", org)["key"].(string); !strings.HasPrefix(key, "invitd_") {
		t.Fatalf("key %q", key)
	}
	inv := runCLI(t, db, "invite", "create", "--org", org, "--email", "Sam@Example.com", "--role", "admin", "--permissions", "billing,plans")
	if inv["email"] != "sam@example.com" || inv["role"] != "admin" || len(inv["permissions"].([]any)) != 2 {
		t.Fatalf("invite create: %v", inv)
	}
	id := inv["id"].(string)
	if got := runCLI(t, db, "invite", "get", "--org", org, "--id", id); got["id"] != id {
		t.Fatalf("invite get: %v", got)
	}
	if l := runCLI(t, db, "invite", "list", "--org", org, "--state", "pending"); len(l["data"].([]any)) != 1 {
		t.Fatalf("invite list: %v", l)
	}
	if c := runCLI(t, db, "invite", "cancel", "--org", org, "--id", id); c["state"] != "cancelled" {
		t.Fatalf("invite cancel: %v", c)
	}
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"invite", "resend", "--org", org, "--id", id, "--db", db}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("resend of a cancelled invitation: %v", err)
	}
	err = run(context.Background(), []string{"invite", "create", "--org", org, "--email", "not-an-email", "--db", db}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "@") {
		t.Fatalf("bad email: %v", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://invitd:s3cret@db:5432/invitd?sslmode=require": "postgres://invitd:xxxxx@db:5432/invitd?sslmode=require",
		"postgres://postgres@127.0.0.1:5432/x":                    "postgres://postgres@127.0.0.1:5432/x",
		"sqlite:invitd.db":                                        "sqlite:invitd.db",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
