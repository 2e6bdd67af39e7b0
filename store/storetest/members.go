package storetest

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/invite"
)

// ---- members

func testMembers(t *testing.T, e *env) {
	ctx := sys(t)
	o := e.org(t, nil)
	join := func(t *testing.T, c invite.CreateInvitation) *invite.Member {
		t.Helper()
		c.NoEmail = true
		res := e.invite(t, o.ID, c)
		_, m, err := e.acceptByToken(ctx, res.Token, "Member "+c.Email)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	var members []*invite.Member
	for i := range 7 {
		if i%2 == 0 {
			e.clock.Advance(time.Second)
		}
		role := []string{"member", "admin"}[i%2]
		members = append(members, join(t, invite.CreateInvitation{Email: e.email(), Role: role}))
	}

	t.Run("list", func(t *testing.T) {
		var seen []*invite.Member
		cur := ""
		for range 20 {
			page, err := e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Limit: 3, Cursor: cur})
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, page.Items...)
			if cur = page.NextCursor; cur == "" {
				break
			}
			// Someone joins between pages.
			e.clock.Advance(time.Second)
			members = append(members, join(t, invite.CreateInvitation{Email: e.email()}))
		}
		// Members are listed in the order they joined; those who joined in
		// the same instant by id.
		joined := slices.Clone(members)
		slices.SortStableFunc(joined, memberOrder)
		if len(seen) != len(joined) {
			t.Fatalf("listed %d members, want %d", len(seen), len(joined))
		}
		for i, m := range seen {
			if m.ID != joined[i].ID {
				t.Fatalf("member %d is %s, want %s", i, m.Email, joined[i].Email)
			}
		}
		page, err := e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Role: "admin", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Items {
			if m.Role != "admin" {
				t.Errorf("role filter returned a %s", m.Role)
			}
		}
		if len(page.Items) != 3 {
			t.Errorf("%d admins, want 3", len(page.Items))
		}
		page, err = e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Email: strings.ToUpper(members[2].Email)})
		if err != nil || len(page.Items) != 1 || page.Items[0].ID != members[2].ID {
			t.Errorf("email filter: %+v, %v", page, err)
		}
		page, err = e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Offset: 2, Limit: 2})
		if err != nil || len(page.Items) != 2 || page.Items[0].ID != joined[2].ID || page.Items[1].ID != joined[3].ID {
			t.Errorf("offset 2: %+v, %v", page, err)
		}
		for _, c := range []string{"garbage!", invite.EncodeCursor("created_at", invite.Position{Time: e.now(), Number: 1})} {
			_, err = e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Cursor: c})
			wantKind(t, err, invite.KindInvalid, "cursor")
		}
		_, err = e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Limit: invite.MaxLimit + 1})
		wantKind(t, err, invite.KindInvalid, "limit")
		_, err = e.svc.ListMembers(ctx, invite.NewOrgID(), invite.MemberParams{})
		wantKind(t, err, invite.KindNotFound)
	})

	t.Run("update", func(t *testing.T) {
		m := members[0]
		e.clock.Advance(time.Second)
		name, role, perms := "  Renamed  ", "owner", []string{"billing", "members", "billing"}
		u, err := e.svc.UpdateMember(ctx, o.ID, m.ID, invite.MemberPatch{Name: &name, Role: &role, Permissions: &perms})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.GetMember(ctx, o.ID, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []*invite.Member{u, got} {
			if x.Name != "Renamed" || x.Role != "owner" || !slices.Equal(x.Permissions, []string{"billing", "members"}) || x.Email != m.Email {
				t.Errorf("updated member %+v", x)
			}
			wantTime(t, "updated_at", x.UpdatedAt, e.now())
			wantTime(t, "created_at", x.CreatedAt, m.CreatedAt)
		}
		badRole, empty, badName := "emperor", " ", "a\nb"
		badPerms := []string{"launch"}
		for word, p := range map[string]invite.MemberPatch{
			"emperor": {Role: &badRole}, "role": {Role: &empty}, "launch": {Permissions: &badPerms}, "name": {Name: &badName},
		} {
			_, err := e.svc.UpdateMember(ctx, o.ID, m.ID, p)
			wantKind(t, err, invite.KindInvalid, word)
		}
		after, _ := e.svc.GetMember(ctx, o.ID, m.ID)
		if after.Role != "owner" || after.Name != "Renamed" || !after.UpdatedAt.Equal(got.UpdatedAt) {
			t.Errorf("refused updates changed the member: %+v", after)
		}
		// A role the org no longer has is refused.
		roles := []string{"viewer"}
		if _, err := e.svc.UpdateOrg(ctx, o.ID, nil, &invite.SettingsPatch{Roles: &roles}); err != nil {
			t.Fatal(err)
		}
		viewer := "viewer"
		if _, err := e.svc.UpdateMember(ctx, o.ID, m.ID, invite.MemberPatch{Role: &viewer}); err != nil {
			t.Errorf("update to the org's new role: %v", err)
		}
		_, err = e.svc.UpdateMember(ctx, o.ID, uuid.New(), invite.MemberPatch{Name: &name})
		wantKind(t, err, invite.KindNotFound)
		roles = invite.DefaultSettings().Roles
		if _, err := e.svc.UpdateOrg(ctx, o.ID, nil, &invite.SettingsPatch{Roles: &roles}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("inviting a member", func(t *testing.T) {
		m := members[1]
		_, err := e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: strings.ToUpper(m.Email)})
		wantKind(t, err, invite.KindConflict, m.Email, "member")
		_, err = e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: m.Email, Force: true})
		wantKind(t, err, invite.KindConflict, "member")
	})

	t.Run("resend to someone who joined since", func(t *testing.T) {
		old := e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 3600}).Invitation
		e.clock.Advance(time.Hour)
		join(t, invite.CreateInvitation{Email: old.Email})
		_, err := e.svc.ResendInvitation(ctx, o.ID, ref(old.ID))
		wantKind(t, err, invite.KindConflict, old.Email)
		if s := e.get(t, o.ID, old.ID).State; s != invite.StateExpired {
			t.Errorf("the old invitation is %s", s)
		}
	})

	t.Run("delete", func(t *testing.T) {
		m := members[3]
		if err := e.svc.DeleteMember(ctx, o.ID, m.ID); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.GetMember(ctx, o.ID, m.ID)
		wantKind(t, err, invite.KindNotFound)
		wantKind(t, e.svc.DeleteMember(ctx, o.ID, m.ID), invite.KindNotFound)
		page, _ := e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Limit: 100})
		if slices.ContainsFunc(page.Items, func(x *invite.Member) bool { return x.ID == m.ID }) {
			t.Error("a deleted member is listed")
		}
		// A removed member can be invited again.
		again := join(t, invite.CreateInvitation{Email: m.Email})
		if again.ID == m.ID {
			t.Error("the rejoined member has the old id")
		}
	})
}

func memberOrder(a, b *invite.Member) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return bytes.Compare(a.ID[:], b.ID[:])
}
