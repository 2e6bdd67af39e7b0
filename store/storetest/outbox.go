package storetest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/invite"
)

// ---- the outbox, as the mail worker uses it

func testOutbox(t *testing.T, e *env) {
	const lease = 30 * time.Second
	o := e.org(t, nil)
	mail := []string{invite.JobSendInvitation}

	t.Run("stats", func(t *testing.T) {
		ctx := sys(t)
		st, now, err := e.svc.JobStats(ctx)
		if err != nil || len(st) != 0 || !now.Equal(e.now()) {
			t.Fatalf("empty outbox: %+v at %v, %v", st, now, err)
		}
		first := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		e.clock.Advance(10 * time.Second)
		e.invite(t, o.ID, invite.CreateInvitation{})
		quiet := e.invite(t, o.ID, invite.CreateInvitation{NoEmail: true, ExpiresIn: 3600}).Invitation
		e.clock.Advance(5 * time.Second)
		st, _, err = e.svc.JobStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Every invitation has its expiry queued; only the mailed ones a mail.
		if len(st) != 2 || st[0].Kind != invite.JobExpireInvitation || st[1].Kind != invite.JobSendInvitation {
			t.Fatalf("stats %+v, want expire_invitation then send_invitation", st)
		}
		if x := st[0]; x.Due != 0 || x.Scheduled != 3 || x.OldestDue != nil {
			t.Errorf("expiry jobs: %+v, want 3 scheduled", x)
		}
		if m := st[1]; m.Due != 2 || m.Scheduled != 0 {
			t.Errorf("mail jobs: %+v, want 2 due", m)
		} else {
			wantTimePtr(t, "oldest due mail", m.OldestDue, first.CreatedAt)
		}
		e.clock.Advance(time.Hour)
		if x := e.stats(t)[invite.JobExpireInvitation]; x.Due != 1 || x.Scheduled != 2 {
			t.Errorf("expiry jobs an hour later: %+v, want 1 due and 2 scheduled", x)
		} else {
			wantTimePtr(t, "oldest due expiry", x.OldestDue, quiet.ExpiresAt)
		}
		e.drain(t)
	})

	t.Run("claim and lease", func(t *testing.T) {
		ctx := sys(t)
		inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		if got, _ := e.svc.ClaimJobs(ctx, "w1", []string{invite.JobExpireInvitation}, 10, lease); len(got) != 0 {
			t.Fatalf("claimed %d expiry jobs a week early", len(got))
		}
		jobs, err := e.svc.ClaimJobs(ctx, "w1", mail, 10, lease)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) != 1 {
			t.Fatalf("w1 claimed %d jobs, want 1", len(jobs))
		}
		j := jobs[0]
		p := mailArgs(t, j)
		if j.Kind != invite.JobSendInvitation || p.InvitationID != inv.ID.String() || p.Send != 1 || p.Token != "" || j.Key != "" ||
			j.OrgID == nil || *j.OrgID != o.ID || j.Attempts != 1 || j.LockedBy != "w1" || j.ID == 0 {
			t.Errorf("claimed job %+v", j)
		}
		wantTimePtr(t, "locked_until", j.LockedUntil, e.now().Add(lease))
		wantTime(t, "created_at", j.CreatedAt, inv.CreatedAt)
		wantTime(t, "run_at", j.RunAt, inv.CreatedAt)
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

		if again, _ := e.svc.ClaimJobs(ctx, "w2", mail, 10, lease); len(again) != 0 {
			t.Fatalf("w2 claimed %d jobs while w1's lease holds", len(again))
		}
		e.clock.Advance(lease - time.Second)
		if again, _ := e.svc.ClaimJobs(ctx, "w2", mail, 10, lease); len(again) != 0 {
			t.Fatalf("w2 claimed %d jobs a second before the lease ran out", len(again))
		}
		e.clock.Advance(time.Second)
		again, err := e.svc.ClaimJobs(ctx, "w2", mail, 10, lease)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != 1 || again[0].ID != j.ID || again[0].Attempts != 2 || again[0].LockedBy != "w2" {
			t.Fatalf("after the lease ran out w2 claimed %+v", again)
		}
		// w1 lost the job: whatever it says is refused and recorded nowhere.
		for _, r := range []invite.JobResult{
			{Outcome: invite.Succeeded},
			{Outcome: invite.Retrying, RunAt: e.now().Add(time.Minute), Error: "x"},
			{Outcome: invite.Failed, Error: "x"},
			{Outcome: invite.Rescheduled, RunAt: e.now().Add(time.Minute)},
			{Outcome: invite.Void},
		} {
			if err := e.svc.SettleJob(ctx, j, r); !errors.Is(err, invite.ErrNotFound) {
				t.Errorf("w1 settling w2's job with outcome %d: %v, want ErrNotFound", r.Outcome, err)
			}
		}
		if got := e.get(t, o.ID, inv.ID); got.State != invite.StatePending || got.Mail.State != invite.MailQueued || got.Mail.Attempts != 0 {
			t.Errorf("a lost job's results changed the invitation: %s, mail %+v", got.State, got.Mail)
		}
		if ev := eventTypes(e.subjectEvents(t, o.ID, inv.ID.String())); !slices.Equal(ev, []string{invite.EventInvitationCreated}) {
			t.Errorf("events after a lost job's results: %v", ev)
		}

		// w2 fails once and reschedules.
		retryAt := e.now().Add(time.Minute)
		e.settle(t, again[0], invite.JobResult{Outcome: invite.Retrying, RunAt: retryAt, Error: "421 try later"})
		if n := e.depth(t); n != 1 {
			t.Errorf("depth %d after a retry", n)
		}
		got := e.get(t, o.ID, inv.ID)
		if got.State != invite.StatePending || got.Mail.State != invite.MailRetrying || got.Mail.Attempts != 2 ||
			got.Mail.LastError != "421 try later" || got.Mail.SentAt != nil {
			t.Errorf("after a retry: %s, mail %+v", got.State, got.Mail)
		}
		wantTimePtr(t, "mail next attempt", got.Mail.NextAttemptAt, retryAt)
		if claimed, _ := e.svc.ClaimJobs(ctx, "w3", mail, 10, lease); len(claimed) != 0 {
			t.Fatalf("claimed %d jobs before their run_at", len(claimed))
		}
		e.clock.Advance(time.Minute)
		third, err := e.svc.ClaimJobs(ctx, "w3", mail, 10, lease)
		if err != nil {
			t.Fatal(err)
		}
		if len(third) != 1 || third[0].ID != j.ID || third[0].Attempts != 3 || third[0].LastError != "421 try later" {
			t.Fatalf("after the retry time w3 claimed %+v", third)
		}
		wantTime(t, "run_at", third[0].RunAt, retryAt)
		e.clock.Advance(time.Second)
		e.settle(t, third[0], invite.JobResult{Outcome: invite.Succeeded})
		if n := e.depth(t); n != 0 {
			t.Errorf("depth %d after the job was done", n)
		}
		got = e.get(t, o.ID, inv.ID)
		if got.State != invite.StatePending || got.Mail.State != invite.MailSent || got.Mail.Attempts != 3 ||
			got.Mail.LastError != "" || got.Mail.NextAttemptAt != nil {
			t.Errorf("after the mail went: %s, mail %+v", got.State, got.Mail)
		}
		wantTimePtr(t, "mail sent_at", got.Mail.SentAt, e.now())
		wantTime(t, "updated_at", got.UpdatedAt, e.now())
		evs := e.subjectEvents(t, o.ID, inv.ID.String())
		if ev := eventTypes(evs); !slices.Equal(ev, []string{invite.EventInvitationCreated, invite.EventInvitationSent}) {
			t.Fatalf("events of a mailed invitation: %v", ev)
		}
		wantData(t, evs[1], invite.ViewInvitation(got))
		if err := e.svc.SettleJob(ctx, third[0], invite.JobResult{Outcome: invite.Succeeded}); !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("settling a job twice: %v", err)
		}
		if n := len(e.subjectEvents(t, o.ID, inv.ID.String())); n != 2 {
			t.Errorf("%d events after a job was settled twice, want 2", n)
		}
		e.drain(t)
	})

	t.Run("limit and concurrent claims", func(t *testing.T) {
		ctx := sys(t)
		const n = 20
		want := map[uuid.UUID]bool{}
		for range n {
			want[e.invite(t, o.ID, invite.CreateInvitation{}).Invitation.ID] = true
		}
		two, err := e.svc.ClaimJobs(ctx, "first", mail, 2, lease)
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
					jobs, err := e.svc.ClaimJobs(ctx, worker, mail, 3, lease)
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
						if id, _ := uuid.Parse(mailArgs(t, j).InvitationID); !want[id] {
							t.Errorf("claimed the mail of %s, not one of the new invitations", id)
						}
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(claimed) != n {
			t.Errorf("%d jobs claimed, want %d", len(claimed), n)
		}
		e.drain(t)
	})

	t.Run("future run_at", func(t *testing.T) {
		ctx := sys(t)
		now := e.now()
		j := &invite.Job{Kind: "other", Args: json.RawMessage(`{"x":1}`), RunAt: now.Add(time.Minute), CreatedAt: now}
		e.write(t, func(tx invite.Tx) error { return tx.EnqueueJob(ctx, j) })
		if j.ID == 0 {
			t.Fatal("EnqueueJob set no id")
		}
		if got := e.claimAll(t, lease); len(got) != 0 {
			t.Fatalf("claimed %d jobs not yet due", len(got))
		}
		e.clock.Advance(time.Minute)
		got := e.claimAll(t, lease)
		if len(got) != 1 || got[0].ID != j.ID || got[0].Kind != "other" || got[0].OrgID != nil || got[0].Key != "" {
			t.Fatalf("claimed %+v", got)
		}
		wantJSON(t, "args", got[0].Args, `{"x":1}`)
		e.drain(t)
	})

	t.Run("failed for good", func(t *testing.T) {
		ctx := sys(t)
		inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		e.clock.Advance(time.Second)
		e.failMail(t, inv, "550 5.1.1 user unknown")
		got := e.get(t, o.ID, inv.ID)
		if got.State != invite.StateError || got.Error != "550 5.1.1 user unknown" {
			t.Errorf("after a failed mail: %s %q", got.State, got.Error)
		}
		if got.Mail.State != invite.MailFailed || got.Mail.LastError != "550 5.1.1 user unknown" || got.Mail.Attempts != 1 {
			t.Errorf("mail after it failed: %+v", got.Mail)
		}
		wantTime(t, "updated_at", got.UpdatedAt, e.now())
		wantTimePtr(t, "finished_at", got.FinishedAt, e.now())
		if n := e.depth(t); n != 0 {
			t.Errorf("depth %d after a job failed for good", n)
		}
		evs := e.subjectEvents(t, o.ID, inv.ID.String())
		if ev := eventTypes(evs); !slices.Equal(ev, []string{invite.EventInvitationCreated, invite.EventInvitationFailed}) {
			t.Fatalf("events of a failed mail: %v", ev)
		}
		wantData(t, evs[1], invite.ViewInvitation(got))

		// A job that fails after its invitation was cancelled changes no state.
		inv = e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		j := e.jobFor(t, inv.ID)
		if _, err := e.svc.CancelInvitation(ctx, o.ID, ref(inv.ID)); err != nil {
			t.Fatal(err)
		}
		e.settle(t, j, invite.JobResult{Outcome: invite.Failed, Error: "late"})
		if got := e.get(t, o.ID, inv.ID); got.State != invite.StateCancelled || got.Error != "" {
			t.Errorf("a cancelled invitation after a late failure: %s %q", got.State, got.Error)
		}
		if ev := eventTypes(e.subjectEvents(t, o.ID, inv.ID.String())); !slices.Equal(ev, []string{invite.EventInvitationCreated, invite.EventInvitationCancelled}) {
			t.Errorf("events of a cancelled invitation after a late failure: %v", ev)
		}
		// And one whose invitation expired meanwhile records the expiry, not a failure.
		inv = e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 3600}).Invitation
		j = e.jobFor(t, inv.ID)
		e.clock.Advance(time.Hour)
		e.settle(t, j, invite.JobResult{Outcome: invite.Failed, Error: "late"})
		if got := e.get(t, o.ID, inv.ID); got.State != invite.StateExpired || got.Error != "" {
			t.Errorf("an expired invitation after a late failure: %s %q", got.State, got.Error)
		}
		if ev := eventTypes(e.subjectEvents(t, o.ID, inv.ID.String())); !slices.Equal(ev, []string{invite.EventInvitationCreated, invite.EventInvitationExpired}) {
			t.Errorf("events of an expired invitation after a late failure: %v", ev)
		}
		e.drain(t)
	})

	t.Run("a finished or resent invitation's job sends nothing", func(t *testing.T) {
		ctx := sys(t)
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
			why := "invitation is " + string(got.State)
			e.settle(t, j, invite.JobResult{Outcome: invite.Void, Error: why})
			// The invitation says its mail will not go out, rather than queued for ever.
			if got := e.get(t, o.ID, inv.ID); got.Mail.State != invite.MailNone || got.Mail.LastError != "not sent: "+why || got.Mail.SentAt != nil {
				t.Errorf("%s: a voided mail left the invitation's mail %+v", name, got.Mail)
			}
		}
		// A resend queues a new mail; a worker that takes the old one finds
		// nothing left to send, and its success records nothing.
		inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		old := e.jobFor(t, inv.ID)
		e.clock.Advance(invite.ResendInterval)
		if _, err := e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.MailFor(ctx, old); !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("MailFor of a job replaced by a resend: %v, want ErrNotFound", err)
		}
		e.settle(t, old, invite.JobResult{Outcome: invite.Succeeded})
		if got := e.get(t, o.ID, inv.ID); got.Mail.State != invite.MailQueued || got.Mail.SentAt != nil {
			t.Errorf("the replaced mail's success shows on the invitation: %+v", got.Mail)
		}
		if ev := eventTypes(e.subjectEvents(t, o.ID, inv.ID.String())); slices.Contains(ev, invite.EventInvitationSent) {
			t.Errorf("the replaced mail's success was recorded: %v", ev)
		}
		token := e.tokenOf(t, inv.ID)
		if v, err := e.svc.GetByToken(ctx, token); err != nil || v.Invitation.SendCount != 2 {
			t.Errorf("the resent mail's token: %v", err)
		}
		// Each job gets its own mail or its own reason.
		other := e.invite(t, e.org(t, nil).ID, invite.CreateInvitation{}).Invitation
		second := e.jobFor(t, other.ID)
		args := func(token string) json.RawMessage {
			b, _ := json.Marshal(invite.MailPayload{InvitationID: inv.ID.String(), Token: token})
			return b
		}
		current := &invite.Job{Kind: invite.JobSendInvitation, Args: args(token)}
		damaged := &invite.Job{Kind: invite.JobSendInvitation, Args: json.RawMessage(`{"token":`)}
		raw, _ := base64.RawURLEncoding.DecodeString(token)
		copy(raw, make([]byte, 16)) // the id of no invitation
		unknown := &invite.Job{Kind: invite.JobSendInvitation, Args: args(base64.RawURLEncoding.EncodeToString(raw))}
		junk := &invite.Job{Kind: invite.JobSendInvitation, Args: args("x")}
		jobs := []*invite.Job{old, current, damaged, second, unknown, junk}
		mails, errs := make([]*invite.Mail, len(jobs)), make([]error, len(jobs))
		for i, j := range jobs {
			mails[i], errs[i] = e.svc.MailFor(ctx, j)
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
		e.drain(t)
	})
}

// wantJSON fails unless got is the JSON value of want.
func wantJSON(t *testing.T, what string, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s is not JSON: %s (%v)", what, got, err)
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		panic(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("%s = %s, want %s", what, gb, wb)
	}
}

// wantData fails unless ev's data is view, as the API shows it.
func wantData(t *testing.T, ev *invite.Event, view any) {
	t.Helper()
	b, err := json.Marshal(view)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON(t, ev.Type+" data", ev.Data, string(b))
}
