package postgres

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invitd/invitd/internal/testnode"
)

type cluster struct {
	nodes  []*testnode.Node
	next   atomic.Int64
	client *http.Client
}

// reply is a decoded JSON answer.
type reply struct {
	status int
	body   map[string]any
}

func (r reply) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

// on sends a request to node i.
func (c *cluster) on(i int, method, path string, body any) (reply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.nodes[i].URL+path, rd)
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Authorization", "Bearer "+testnode.AdminKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	r := reply{status: res.StatusCode}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return r, err
	}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &r.body); err != nil {
			return r, fmt.Errorf("%s %s: %d %q: %v", method, path, res.StatusCode, b, err)
		}
	}
	return r, nil
}

// rr sends a request to the next node in turn, and says which one it was.
func (c *cluster) rr(method, path string, body any) (reply, int, error) {
	i := int(c.next.Add(1)-1) % len(c.nodes)
	r, err := c.on(i, method, path, body)
	return r, i, err
}

// must sends a request to node i and wants status.
func (c *cluster) must(t *testing.T, i int, status int, method, path string, body any) reply {
	t.Helper()
	r, err := c.on(i, method, path, body)
	if err != nil {
		t.Fatalf("node %d: %s %s: %v", i, method, path, err)
	}
	if r.status != status {
		t.Fatalf("node %d: %s %s = %d %v, want %d", i, method, path, r.status, r.body, status)
	}
	return r
}

// race sends n requests at once, spread over the nodes, and counts the
// answers by status; a request that gets no answer fails the test.
func (c *cluster) race(t *testing.T, n int, req func(i int) (method, path string, body any)) map[int]int {
	t.Helper()
	replies := make([]reply, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			m, p, b := req(i)
			replies[i], _, errs[i] = c.rr(m, p, b)
		})
	}
	close(start)
	wg.Wait()
	statuses := map[int]int{}
	for i, r := range replies {
		if errs[i] != nil {
			t.Errorf("request %d: %v", i, errs[i])
			continue
		}
		statuses[r.status]++
	}
	return statuses
}

// startCluster starts three ready invitd processes on db. The tests make
// load on purpose: no key's requests are limited.
func startCluster(t *testing.T, db string) *cluster {
	t.Helper()
	c := &cluster{client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	for range 3 {
		// Info level: without SMTP a mail is a log line, which tests count.
		c.nodes = append(c.nodes, testnode.Start(t, "INVITD_DB="+db, "INVITD_KEY_RATE=100000", "INVITD_KEY_BURST=100000"))
	}
	for _, n := range c.nodes {
		n.WaitReady(t)
	}
	return c
}

// Three invitd processes share one database: creates racing across them
// make one invitation, what one writes the others read, page and change, and
// killing one under load loses nothing it answered while the others go on.
func TestMultiNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three invitd processes")
	}
	c := startCluster(t, emptyDatabase(t))

	org := c.must(t, 0, http.StatusCreated, "POST", "/v1/organizations", map[string]any{"name": "Acme"}).str("id")
	invitations := "/v1/organizations/" + org + "/invitations"

	t.Run("one invitation from concurrent creates", func(t *testing.T) {
		const n = 50
		got := c.race(t, n, func(int) (string, string, any) {
			return "POST", invitations, map[string]any{"email": "race@example.com"}
		})
		if got[http.StatusCreated] != 1 || got[http.StatusConflict] != n-1 {
			t.Errorf("answers by status %v; want 1 created and %d conflicts", got, n-1)
		}
		for i := range c.nodes {
			l := c.must(t, i, http.StatusOK, "GET", invitations+"?email=race@example.com", nil)
			if data, _ := l.body["data"].([]any); len(data) != 1 {
				t.Errorf("node %d lists %d invitations for the address, want 1", i, len(data))
			}
		}
	})

	t.Run("created on one node, used on the others", func(t *testing.T) {
		inv := c.must(t, 0, http.StatusCreated, "POST", invitations, map[string]any{"email": "dana@example.com", "role": "admin"})
		id := inv.str("id")
		for i := 1; i < 3; i++ {
			got := c.must(t, i, http.StatusOK, "GET", invitations+"/"+id, nil)
			if got.str("email") != "dana@example.com" || got.str("state") != "pending" || got.str("role") != "admin" {
				t.Errorf("node %d reads %v", i, got.body)
			}
		}

		for i := range 7 {
			c.must(t, i%3, http.StatusCreated, "POST", invitations, map[string]any{"email": fmt.Sprintf("page%d@example.com", i)})
		}
		all := c.must(t, 0, http.StatusOK, "GET", invitations+"?limit=100", nil)
		want := ids(all)
		// Each page is asked of the next node, with the cursor another node made.
		var got []string
		cursor := ""
		for page := 0; page < 20; page++ {
			q := invitations + "?limit=3"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			r := c.must(t, page%3, http.StatusOK, "GET", q, nil)
			got = append(got, ids(r)...)
			next, _ := r.body["next_cursor"].(string)
			if next == "" {
				break
			}
			cursor = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("paged across nodes: %v\nwant %v", got, want)
		}

		acc := c.must(t, 2, http.StatusOK, "POST", invitations+"/"+id+"/accept", map[string]any{"email": "dana@example.com", "name": "Dana"})
		member, _ := acc.body["member"].(map[string]any)
		if member == nil || member["email"] != "dana@example.com" || member["role"] != "admin" {
			t.Fatalf("accept answered %v", acc.body)
		}
		if got := c.must(t, 0, http.StatusOK, "GET", invitations+"/"+id, nil); got.str("state") != "accepted" {
			t.Errorf("node 0 sees state %q after the accept on node 2", got.str("state"))
		}
		c.must(t, 1, http.StatusConflict, "POST", invitations+"/"+id+"/accept", map[string]any{"email": "dana@example.com", "name": "Dana"})
		c.must(t, 1, http.StatusConflict, "POST", invitations, map[string]any{"email": "dana@example.com"})
		m := c.must(t, 1, http.StatusOK, "GET", "/v1/organizations/"+org+"/members/"+member["id"].(string), nil)
		if m.str("email") != "dana@example.com" {
			t.Errorf("node 1 reads the member as %v", m.body)
		}
	})

	t.Run("kill -9 of one node under load", func(t *testing.T) {
		const workers, total, killAfter = 6, 240, 60
		victim := 2
		var (
			mu       sync.Mutex
			answered = map[string]string{} // id -> email, for every 201
			n        atomic.Int64
			ok       atomic.Int64
			killed   atomic.Bool
			survived atomic.Int64 // 201s from the other nodes after the kill
			killOnce sync.Once
		)
		kill := func() {
			killOnce.Do(func() {
				killed.Store(true)
				if err := c.nodes[victim].Cmd.Process.Kill(); err != nil {
					t.Errorf("kill: %v", err)
				}
			})
		}
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					i := int(n.Add(1) - 1)
					if i >= total {
						return
					}
					email := fmt.Sprintf("load%d@example.com", i)
					wasKilled := killed.Load()
					r, node, err := c.rr("POST", invitations, map[string]any{"email": email})
					if node == victim && (wasKilled || killed.Load()) {
						if err == nil && r.status == http.StatusCreated {
							mu.Lock()
							answered[r.str("id")] = email
							mu.Unlock()
						}
						continue // the dead node may answer anything or nothing
					}
					if err != nil || r.status != http.StatusCreated {
						t.Errorf("node %d: create %s = %v %v", node, email, r.status, err)
						continue
					}
					mu.Lock()
					answered[r.str("id")] = email
					mu.Unlock()
					if wasKilled {
						survived.Add(1)
					}
					if ok.Add(1) == killAfter {
						kill()
					}
				}
			})
		}
		wg.Wait()
		if !killed.Load() {
			t.Fatal("the load ended before the kill")
		}
		if survived.Load() == 0 {
			t.Error("no create succeeded on the other nodes after the kill")
		}
		c.nodes[victim].Cmd.Wait()
		for i := range c.nodes {
			if i == victim {
				continue
			}
			res, err := c.client.Get(c.nodes[i].URL + "/readyz")
			if err != nil || res.StatusCode != http.StatusOK {
				t.Errorf("node %d is not ready after the kill: %v", i, err)
			} else {
				res.Body.Close()
			}
		}
		t.Logf("%d creates answered 201, %d of them after the kill on the other nodes", len(answered), survived.Load())
		for id, email := range answered {
			r := c.must(t, int(c.next.Add(1))%2, http.StatusOK, "GET", invitations+"/"+id, nil)
			if r.str("email") != email || r.str("state") != "pending" {
				t.Errorf("invitation %s answered 201 for %s reads %v", id, email, r.body)
			}
		}
	})
}

func ids(r reply) []string {
	data, _ := r.body["data"].([]any)
	out := make([]string, 0, len(data))
	for _, d := range data {
		if m, ok := d.(map[string]any); ok {
			id, _ := m["id"].(string)
			out = append(out, id)
		}
	}
	return out
}
