package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
)

// ---- resend

func testResend(t *testing.T, e *env) {
	t.Run("new token and expiry", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		inv, token := e.quiet(t, o.ID)
		ttl := inv.ExpiresAt.Sub(inv.CreatedAt)
		e.clock.Advance(10 * time.Minute)
		got, err := e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID))
		if err != nil {
			t.Fatal(err)
		}
		wantTime(t, "expires_at", got.ExpiresAt, e.now().Add(ttl))
		wantTimePtr(t, "last_sent_at", got.LastSentAt, e.now())
		if got.SendCount != inv.SendCount+1 || got.State != invite.StatePending {
			t.Errorf("resent: send_count %d, state %s", got.SendCount, got.State)
		}
		if _, err := e.svc.GetByToken(ctx, token); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("the old token after resend: %v, want NotFound", err)
		}
		_, _, err = e.acceptByToken(ctx, token, "x")
		wantKind(t, err, invite.KindNotFound)
		newToken := e.tokenOf(t, inv.ID)
		v, err := e.svc.GetByToken(ctx, newToken)
		if err != nil || v.Invitation.ID != inv.ID {
			t.Fatalf("the new token: %+v, %v", v, err)
		}
		stored := e.get(t, o.ID, inv.ID)
		wantTime(t, "stored expires_at", stored.ExpiresAt, got.ExpiresAt)

		// Resent again after a minute: the mailed token is replaced too.
		e.clock.Advance(invite.ResendInterval)
		if _, err := e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.GetByToken(ctx, newToken); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("the first mailed token after another resend: %v", err)
		}
		third := e.tokenOf(t, inv.ID)
		if _, _, err := e.acceptByToken(ctx, third, "Z"); err != nil {
			t.Errorf("accept with the latest token: %v", err)
		}
	})

	t.Run("rate limit", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		_, err := e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID))
		wantKind(t, err, invite.KindTooManyRequests)
		var ce *invite.Error
		if !errors.As(err, &ce) || ce.RetryAfter <= 0 || ce.RetryAfter > invite.ResendInterval {
			t.Fatalf("RetryAfter of %v", err)
		}
		e.clock.Advance(40 * time.Second)
		_, err = e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID))
		wantKind(t, err, invite.KindTooManyRequests)
		if !errors.As(err, &ce) || ce.RetryAfter <= 0 || ce.RetryAfter > 20*time.Second {
			t.Errorf("RetryAfter %v after 40s, want at most 20s", ce.RetryAfter)
		}
		if got := e.get(t, o.ID, inv.ID); got.SendCount != 1 || !got.UpdatedAt.Equal(inv.UpdatedAt) {
			t.Errorf("a refused resend changed the invitation: %+v", got)
		}
		e.clock.Advance(20 * time.Second)
		got, err := e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID))
		if err != nil {
			t.Fatalf("resend after a minute: %v", err)
		}
		if got.SendCount != 2 {
			t.Errorf("send_count %d", got.SendCount)
		}
		_, err = e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID))
		wantKind(t, err, invite.KindTooManyRequests)
	})

	t.Run("concurrent", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		inv, _ := e.quiet(t, o.ID)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, errs[i] = e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID)) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if invite.ErrorKind(err) != invite.KindTooManyRequests {
				t.Errorf("a concurrent resend: %v, want Kind TooManyRequests", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent resends went through, want 1", ok, n)
		}
		if got := e.get(t, o.ID, inv.ID); got.SendCount != 1 {
			t.Errorf("send_count %d after concurrent resends", got.SendCount)
		}
		e.jobFor(t, inv.ID) // exactly one mail queued
	})

	t.Run("expired", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		res := e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 3 * 3600, NoEmail: true})
		e.clock.Advance(5 * time.Hour)
		got, err := e.svc.ResendInvitation(ctx, o.ID, ref(res.Invitation.ID))
		if err != nil {
			t.Fatal(err)
		}
		wantTime(t, "expires_at", got.ExpiresAt, e.now().Add(3*time.Hour))
		if got.State != invite.StatePending || got.FinishedAt != nil {
			t.Errorf("resent expired invitation %+v", got)
		}
		if _, err := e.svc.GetByToken(ctx, res.Token); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("the expired token after resend: %v", err)
		}
		if n := e.count(t, invite.InvitationFilter{Org: o.ID, Email: got.Email, States: []invite.State{invite.StatePending}}); n != 1 {
			t.Errorf("%d pending after resending an expired invitation", n)
		}
	})

	t.Run("expired while another is pending", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		old := e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 3600}).Invitation
		e.clock.Advance(time.Hour)
		fresh := e.invite(t, o.ID, invite.CreateInvitation{Email: old.Email}).Invitation
		_, err := e.svc.ResendInvitation(ctx, o.ID, ref(old.ID))
		wantKind(t, err, invite.KindConflict, old.Email)
		if s := e.get(t, o.ID, old.ID).State; s != invite.StateExpired {
			t.Errorf("old invitation %s", s)
		}
		if s := e.get(t, o.ID, fresh.ID).State; s != invite.StatePending {
			t.Errorf("new invitation %s", s)
		}
		// Once the new one has expired too, the old one can be sent again.
		e.clock.Advance(8 * 24 * time.Hour)
		if _, err := e.svc.ResendInvitation(ctx, o.ID, ref(old.ID)); err != nil {
			t.Fatalf("resend when the other one expired too: %v", err)
		}
		if s := e.get(t, o.ID, fresh.ID).State; s != invite.StateExpired {
			t.Errorf("the other invitation is %s", s)
		}
		if n := e.count(t, invite.InvitationFilter{Org: o.ID, Email: old.Email, States: []invite.State{invite.StatePending}}); n != 1 {
			t.Errorf("%d pending", n)
		}
	})

	t.Run("resend and create race for one address", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		old := e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 3600}).Invitation
		e.clock.Advance(2 * time.Hour)
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if i%2 == 0 {
					_, errs[i] = e.svc.ResendInvitation(ctx, o.ID, ref(old.ID))
				} else {
					_, errs[i] = e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: old.Email})
				}
			})
		}
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case invite.ErrorKind(err) == invite.KindConflict:
			case i%2 == 0 && invite.ErrorKind(err) == invite.KindTooManyRequests:
			default:
				t.Errorf("call %d: %v, want success, Conflict or (for a resend) TooManyRequests", i, err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of the racing calls succeeded, want 1", ok)
		}
		if c := e.count(t, invite.InvitationFilter{Org: o.ID, Email: old.Email, States: []invite.State{invite.StatePending}}); c != 1 {
			t.Errorf("%d pending for the address, want 1", c)
		}
	})

	t.Run("finished ones cannot be resent", func(t *testing.T) {
		o := e.org(t, nil)
		for _, a := range []invite.Action{invite.ActionAccept, invite.ActionDecline, invite.ActionCancel} {
			inv, _ := e.quiet(t, o.ID)
			done, err := e.act(t, a, inv)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.svc.ResendInvitation(sys(t), o.ID, ref(inv.ID))
			wantKind(t, err, invite.KindConflict, string(done.State))
		}
	})
}
