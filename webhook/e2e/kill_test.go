package e2e_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invitd/invitd/internal/testnode"
	"github.com/invitd/invitd/invite"
)

// Two invitd processes on one PostgreSQL deliver a burst to two endpoints;
// one is killed with SIGKILL while deliveries are under way. Every event in
// the log still reaches every endpoint, and an event delivered twice comes
// with the same webhook-id and body.
func TestKill9DuringABurstOfDeliveries(t *testing.T) {
	db := testnode.PostgresDB(t)
	testnode.Binary(t) // built before the clock of the test starts
	slow := func(_ int, r *http.Request) int {
		select { // a receiver with some latency, so that deliveries are under way at the kill
		case <-time.After(20 * time.Millisecond):
		case <-r.Context().Done():
		}
		return http.StatusOK
	}
	receivers := []*receiver{newReceiver(t, slow), newReceiver(t, slow)}
	env := []string{"INVITD_DB=" + db, "INVITD_LOG_LEVEL=warn",
		"INVITD_WEBHOOK_ALLOW_NETWORKS=127.0.0.0/8", "INVITD_JOB_LEASE=2s", "INVITD_JOB_POLL=50ms",
		"INVITD_WEBHOOK_TIMEOUT=2s", "INVITD_WEBHOOK_RETRY_SCHEDULE=100ms,200ms,400ms,800ms,1s",
		// The burst is faster than one key's requests are let through.
		"INVITD_KEY_RATE=100000", "INVITD_KEY_BURST=100000"}
	procs := []*testnode.Node{testnode.StartReady(t, env...)} // migrates first
	procs = append(procs, testnode.StartReady(t, env...))
	nodes := []*node{processNode(procs[0]), processNode(procs[1])}
	const live, victim = 0, 1

	org := nodes[live].createOrg(t)
	base := "/v1/organizations/" + org
	var hooks []hook
	for _, rc := range receivers {
		hooks = append(hooks, nodes[live].createWebhook(t, org, rc.URL, "*"))
	}

	const total, workers, killAfter = 200, 8, 80
	var (
		mu         sync.Mutex
		answered   = map[string]bool{} // invitations answered 201
		next       atomic.Int64
		created    atomic.Int64
		killed     atomic.Bool
		beforeKill int
		crowded    bool // a receiver had the victim's request open at the kill
		wg         sync.WaitGroup
	)
	// Once the burst is under way, the victim is killed when a receiver has
	// more requests open than one node sends it at once (4): one of them is
	// the victim's.
	half := make(chan struct{})
	wg.Go(func() {
		<-half
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Microsecond) {
			if receivers[0].open.Load() > 4 || receivers[1].open.Load() > 4 {
				crowded = true
				break
			}
		}
		killed.Store(true) // first: a create that the kill breaks must see it
		procs[victim].Cmd.Process.Kill()
		for _, rc := range receivers {
			beforeKill += len(rc.requests())
		}
		procs[victim].Cmd.Wait()
	})
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				at := i % 2
				if killed.Load() {
					at = live
				}
				var inv invitation
				status, b, err := nodes[at].call("", "POST", base+"/invitations", obj{"email": fmt.Sprintf("burst%03d@example.com", i)}, &inv)
				if at == victim && killed.Load() {
					if err == nil && status == http.StatusCreated {
						mu.Lock()
						answered[inv.ID] = true
						mu.Unlock()
					}
					continue // the dead node may answer anything or nothing
				}
				if err != nil || status != http.StatusCreated {
					t.Errorf("node %d: create %d = %d %s %v", at, i, status, b, err)
					continue
				}
				mu.Lock()
				answered[inv.ID] = true
				mu.Unlock()
				if created.Add(1) == killAfter {
					close(half)
				}
			}
		})
	}
	wg.Wait()
	if !killed.Load() {
		t.Fatal("the burst ended before the kill")
	}
	killedAt := time.Now()

	// The log is complete once the dead node's leased mail jobs have run
	// elsewhere; wait until it stops growing and everything in it arrived.
	var log []event
	deadline := time.Now().Add(30 * time.Second)
	for stable := 0; stable < 3; time.Sleep(300 * time.Millisecond) {
		if time.Now().After(deadline) {
			for i, rc := range receivers {
				t.Logf("endpoint %d misses %d of %d events", i, len(missing(answeredRequests(rc), ids(log))), len(log))
			}
			t.Fatal("the events did not all arrive within 30s of the burst")
		}
		l := nodes[live].events(t, org, "")
		done := len(l) == len(log)
		for _, rc := range receivers {
			done = done && len(missing(answeredRequests(rc), ids(l))) == 0
		}
		if log = l; done {
			stable++
		} else {
			stable = 0
		}
	}
	t.Logf("all %d events reached both endpoints %v after the burst", len(log), time.Since(killedAt).Round(100*time.Millisecond))

	types := map[string]int{}
	created2 := map[string]bool{}
	for _, e := range log {
		types[e.Type]++
		if e.Type == invite.EventInvitationCreated {
			created2[e.dataID()] = true
		}
	}
	for id := range answered {
		if !created2[id] {
			t.Errorf("invitation %s was answered 201 but has no invitation.created event", id)
		}
	}
	if types[invite.EventInvitationSent] != types[invite.EventInvitationCreated] {
		t.Errorf("%d invitation.sent events for %d invitations", types[invite.EventInvitationSent], types[invite.EventInvitationCreated])
	}

	cut, dups := 0, 0
	for i, rc := range receivers {
		for id, reqs := range rc.byID() {
			for _, r := range reqs {
				if r.Cut {
					cut++
				}
				if err := verify(r, hooks[i].Secret); err != nil {
					t.Errorf("endpoint %d: delivery of %s: %v", i, id, err)
				}
				decode(t, r) // its event id is its webhook-id
				if !bytes.Equal(r.Body, reqs[0].Body) {
					t.Errorf("endpoint %d: event %s came with two bodies:\n%s\n%s", i, id, reqs[0].Body, r.Body)
				}
			}
			dups += len(reqs) - 1
		}
	}
	t.Logf("%d creates answered, %d events (%v); %d requests before the kill (one of the victim's open: %v), %d cut by it, %d duplicates",
		len(answered), len(log), types, beforeKill, crowded, cut, dups)
	// A duplicate is a delivery the victim made and could not record: with
	// receivers that always answer, only the kill makes one.
	if cut+dups == 0 {
		t.Error("the kill met no delivery under way; the test proves less than it says")
	}
}

// answeredRequests are the requests whose sender saw the answer.
func answeredRequests(rc *receiver) []*request {
	var out []*request
	for _, r := range rc.requests() {
		if !r.Cut && r.Status < 300 {
			out = append(out, r)
		}
	}
	return out
}
