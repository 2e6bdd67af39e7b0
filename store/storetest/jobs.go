package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
)

// ---- the generic outbox: keys, kinds, leases and results

// kind is a job kind no other test uses.
func (e *env) kind() string { return fmt.Sprintf("kind%d", e.seq.Add(1)) }

func (e *env) enqueue(t *testing.T, jobs ...*invite.Job) {
	t.Helper()
	e.write(t, func(tx invite.Tx) error {
		for _, j := range jobs {
			if err := tx.EnqueueJob(sys(t), j); err != nil {
				return err
			}
		}
		return nil
	})
}

// claimAt claims as the store is asked to, at now for lease.
func (e *env) claimAt(t *testing.T, worker string, kinds []string, now time.Time, lease time.Duration, limit int) []*invite.Job {
	t.Helper()
	var jobs []*invite.Job
	e.write(t, func(tx invite.Tx) error {
		var err error
		jobs, err = tx.ClaimJobs(sys(t), worker, kinds, now, now.Add(lease), limit)
		return err
	})
	return jobs
}

// queuedDelivery stores an endpoint named name with one delivery and its queued job.
func (e *env) queuedDelivery(t *testing.T, name string) (*invite.Webhook, *invite.Delivery) {
	t.Helper()
	ctx := sys(t)
	o := e.org(t, nil)
	w := e.newWebhook(o.ID, name)
	d := e.newDelivery(w, "evt_"+name)
	now := e.now()
	j := &invite.Job{Kind: invite.JobWebhookDelivery, Key: "webhook:" + w.ID + ":" + d.EventID, OrgID: &o.ID,
		Args: json.RawMessage(`{"webhook_id":"` + w.ID + `","event_id":"` + d.EventID + `"}`), RunAt: now, CreatedAt: now}
	e.write(t, func(tx invite.Tx) error {
		if err := tx.CreateWebhook(ctx, w); err != nil {
			return err
		}
		if err := tx.CreateDelivery(ctx, d); err != nil {
			return err
		}
		return tx.EnqueueJob(ctx, j)
	})
	return w, d
}

func jobIDs(jobs []*invite.Job) []int64 {
	out := make([]int64, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

func testJobs(t *testing.T, e *env) {
	const lease = 30 * time.Second

	t.Run("a key keeps one job at the earlier time", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		kind, now := e.kind(), e.now()
		key := "once:" + kind
		first := &invite.Job{Kind: kind, Key: key, OrgID: &o.ID, Args: json.RawMessage(`{"n":1}`), RunAt: now.Add(2 * time.Hour), CreatedAt: now}
		e.enqueue(t, first)
		if first.ID == 0 {
			t.Fatal("EnqueueJob set no id")
		}
		earlier := &invite.Job{Kind: kind, Key: key, OrgID: &o.ID, Args: json.RawMessage(`{"n":2}`), RunAt: now.Add(time.Hour), CreatedAt: now}
		later := &invite.Job{Kind: kind, Key: key, OrgID: &o.ID, Args: json.RawMessage(`{"n":3}`), RunAt: now.Add(3 * time.Hour), CreatedAt: now}
		e.enqueue(t, earlier)
		e.enqueue(t, later)
		// Twice in one transaction, too.
		e.enqueue(t, &invite.Job{Kind: kind, Key: key, Args: json.RawMessage(`{"n":4}`), RunAt: now.Add(50 * time.Minute), CreatedAt: now},
			&invite.Job{Kind: kind, Key: key, Args: json.RawMessage(`{"n":5}`), RunAt: now.Add(40 * time.Minute), CreatedAt: now})
		for _, j := range []*invite.Job{earlier, later} {
			if j.ID != 0 && j.ID != first.ID {
				t.Errorf("a job that met a queued key has id %d; want 0 or the queued job's %d", j.ID, first.ID)
			}
		}
		other := &invite.Job{Kind: kind, Key: key + ":other", Args: json.RawMessage(`{}`), RunAt: now.Add(3 * time.Hour), CreatedAt: now}
		e.enqueue(t, other)
		if other.ID == 0 || other.ID == first.ID {
			t.Errorf("a job with another key has id %d", other.ID)
		}
		if s := e.stats(t)[kind]; s.Scheduled != 2 || s.Due != 0 {
			t.Fatalf("stats of the kind %+v, want 2 scheduled", s)
		}
		if got := e.claimAt(t, "w", []string{kind}, now.Add(40*time.Minute-time.Microsecond), lease, 10); len(got) != 0 {
			t.Fatalf("claimed %d jobs before the earliest time asked", len(got))
		}
		got := e.claimAt(t, "w", []string{kind}, now.Add(40*time.Minute), lease, 10)
		if len(got) != 1 || got[0].ID != first.ID || got[0].Key != key || got[0].OrgID == nil || *got[0].OrgID != o.ID {
			t.Fatalf("claimed %+v, want the first job", got)
		}
		wantTime(t, "the kept job's run_at", got[0].RunAt, now.Add(40*time.Minute))
		wantJSON(t, "the kept job's args", got[0].Args, `{"n":1}`)
		// Once the job is gone its key is free.
		e.write(t, func(tx invite.Tx) error { return tx.DeleteJob(ctx, got[0].ID, "w") })
		again := &invite.Job{Kind: kind, Key: key, Args: json.RawMessage(`{"n":6}`), RunAt: now, CreatedAt: now}
		e.enqueue(t, again)
		if again.ID == 0 || again.ID == first.ID {
			t.Errorf("a job whose key is free again has id %d", again.ID)
		}
		if s := e.stats(t)[kind]; s.Scheduled+s.Due != 2 {
			t.Errorf("stats of the kind %+v, want 2 jobs", s)
		}
	})

	t.Run("claims only the kinds asked, in run_at order", func(t *testing.T) {
		a, b, c := e.kind(), e.kind(), e.kind()
		now := e.now()
		job := func(kind string, at time.Duration) *invite.Job {
			return &invite.Job{Kind: kind, Args: json.RawMessage(`{}`), RunAt: now.Add(at), CreatedAt: now}
		}
		a1, a2, a3, b1 := job(a, 0), job(a, -2*time.Second), job(a, -time.Second), job(b, -3*time.Second)
		e.enqueue(t, a1, a2, a3, b1)
		if got := e.claimAt(t, "w0", nil, now, lease, 10); len(got) != 0 {
			t.Errorf("claimed %d jobs of no kind", len(got))
		}
		if got := e.claimAt(t, "w0", []string{c}, now, lease, 10); len(got) != 0 {
			t.Errorf("claimed %d jobs of a kind with none", len(got))
		}
		got := e.claimAt(t, "w1", []string{a}, now, lease, 2)
		if !slices.Equal(jobIDs(got), []int64{a2.ID, a3.ID}) {
			t.Errorf("claimed %v with limit 2, want %v", jobIDs(got), []int64{a2.ID, a3.ID})
		}
		got = e.claimAt(t, "w2", []string{b, c, a}, now, lease, 10)
		if !slices.Equal(jobIDs(got), []int64{b1.ID, a1.ID}) {
			t.Errorf("claimed %v of three kinds, want %v", jobIDs(got), []int64{b1.ID, a1.ID})
		}
		for _, j := range got {
			if j.LockedBy != "w2" || j.Attempts != 1 || j.LockedUntil == nil || !j.LockedUntil.Equal(now.Add(lease)) {
				t.Errorf("claimed job %+v", j)
			}
		}
	})

	t.Run("a lease holds until it ends", func(t *testing.T) {
		kind, now := e.kind(), e.now()
		j := &invite.Job{Kind: kind, Args: json.RawMessage(`{}`), RunAt: now, CreatedAt: now}
		e.enqueue(t, j)
		if got := e.claimAt(t, "w1", []string{kind}, now, lease, 10); len(got) != 1 || got[0].Attempts != 1 {
			t.Fatalf("w1 claimed %+v", got)
		}
		if got := e.claimAt(t, "w2", []string{kind}, now.Add(lease-time.Microsecond), lease, 10); len(got) != 0 {
			t.Fatalf("w2 claimed %d jobs while w1's lease holds", len(got))
		}
		got := e.claimAt(t, "w2", []string{kind}, now.Add(lease), lease, 10)
		if len(got) != 1 || got[0].ID != j.ID || got[0].Attempts != 2 || got[0].LockedBy != "w2" {
			t.Fatalf("w2 claimed %+v once the lease ended", got)
		}
		// w1 lost it.
		err := e.store.Write(sys(t), func(tx invite.Tx) error { return tx.DeleteJob(sys(t), j.ID, "w1") })
		if !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("w1 deleting w2's job: %v, want ErrNotFound", err)
		}
		err = e.store.Write(sys(t), func(tx invite.Tx) error { return tx.RescheduleJob(sys(t), j.ID, "w1", now, 1, "x") })
		if !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("w1 rescheduling w2's job: %v, want ErrNotFound", err)
		}
	})

	t.Run("RescheduleJob sets attempts and frees the lease", func(t *testing.T) {
		ctx := sys(t)
		kind, now := e.kind(), e.now()
		j := &invite.Job{Kind: kind, Args: json.RawMessage(`{}`), RunAt: now, CreatedAt: now}
		e.enqueue(t, j)
		e.claimAt(t, "w1", []string{kind}, now, time.Hour, 10)
		e.write(t, func(tx invite.Tx) error {
			return tx.RescheduleJob(ctx, j.ID, "w1", now.Add(time.Minute), 5, "421 later")
		})
		if got := e.claimAt(t, "w2", []string{kind}, now.Add(time.Minute-time.Microsecond), lease, 10); len(got) != 0 {
			t.Fatalf("claimed %d jobs before their new run_at", len(got))
		}
		// Well within w1's hour: the lease was freed.
		got := e.claimAt(t, "w2", []string{kind}, now.Add(time.Minute), lease, 10)
		if len(got) != 1 || got[0].Attempts != 6 || got[0].LastError != "421 later" || got[0].LockedBy != "w2" {
			t.Fatalf("claimed %+v after the reschedule", got)
		}
		wantTime(t, "run_at", got[0].RunAt, now.Add(time.Minute))
		// Attempts may go down too (periodic work starts over).
		e.write(t, func(tx invite.Tx) error { return tx.RescheduleJob(ctx, j.ID, "w2", now.Add(time.Minute), 0, "") })
		got = e.claimAt(t, "w3", []string{kind}, now.Add(time.Minute), lease, 10)
		if len(got) != 1 || got[0].Attempts != 1 || got[0].LastError != "" {
			t.Fatalf("claimed %+v after a reschedule to 0 attempts", got)
		}
	})

	t.Run("JobStats", func(t *testing.T) {
		ctx := sys(t)
		e.drain(t)
		now := e.now()
		job := func(kind string, at time.Duration) *invite.Job {
			return &invite.Job{Kind: kind, Args: json.RawMessage(`{}`), RunAt: now.Add(at), CreatedAt: now}
		}
		e.enqueue(t, job("x", -time.Minute), job("x", 0), job("x", time.Minute), job("w", time.Hour), job("y", -time.Hour))
		e.claimAt(t, "w", []string{"y"}, now, lease, 10) // a leased job is still queued
		var st []invite.JobStat
		e.store.Read(ctx, func(tx invite.Tx) error {
			var err error
			st, err = tx.JobStats(ctx, now)
			return err
		})
		want := []invite.JobStat{{Kind: "w", Scheduled: 1}, {Kind: "x", Due: 2, Scheduled: 1}, {Kind: "y", Due: 1}}
		if len(st) != len(want) {
			t.Fatalf("JobStats %+v, want %+v", st, want)
		}
		for i, s := range st {
			if s.Kind != want[i].Kind || s.Due != want[i].Due || s.Scheduled != want[i].Scheduled {
				t.Errorf("JobStats[%d] = %+v, want %+v", i, s, want[i])
			}
		}
		if st[0].OldestDue != nil {
			t.Errorf("oldest due of a kind with none due: %v", st[0].OldestDue)
		}
		wantTimePtr(t, "oldest due x", st[1].OldestDue, now.Add(-time.Minute))
		wantTimePtr(t, "oldest due y", st[2].OldestDue, now.Add(-time.Hour))
		// The service counts as of its clock.
		e.clock.Advance(time.Minute)
		if s := e.stats(t)["x"]; s.Due != 3 || s.Scheduled != 0 {
			t.Errorf("x a minute later: %+v", s)
		}
		e.drain(t)
	})

	t.Run("DeleteOrg drops the org's jobs", func(t *testing.T) {
		ctx := sys(t)
		gone, kept := e.org(t, nil), e.org(t, nil)
		kind, now := e.kind(), e.now()
		g := &invite.Job{Kind: kind, Key: "gone:" + kind, OrgID: &gone.ID, Args: json.RawMessage(`{}`), RunAt: now, CreatedAt: now}
		k := &invite.Job{Kind: kind, OrgID: &kept.ID, Args: json.RawMessage(`{}`), RunAt: now, CreatedAt: now}
		global := &invite.Job{Kind: kind, Args: json.RawMessage(`{}`), RunAt: now, CreatedAt: now}
		e.enqueue(t, g, k, global)
		e.write(t, func(tx invite.Tx) error { return tx.DeleteOrg(ctx, gone.ID) })
		got := e.claimAt(t, "w", []string{kind}, now, lease, 10)
		if ids := jobIDs(got); len(ids) != 2 || !slices.Contains(ids, k.ID) || !slices.Contains(ids, global.ID) {
			t.Errorf("jobs after deleting an org: %v, want %d and %d", ids, k.ID, global.ID)
		}
		// Its key went with it.
		again := &invite.Job{Kind: kind, Key: g.Key, Args: json.RawMessage(`{}`), RunAt: now, CreatedAt: now}
		e.enqueue(t, again)
		if again.ID == 0 {
			t.Error("the key of a deleted org's job is still taken")
		}
	})

	t.Run("every invitation queues its expiry", func(t *testing.T) {
		o := e.org(t, nil)
		kinds := []string{invite.JobExpireInvitation}
		inv := e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 3600, NoEmail: true}).Invitation
		expiries := e.queued(t, invite.JobExpireInvitation)
		// A resend moves the expiry later; the job queued stays, at the earlier time.
		e.clock.Advance(invite.ResendInterval)
		if _, err := e.svc.ResendInvitation(sys(t), o.ID, ref(inv.ID)); err != nil {
			t.Fatal(err)
		}
		if n := e.queued(t, invite.JobExpireInvitation); n != expiries {
			t.Errorf("%d expiry jobs after a resend, were %d", n, expiries)
		}
		var mine *invite.Job
		for _, j := range e.claimAt(t, "w", kinds, inv.ExpiresAt, lease, 10000) {
			var a invite.ExpiryArgs
			if err := json.Unmarshal(j.Args, &a); err != nil {
				t.Fatalf("expiry args %s: %v", j.Args, err)
			}
			if a.InvitationID == inv.ID.String() {
				if mine != nil {
					t.Fatalf("two expiry jobs for one invitation: %+v and %+v", mine, j)
				}
				mine = j
			}
		}
		if mine == nil {
			t.Fatal("no expiry job due at the invitation's first expiry")
		}
		if mine.Key != "expire:"+inv.ID.String() || mine.OrgID == nil || *mine.OrgID != o.ID {
			t.Errorf("expiry job %+v", mine)
		}
		wantTime(t, "the expiry job's run_at", mine.RunAt, inv.ExpiresAt)
	})

	t.Run("SettleJob", func(t *testing.T) {
		ctx := sys(t)
		w, d := e.queuedDelivery(t, "settle")
		kinds := []string{invite.JobWebhookDelivery}
		first, err := e.svc.ClaimJobs(ctx, "w1", kinds, 10, lease)
		if err != nil || len(first) != 1 {
			t.Fatalf("w1 claimed %+v, %v", first, err)
		}
		e.clock.Advance(lease)
		second, err := e.svc.ClaimJobs(ctx, "w2", kinds, 10, lease)
		if err != nil || len(second) != 1 || second[0].Attempts != 2 {
			t.Fatalf("w2 claimed %+v, %v", second, err)
		}
		// w1's lease is lost: each result is refused, and nothing of it is recorded.
		for _, r := range []invite.JobResult{
			{Outcome: invite.Succeeded, Status: 200, Duration: time.Millisecond},
			{Outcome: invite.Retrying, RunAt: e.now().Add(time.Minute), Error: "timeout"},
			{Outcome: invite.Failed, Status: 410, Error: "gone"},
			{Outcome: invite.Rescheduled, RunAt: e.now().Add(time.Minute)},
			{Outcome: invite.Void},
		} {
			if err := e.svc.SettleJob(ctx, first[0], r); !errors.Is(err, invite.ErrNotFound) {
				t.Errorf("settling a lost job with outcome %d: %v, want ErrNotFound", r.Outcome, err)
			}
		}
		readDelivery := func() *invite.Delivery {
			t.Helper()
			var got *invite.Delivery
			err := e.store.Read(ctx, func(tx invite.Tx) error {
				var err error
				got, err = tx.GetDelivery(ctx, w.ID, d.EventID)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		wantDelivery(t, "after a lost job's results", readDelivery(), d)

		// w2 holds it: a retry reschedules the job and records the attempt.
		retryAt := e.now().Add(time.Minute)
		e.settle(t, second[0], invite.JobResult{Outcome: invite.Retrying, RunAt: retryAt, Error: "503 Service Unavailable",
			Status: 503, Duration: 1500 * time.Millisecond})
		now := e.now()
		want := *d
		want.State, want.Attempts, want.StatusCode, want.Duration, want.Error = invite.DeliveryRetrying, 2, 503, 1500*time.Millisecond, "503 Service Unavailable"
		want.AttemptedAt, want.NextAttemptAt = &now, &retryAt
		wantDelivery(t, "after a retry", readDelivery(), &want)
		if got, _ := e.svc.ClaimJobs(ctx, "w3", kinds, 10, lease); len(got) != 0 {
			t.Fatalf("claimed %d jobs before the retry time", len(got))
		}
		e.clock.Advance(time.Minute)
		third, err := e.svc.ClaimJobs(ctx, "w3", kinds, 10, lease)
		if err != nil || len(third) != 1 || third[0].Attempts != 3 || third[0].LastError != "503 Service Unavailable" {
			t.Fatalf("w3 claimed %+v, %v", third, err)
		}
		// Rescheduled: the job waits with the attempts given, and nothing is recorded.
		e.settle(t, third[0], invite.JobResult{Outcome: invite.Rescheduled, RunAt: e.now(), Attempts: 2})
		wantDelivery(t, "after a reschedule", readDelivery(), &want)
		fourth, err := e.svc.ClaimJobs(ctx, "w4", kinds, 10, lease)
		if err != nil || len(fourth) != 1 || fourth[0].Attempts != 3 {
			t.Fatalf("w4 claimed %+v, %v", fourth, err)
		}
		e.clock.Advance(time.Second)
		e.settle(t, fourth[0], invite.JobResult{Outcome: invite.Succeeded, Status: 204, Duration: 20 * time.Millisecond})
		now = e.now()
		want.State, want.Attempts, want.StatusCode, want.Duration, want.Error = invite.DeliverySucceeded, 3, 204, 20*time.Millisecond, ""
		want.AttemptedAt, want.NextAttemptAt = &now, nil
		wantDelivery(t, "after a success", readDelivery(), &want)
		if n := e.queued(t, invite.JobWebhookDelivery); n != 0 {
			t.Errorf("%d delivery jobs after the success", n)
		}
		if err := e.svc.SettleJob(ctx, fourth[0], invite.JobResult{Outcome: invite.Succeeded}); !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("settling a job twice: %v, want ErrNotFound", err)
		}
	})

	t.Run("a retry asked during a failing attempt is not lost to the backoff", func(t *testing.T) {
		ctx := sys(t)
		w, d := e.queuedDelivery(t, "asked")
		kinds := []string{invite.JobWebhookDelivery}
		claimed, err := e.svc.ClaimJobs(ctx, "w1", kinds, 10, lease)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claimed %+v, %v", claimed, err)
		}
		e.clock.Advance(time.Second) // the attempt is under way
		asked := e.now()
		if _, err := e.svc.RetryDelivery(ctx, w.OrgID, w.ID, d.EventID); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
		e.settle(t, claimed[0], invite.JobResult{Outcome: invite.Retrying, RunAt: e.now().Add(time.Hour), Error: "503", Status: 503})
		var got *invite.Delivery
		e.store.Read(ctx, func(tx invite.Tx) error {
			got, err = tx.GetDelivery(ctx, w.ID, d.EventID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.State != invite.DeliveryRetrying || got.NextAttemptAt == nil || !got.NextAttemptAt.Equal(asked) {
			t.Errorf("after a failed attempt with a retry asked during it: %s, next attempt %v, want retrying at %v", got.State, got.NextAttemptAt, asked)
		}
		again, err := e.svc.ClaimJobs(ctx, "w2", kinds, 10, lease)
		if err != nil || len(again) != 1 {
			t.Fatalf("the job is not due again at once: claimed %+v, %v", again, err)
		}
		// The same when the attempt was the last of the schedule: one more.
		e.clock.Advance(time.Second)
		asked = e.now()
		if _, err := e.svc.RetryDelivery(ctx, w.OrgID, w.ID, d.EventID); err != nil {
			t.Fatal(err)
		}
		e.settle(t, again[0], invite.JobResult{Outcome: invite.Failed, Error: "503", Status: 503})
		e.store.Read(ctx, func(tx invite.Tx) error {
			got, err = tx.GetDelivery(ctx, w.ID, d.EventID)
			return err
		})
		if got.State != invite.DeliveryRetrying || got.NextAttemptAt == nil || !got.NextAttemptAt.Equal(asked) {
			t.Errorf("after a last attempt with a retry asked during it: %s, next attempt %v, want retrying at %v", got.State, got.NextAttemptAt, asked)
		}
		last, err := e.svc.ClaimJobs(ctx, "w3", kinds, 10, lease)
		if err != nil || len(last) != 1 {
			t.Fatalf("the retry asked during the last attempt was dropped: claimed %+v, %v", last, err)
		}
		e.settle(t, last[0], invite.JobResult{Outcome: invite.Succeeded, Status: 200})
	})

	t.Run("a voided delivery is recorded as failed unsent", func(t *testing.T) {
		ctx := sys(t)
		w, d := e.queuedDelivery(t, "void")
		got, err := e.svc.ClaimJobs(ctx, "w1", []string{invite.JobWebhookDelivery}, 10, lease)
		if err != nil || len(got) != 1 {
			t.Fatalf("claimed %+v, %v", got, err)
		}
		e.settle(t, got[0], invite.JobResult{Outcome: invite.Void, Error: "the endpoint is disabled"})
		var after *invite.Delivery
		err = e.store.Read(ctx, func(tx invite.Tx) error {
			var err error
			after, err = tx.GetDelivery(ctx, w.ID, d.EventID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		want := *d
		want.State, want.Error, want.NextAttemptAt = invite.DeliveryFailed, "not sent: the endpoint is disabled", nil
		wantDelivery(t, "after a void", after, &want)
		if n := e.queued(t, invite.JobWebhookDelivery); n != 0 {
			t.Errorf("%d delivery jobs after the void", n)
		}
	})

	t.Run("EnsureJob runs one job per key", func(t *testing.T) {
		kind := e.kind()
		for range 3 {
			if err := e.svc.EnsureJob(sys(t), &invite.Job{Kind: kind, Key: "periodic:" + kind, Args: json.RawMessage(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
		if s := e.stats(t)[kind]; s.Due != 1 || s.Scheduled != 0 {
			t.Errorf("after ensuring a job three times: %+v, want 1 due", s)
		}
	})
}
