package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/invitd/invitd/invite"
)

// benchBulk times one bulk create of 1,000 rows against 1,000 single
// creates sent by one client and by conc, each in an organization of its
// own and from an idle node (the mail of the phase before sent), in
// rounds that alternate them.
func benchBulk(client *http.Client, url string, svc *invite.Service, rounds, conc int, prefix string) error {
	const n = 1000
	settings := map[string]any{"max_invitations_per_hour": invite.NoLimit, "max_requests_per_second": invite.NoLimit}
	newOrg := func() (string, error) {
		var org struct{ ID string }
		err := do(client, "POST", url+"/v1/organizations", adminKey, map[string]any{"name": "Bulk", "settings": settings}, 201, &org)
		return "/v1/organizations/" + org.ID + "/invitations", err
	}
	idle := func() {
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline) && due(context.Background(), svc, invite.JobSendInvitation) > 0; {
			time.Sleep(20 * time.Millisecond)
		}
	}
	email := func(phase string, round, i int) string {
		return fmt.Sprintf("%s-%s%d-%d@example.com", prefix, phase, round, i)
	}
	singles := func(phase string, round, clients int) (time.Duration, error) {
		path, err := newOrg()
		if err != nil {
			return 0, err
		}
		idle()
		var next atomic.Int64
		errs := make(chan error, clients)
		start := time.Now()
		for range clients {
			go func() {
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					if err := do(client, "POST", url+path, adminKey, map[string]any{"email": email(phase, round, i)}, 201, nil); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range clients {
			if e := <-errs; e != nil && err == nil {
				err = e
			}
		}
		return time.Since(start), err
	}
	fmt.Printf("\nbulk create of %d rows against %d single creates (%d rounds, each from an idle node):\n", n, n, rounds)
	var ratios1, ratiosC []float64
	for round := range rounds {
		one, err := singles("one", round, 1)
		if err != nil {
			return err
		}
		many, err := singles("many", round, conc)
		if err != nil {
			return err
		}
		path, err := newOrg()
		if err != nil {
			return err
		}
		idle()
		rows := make([]map[string]any, n)
		for i := range rows {
			rows[i] = map[string]any{"email": email("bulk", round, i)}
		}
		var answer struct{ Created int }
		start := time.Now()
		if err := do(client, "POST", url+path+"/bulk", adminKey, map[string]any{"invitations": rows}, 200, &answer); err != nil {
			return err
		}
		b := time.Since(start)
		if answer.Created != n {
			return fmt.Errorf("the bulk create made %d of %d", answer.Created, n)
		}
		ratios1, ratiosC = append(ratios1, float64(one)/float64(b)), append(ratiosC, float64(many)/float64(b))
		fmt.Printf("  round %d: bulk %8s; singles from 1 client %8s (%4.1fx), from %d clients %8s (%4.1fx)\n", round+1,
			b.Round(time.Millisecond), one.Round(time.Millisecond), ratios1[round], conc, many.Round(time.Millisecond), ratiosC[round])
	}
	slices.Sort(ratios1)
	slices.Sort(ratiosC)
	fmt.Printf("  bulk / single creates: %.1fx quicker than from 1 client, %.1fx than from %d clients (medians)\n",
		ratios1[len(ratios1)/2], ratiosC[len(ratiosC)/2], conc)
	return nil
}
