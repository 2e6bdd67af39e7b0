package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/invite"
)

// ---- organizations

func testOrgs(t *testing.T, e *env) {
	t.Run("CreateGetList", func(t *testing.T) {
		ctx := sys(t)
		o, err := e.svc.CreateOrg(ctx, "  Acme  ", nil)
		if err != nil {
			t.Fatal(err)
		}
		if o.Name != "Acme" || o.ID.IsZero() {
			t.Errorf("created %+v, want name Acme and an id", o)
		}
		def := invite.DefaultSettings()
		if o.Settings.InvitationTTL != int64(invite.DefaultTTL/time.Second) || !slices.Equal(o.Settings.Roles, def.Roles) ||
			o.Settings.DefaultRole != def.DefaultRole || !slices.Equal(o.Settings.Permissions, def.Permissions) {
			t.Errorf("new org settings %+v, want the defaults %+v", o.Settings, def)
		}
		wantTime(t, "created_at", o.CreatedAt, e.now())
		got, err := e.svc.GetOrg(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != o.Name || !got.CreatedAt.Equal(o.CreatedAt) || !got.UpdatedAt.Equal(o.UpdatedAt) ||
			!slices.Equal(got.Settings.Roles, o.Settings.Roles) || got.Settings.DefaultRole != o.Settings.DefaultRole {
			t.Errorf("GetOrg = %+v, want %+v", got, o)
		}
		if _, err := e.svc.GetOrg(ctx, invite.NewOrgID()); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("GetOrg of an unknown id: %v, want NotFound", err)
		}

		made := map[invite.OrgID]bool{o.ID: true}
		for range 4 {
			made[e.org(t, nil).ID] = true
		}
		var all []*invite.Organization
		var after *invite.OrgID
		for {
			page, err := e.svc.ListOrgs(ctx, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 2 {
				t.Fatalf("ListOrgs returned %d orgs with limit 2", len(page))
			}
			if len(page) == 0 {
				break
			}
			all = append(all, page...)
			after = &page[len(page)-1].ID
		}
		seen := map[invite.OrgID]bool{}
		for i, x := range all {
			if seen[x.ID] {
				t.Fatalf("ListOrgs returned %s twice", x.ID)
			}
			seen[x.ID] = true
			if i > 0 && strings.Compare(all[i-1].ID.UUID(), x.ID.UUID()) >= 0 {
				t.Errorf("ListOrgs is not in id order at %d", i)
			}
		}
		for id := range made {
			if !seen[id] {
				t.Errorf("ListOrgs missed %s", id)
			}
		}
	})

	t.Run("NameRules", func(t *testing.T) {
		for _, name := range []string{"", "   ", "a\nb", "a\rb", strings.Repeat("x", invite.MaxNameLen+1), "\xff"} {
			_, err := e.svc.CreateOrg(sys(t), name, nil)
			wantKind(t, err, invite.KindInvalid, "name")
		}
	})

	t.Run("Settings", func(t *testing.T) {
		i64 := func(n int64) *int64 { return &n }
		str := func(s string) *string { return &s }
		strs := func(s ...string) *[]string { return &s }
		neg := -1
		bad := map[string]invite.SettingsPatch{
			"ttl below an hour":     {InvitationTTL: i64(3599)},
			"ttl above 30 days":     {InvitationTTL: i64(30*24*3600 + 1)},
			"ttl zero":              {InvitationTTL: i64(0)},
			"no roles":              {Roles: strs()},
			"bad role name":         {Roles: strs("Owner")},
			"repeated role":         {Roles: strs("a", "a")},
			"default not a role":    {DefaultRole: str("ghost")},
			"bad permission":        {Permissions: strs("has space")},
			"repeated permission":   {Permissions: strs("p", "p")},
			"negative max_pending":  {MaxPending: &neg},
			"locale not a language": {Locale: str("english!")},
		}
		words := map[string]string{
			"ttl below an hour": "invitation_ttl", "ttl above 30 days": "invitation_ttl", "ttl zero": "invitation_ttl",
			"no roles": "roles", "bad role name": "Owner", "repeated role": "twice", "default not a role": "ghost",
			"bad permission": "has space", "repeated permission": "twice", "negative max_pending": "max_pending",
			"locale not a language": "locale",
		}
		o := e.org(t, nil)
		for name, p := range bad {
			t.Run(name, func(t *testing.T) {
				_, err := e.svc.CreateOrg(sys(t), "x", &p)
				wantKind(t, err, invite.KindInvalid, words[name])
				_, err = e.svc.UpdateOrg(sys(t), o.ID, nil, &p)
				wantKind(t, err, invite.KindInvalid, words[name])
			})
		}
		got, err := e.svc.GetOrg(sys(t), o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Settings.InvitationTTL != o.Settings.InvitationTTL || !slices.Equal(got.Settings.Roles, o.Settings.Roles) || !got.UpdatedAt.Equal(o.UpdatedAt) {
			t.Errorf("refused updates changed the org: %+v, was %+v", got, o)
		}

		for _, ttl := range []int64{3600, 30 * 24 * 3600} {
			x, err := e.svc.CreateOrg(sys(t), "ttl", &invite.SettingsPatch{InvitationTTL: &ttl})
			if err != nil {
				t.Fatalf("TTL %d refused: %v", ttl, err)
			}
			if x.Settings.InvitationTTL != ttl {
				t.Errorf("TTL %d stored as %d", ttl, x.Settings.InvitationTTL)
			}
		}
		// Changing the roles keeps a default role that is one of them.
		x, err := e.svc.UpdateOrg(sys(t), o.ID, nil, &invite.SettingsPatch{Roles: strs("viewer", "editor")})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(x.Settings.Roles, x.Settings.DefaultRole) {
			t.Errorf("default role %q is not one of %v", x.Settings.DefaultRole, x.Settings.Roles)
		}
	})

	t.Run("Update", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		e.clock.Advance(time.Minute)
		name, ttl, perms := " Renamed ", int64(7200), []string{"read", "write"}
		u, err := e.svc.UpdateOrg(ctx, o.ID, &name, &invite.SettingsPatch{InvitationTTL: &ttl, Permissions: &perms})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.GetOrg(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []*invite.Organization{u, got} {
			if x.Name != "Renamed" || x.Settings.InvitationTTL != ttl || !slices.Equal(x.Settings.Permissions, perms) ||
				!slices.Equal(x.Settings.Roles, o.Settings.Roles) {
				t.Errorf("updated org %+v", x)
			}
			wantTime(t, "updated_at", x.UpdatedAt, e.now())
			wantTime(t, "created_at", x.CreatedAt, o.CreatedAt)
		}
		empty := ""
		_, err = e.svc.UpdateOrg(ctx, o.ID, &empty, nil)
		wantKind(t, err, invite.KindInvalid, "name")
		_, err = e.svc.UpdateOrg(ctx, invite.NewOrgID(), &name, nil)
		wantKind(t, err, invite.KindNotFound)

		// New invitations take the new TTL.
		inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		wantTime(t, "expires_at", inv.ExpiresAt, inv.CreatedAt.Add(2*time.Hour))
	})

	t.Run("DeleteRemovesEverything", func(t *testing.T) {
		ctx := sys(t)
		o, keep := e.org(t, nil), e.org(t, nil)
		key, err := e.svc.CreateKey(ctx, &o.ID, invite.KeyInput{Name: "k"})
		if err != nil {
			t.Fatal(err)
		}
		keepKey, err := e.svc.CreateKey(ctx, &keep.ID, invite.KeyInput{Name: "k"})
		if err != nil {
			t.Fatal(err)
		}
		before, beforeExpiry := e.depth(t), e.queued(t, invite.JobExpireInvitation)
		mailed := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		keptInv := e.invite(t, keep.ID, invite.CreateInvitation{Email: mailed.Email}).Invitation
		acc, token := e.quiet(t, o.ID)
		_, member, err := e.acceptByToken(ctx, token, "Ann")
		if err != nil {
			t.Fatal(err)
		}
		if d := e.depth(t); d != before+2 {
			t.Fatalf("outbox depth %d after two mailed invitations, want %d", d, before+2)
		}
		if d := e.queued(t, invite.JobExpireInvitation); d != beforeExpiry+3 {
			t.Fatalf("%d expiry jobs after three invitations, want %d", d, beforeExpiry+3)
		}
		if len(e.events(t, o.ID)) == 0 || len(e.events(t, keep.ID)) == 0 {
			t.Fatal("no events of the invitations")
		}
		keptEvents := len(e.events(t, keep.ID))

		if err := e.svc.DeleteOrg(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.GetOrg(ctx, o.ID); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("GetOrg after delete: %v", err)
		}
		if _, err := e.svc.Authenticate(ctx, key.Token); invite.ErrorKind(err) != invite.KindUnauthorized {
			t.Errorf("the deleted org's key still authenticates: %v", err)
		}
		if _, err := e.svc.GetByToken(ctx, token); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("the deleted org's invitation link still works: %v", err)
		}
		e.store.Read(ctx, func(tx invite.Tx) error {
			for _, id := range []uuid.UUID{mailed.ID, acc.ID} {
				if _, err := tx.GetInvitationByID(ctx, id, false); !errors.Is(err, invite.ErrNotFound) {
					t.Errorf("invitation %s of a deleted org: %v", id, err)
				}
			}
			if _, err := tx.GetMember(ctx, o.ID, member.ID); !errors.Is(err, invite.ErrNotFound) {
				t.Errorf("member of a deleted org: %v", err)
			}
			if _, err := tx.GetKey(ctx, key.ID); !errors.Is(err, invite.ErrNotFound) {
				t.Errorf("key of a deleted org: %v", err)
			}
			return nil
		})
		if d := e.depth(t); d != before+1 {
			t.Errorf("outbox depth %d after deleting an org with one queued mail, want %d", d, before+1)
		}
		if d := e.queued(t, invite.JobExpireInvitation); d != beforeExpiry+1 {
			t.Errorf("%d expiry jobs after deleting an org, want %d", d, beforeExpiry+1)
		}
		if n := len(e.events(t, o.ID)); n != 0 {
			t.Errorf("%d events left of a deleted org", n)
		}
		if n := len(e.events(t, keep.ID)); n != keptEvents {
			t.Errorf("another org has %d events after a delete, had %d", n, keptEvents)
		}
		if n := e.count(t, invite.InvitationFilter{Org: o.ID}); n != 0 {
			t.Errorf("%d invitations left in a deleted org", n)
		}
		if _, err := e.svc.ListKeys(ctx, &o.ID); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("ListKeys of a deleted org: %v", err)
		}
		if _, err := e.svc.FindInvitations(ctx, invite.InvitationFilter{Org: o.ID, Limit: 10}); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("FindInvitations of a deleted org: %v, want NotFound", err)
		}
		if _, err := e.svc.ListInvitations(ctx, o.ID, invite.ListParams{}); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("ListInvitations of a deleted org: %v, want NotFound", err)
		}
		wantKind(t, e.svc.DeleteOrg(ctx, o.ID), invite.KindNotFound)

		// Numbers of deleted invitations are not given again.
		if next := e.invite(t, keep.ID, invite.CreateInvitation{}).Invitation; next.Number <= max(mailed.Number, acc.Number) {
			t.Errorf("number %d after deleting invitations up to %d", next.Number, max(mailed.Number, acc.Number))
		}

		// The other org is untouched.
		if _, err := e.svc.Authenticate(ctx, keepKey.Token); err != nil {
			t.Errorf("another org's key: %v", err)
		}
		if got := e.get(t, keep.ID, keptInv.ID); got.State != invite.StatePending {
			t.Errorf("another org's invitation is %s", got.State)
		}
	})
}
