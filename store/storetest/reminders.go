package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/invite"
)

// ---- reminders

// mailed creates an invitation in org whose mail went out, as the mail
// worker records it.
func (e *env) mailed(t *testing.T, org invite.OrgID, c invite.CreateInvitation) *invite.Invitation {
	t.Helper()
	inv := e.invite(t, org, c).Invitation
	e.settle(t, e.jobFor(t, inv.ID), invite.JobResult{Outcome: invite.Succeeded})
	return e.get(t, org, inv.ID)
}

// sweep runs the reminder sweep, reading batch at a time (0: the default),
// and says how many reminders it queued.
func (e *env) sweep(t *testing.T, batch int) int {
	t.Helper()
	n, err := e.svc.SendReminders(sys(t), batch)
	if err != nil {
		t.Fatalf("SendReminders: %v", err)
	}
	return n
}

// reminderJobs claims the due mail jobs and returns the reminders among
// them by invitation; the others are settled as sent, so that none is
// claimed twice.
func (e *env) reminderJobs(t *testing.T) map[uuid.UUID][]*invite.Job {
	t.Helper()
	out := map[uuid.UUID][]*invite.Job{}
	for _, j := range e.claimAll(t, time.Hour, invite.JobSendInvitation) {
		p := mailArgs(t, j)
		if !p.Reminder {
			e.settle(t, j, invite.JobResult{Outcome: invite.Succeeded})
			continue
		}
		id, err := uuid.Parse(p.InvitationID)
		if err != nil {
			t.Fatalf("reminder job %s: %v", j.Args, err)
		}
		out[id] = append(out[id], j)
	}
	return out
}

// sameMail tells whether two records of a mail's delivery say the same.
func sameMail(a, b invite.MailDelivery) bool {
	eq := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	return a.State == b.State && a.Attempts == b.Attempts && a.LastError == b.LastError &&
		eq(a.NextAttemptAt, b.NextAttemptAt) && eq(a.SentAt, b.SentAt)
}

func testReminders(t *testing.T, e *env) {
	day := int64(24 * 3600)
	// Each test drains the jobs the ones before it left, as every sweep
	// reads every organization.
	t.Run("one, once due", func(t *testing.T) {
		ctx := sys(t)
		e.drain(t)
		o := e.org(t, &invite.SettingsPatch{ReminderAfter: &day})
		inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		first := e.jobFor(t, inv.ID)
		firstMail, err := e.svc.MailFor(ctx, first)
		if err != nil {
			t.Fatal(err)
		}
		e.settle(t, first, invite.JobResult{Outcome: invite.Succeeded})
		mailed := e.get(t, o.ID, inv.ID)

		e.clock.Advance(24*time.Hour - time.Microsecond)
		if n := e.sweep(t, 0); n != 0 {
			t.Errorf("a sweep before it is due queued %d reminders", n)
		}
		if jobs := e.reminderJobs(t); len(jobs) != 0 {
			t.Errorf("reminders queued before due: %v", jobs)
		}
		e.clock.Advance(time.Microsecond)
		if n := e.sweep(t, 0); n != 1 {
			t.Errorf("the sweep once due queued %d reminders, want 1", n)
		}
		got := e.get(t, o.ID, inv.ID)
		wantTimePtr(t, "reminded_at", got.RemindedAt, e.now())
		if v := invite.ViewInvitation(got); v.RemindedAt == nil || *v.RemindedAt != invite.Timestamp(e.now()) {
			t.Errorf("the view's reminded_at = %v, want %s", v.RemindedAt, invite.Timestamp(e.now()))
		}
		if got.State != invite.StatePending || got.SendCount != 1 || !sameMail(got.Mail, mailed.Mail) || !got.ExpiresAt.Equal(mailed.ExpiresAt) {
			t.Errorf("the reminder changed the invitation beyond reminded_at: %+v, was %+v", got, mailed)
		}
		jobs := e.reminderJobs(t)
		if len(jobs) != 1 || len(jobs[inv.ID]) != 1 {
			t.Fatalf("reminder jobs %v, want one for %s", jobs, inv.ID)
		}
		j := jobs[inv.ID][0]
		if p := mailArgs(t, j); p != (invite.MailPayload{InvitationID: inv.ID.String(), Send: 1, Reminder: true}) || j.OrgID == nil || *j.OrgID != o.ID {
			t.Errorf("reminder job %s of org %v", j.Args, j.OrgID)
		}
		m, err := e.svc.MailFor(ctx, j)
		if err != nil {
			t.Fatalf("MailFor(reminder): %v", err)
		}
		if !m.Reminder || m.Token != firstMail.Token || firstMail.Reminder {
			t.Errorf("the reminder's mail: reminder %v, link %q; the first mail's: reminder %v, link %q",
				m.Reminder, m.Token, firstMail.Reminder, firstMail.Token)
		}
		evs := e.events(t, o.ID, invite.EventInvitationReminded)
		if len(evs) != 1 || evs[0].Subject != inv.ID.String() || !evs[0].CreatedAt.Equal(e.now()) ||
			evs[0].Actor.Type != invite.ActorSystem {
			t.Fatalf("invitation.reminded events %+v", evs)
		}
		wantData(t, evs[0], invite.ViewInvitation(got))

		// Its mail went: nothing of it is recorded on the invitation.
		e.settle(t, j, invite.JobResult{Outcome: invite.Succeeded})
		if after := e.get(t, o.ID, inv.ID); !sameMail(after.Mail, mailed.Mail) || !after.UpdatedAt.Equal(got.UpdatedAt) {
			t.Errorf("the reminder's delivery was recorded: %+v, was %+v", after.Mail, mailed.Mail)
		}
		if evs := e.events(t, o.ID, invite.EventInvitationSent); len(evs) != 1 {
			t.Errorf("%d invitation.sent events, want the first mail's only", len(evs))
		}
		// One reminder per invitation, however many sweeps.
		e.sweep(t, 0)
		e.clock.Advance(24 * time.Hour)
		e.sweep(t, 0)
		if jobs := e.reminderJobs(t); len(jobs[inv.ID]) != 0 {
			t.Errorf("later sweeps queued %d more reminders", len(jobs[inv.ID]))
		}
		if evs := e.events(t, o.ID, invite.EventInvitationReminded); len(evs) != 1 {
			t.Errorf("%d invitation.reminded events after more sweeps, want 1", len(evs))
		}
		// A resend makes the reminder stale (its link ended); the invitation
		// keeps its one reminder.
		e.clock.Advance(time.Minute)
		if _, err := e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.MailFor(ctx, j); err != invite.ErrNotFound {
			t.Errorf("MailFor(reminder) after a resend: %v, want ErrNotFound", err)
		}
	})

	t.Run("a reminder that fails leaves the invitation", func(t *testing.T) {
		e.drain(t)
		o := e.org(t, &invite.SettingsPatch{ReminderAfter: &day})
		outcomes := []invite.Outcome{invite.Retrying, invite.Failed, invite.Void}
		var invs []*invite.Invitation
		for range outcomes {
			invs = append(invs, e.mailed(t, o.ID, invite.CreateInvitation{}))
		}
		e.clock.Advance(24 * time.Hour)
		if n := e.sweep(t, 0); n != len(invs) {
			t.Fatalf("the sweep queued %d reminders, want %d", n, len(invs))
		}
		jobs := e.reminderJobs(t)
		for i, out := range outcomes {
			js := jobs[invs[i].ID]
			if len(js) != 1 {
				t.Fatalf("invitation %d has %d reminder jobs", i, len(js))
			}
			e.settle(t, js[0], invite.JobResult{Outcome: out, Error: "550 mailbox unavailable", RunAt: e.now().Add(time.Minute)})
			got := e.get(t, o.ID, invs[i].ID)
			if got.State != invite.StatePending || !sameMail(got.Mail, invs[i].Mail) || got.Error != "" {
				t.Errorf("outcome %d of the reminder: %s, mail %+v, error %q; want pending, mail %+v",
					out, got.State, got.Mail, got.Error, invs[i].Mail)
			}
		}
		if evs := e.events(t, o.ID, invite.EventInvitationFailed, invite.EventInvitationSent); len(evs) != len(invs) {
			t.Errorf("events %v: want the first mails' invitation.sent only", eventTypes(evs))
		}
	})

	t.Run("none for these", func(t *testing.T) {
		ctx := sys(t)
		e.drain(t)
		o := e.org(t, &invite.SettingsPatch{ReminderAfter: &day})
		off := e.org(t, nil)
		due := e.mailed(t, o.ID, invite.CreateInvitation{})
		// Expires two hours after it is due: reminded.
		lasting := e.mailed(t, o.ID, invite.CreateInvitation{ExpiresIn: day + 2*3600})
		none := map[string]*invite.Invitation{}
		none["expiring within the hour"] = e.mailed(t, o.ID, invite.CreateInvitation{ExpiresIn: day + 3600})
		for _, what := range []string{"accepted", "cancelled", "declined", "resent later"} {
			none[what] = e.mailed(t, o.ID, invite.CreateInvitation{})
		}
		none["made without mail"] = e.invite(t, o.ID, invite.CreateInvitation{NoEmail: true}).Invitation
		none["of an org without"] = e.mailed(t, off.ID, invite.CreateInvitation{})
		turned := e.org(t, &invite.SettingsPatch{ReminderAfter: &day})
		none["of an org that turned off"] = e.mailed(t, turned.ID, invite.CreateInvitation{})
		none["its mail not gone yet"] = e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		e.claimAll(t, 48*time.Hour, invite.JobSendInvitation) // holds its mail unsent
		if _, _, err := e.svc.AcceptInvitation(ctx, o.ID, ref(none["accepted"].ID), invite.Accept{Email: none["accepted"].Email}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CancelInvitation(ctx, o.ID, ref(none["cancelled"].ID)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.DeclineInvitation(ctx, o.ID, ref(none["declined"].ID)); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(12 * time.Hour)
		if _, err := e.svc.ResendInvitation(ctx, o.ID, ref(none["resent later"].ID)); err != nil {
			t.Fatal(err)
		}
		zero := int64(0)
		if _, err := e.svc.UpdateOrg(ctx, turned.ID, nil, &invite.SettingsPatch{ReminderAfter: &zero}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(12 * time.Hour)
		if n := e.sweep(t, 0); n != 2 {
			t.Errorf("the sweep queued %d reminders, want 2", n)
		}
		jobs := e.reminderJobs(t)
		for _, inv := range []*invite.Invitation{due, lasting} {
			if len(jobs[inv.ID]) != 1 {
				t.Errorf("%d reminders for an invitation due one", len(jobs[inv.ID]))
			}
		}
		for what, inv := range none {
			if len(jobs[inv.ID]) != 0 || e.get(t, inv.OrgID, inv.ID).RemindedAt != nil {
				t.Errorf("an invitation %s got a reminder", what)
			}
			if evs := e.listEvents(t, invite.EventFilter{Org: inv.OrgID, Subject: inv.ID.String(),
				Types: []string{invite.EventInvitationReminded}, Limit: 10}); len(evs) != 0 {
				t.Errorf("an invitation %s has invitation.reminded events", what)
			}
		}
		// Resent 12 hours later, its reminder is due a day after that.
		e.clock.Advance(12 * time.Hour)
		e.sweep(t, 0)
		if jobs := e.reminderJobs(t); len(jobs[none["resent later"].ID]) != 1 {
			t.Errorf("the resent invitation has %d reminders a day after its resend, want 1", len(jobs[none["resent later"].ID]))
		}
	})

	t.Run("the mail limit holds a reminder back", func(t *testing.T) {
		ctx := sys(t)
		e.drain(t)
		hour, two := int64(3600), 2
		o := e.org(t, &invite.SettingsPatch{ReminderAfter: &hour, MaxMailsPerRecipientPerDay: &two})
		// Three addresses at their limit (two mails each), then one with a
		// mail to spare, last in the sweep's order.
		var full []*invite.Invitation
		for range 3 {
			email := e.email()
			e.mailed(t, o.ID, invite.CreateInvitation{Email: email})
			full = append(full, e.mailed(t, o.ID, invite.CreateInvitation{Email: email, Force: true}))
		}
		spare := e.mailed(t, o.ID, invite.CreateInvitation{})
		start := e.now()
		e.clock.Advance(time.Hour)
		// Batches of two: the held back fill the first and half the second.
		if n := e.sweep(t, 2); n != 1 {
			t.Errorf("the sweep queued %d reminders, want 1", n)
		}
		jobs := e.reminderJobs(t)
		if len(jobs) != 1 || len(jobs[spare.ID]) != 1 {
			t.Errorf("reminder jobs %v, want one for the address under its limit", jobs)
		}
		for _, inv := range full {
			if got := e.get(t, o.ID, inv.ID); got.RemindedAt != nil {
				t.Errorf("an address at its limit got a reminder at %v", got.RemindedAt)
			}
		}
		if evs := e.events(t, o.ID, invite.EventInvitationReminded); len(evs) != 1 || evs[0].Subject != spare.ID.String() {
			t.Errorf("invitation.reminded events %v", evs)
		}
		// The reminder is a mail of its address: the limit counts it.
		e.clock.Advance(invite.ResendInterval)
		_, err := e.svc.ResendInvitation(ctx, o.ID, ref(spare.ID))
		wantLimit(t, err, "recipient", 2, invite.MailWindow, start.Add(invite.MailWindow).Sub(e.now()))

		// Still pending and due, they go once their mails leave the window.
		e.clock.Advance(start.Add(invite.MailWindow).Sub(e.now()) - time.Microsecond)
		if n := e.sweep(t, 2); n != 0 {
			t.Errorf("the sweep queued %d reminders before the window moved, want 0", n)
		}
		e.clock.Advance(time.Microsecond)
		if n := e.sweep(t, 2); n != 3 {
			t.Errorf("the sweep queued %d reminders once the window moved, want 3", n)
		}
		jobs = e.reminderJobs(t)
		for _, inv := range full {
			if len(jobs[inv.ID]) != 1 {
				t.Errorf("%d reminders for an address whose window moved, want 1", len(jobs[inv.ID]))
			}
		}
	})

	t.Run("only the system sweeps", func(t *testing.T) {
		_, err := e.svc.SendReminders(t.Context(), 0)
		wantKind(t, err, invite.KindUnauthorized)
	})
}
