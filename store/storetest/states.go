package storetest

import (
	"encoding/base64"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/invite"
)

// ---- the state machine

// act runs action on inv through the service, as an admin would (by id).
func (e *env) act(t *testing.T, a invite.Action, inv *invite.Invitation) (*invite.Invitation, error) {
	t.Helper()
	ctx, r := sys(t), ref(inv.ID)
	switch a {
	case invite.ActionAccept:
		got, _, err := e.svc.AcceptInvitation(ctx, inv.OrgID, r, invite.Accept{Email: inv.Email, Name: "Invitee"})
		return got, err
	case invite.ActionDecline:
		return e.svc.DeclineInvitation(ctx, inv.OrgID, r)
	case invite.ActionCancel:
		return e.svc.CancelInvitation(ctx, inv.OrgID, r)
	case invite.ActionResend:
		return e.svc.ResendInvitation(ctx, inv.OrgID, r)
	}
	t.Fatalf("no way to %s through the service", a)
	return nil, nil
}

var userActions = []invite.Action{invite.ActionAccept, invite.ActionDecline, invite.ActionCancel, invite.ActionResend}

// refuses checks that every action but allowed is a conflict naming the
// state, and leaves the invitation as it was.
func (e *env) refuses(t *testing.T, inv *invite.Invitation, allowed ...invite.Action) {
	t.Helper()
	before := e.get(t, inv.OrgID, inv.ID)
	for _, a := range userActions {
		if slices.Contains(allowed, a) {
			continue
		}
		_, err := e.act(t, a, before)
		wantKind(t, err, invite.KindConflict, string(a), string(before.State))
		after := e.get(t, inv.OrgID, inv.ID)
		if after.State != before.State || !after.UpdatedAt.Equal(before.UpdatedAt) || after.SendCount != before.SendCount {
			t.Errorf("refused %s changed the invitation: %+v, was %+v", a, after, before)
		}
	}
}

// failMail gives up on inv's mail job for good.
func (e *env) failMail(t *testing.T, inv *invite.Invitation, reason string) {
	t.Helper()
	e.settle(t, e.jobFor(t, inv.ID), invite.JobResult{Outcome: invite.Failed, Error: reason})
}

func testStates(t *testing.T, e *env) {
	o := e.org(t, nil)
	moves := []struct {
		a  invite.Action
		to invite.State
	}{
		{invite.ActionAccept, invite.StateAccepted},
		{invite.ActionDecline, invite.StateDeclined},
		{invite.ActionCancel, invite.StateCancelled},
	}
	for _, m := range moves {
		t.Run("pending to "+string(m.to), func(t *testing.T) {
			inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
			if inv.State != invite.StatePending {
				t.Fatalf("new invitation is %s", inv.State)
			}
			e.clock.Advance(time.Second)
			got, err := e.act(t, m.a, inv)
			if err != nil {
				t.Fatal(err)
			}
			stored := e.get(t, o.ID, inv.ID)
			for _, x := range []*invite.Invitation{got, stored} {
				if x.State != m.to {
					t.Errorf("state %s after %s, want %s", x.State, m.a, m.to)
				}
				wantTime(t, "updated_at", x.UpdatedAt, e.now())
				wantTimePtr(t, "finished_at", x.FinishedAt, e.now())
				wantTime(t, "created_at", x.CreatedAt, inv.CreatedAt)
			}
			e.refuses(t, inv)
			// The invitee's link shows the final state.
			if n := e.count(t, invite.InvitationFilter{Org: o.ID, Email: inv.Email, States: []invite.State{m.to}}); n != 1 {
				t.Errorf("count of %s invitations for the email = %d", m.to, n)
			}
		})
	}

	t.Run("pending to pending by resend", func(t *testing.T) {
		inv, _ := e.quiet(t, o.ID)
		e.clock.Advance(time.Second)
		got, err := e.svc.ResendInvitation(sys(t), o.ID, ref(inv.ID))
		if err != nil {
			t.Fatal(err)
		}
		if got.State != invite.StatePending || got.FinishedAt != nil || got.SendCount != 1 {
			t.Errorf("resent pending invitation %+v", got)
		}
	})

	t.Run("pending to expired", func(t *testing.T) {
		inv, _ := e.quiet(t, o.ID)
		e.clock.Advance(time.Duration(o.Settings.InvitationTTL) * time.Second)
		got := e.get(t, o.ID, inv.ID)
		if got.State != invite.StateExpired {
			t.Fatalf("state %s past expiry", got.State)
		}
		e.refuses(t, inv, invite.ActionResend)
		got, err := e.act(t, invite.ActionResend, inv)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != invite.StatePending || got.FinishedAt != nil || !got.ExpiresAt.After(e.now()) {
			t.Errorf("resent expired invitation %+v", got)
		}
		if s := e.get(t, o.ID, inv.ID).State; s != invite.StatePending {
			t.Errorf("stored state %s after resend of an expired invitation", s)
		}
	})

	t.Run("pending to error", func(t *testing.T) {
		inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		e.clock.Advance(time.Second)
		e.failMail(t, inv, "550 no such mailbox")
		got := e.get(t, o.ID, inv.ID)
		if got.State != invite.StateError || got.Error != "550 no such mailbox" {
			t.Fatalf("after a failed mail: state %s, error %q", got.State, got.Error)
		}
		wantTimePtr(t, "finished_at", got.FinishedAt, e.now())
		if n := e.count(t, invite.InvitationFilter{Org: o.ID, Email: inv.Email, States: []invite.State{invite.StateError}}); n != 1 {
			t.Errorf("count in error = %d", n)
		}
		e.refuses(t, inv, invite.ActionResend)
		e.clock.Advance(invite.ResendInterval)
		got, err := e.act(t, invite.ActionResend, inv)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != invite.StatePending || got.Error != "" || got.FinishedAt != nil {
			t.Errorf("resent failed invitation %+v", got)
		}
		if got := e.get(t, o.ID, inv.ID); got.State != invite.StatePending || got.Error != "" {
			t.Errorf("stored after resend: state %s, error %q", got.State, got.Error)
		}
	})

	t.Run("accept creates the member", func(t *testing.T) {
		ctx := sys(t)
		inv := e.invite(t, o.ID, invite.CreateInvitation{Email: " New.Person@Example.COM ", Role: "admin", Permissions: []string{"billing", "plans"}}).Invitation
		_, m, err := e.svc.AcceptInvitation(ctx, o.ID, invite.InvitationRef{Number: inv.Number}, invite.Accept{Email: "NEW.PERSON@example.com", Name: " Pat "})
		if err != nil {
			t.Fatal(err)
		}
		if m.Email != "new.person@example.com" || m.Name != "Pat" || m.Role != "admin" || !slices.Equal(m.Permissions, []string{"billing", "plans"}) || m.OrgID != o.ID {
			t.Errorf("member %+v", m)
		}
		got, err := e.svc.GetMember(ctx, o.ID, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Email != m.Email || got.Role != m.Role || !slices.Equal(got.Permissions, m.Permissions) || !got.CreatedAt.Equal(e.now()) {
			t.Errorf("stored member %+v, want %+v", got, m)
		}
	})

	t.Run("accept by token", func(t *testing.T) {
		ctx := sys(t)
		inv, token := e.quiet(t, o.ID)
		v, err := e.svc.GetByToken(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if v.Invitation.ID != inv.ID || v.Organization.ID != o.ID || v.Invitation.State != invite.StatePending {
			t.Errorf("token view %+v", v)
		}
		av, err := e.svc.AcceptByToken(ctx, token, "Sam")
		if err != nil {
			t.Fatal(err)
		}
		if got, m := av.Invitation, av.Member; got.State != invite.StateAccepted || m == nil || m.Email != inv.Email || m.Name != "Sam" ||
			av.Organization == nil || av.Organization.ID != o.ID {
			t.Errorf("accepted %+v as %+v in %+v", got, m, av.Organization)
		}
		if v, err := e.svc.GetByToken(ctx, token); err != nil || v.Invitation.State != invite.StateAccepted {
			t.Errorf("token view after accept: %+v, %v", v, err)
		}
		_, _, err = e.acceptByToken(ctx, token, "Sam")
		wantKind(t, err, invite.KindConflict, "accepted")
		_, err = e.svc.DeclineByToken(ctx, token)
		wantKind(t, err, invite.KindConflict, "accepted")
	})

	t.Run("decline by token", func(t *testing.T) {
		ctx := sys(t)
		inv, token := e.quiet(t, o.ID)
		dv, err := e.svc.DeclineByToken(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if dv.Invitation.State != invite.StateDeclined || dv.Member != nil || dv.Organization == nil || dv.Organization.ID != o.ID ||
			e.get(t, o.ID, inv.ID).State != invite.StateDeclined {
			t.Errorf("declined by token: %+v", dv)
		}
		_, _, err = e.acceptByToken(ctx, token, "x")
		wantKind(t, err, invite.KindConflict, "declined")
		if _, err := e.svc.DeclineByToken(ctx, "not-a-token"); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("decline with an unknown token: %v", err)
		}
	})

	t.Run("links that open nothing", func(t *testing.T) {
		ctx := sys(t)
		inv, token := e.quiet(t, o.ID)
		other, otherToken := e.quiet(t, o.ID)
		raw, _ := base64.RawURLEncoding.DecodeString(token)
		forged := append([]byte{}, raw...)
		forged[len(forged)-1] ^= 1
		swapped, _ := base64.RawURLEncoding.DecodeString(otherToken)
		copy(swapped, inv.ID[:]) // inv's id with other's secret
		for name, bad := range map[string]string{
			"another secret":        base64.RawURLEncoding.EncodeToString(forged),
			"another link's secret": base64.RawURLEncoding.EncodeToString(swapped),
			"not base64":            strings.Repeat("*", len(token)),
			"too short":             token[:len(token)-1],
			"too long":              token + "A",
			"empty":                 "",
			"an unknown invitation": base64.RawURLEncoding.EncodeToString(append(make([]byte, 16), raw[16:]...)),
		} {
			if _, err := e.svc.GetByToken(ctx, bad); invite.ErrorKind(err) != invite.KindNotFound {
				t.Errorf("GetByToken with %s: %v, want not found", name, err)
			}
			if _, _, err := e.acceptByToken(ctx, bad, "x"); invite.ErrorKind(err) != invite.KindNotFound {
				t.Errorf("AcceptByToken with %s: %v, want not found", name, err)
			}
		}
		// A resend replaces the link: the old one opens nothing, the new one works.
		e.clock.Advance(invite.ResendInterval)
		if _, err := e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.GetByToken(ctx, token); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("GetByToken with the link a resend replaced: %v, want not found", err)
		}
		if v, err := e.svc.GetByToken(ctx, otherToken); err != nil || v.Invitation.ID != other.ID {
			t.Errorf("GetByToken with a good link: %v, %v", v, err)
		}
		if s := e.get(t, o.ID, inv.ID).State; s != invite.StatePending {
			t.Errorf("bad links left the invitation %s", s)
		}
	})

	t.Run("failed accept leaves the invitation pending", func(t *testing.T) {
		ctx := sys(t)
		inv, token := e.quiet(t, o.ID)
		// A different address is refused.
		_, _, err := e.svc.AcceptInvitation(ctx, o.ID, ref(inv.ID), invite.Accept{Email: "someone.else@example.com"})
		wantKind(t, err, invite.KindInvalid, "someone.else@example.com")
		_, _, err = e.svc.AcceptInvitation(ctx, o.ID, ref(inv.ID), invite.Accept{})
		wantKind(t, err, invite.KindInvalid, "email")
		_, _, err = e.acceptByToken(ctx, token, "bad\r\nname")
		wantKind(t, err, invite.KindInvalid, "name")
		if page, _ := e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Email: inv.Email}); len(page.Items) != 0 {
			t.Errorf("refused accept made a member: %+v", page.Items)
		}
		// A member with the address appears meanwhile: the accept fails whole.
		now := e.now()
		e.write(t, func(tx invite.Tx) error {
			return tx.CreateMember(ctx, &invite.Member{ID: uuid.New(), OrgID: o.ID, Email: inv.Email, Name: "first", Role: "member", CreatedAt: now, UpdatedAt: now})
		})
		e.clock.Advance(time.Second)
		_, _, err = e.acceptByToken(ctx, token, "second")
		wantKind(t, err, invite.KindConflict, inv.Email)
		got := e.get(t, o.ID, inv.ID)
		if got.State != invite.StatePending || got.FinishedAt != nil || !got.UpdatedAt.Equal(inv.UpdatedAt) {
			t.Errorf("after a failed accept: %+v", got)
		}
		page, err := e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Email: inv.Email})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 || page.Items[0].Name != "first" {
			t.Errorf("members after a failed accept: %+v", page.Items)
		}
	})

	t.Run("concurrent moves", func(t *testing.T) {
		ctx := sys(t)
		inv, token := e.quiet(t, o.ID)
		e.clock.Advance(time.Second)
		actions := []invite.Action{invite.ActionAccept, invite.ActionDecline, invite.ActionCancel}
		const each = 4
		type result struct {
			a   invite.Action
			err error
		}
		results := make([]result, each*len(actions)+each)
		var wg sync.WaitGroup
		for i := range each * len(actions) {
			a := actions[i%len(actions)]
			wg.Go(func() {
				_, err := e.act(t, a, inv)
				results[i] = result{a, err}
			})
		}
		// The invitee clicking Accept again and again at the same time.
		for i := range each {
			wg.Go(func() {
				_, _, err := e.acceptByToken(ctx, token, "Clicker")
				results[each*len(actions)+i] = result{invite.ActionAccept, err}
			})
		}
		wg.Wait()
		var won []invite.Action
		for _, r := range results {
			if r.err == nil {
				won = append(won, r.a)
			} else if invite.ErrorKind(r.err) != invite.KindConflict {
				t.Errorf("a losing %s: %v, want Kind Conflict", r.a, r.err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("%d concurrent moves of one invitation succeeded (%v), want 1", len(won), won)
		}
		want := map[invite.Action]invite.State{invite.ActionAccept: invite.StateAccepted,
			invite.ActionDecline: invite.StateDeclined, invite.ActionCancel: invite.StateCancelled}[won[0]]
		if got := e.get(t, o.ID, inv.ID); got.State != want {
			t.Errorf("stored state %s after %s won", got.State, won[0])
		}
		page, err := e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Email: inv.Email})
		if err != nil {
			t.Fatal(err)
		}
		if wantMembers := map[bool]int{true: 1, false: 0}[won[0] == invite.ActionAccept]; len(page.Items) != wantMembers {
			t.Errorf("%d members after %s won, want %d", len(page.Items), won[0], wantMembers)
		}
	})

	t.Run("unknown invitation", func(t *testing.T) {
		for _, a := range userActions {
			_, err := e.act(t, a, &invite.Invitation{ID: uuid.New(), OrgID: o.ID, Email: "x@example.com"})
			wantKind(t, err, invite.KindNotFound)
		}
		_, err := e.svc.GetInvitation(sys(t), o.ID, invite.InvitationRef{Number: 1 << 60})
		wantKind(t, err, invite.KindNotFound)
	})
}
