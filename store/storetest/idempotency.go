package storetest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
)

// ---- idempotent create

func testIdempotency(t *testing.T, e *env) {
	t.Run("forgotten after a day", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		c := invite.CreateInvitation{Email: e.email(), Role: "admin", IdempotencyKey: "day", IdempotencyScope: "key:day"}
		first, err := e.svc.CreateInvitation(ctx, o.ID, c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CancelInvitation(ctx, o.ID, invite.InvitationRef{ID: first.Invitation.ID}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(invite.IdempotencyTTL - time.Second)
		if r, err := e.svc.CreateInvitation(ctx, o.ID, c); err != nil || !r.Replayed || r.Invitation.ID != first.Invitation.ID {
			t.Fatalf("within a day the key must replay: %+v %v", r, err)
		}
		e.clock.Advance(2 * time.Second)
		other := c
		other.Role = "member" // another body: refused while remembered, accepted once forgotten
		again, err := e.svc.CreateInvitation(ctx, o.ID, other)
		if err != nil || again.Replayed || again.Invitation.ID == first.Invitation.ID {
			t.Fatalf("after a day the key must be free: %+v %v", again, err)
		}
		// Stored anew: the next retry within a day replays the new answer.
		if r, err := e.svc.CreateInvitation(ctx, o.ID, other); err != nil || r.Invitation.ID != again.Invitation.ID {
			t.Fatalf("replay of the new answer: %+v %v", r, err)
		}
	})
	t.Run("replay", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		c := invite.CreateInvitation{Email: e.email(), Role: "admin", IdempotencyKey: "k1", IdempotencyScope: "key:a"}
		depth, expiries := e.depth(t), e.queued(t, invite.JobExpireInvitation)
		first, err := e.svc.CreateInvitation(ctx, o.ID, c)
		if err != nil {
			t.Fatal(err)
		}
		if first.Replayed {
			t.Error("the first create says it is a replay")
		}
		e.clock.Advance(time.Second)
		again, err := e.svc.CreateInvitation(ctx, o.ID, c)
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		if !again.Replayed || again.Invitation.ID != first.Invitation.ID || !again.Invitation.CreatedAt.Equal(first.Invitation.CreatedAt) {
			t.Errorf("replay gave %+v (replayed %v), want %s", again.Invitation, again.Replayed, first.Invitation.ID)
		}
		// The same body written differently is the same request.
		c2 := c
		c2.Email = strings.ToUpper(c.Email)
		if r, err := e.svc.CreateInvitation(ctx, o.ID, c2); err != nil || r.Invitation.ID != first.Invitation.ID {
			t.Errorf("replay with the email in capitals: %v", err)
		}
		if n := e.count(t, invite.InvitationFilter{Org: o.ID, Email: c.Email}); n != 1 {
			t.Errorf("%d invitations after a replay", n)
		}
		if d := e.depth(t); d != depth+1 {
			t.Errorf("outbox grew by %d, want 1 mail", d-depth)
		}
		if d := e.queued(t, invite.JobExpireInvitation); d != expiries+1 {
			t.Errorf("%d expiry jobs queued by a create and its replays, want 1", d-expiries)
		}
		if ev := e.subjectEvents(t, o.ID, first.Invitation.ID.String()); len(ev) != 1 || ev[0].Type != invite.EventInvitationCreated {
			t.Errorf("events of a create and its replays: %v", eventTypes(ev))
		}

		other := c
		other.Role = "member"
		_, err = e.svc.CreateInvitation(ctx, o.ID, other)
		wantKind(t, err, invite.KindInvalid, "k1")
		other = c
		other.Email = e.email()
		_, err = e.svc.CreateInvitation(ctx, o.ID, other)
		wantKind(t, err, invite.KindInvalid, "k1")

		// Another caller, or another org, has its own keys.
		other = c
		other.Email = e.email()
		other.IdempotencyScope = "key:b"
		if r, err := e.svc.CreateInvitation(ctx, o.ID, other); err != nil || r.Replayed {
			t.Errorf("the same key from another caller: %+v, %v", r, err)
		}
		o2 := e.org(t, nil)
		if r, err := e.svc.CreateInvitation(ctx, o2.ID, c); err != nil || r.Replayed || r.Invitation.OrgID != o2.ID {
			t.Errorf("the same key in another org: %+v, %v", r, err)
		}

		// A replay after the invitation moved on shows it as it is now.
		if _, err := e.svc.CancelInvitation(ctx, o.ID, ref(first.Invitation.ID)); err != nil {
			t.Fatal(err)
		}
		r, err := e.svc.CreateInvitation(ctx, o.ID, c)
		if err != nil || r.Invitation.ID != first.Invitation.ID || r.Invitation.State != invite.StateCancelled {
			t.Errorf("replay after cancel: %+v, %v", r, err)
		}

		c.IdempotencyKey = strings.Repeat("k", 256)
		_, err = e.svc.CreateInvitation(ctx, o.ID, c)
		wantKind(t, err, invite.KindInvalid, "Idempotency-Key")
	})

	t.Run("concurrent", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		c := invite.CreateInvitation{Email: e.email(), IdempotencyKey: "same", IdempotencyScope: "key:a"}
		const n = 20
		res := make([]*invite.Created, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { res[i], errs[i] = e.svc.CreateInvitation(ctx, o.ID, c) })
		}
		wg.Wait()
		fresh := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("a concurrent same-key create: %v", errs[i])
			}
			if res[i].Invitation.ID != res[0].Invitation.ID {
				t.Errorf("two invitations for one key: %s and %s", res[i].Invitation.ID, res[0].Invitation.ID)
			}
			if !res[i].Replayed {
				fresh++
			}
		}
		if fresh != 1 {
			t.Errorf("%d creates say they made the invitation, want 1", fresh)
		}
		if k := e.count(t, invite.InvitationFilter{Org: o.ID}); k != 1 {
			t.Errorf("%d invitations stored", k)
		}
	})
}
