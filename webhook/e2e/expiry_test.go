package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/invitd/invitd/internal/testnode"
	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/server"
)

// Three nodes on one PostgreSQL share a clock that moves past the expiry of
// 20 invitations; while their expiry jobs run, creates for half of the
// addresses on every node meet the expired rows too. Each invitation is
// stored as expired with exactly one invitation.expired event.
func TestExpiryOnceAcrossThreeNodes(t *testing.T) {
	db := testnode.PostgresDB(t)
	clk := &testnode.Clock{}
	var nodes []*node
	for range 3 {
		nodes = append(nodes, startServer(t, server.Config{DB: db, Secret: testnode.Secret, Now: clk.Now}))
	}
	org := nodes[0].createOrg(t)
	base := "/v1/organizations/" + org

	const count = 20
	email := func(i int) string { return fmt.Sprintf("exp%02d@example.com", i) }
	var invs []invitation
	for i := range count {
		var inv invitation
		nodes[i%3].must(t, http.StatusCreated, "POST", base+"/invitations",
			obj{"email": email(i), "expires_in": 3600, "send_email": false}, &inv)
		invs = append(invs, inv)
	}

	clk.Advance(time.Hour + time.Minute)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < count; i += 2 {
		wg.Go(func() {
			status, b, err := nodes[(i+1)%3].call("", "POST", base+"/invitations", obj{"email": email(i), "send_email": false}, nil)
			if err != nil || status != http.StatusCreated {
				t.Errorf("a new invitation for %s after the expiry: %d %s %v", email(i), status, b, err)
			}
		})
	}
	wg.Wait()

	expiredOf := func() map[string]int {
		m := map[string]int{}
		for _, e := range nodes[2].events(t, org, invite.EventInvitationExpired) {
			m[e.dataID()]++
		}
		return m
	}
	eventually(t, 5*time.Second, "every invitation's expiry event", func() bool {
		m := expiredOf()
		for _, inv := range invs {
			if m[inv.ID] == 0 {
				return false
			}
		}
		return true
	})
	t.Logf("every invitation had its expiry event %v after the clock moved", time.Since(start).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond) // room for a second event

	m := expiredOf()
	total := 0
	for _, inv := range invs {
		if m[inv.ID] != 1 {
			t.Errorf("invitation %s has %d invitation.expired events, want 1", inv.ID, m[inv.ID])
		}
	}
	for _, n := range m {
		total += n
	}
	if total != count {
		t.Errorf("%d invitation.expired events in the log, want %d", total, count)
	}

	// Stored, not only shown: a read works out an expiry on its own.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, inv := range invs {
		var state string
		if err := conn.QueryRow(ctx, "SELECT state FROM invitations WHERE id = $1", inv.ID).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state != "expired" {
			t.Errorf("invitation %s is stored as %s, want expired", inv.ID, state)
		}
	}

	// Every expiry job ran once, on whichever node claimed it.
	ran := 0
	var per []string
	for i, n := range nodes {
		c := jobsTotal(t, n, invite.JobExpireInvitation, "succeeded")
		ran += c
		per = append(per, fmt.Sprintf("node %d: %d", i, c))
	}
	t.Logf("expiry jobs run: %s", strings.Join(per, ", "))
	if ran != count {
		t.Errorf("%d expiry jobs succeeded across the nodes, want %d", ran, count)
	}
}

// jobsTotal reads invitd_jobs_total{kind, result} from a node's metrics.
func jobsTotal(t testing.TB, n *node, kind, result string) int {
	t.Helper()
	return metric(t, n, fmt.Sprintf(`invitd_jobs_total{kind=%q,result=%q}`, kind, result))
}

// metric reads the sample of a node's metrics named with its labels; 0 when absent.
func metric(t testing.TB, n *node, sample string) int {
	t.Helper()
	res, err := n.client.Get(n.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", res.StatusCode)
	}
	want := sample + " "
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), want); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s%s: %v", want, v, err)
			}
			return int(f)
		}
	}
	return 0
}
