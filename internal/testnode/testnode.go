// Package testnode runs the real invitd binary for tests: built once per test
// process, started as `invitd serve` on a free loopback port.
package testnode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// AdminKey is the admin key every node is started with.
const AdminKey = "testnode-admin-key-0123456789abcdef0123"

// Secret is the server secret every node is started with, so that nodes of
// one database derive the same links.
const Secret = "testnode-secret-0123456789abcdef0123456789"

var (
	buildOnce sync.Once
	buildDir  string
	binary    string
	buildErr  error
)

// Main runs a package's tests and then removes the binary, if one was built:
// call it from TestMain as os.Exit(testnode.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	return code
}

// Binary builds cmd/invitd once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "invitd-testnode"); buildErr != nil {
			return
		}
		bin := filepath.Join(buildDir, "invitd")
		out, err := exec.Command("go", "build", "-o", bin, "github.com/invitd/invitd/cmd/invitd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building invitd: %v\n%s", err, out)
			return
		}
		binary = bin
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// FreeAddr returns a loopback address with a port nothing listens on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Buffer is a bytes.Buffer safe for a process writing while a test reads.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Node is one `invitd serve` process.
type Node struct {
	Cmd  *exec.Cmd
	Addr string // host:port
	URL  string // http://host:port
	Logs *Buffer
}

// Start starts `invitd serve` on a free port with AdminKey, Secret and env
// (NAME=value, after the defaults, so they win), and kills it when the test
// ends, showing its log if the test failed. It does not wait for readiness.
func Start(t testing.TB, env ...string) *Node {
	t.Helper()
	addr := FreeAddr(t)
	n := &Node{Addr: addr, URL: "http://" + addr, Logs: &Buffer{}}
	n.Cmd = exec.Command(Binary(t), "serve")
	n.Cmd.Env = append(os.Environ(), "INVITD_ADDR="+addr, "INVITD_ADMIN_KEY="+AdminKey,
		"INVITD_SECRET="+Secret, "INVITD_BASE_URL="+n.URL)
	n.Cmd.Env = append(n.Cmd.Env, env...)
	n.Cmd.Stdout, n.Cmd.Stderr = n.Logs, n.Logs
	if err := n.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Kill()
		if t.Failed() {
			t.Logf("log of %s:\n%s", n.URL, n.Logs)
		}
	})
	return n
}

// StartReady starts a node and waits until it is ready.
func StartReady(t testing.TB, env ...string) *Node {
	t.Helper()
	n := Start(t, env...)
	n.WaitReady(t)
	return n
}

// WaitReady waits until /readyz answers 200.
func (n *Node) WaitReady(t testing.TB) {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get(n.URL + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("%s did not become ready:\n%s", n.URL, n.Logs)
}

// Kill ends the process with SIGKILL, as a crash would, and reaps it.
func (n *Node) Kill() {
	n.Cmd.Process.Kill()
	n.Cmd.Wait()
}

// Call sends a JSON request with the admin key and decodes a JSON object answer.
func (n *Node) Call(method, path string, body any) (int, map[string]any, error) {
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req, err := http.NewRequest(method, n.URL+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+AdminKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var m map[string]any
	err = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m, err
}
