package storetest

import (
	"slices"
	"testing"

	"github.com/invitd/invitd/invite"
)

// ---- tenants

func testTenants(t *testing.T, e *env) {
	ctx := sys(t)
	a, b := e.org(t, nil), e.org(t, nil)
	keyA, err := e.svc.CreateKey(ctx, &a.ID, invite.KeyInput{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	keyB, err := e.svc.CreateKey(ctx, &b.ID, invite.KeyInput{Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	invA := e.invite(t, a.ID, invite.CreateInvitation{}).Invitation
	_, tokA := e.quiet(t, a.ID)
	_, memA, err := e.acceptByToken(ctx, tokA, "Alice")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * invite.ResendInterval)

	t.Run("keys", func(t *testing.T) {
		p, err := e.svc.Authenticate(ctx, keyB.Token)
		if err != nil {
			t.Fatal(err)
		}
		wantKind(t, p.Authorize(a.ID), invite.KindNotFound)
		if err := p.Authorize(b.ID); err != nil {
			t.Errorf("org B's key on org B: %v", err)
		}
		wantKind(t, e.svc.DeleteKey(ctx, &b.ID, keyA.ID), invite.KindNotFound)
		if _, err := e.svc.Authenticate(ctx, keyA.Token); err != nil {
			t.Errorf("org A's key after org B tried to delete it: %v", err)
		}
		keys, _ := e.svc.ListKeys(ctx, &b.ID)
		if slices.ContainsFunc(keys, func(k *invite.APIKey) bool { return k.ID == keyA.ID }) {
			t.Error("org B lists org A's key")
		}
	})

	t.Run("invitations", func(t *testing.T) {
		for _, r := range []invite.InvitationRef{{ID: invA.ID}, {Number: invA.Number}} {
			_, err := e.svc.GetInvitation(ctx, b.ID, r)
			wantKind(t, err, invite.KindNotFound)
			_, err = e.svc.CancelInvitation(ctx, b.ID, r)
			wantKind(t, err, invite.KindNotFound)
			_, err = e.svc.DeclineInvitation(ctx, b.ID, r)
			wantKind(t, err, invite.KindNotFound)
			_, err = e.svc.ResendInvitation(ctx, b.ID, r)
			wantKind(t, err, invite.KindNotFound)
			_, _, err = e.svc.AcceptInvitation(ctx, b.ID, r, invite.Accept{Email: invA.Email})
			wantKind(t, err, invite.KindNotFound)
		}
		got := e.get(t, a.ID, invA.ID)
		if got.State != invite.StatePending || !got.UpdatedAt.Equal(invA.UpdatedAt) || got.SendCount != invA.SendCount {
			t.Errorf("org A's invitation changed: %+v", got)
		}
		page, err := e.svc.ListInvitations(ctx, b.ID, invite.ListParams{})
		if err != nil {
			t.Fatal(err)
		}
		for _, inv := range page.Items {
			if inv.OrgID != b.ID {
				t.Errorf("org B lists %s of org %s", inv.ID, inv.OrgID)
			}
		}
		if n := e.count(t, invite.InvitationFilter{Org: b.ID, Email: invA.Email}); n != 0 {
			t.Errorf("org B counts org A's invitation")
		}
		// The same person may be invited by both.
		if r := e.invite(t, b.ID, invite.CreateInvitation{Email: invA.Email}); r.Invitation.OrgID != b.ID {
			t.Errorf("invitation in org B made in %s", r.Invitation.OrgID)
		}
		if r := e.invite(t, b.ID, invite.CreateInvitation{Email: memA.Email}); r.Invitation.State != invite.StatePending {
			t.Error("a member of org A cannot be invited to org B")
		}
	})

	t.Run("members", func(t *testing.T) {
		_, err := e.svc.GetMember(ctx, b.ID, memA.ID)
		wantKind(t, err, invite.KindNotFound)
		role := "owner"
		_, err = e.svc.UpdateMember(ctx, b.ID, memA.ID, invite.MemberPatch{Role: &role})
		wantKind(t, err, invite.KindNotFound)
		wantKind(t, e.svc.DeleteMember(ctx, b.ID, memA.ID), invite.KindNotFound)
		got, err := e.svc.GetMember(ctx, a.ID, memA.ID)
		if err != nil || got.Role != memA.Role {
			t.Errorf("org A's member after org B's attempts: %+v, %v", got, err)
		}
		page, err := e.svc.ListMembers(ctx, b.ID, invite.MemberParams{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 0 {
			t.Errorf("org B lists %d members", len(page.Items))
		}
	})
}
