package storetest

import (
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
)

// ---- expiry

func testExpiry(t *testing.T, e *env) {
	t.Run("seen at once", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		res := e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 3600, NoEmail: true})
		inv, token := res.Invitation, res.Token
		wantTime(t, "expires_at", inv.ExpiresAt, inv.CreatedAt.Add(time.Hour))
		pendingF := invite.InvitationFilter{Org: o.ID, Email: inv.Email, States: []invite.State{invite.StatePending}}
		expiredF := invite.InvitationFilter{Org: o.ID, Email: inv.Email, States: []invite.State{invite.StateExpired}}

		observe := func(t *testing.T, want invite.State) {
			t.Helper()
			if s := e.get(t, o.ID, inv.ID).State; s != want {
				t.Errorf("Get: %s, want %s", s, want)
			}
			v, err := e.svc.GetByToken(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			if v.Invitation.State != want {
				t.Errorf("token view: %s, want %s", v.Invitation.State, want)
			}
			all := e.find(t, invite.InvitationFilter{Org: o.ID, Email: inv.Email})
			if len(all) != 1 || all[0].State != want {
				t.Errorf("unfiltered list: %v", all)
			}
			wantPending, wantExpired := 0, 0
			if want == invite.StatePending {
				wantPending = 1
			} else {
				wantExpired = 1
			}
			if n := len(e.find(t, pendingF)); n != wantPending {
				t.Errorf("listed as pending: %d, want %d", n, wantPending)
			}
			if n := len(e.find(t, expiredF)); n != wantExpired {
				t.Errorf("listed as expired: %d, want %d", n, wantExpired)
			}
			if n := e.count(t, pendingF); n != wantPending {
				t.Errorf("counted as pending: %d, want %d", n, wantPending)
			}
			if n := e.count(t, expiredF); n != wantExpired {
				t.Errorf("counted as expired: %d, want %d", n, wantExpired)
			}
			page, err := e.svc.ListInvitations(ctx, o.ID, invite.ListParams{State: string(want), Email: inv.Email})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) != 1 || page.Items[0].State != want {
				t.Errorf("ListInvitations state=%s: %+v", want, page.Items)
			}
		}
		e.clock.Advance(time.Hour - time.Microsecond)
		t.Run("just before", func(t *testing.T) { observe(t, invite.StatePending) })
		e.clock.Advance(time.Microsecond)
		t.Run("at expires_at", func(t *testing.T) { observe(t, invite.StateExpired) })
		got := e.get(t, o.ID, inv.ID)
		wantTimePtr(t, "finished_at", got.FinishedAt, inv.ExpiresAt)
		e.clock.Advance(time.Hour)
		t.Run("later", func(t *testing.T) { observe(t, invite.StateExpired) })

		_, _, err := e.acceptByToken(ctx, token, "late")
		wantKind(t, err, invite.KindConflict, "expired")

		// A new invitation to the address is allowed, and the old one stays expired.
		fresh := e.invite(t, o.ID, invite.CreateInvitation{Email: inv.Email}).Invitation
		if fresh.ID == inv.ID || fresh.State != invite.StatePending {
			t.Fatalf("new invitation %+v", fresh)
		}
		if s := e.get(t, o.ID, inv.ID).State; s != invite.StateExpired {
			t.Errorf("old invitation is %s after a new one", s)
		}
		if n := e.count(t, pendingF); n != 1 {
			t.Errorf("%d pending after re-inviting", n)
		}
		if n := e.count(t, expiredF); n != 1 {
			t.Errorf("%d expired after re-inviting", n)
		}
		if v, err := e.svc.GetByToken(ctx, token); err != nil || v.Invitation.ID != inv.ID || v.Invitation.State != invite.StateExpired {
			t.Errorf("old token after re-inviting: %+v, %v", v, err)
		}
	})

	t.Run("expires_in", func(t *testing.T) {
		ttl := int64(2 * 3600)
		o := e.org(t, &invite.SettingsPatch{InvitationTTL: &ttl})
		inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		wantTime(t, "expires_at with the org's TTL", inv.ExpiresAt, inv.CreatedAt.Add(2*time.Hour))
		inv = e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 30 * 24 * 3600}).Invitation
		wantTime(t, "expires_at of 30 days", inv.ExpiresAt, inv.CreatedAt.Add(30*24*time.Hour))
		for _, s := range []int64{-1, 1, 3599, 30*24*3600 + 1} {
			_, err := e.svc.CreateInvitation(sys(t), o.ID, invite.CreateInvitation{Email: e.email(), ExpiresIn: s})
			wantKind(t, err, invite.KindInvalid, "expires_in")
		}
	})

	t.Run("expired ones leave the pending limit", func(t *testing.T) {
		limit := 2
		o := e.org(t, &invite.SettingsPatch{MaxPending: &limit})
		e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 3600})
		e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 7200})
		_, err := e.svc.CreateInvitation(sys(t), o.ID, invite.CreateInvitation{Email: e.email()})
		wantKind(t, err, invite.KindConflict, "2")
		e.clock.Advance(time.Hour)
		e.invite(t, o.ID, invite.CreateInvitation{})
		_, err = e.svc.CreateInvitation(sys(t), o.ID, invite.CreateInvitation{Email: e.email()})
		wantKind(t, err, invite.KindConflict)
	})

	t.Run("at the pending limit", func(t *testing.T) {
		ctx := sys(t)
		limit := 2
		o := e.org(t, &invite.SettingsPatch{MaxPending: &limit})
		first := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		e.invite(t, o.ID, invite.CreateInvitation{})
		// A refused create leaves nothing behind.
		refused := e.email()
		_, err := e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: refused})
		wantKind(t, err, invite.KindConflict, "2")
		if c := e.count(t, invite.InvitationFilter{Org: o.ID, Email: refused}); c != 0 {
			t.Errorf("a create refused at the limit left %d invitations", c)
		}
		// Replacing one keeps the count, so it is allowed.
		e.clock.Advance(time.Second)
		res, err := e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: first.Email, Force: true})
		if err != nil {
			t.Fatalf("replacing a pending invitation at the limit: %v", err)
		}
		if got := e.get(t, o.ID, first.ID).State; got != invite.StateCancelled || res.Invitation.ID == first.ID {
			t.Errorf("after the replacement the old one is %s", got)
		}
		if c := e.count(t, invite.InvitationFilter{Org: o.ID, States: []invite.State{invite.StatePending}}); c != limit {
			t.Errorf("%d pending after a replacement at the limit of %d", c, limit)
		}
	})
}
