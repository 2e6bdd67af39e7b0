// Package e2e runs the real invitd binary against a real SMTP server: mail
// survives kill -9, and several nodes on one PostgreSQL send each mail once.
package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/invitd/invitd/internal/testnode"
	"github.com/invitd/invitd/mail"
	"github.com/invitd/invitd/mail/mailtest"
)

func TestMain(m *testing.M) { os.Exit(testnode.Main(m)) }

// startNode starts a ready `invitd serve` on db that sends mail to smtpURL,
// with env (NAME=value) added.
func startNode(t *testing.T, db, smtpURL string, env ...string) *testnode.Node {
	t.Helper()
	return testnode.StartReady(t, append([]string{"INVITD_DB=" + db, "INVITD_SMTP_URL=" + smtpURL,
		"INVITD_MAIL_FROM=Invites <invites@example.com>"}, env...)...)
}

// shortLease makes the jobs a killed node held free again after 10 s
// rather than the default 2 min; the kill tests wait for it.
const shortLease = "INVITD_JOB_LEASE=10s"

func createOrg(t *testing.T, n *testnode.Node) string {
	t.Helper()
	status, org, err := n.Call("POST", "/v1/organizations", map[string]any{"name": "Acme"})
	if err != nil || status != 201 {
		t.Fatalf("create org: %d %v %v", status, org, err)
	}
	return org["id"].(string)
}

func invite(n *testnode.Node, org, email string) error {
	status, inv, err := n.Call("POST", "/v1/organizations/"+org+"/invitations", map[string]any{"email": email})
	if err != nil || status != 201 {
		return fmt.Errorf("invite %s: %d %v %v", email, status, inv, err)
	}
	return nil
}

// checkMail asserts exactly one mail per email, each with a working link.
func checkMail(t *testing.T, msgs []*mailtest.Message, emails []string, n *testnode.Node) {
	t.Helper()
	byTo := map[string][]*mailtest.Message{}
	for _, m := range msgs {
		byTo[m.To[0]] = append(byTo[m.To[0]], m)
	}
	for _, e := range emails {
		got := byTo[e]
		if len(got) != 1 {
			t.Errorf("%s got %d mails, want 1", e, len(got))
			continue
		}
		_, token := got[0].Link()
		status, v, err := n.Call("GET", "/v1/invitations/"+token, nil)
		if err != nil || status != 200 {
			t.Errorf("the link mailed to %s does not work: %d %v %v", e, status, v, err)
		}
	}
	if len(msgs) != len(emails) {
		t.Errorf("%d mails for %d invitations", len(msgs), len(emails))
	}
}

// With the mail server down, invitations are answered 201; the process is
// killed with SIGKILL; after a restart, once the mail server is up, every
// answered invitation gets its mail, once.
func TestKill9WhileTheMailServerIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a lease to run out")
	}
	t.Parallel()
	smtpAddr := testnode.FreeAddr(t)
	db := "sqlite:" + filepath.Join(t.TempDir(), "invitd.db")
	n := startNode(t, db, "smtp://"+smtpAddr, shortLease)
	org := createOrg(t, n)
	var emails []string
	for i := range 40 {
		e := fmt.Sprintf("crash%02d@example.com", i)
		if err := invite(n, org, e); err != nil {
			t.Fatal(err)
		}
		emails = append(emails, e)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(n.Logs.String(), "cannot reach the mail server") {
		if time.Now().After(deadline) {
			t.Fatalf("no delivery attempt was logged:\n%s", n.Logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := n.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	n.Cmd.Wait()

	srv, err := mailtest.Listen(smtpAddr, mailtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	n2 := startNode(t, db, "smtp://"+smtpAddr, shortLease)
	// A job that failed before the kill is retried after its backoff (at
	// most 30 s); one the killed process held is freed when its lease ends
	// (10 s).
	msgs := srv.Wait(t, len(emails), 90*time.Second)
	time.Sleep(2 * time.Second) // room for a duplicate to show up
	checkMail(t, srv.Messages(), emails, n2)
	if len(msgs) > 0 && !strings.Contains(msgs[0].Header.Get("From"), "Invites") || !strings.Contains(msgs[0].Header.Get("From"), "<invites@example.com>") {
		t.Errorf("From = %q", msgs[0].Header.Get("From"))
	}
}

// Killed in the middle of a burst, invitd sends every mail after a restart;
// only the mails whose results were not yet written at the kill go out
// twice: at most two a connection (one sending, one handed on).
func TestKill9InTheMiddleOfABurst(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a lease to run out")
	}
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{Reply: func(stage string, _ int, _ string) error {
		if stage == "DATA" {
			time.Sleep(20 * time.Millisecond)
		}
		return nil
	}})
	db := "sqlite:" + filepath.Join(t.TempDir(), "invitd.db")
	n := startNode(t, db, srv.URL(), shortLease)
	org := createOrg(t, n)
	var emails []string
	for i := range 100 {
		e := fmt.Sprintf("burst%03d@example.com", i)
		if err := invite(n, org, e); err != nil {
			t.Fatal(err)
		}
		emails = append(emails, e)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(srv.Messages()) < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("no mail went out:\n%s", n.Logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := n.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	n.Cmd.Wait()
	before := len(srv.Messages())
	if before == len(emails) {
		t.Fatal("every mail went out before the kill; the test proves nothing")
	}
	n2 := startNode(t, db, srv.URL(), shortLease)
	deadline = time.Now().Add(90 * time.Second)
	for {
		seen := map[string]bool{}
		for _, m := range srv.Messages() {
			seen[m.To[0]] = true
		}
		if len(seen) == len(emails) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d invitations got mail after the restart", len(seen), len(emails))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	msgs := srv.Messages()
	dups := len(msgs) - len(emails)
	t.Logf("%d mails before the kill, %d in all, %d sent twice", before, len(msgs), dups)
	if max := 2 * mail.DefaultConnections; dups > max { // two a connection
		t.Errorf("%d mails went out twice, want at most %d", dups, max)
	}
	for _, m := range msgs {
		_, token := m.Link()
		if status, _, err := n2.Call("GET", "/v1/invitations/"+token, nil); err != nil || status != 200 {
			t.Errorf("the link mailed to %s does not work: %d %v", m.To[0], status, err)
		}
	}
}

// Three nodes on one PostgreSQL share the outbox: every mail goes out once,
// and more than one node sends.
func TestThreeNodesOnPostgreSQLSendEachMailOnce(t *testing.T) {
	db := testnode.PostgresDB(t)
	srv := mailtest.Start(t, mailtest.Options{Reply: func(stage string, _ int, _ string) error {
		if stage == "DATA" {
			time.Sleep(2 * time.Millisecond) // a server with some latency
		}
		return nil
	}})
	nodes := []*testnode.Node{startNode(t, db, srv.URL())}
	org := createOrg(t, nodes[0])
	nodes = append(nodes, startNode(t, db, srv.URL()), startNode(t, db, srv.URL()))

	const perNode = 100
	var (
		mu     sync.Mutex
		emails []string
		wg     sync.WaitGroup
	)
	for i, n := range nodes {
		wg.Go(func() {
			for j := range perNode {
				e := fmt.Sprintf("n%d-%03d@example.com", i, j)
				if err := invite(n, org, e); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				emails = append(emails, e)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	srv.Wait(t, len(emails), 60*time.Second)
	time.Sleep(2 * time.Second)
	checkMail(t, srv.Messages(), emails, nodes[0])

	senders := 0
	for i, n := range nodes {
		sent := strings.Count(n.Logs.String(), "invitation mail sent")
		t.Logf("node %d sent %d mails", i, sent)
		if sent > 0 {
			senders++
		}
	}
	if senders < 2 {
		t.Errorf("only %d node(s) sent mail; the outbox is not shared", senders)
	}
}
