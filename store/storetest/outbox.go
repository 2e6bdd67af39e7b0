package storetest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/invite"
)

// ---- the outbox

func testOutbox(t *testing.T, e *env) {
	const lease = 30 * time.Second
	o := e.org(t, nil)
	// drain empties the outbox so that each test can count exactly.
	drain := func(t *testing.T) {
		t.Helper()
		e.clock.Advance(time.Hour)
		for _, j := range e.claimAll(t, lease) {
			if err := e.svc.JobDone(t.Context(), j); err != nil {
				t.Fatal(err)
			}
		}
		if n := e.depth(t); n != 0 {
			t.Fatalf("outbox depth %d after draining", n)
		}
	}

	t.Run("stats", func(t *testing.T) {
		ctx := t.Context()
		n, age, err := e.svc.OutboxStats(ctx)
		if err != nil || n != 0 || age != 0 {
			t.Fatalf("empty outbox: %d, %v, %v", n, age, err)
		}
		e.store.Read(ctx, func(tx invite.Tx) error {
			if _, oldest, err := tx.OutboxStats(ctx); err != nil || oldest != nil {
				t.Errorf("empty outbox's oldest job: %v, %v", oldest, err)
			}
			return nil
		})
		e.invite(t, o.ID, invite.CreateInvitation{})
		e.clock.Advance(10 * time.Second)
		e.invite(t, o.ID, invite.CreateInvitation{})
		e.invite(t, o.ID, invite.CreateInvitation{NoEmail: true})
		e.clock.Advance(5 * time.Second)
		n, age, err = e.svc.OutboxStats(ctx)
		if err != nil || n != 2 || age != 15*time.Second {
			t.Errorf("outbox: %d jobs, oldest %v old, %v; want 2 and 15s", n, age, err)
		}
		drain(t)
	})

	t.Run("claim and lease", func(t *testing.T) {
		ctx := t.Context()
		inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		jobs, err := e.svc.ClaimJobs(ctx, "w1", 10, lease)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) != 1 {
			t.Fatalf("w1 claimed %d jobs, want 1", len(jobs))
		}
		j := jobs[0]
		if j.Kind != invite.JobSendInvitation || j.InvitationID != inv.ID || j.Attempts != 1 || j.LockedBy != "w1" || j.ID == 0 {
			t.Errorf("claimed job %+v", j)
		}
		wantTimePtr(t, "locked_until", j.LockedUntil, e.now().Add(lease))
		wantTime(t, "created_at", j.CreatedAt, inv.CreatedAt)
		m, err := e.svc.MailFor(ctx, j)
		if err != nil {
			t.Fatal(err)
		}
		if m.Invitation.ID != inv.ID || m.Organization.ID != o.ID || m.Token == "" {
			t.Errorf("mail %+v", m)
		}
		if v, err := e.svc.GetByToken(ctx, m.Token); err != nil || v.Invitation.ID != inv.ID {
			t.Errorf("the mailed token: %v", err)
		}

		if again, _ := e.svc.ClaimJobs(ctx, "w2", 10, lease); len(again) != 0 {
			t.Fatalf("w2 claimed %d jobs while w1's lease holds", len(again))
		}
		e.clock.Advance(lease - time.Second)
		if again, _ := e.svc.ClaimJobs(ctx, "w2", 10, lease); len(again) != 0 {
			t.Fatalf("w2 claimed %d jobs a second before the lease ran out", len(again))
		}
		e.clock.Advance(time.Second)
		again, err := e.svc.ClaimJobs(ctx, "w2", 10, lease)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != 1 || again[0].ID != j.ID || again[0].Attempts != 2 || again[0].LockedBy != "w2" {
			t.Fatalf("after the lease ran out w2 claimed %+v", again)
		}
		// w1 lost the job.
		if err := e.svc.JobDone(ctx, j); !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("w1 deleting w2's job: %v, want ErrNotFound", err)
		}
		if err := e.svc.JobRetry(ctx, j, e.now(), "x"); !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("w1 rescheduling w2's job: %v, want ErrNotFound", err)
		}
		if err := e.svc.JobFailed(ctx, j, "x"); !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("w1 failing w2's job: %v, want ErrNotFound", err)
		}
		if s := e.get(t, o.ID, inv.ID).State; s != invite.StatePending {
			t.Errorf("a lost job's failure moved the invitation to %s", s)
		}

		// w2 fails once and reschedules.
		retryAt := e.now().Add(time.Minute)
		if err := e.svc.JobRetry(ctx, again[0], retryAt, "421 try later"); err != nil {
			t.Fatal(err)
		}
		if n := e.depth(t); n != 1 {
			t.Errorf("depth %d after a retry", n)
		}
		if got, _ := e.svc.ClaimJobs(ctx, "w3", 10, lease); len(got) != 0 {
			t.Fatalf("claimed %d jobs before their run_at", len(got))
		}
		e.clock.Advance(time.Minute)
		third, err := e.svc.ClaimJobs(ctx, "w3", 10, lease)
		if err != nil {
			t.Fatal(err)
		}
		if len(third) != 1 || third[0].ID != j.ID || third[0].Attempts != 3 || third[0].LastError != "421 try later" {
			t.Fatalf("after the retry time w3 claimed %+v", third)
		}
		wantTime(t, "run_at", third[0].RunAt, retryAt)
		if err := e.svc.JobDone(ctx, third[0]); err != nil {
			t.Fatal(err)
		}
		if n := e.depth(t); n != 0 {
			t.Errorf("depth %d after the job was done", n)
		}
		if err := e.svc.JobDone(ctx, third[0]); !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("deleting a job twice: %v", err)
		}
		drain(t)
	})

	t.Run("limit and concurrent claims", func(t *testing.T) {
		ctx := t.Context()
		const n = 20
		want := map[uuid.UUID]bool{}
		for range n {
			want[e.invite(t, o.ID, invite.CreateInvitation{}).Invitation.ID] = true
		}
		two, err := e.svc.ClaimJobs(ctx, "first", 2, lease)
		if err != nil || len(two) != 2 {
			t.Fatalf("claim with limit 2: %d jobs, %v", len(two), err)
		}
		var mu sync.Mutex
		claimed := map[int64]string{}
		for _, j := range two {
			claimed[j.ID] = j.LockedBy
		}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				worker := fmt.Sprintf("c%d", w)
				for {
					jobs, err := e.svc.ClaimJobs(ctx, worker, 3, lease)
					if err != nil {
						t.Error(err)
						return
					}
					if len(jobs) == 0 {
						return
					}
					mu.Lock()
					for _, j := range jobs {
						if by, ok := claimed[j.ID]; ok {
							t.Errorf("job %d claimed by %s and %s", j.ID, by, worker)
						}
						claimed[j.ID] = worker
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(claimed) != n {
			t.Errorf("%d jobs claimed, want %d", len(claimed), n)
		}
		drain(t)
	})

	t.Run("future run_at", func(t *testing.T) {
		ctx := t.Context()
		inv, _ := e.quiet(t, o.ID)
		now := e.now()
		j := &invite.Job{Kind: "other", InvitationID: inv.ID, Payload: json.RawMessage(`{"x":1}`), RunAt: now.Add(time.Minute), CreatedAt: now}
		e.write(t, func(tx invite.Tx) error { return tx.EnqueueJob(ctx, j) })
		if j.ID == 0 {
			t.Fatal("EnqueueJob set no id")
		}
		if got := e.claimAll(t, lease); len(got) != 0 {
			t.Fatalf("claimed %d jobs not yet due", len(got))
		}
		e.clock.Advance(time.Minute)
		got := e.claimAll(t, lease)
		if len(got) != 1 || got[0].ID != j.ID || got[0].Kind != "other" || string(got[0].Payload) != `{"x":1}` {
			t.Fatalf("claimed %+v", got)
		}
		drain(t)
	})

	t.Run("failed for good", func(t *testing.T) {
		ctx := t.Context()
		inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		e.clock.Advance(time.Second)
		e.failMail(t, inv, "550 5.1.1 user unknown")
		got := e.get(t, o.ID, inv.ID)
		if got.State != invite.StateError || got.Error != "550 5.1.1 user unknown" {
			t.Errorf("after JobFailed: %s %q", got.State, got.Error)
		}
		wantTime(t, "updated_at", got.UpdatedAt, e.now())
		if n := e.depth(t); n != 0 {
			t.Errorf("depth %d after a job failed for good", n)
		}
		// A job that fails after its invitation was cancelled changes nothing.
		inv = e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		j := e.jobFor(t, inv.ID)
		if _, err := e.svc.CancelInvitation(ctx, o.ID, ref(inv.ID)); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.JobFailed(ctx, j, "late"); err != nil && !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("JobFailed after cancel: %v", err)
		}
		if got := e.get(t, o.ID, inv.ID); got.State != invite.StateCancelled || got.Error != "" {
			t.Errorf("a cancelled invitation after a late failure: %s %q", got.State, got.Error)
		}
		// And one whose invitation expired meanwhile leaves it expired.
		inv = e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 3600}).Invitation
		j = e.jobFor(t, inv.ID)
		e.clock.Advance(time.Hour)
		if err := e.svc.JobFailed(ctx, j, "late"); err != nil {
			t.Errorf("JobFailed after expiry: %v", err)
		}
		if got := e.get(t, o.ID, inv.ID); got.State != invite.StateExpired || got.Error != "" {
			t.Errorf("an expired invitation after a late failure: %s %q", got.State, got.Error)
		}
		drain(t)
	})

	t.Run("a finished or resent invitation's job sends nothing", func(t *testing.T) {
		ctx := t.Context()
		finish := map[string]func(inv *invite.Invitation) error{
			"cancel": func(inv *invite.Invitation) error { _, err := e.act(t, invite.ActionCancel, inv); return err },
			"accept": func(inv *invite.Invitation) error { _, err := e.act(t, invite.ActionAccept, inv); return err },
			"decline": func(inv *invite.Invitation) error {
				_, err := e.act(t, invite.ActionDecline, inv)
				return err
			},
			"force": func(inv *invite.Invitation) error {
				_, err := e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: inv.Email, Force: true, NoEmail: true})
				return err
			},
		}
		// The job stays queued; the worker that takes it finds the
		// invitation no longer pending, and drops it.
		for name, fn := range finish {
			inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
			if err := fn(inv); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			j := e.jobFor(t, inv.ID)
			m, err := e.svc.MailFor(ctx, j)
			if err != nil {
				t.Fatalf("%s: MailFor: %v", name, err)
			}
			got := *m.Invitation
			if got.Observe(e.now()); got.State == invite.StatePending {
				t.Errorf("%s: the job's invitation is still pending", name)
			}
			if err := e.svc.JobDone(ctx, j); err != nil {
				t.Errorf("%s: JobDone: %v", name, err)
			}
		}
		// A resend queues a new mail; a worker that takes the old one finds
		// nothing left to send.
		inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		old := e.jobFor(t, inv.ID)
		e.clock.Advance(invite.ResendInterval)
		if _, err := e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.MailFor(ctx, old); !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("MailFor of a job replaced by a resend: %v, want ErrNotFound", err)
		}
		if err := e.svc.JobDone(ctx, old); err != nil {
			t.Errorf("JobDone of a job replaced by a resend: %v", err)
		}
		token := e.tokenOf(t, inv.ID)
		if v, err := e.svc.GetByToken(ctx, token); err != nil || v.Invitation.SendCount != 2 {
			t.Errorf("the resent mail's token: %v", err)
		}
		// Several jobs read at once: each gets its own mail or its own reason.
		other := e.invite(t, e.org(t, nil).ID, invite.CreateInvitation{}).Invitation
		second := e.jobFor(t, other.ID)
		current := &invite.Job{Kind: invite.JobSendInvitation, InvitationID: inv.ID, Payload: json.RawMessage(`{"token":"` + token + `"}`)}
		damaged := &invite.Job{Kind: invite.JobSendInvitation, InvitationID: inv.ID, Payload: json.RawMessage(`{"token":`)}
		raw, _ := base64.RawURLEncoding.DecodeString(token)
		copy(raw, make([]byte, 16)) // the id of no invitation
		unknown := &invite.Job{Kind: invite.JobSendInvitation, InvitationID: inv.ID,
			Payload: json.RawMessage(`{"token":"` + base64.RawURLEncoding.EncodeToString(raw) + `"}`)}
		junk := &invite.Job{Kind: invite.JobSendInvitation, InvitationID: inv.ID, Payload: json.RawMessage(`{"token":"x"}`)}
		mails, errs, err := e.svc.MailsFor(ctx, []*invite.Job{old, current, damaged, second, unknown, junk})
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(errs[0], invite.ErrNotFound) || mails[0] != nil {
			t.Errorf("the replaced job: %v", errs[0])
		}
		if errs[1] != nil || mails[1].Invitation.ID != inv.ID || mails[1].Token != token || mails[1].Organization.ID != o.ID {
			t.Errorf("the current job: %+v %v", mails[1], errs[1])
		}
		if errs[2] == nil || errors.Is(errs[2], invite.ErrNotFound) {
			t.Errorf("the damaged job: %v, want a JSON error", errs[2])
		}
		if errs[3] != nil || mails[3].Invitation.ID != other.ID || mails[3].Organization.ID != other.OrgID {
			t.Errorf("the job of another org: %+v %v", mails[3], errs[3])
		}
		for i, what := range map[int]string{4: "a token of no invitation", 5: "a token of no shape"} {
			if !errors.Is(errs[i], invite.ErrNotFound) || mails[i] != nil {
				t.Errorf("the job with %s: %+v %v, want ErrNotFound", what, mails[i], errs[i])
			}
		}
		drain(t)
	})
}
