package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/invitd/invitd/invite"
)

// benchWebhooks measures create in an organization with n endpoints on a
// local receiver (so that every create also queues n deliveries, which go
// out meanwhile) against create in one without, in rounds that alternate
// the two, each from an idle node (its mail and deliveries done): the
// machine's drift falls on both alike. Then it measures how fast a burst
// of 5,000 events reaches every endpoint.
func benchWebhooks(client *http.Client, urls []string, svc *invite.Service, n, rounds, conc int, d time.Duration, raw result, prefix string) error {
	var got atomic.Int64
	recv, stop, err := listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	if err != nil {
		return err
	}
	defer stop()
	orgPath := func(name string) (string, error) {
		var org struct{ ID string }
		err := do(client, "POST", urls[0]+"/v1/organizations", adminKey, map[string]any{"name": name, "settings": orgSettings}, 201, &org)
		return "/v1/organizations/" + org.ID, err
	}
	plainOrg, err := orgPath("Bench without webhooks")
	if err != nil {
		return err
	}
	hookedOrg, err := orgPath("Bench webhooks")
	if err != nil {
		return err
	}
	for i := range n {
		hook := map[string]any{"url": fmt.Sprintf("%s/hook/%d", recv, i)}
		if err := do(client, "POST", urls[0]+hookedOrg+"/webhooks", adminKey, hook, 201, nil); err != nil {
			return err
		}
	}
	creates := func(name, org, tag string) result {
		return load(name, conc, d, func(w, i int) error {
			return do(client, "POST", urls[i%len(urls)]+org+"/invitations", adminKey,
				map[string]any{"email": fmt.Sprintf("%s-%s%d@example.com", prefix, tag, i), "role": "member"}, 201, nil)
		})
	}
	// idle waits for the mail and the deliveries queued so far.
	var delivered int64
	idle := func(deliveries int) {
		delivered += int64(deliveries)
		for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if got.Load() >= delivered && due(context.Background(), svc, invite.JobSendInvitation) == 0 {
				return
			}
		}
	}
	fmt.Printf("\nwith %d webhook endpoint(s) on a local receiver, %d rounds:\n", n, rounds)
	var points []float64
	for r := range rounds {
		idle(0)
		plain := creates(fmt.Sprintf("(c) round %d: create, no endpoints", r+1), plainOrg, fmt.Sprintf("p%d-", r))
		idle(0)
		hooked := creates(fmt.Sprintf("(c) round %d: create, webhooks", r+1), hookedOrg, fmt.Sprintf("h%d-", r))
		idle(n * hooked.n)
		points = append(points, 100*(hooked.rps-plain.rps)/raw.rps)
		fmt.Printf("%-34s %9s  create / raw insert %.1f%% without endpoints, %.1f%% with (%+.1f points)\n", "", "",
			100*plain.rps/raw.rps, 100*hooked.rps/raw.rps, points[r])
	}
	// The burst: 5,000 creates without mail, one event each, every event to every endpoint.
	got.Store(0)
	const burst = 5000
	start := time.Now()
	load("(c) burst of 5,000 creates", conc, 10*time.Minute, func(w, i int) error {
		if i > burst {
			return errStop
		}
		return do(client, "POST", urls[i%len(urls)]+hookedOrg+"/invitations", adminKey,
			map[string]any{"email": fmt.Sprintf("%s-b%d@example.com", prefix, i), "role": "member", "send_email": false}, 201, nil)
	})
	// What is delivered after the creates is delivered alone: the CPU it
	// takes is what deliveries cost, receiver included.
	tailFrom, tailCPU := got.Load(), cpuTime()
	want := int64(burst * n)
	for deadline := time.Now().Add(10 * time.Minute); got.Load() < want && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	report("webhook_deliveries_per_s", float64(got.Load())/elapsed.Seconds())
	fmt.Printf("%-34s %9.0f deliveries/s  (%d of %d delivered in %s)\n", "(c) webhook deliveries of the burst",
		float64(got.Load())/elapsed.Seconds(), got.Load(), want, elapsed.Round(time.Millisecond))
	if tail := got.Load() - tailFrom; tail > 0 {
		fmt.Printf("%-34s %9s  cpu/delivery %s  (the %d delivered after the creates)\n", "", "",
			((cpuTime() - tailCPU) / time.Duration(tail)).Round(time.Microsecond), tail)
	}
	slices.Sort(points)
	fmt.Printf("\nratios (same run):\n")
	fmt.Printf("  create with webhooks against without  = %+5.1f points of raw insert (median of %d rounds; %+.1f to %+.1f)\n",
		points[len(points)/2], len(points), points[0], points[len(points)-1])
	return nil
}
