package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/invitd/invitd/internal/testnode"
	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/job"
	"github.com/invitd/invitd/mail"
	"github.com/invitd/invitd/server"
)

// remindNode is an in-process invitd on the test's database.
type remindNode struct {
	url  string
	srv  *server.Server
	logs *testnode.Buffer
}

func startRemindNode(t *testing.T, db string, clk *testnode.Clock) *remindNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &remindNode{url: "http://" + ln.Addr().String(), logs: &testnode.Buffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	// No SMTP: each mail is a log line, which the test counts.
	n.srv, err = server.Open(ctx, server.Config{DB: db, AdminKey: testnode.AdminKey, Secret: testnode.Secret,
		BaseURL: n.url, Now: clk.Now, ReminderInterval: 50 * time.Millisecond,
		Jobs: job.Config{PollInterval: 20 * time.Millisecond, Lease: 2 * time.Second},
		Log:  slog.New(slog.NewJSONHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		cancel()
		ln.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		n.srv.Close()
		if t.Failed() {
			t.Logf("log of %s:\n%s", n.url, n.logs)
		}
	})
	return n
}

func (n *remindNode) call(t *testing.T, status int, method, path string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, n.url+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testnode.AdminKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != status {
		t.Fatalf("%s %s = %d %s, want %d", method, path, res.StatusCode, raw, status)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// mailsSent counts the mails each invitation was sent, by every node.
func mailsSent(nodes []*remindNode) map[string]int {
	sent := map[string]int{}
	for _, n := range nodes {
		for _, line := range strings.Split(n.logs.String(), "\n") {
			var rec struct {
				Msg        string `json:"msg"`
				Invitation string `json:"invitation"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == mail.LoggedMessage {
				sent[rec.Invitation]++
			}
		}
	}
	return sent
}

// Three nodes on one database, their reminder sweeps every 50ms and three
// more sweeps racing them, remind each invitation due one exactly once:
// one invitation.reminded event, one reminder mail; an accepted, cancelled,
// unmailed or soon expiring invitation gets none.
func TestRemindersAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	db := testnode.PostgresDB(t)
	clk := &testnode.Clock{}
	var nodes []*remindNode
	for range 3 {
		nodes = append(nodes, startRemindNode(t, db, clk))
	}
	org := nodes[0].call(t, http.StatusCreated, "POST", "/v1/organizations",
		map[string]any{"name": "Remind", "settings": map[string]any{"reminder_after": 3600}})["id"].(string)
	path := "/v1/organizations/" + org + "/invitations"
	create := func(i int, body map[string]any) string {
		body["email"] = fmt.Sprintf("r%d@example.com", i)
		return nodes[i%3].call(t, http.StatusCreated, "POST", path, body)["id"].(string)
	}
	var due, accepted, cancelled []string
	for i := range 12 {
		due = append(due, create(i, map[string]any{}))
	}
	for i := 12; i < 14; i++ {
		accepted = append(accepted, create(i, map[string]any{}))
	}
	for i := 14; i < 16; i++ {
		cancelled = append(cancelled, create(i, map[string]any{}))
	}
	expiring := create(16, map[string]any{"expires_in": 7200}) // 55 minutes left when due
	quiet := create(17, map[string]any{"send_email": false})
	mailed := len(due) + len(accepted) + len(cancelled) + 1

	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := conn.QueryRow(t.Context(), q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("the first mails", func() bool {
		return count("SELECT count(*) FROM invitations WHERE mail_state = 'sent'") == mailed
	})
	for i, id := range accepted {
		nodes[i%3].call(t, http.StatusOK, "POST", path+"/"+id+"/accept", map[string]any{"email": fmt.Sprintf("r%d@example.com", 12+i)})
	}
	for i, id := range cancelled {
		nodes[i%3].call(t, http.StatusOK, "POST", path+"/"+id+"/cancel", nil)
	}

	clk.Advance(time.Hour + 5*time.Minute)
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() {
			if _, err := n.srv.Service.SendReminders(invite.WithPrincipal(context.Background(), invite.System), 2); err != nil {
				t.Errorf("SendReminders: %v", err)
			}
		})
	}
	wg.Wait()
	waitFor("the reminder mails", func() bool {
		sent := mailsSent(nodes)
		for _, id := range due {
			if sent[id] < 2 {
				return false
			}
		}
		return count("SELECT count(*) FROM outbox WHERE kind = $1", invite.JobSendInvitation) == 0
	})
	time.Sleep(300 * time.Millisecond) // a few more sweeps, which must find nothing

	sent := mailsSent(nodes)
	reminded := map[string]int{}
	rows, err := conn.Query(t.Context(), "SELECT subject FROM events WHERE type = $1", invite.EventInvitationReminded)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var subject string
		if err := rows.Scan(&subject); err != nil {
			t.Fatal(err)
		}
		reminded[subject]++
	}
	rows.Close()
	for _, id := range due {
		if sent[id] != 2 || reminded[id] != 1 {
			t.Errorf("invitation %s due a reminder: %d mails, %d invitation.reminded; want 2 and 1", id, sent[id], reminded[id])
		}
	}
	for _, id := range append(append([]string{expiring}, accepted...), cancelled...) {
		if sent[id] != 1 || reminded[id] != 0 {
			t.Errorf("invitation %s due none: %d mails, %d invitation.reminded; want 1 and 0", id, sent[id], reminded[id])
		}
	}
	if sent[quiet] != 0 || reminded[quiet] != 0 {
		t.Errorf("the invitation made without mail: %d mails, %d invitation.reminded", sent[quiet], reminded[quiet])
	}
	if n := len(reminded); n != len(due) {
		t.Errorf("%d invitations have invitation.reminded events, want %d", n, len(due))
	}
	if n := count("SELECT count(*) FROM invitations WHERE reminded_at IS NOT NULL"); n != len(due) {
		t.Errorf("%d invitations reminded, want %d", n, len(due))
	}
	// The sweep is one job, which the nodes take turns at.
	if n := count("SELECT count(*) FROM outbox WHERE kind = $1", invite.JobSendReminders); n != 1 {
		t.Errorf("%d send_reminders jobs queued, want 1", n)
	}
}
