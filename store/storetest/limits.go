package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
)

// ---- abuse limits

// written is what a refused write must leave as it was: the org's
// invitations, the queued mails and the mail notes of an address. (The
// event log is not read here: on PostgreSQL it lists an event only once
// every older transaction has ended.)
type written struct {
	invitations, mails, notes int
}

func (e *env) written(t *testing.T, org invite.OrgID, email string) written {
	t.Helper()
	w := written{invitations: e.count(t, invite.InvitationFilter{Org: org}), mails: e.depth(t)}
	e.write(t, func(tx invite.Tx) error {
		var err error
		w.notes, _, err = tx.CountMails(t.Context(), org, email, time.Time{}, 1000)
		return err
	})
	return w
}

// wantLimit fails unless err is a 429 of the named limit that says to come
// back after retry.
func wantLimit(t *testing.T, err error, name string, quota int, window, retry time.Duration) {
	t.Helper()
	wantKind(t, err, invite.KindTooManyRequests)
	var ce *invite.Error
	errors.As(err, &ce)
	d := invite.LimitOf(err)
	if d == nil || d.Policy.Name != name || d.Policy.Quota != quota || d.Policy.Window != window || d.Remaining != 0 {
		t.Fatalf("%v: limit %+v, want %s of %d per %v", err, d, name, quota, window)
	}
	if ce.RetryAfter != retry {
		t.Errorf("%v: RetryAfter %v, want %v", err, ce.RetryAfter, retry)
	}
}

func testLimits(t *testing.T, e *env) {
	t.Run("mails to one recipient, by any path", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		email := e.email()
		start := e.now()
		first := e.invite(t, o.ID, invite.CreateInvitation{Email: email}).Invitation // mail 1
		e.clock.Advance(invite.ResendInterval)
		if _, err := e.svc.ResendInvitation(ctx, o.ID, ref(first.ID)); err != nil { // mail 2
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		forced := e.invite(t, o.ID, invite.CreateInvitation{Email: email, Force: true}).Invitation // mail 3
		e.clock.Advance(time.Hour)
		before := e.written(t, o.ID, email)
		retry := start.Add(invite.MailWindow).Sub(e.now())

		_, err := e.svc.ResendInvitation(ctx, o.ID, ref(forced.ID))
		wantLimit(t, err, "recipient", invite.DefaultMailsPerRecipientPerDay, invite.MailWindow, retry)
		_, err = e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: email, Force: true})
		wantLimit(t, err, "recipient", 3, invite.MailWindow, retry)
		if got := e.written(t, o.ID, email); got != before {
			t.Errorf("refused writes wrote: %+v, was %+v", got, before)
		}
		if got := e.get(t, o.ID, forced.ID); got.State != invite.StatePending || got.SendCount != 1 {
			t.Errorf("the refused re-invite touched the pending one: %+v", got)
		}
		// Cancel, then create again: still the same address's mails.
		if _, err := e.svc.CancelInvitation(ctx, o.ID, ref(forced.ID)); err != nil {
			t.Fatal(err)
		}
		before = e.written(t, o.ID, email)
		_, err = e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: email})
		wantLimit(t, err, "recipient", 3, invite.MailWindow, retry)
		if got := e.written(t, o.ID, email); got != before {
			t.Errorf("a refused create wrote: %+v, was %+v", got, before)
		}
		// A duplicate is still answered as one.
		quiet := e.invite(t, o.ID, invite.CreateInvitation{Email: email, NoEmail: true}).Invitation
		_, err = e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: email})
		wantKind(t, err, invite.KindConflict)
		// Another address, another organization: counted apart.
		e.invite(t, o.ID, invite.CreateInvitation{})
		e.invite(t, e.org(t, nil).ID, invite.CreateInvitation{Email: email})

		// Once the first mail leaves the window one more may go, not two.
		e.clock.Advance(retry)
		if _, err := e.svc.ResendInvitation(ctx, o.ID, ref(quiet.ID)); err != nil {
			t.Fatalf("resend once the oldest mail left the window: %v", err)
		}
		_, err = e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: email, Force: true})
		wantLimit(t, err, "recipient", 3, invite.MailWindow, time.Minute)
	})

	t.Run("mails to one recipient, as the organization sets", func(t *testing.T) {
		ctx := sys(t)
		one, none := 1, invite.NoLimit
		o := e.org(t, &invite.SettingsPatch{MaxMailsPerRecipientPerDay: &one})
		first := invite.CreateInvitation{Email: e.email(), IdempotencyKey: "k1", IdempotencyScope: "test"}
		inv := e.invite(t, o.ID, first).Invitation
		// A retry of the create that sent the mail is answered as it was.
		if res, err := e.svc.CreateInvitation(ctx, o.ID, first); err != nil || !res.Replayed || res.Invitation.ID != inv.ID {
			t.Errorf("a retried create at the limit: %+v, %v; want its first answer", res, err)
		}
		e.clock.Advance(invite.ResendInterval)
		_, err := e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID))
		wantLimit(t, err, "recipient", 1, invite.MailWindow, invite.MailWindow-invite.ResendInterval)

		if _, err := e.svc.UpdateOrg(ctx, o.ID, nil, &invite.SettingsPatch{MaxMailsPerRecipientPerDay: &none}); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			if _, err := e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID)); err != nil {
				t.Fatalf("resend with no limit: %v", err)
			}
			e.clock.Advance(invite.ResendInterval)
		}
		for _, bad := range []int{-2, invite.MaxLimitSetting + 1} {
			_, err := e.svc.UpdateOrg(ctx, o.ID, nil, &invite.SettingsPatch{MaxMailsPerRecipientPerDay: &bad})
			wantKind(t, err, invite.KindInvalid, "max_mails_per_recipient_per_day")
			_, err = e.svc.UpdateOrg(ctx, o.ID, nil, &invite.SettingsPatch{MaxInvitationsPerHour: &bad})
			wantKind(t, err, invite.KindInvalid, "max_invitations_per_hour")
			_, err = e.svc.UpdateOrg(ctx, o.ID, nil, &invite.SettingsPatch{MaxRequestsPerSecond: &bad})
			wantKind(t, err, invite.KindInvalid, "max_requests_per_second")
		}
	})

	t.Run("invitations per hour", func(t *testing.T) {
		ctx := sys(t)
		five := 5
		o := e.org(t, &invite.SettingsPatch{MaxInvitationsPerHour: &five})
		start := e.now()
		for i := range 5 {
			e.invite(t, o.ID, invite.CreateInvitation{NoEmail: i%2 == 0}) // with mail or not, each counts
			e.clock.Advance(time.Minute)
		}
		email := e.email()
		before := e.written(t, o.ID, email)
		_, err := e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: email})
		wantLimit(t, err, "invitations", 5, invite.InvitationWindow, start.Add(time.Hour).Sub(e.now()))
		if got := e.written(t, o.ID, email); got != before {
			t.Errorf("a refused create wrote: %+v, was %+v", got, before)
		}
		// A resend makes no invitation.
		inv := e.find(t, invite.InvitationFilter{Org: o.ID})[0]
		if _, err := e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID)); err != nil {
			t.Errorf("resend at the hourly limit: %v", err)
		}
		e.clock.Advance(start.Add(time.Hour).Sub(e.now()))
		e.invite(t, o.ID, invite.CreateInvitation{})
		_, err = e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: e.email()})
		wantKind(t, err, invite.KindTooManyRequests, "5 invitations")
	})

	t.Run("concurrent writes hold the limits", func(t *testing.T) {
		ctx := sys(t)
		twenty := 20
		o := e.org(t, nil)
		busy := e.org(t, &invite.SettingsPatch{MaxInvitationsPerHour: &twenty})
		email := e.email()
		first := e.invite(t, o.ID, invite.CreateInvitation{Email: email}).Invitation
		mails := e.depth(t)
		const n = 30
		errs := make([]error, 2*n)
		var wg sync.WaitGroup
		for i := range n {
			// Re-invites and resends of one address, and creates of others.
			wg.Go(func() {
				if i%2 == 0 {
					_, errs[i] = e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: email, Force: true})
				} else {
					_, errs[i] = e.svc.ResendInvitation(ctx, o.ID, ref(first.ID))
				}
			})
			wg.Go(func() {
				_, errs[n+i] = e.svc.CreateInvitation(ctx, busy.ID, invite.CreateInvitation{Email: e.email(), NoEmail: true})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil && invite.ErrorKind(err) != invite.KindTooManyRequests && invite.ErrorKind(err) != invite.KindConflict {
				t.Errorf("write %d: %v, want success, 429 or 409", i, err)
			}
		}
		if got := e.depth(t) - mails; got != invite.DefaultMailsPerRecipientPerDay-1 {
			t.Errorf("%d more mails to %s, want %d", got, email, invite.DefaultMailsPerRecipientPerDay-1)
		}
		if got := e.count(t, invite.InvitationFilter{Org: busy.ID}); got != twenty {
			t.Errorf("%d invitations made, want the limit, %d", got, twenty)
		}
	})

	t.Run("old mail notes are purged", func(t *testing.T) {
		o := e.org(t, nil)
		email := e.email()
		e.invite(t, o.ID, invite.CreateInvitation{Email: email})
		count := func() int {
			var n int
			e.write(t, func(tx invite.Tx) error {
				var err error
				n, _, err = tx.CountMails(t.Context(), o.ID, email, time.Time{}, 1000)
				return err
			})
			return n
		}
		if _, err := e.svc.PurgeMails(sys(t)); err != nil || count() != 1 {
			t.Fatalf("a mail in the window was purged (%v)", err)
		}
		e.clock.Advance(invite.MailWindow + time.Second)
		if _, err := e.svc.PurgeMails(sys(t)); err != nil || count() != 0 {
			t.Errorf("a mail past the window was kept (%v)", err)
		}
	})
}
