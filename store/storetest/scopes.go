package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
)

// ---- key scopes, expiry and last use

// as authenticates k and returns a context acting as it.
func (e *env) as(t *testing.T, k *invite.NewKey) context.Context {
	t.Helper()
	p, err := e.svc.Authenticate(sys(t), k.Token)
	if err != nil {
		t.Fatalf("authenticate %s: %v", k.Name, err)
	}
	return invite.WithPrincipal(t.Context(), p)
}

func (e *env) key(t *testing.T, org *invite.OrgID, in invite.KeyInput) *invite.NewKey {
	t.Helper()
	if in.Name == "" {
		in.Name = "k"
	}
	k, err := e.svc.CreateKey(sys(t), org, in)
	if err != nil {
		t.Fatalf("CreateKey(%+v): %v", in, err)
	}
	return k
}

// wantScopeRefused fails unless err is a 403 naming scope.
func wantScopeRefused(t *testing.T, what string, err error, scope string) {
	t.Helper()
	if invite.ErrorKind(err) != invite.KindForbidden || !strings.Contains(invite.ErrorMessage(err), `"`+scope+`"`) {
		t.Errorf("%s: %v, want forbidden naming %q", what, err, scope)
	}
}

func testScopes(t *testing.T, e *env) {
	t.Run("a new key may do all but manage keys", func(t *testing.T) {
		o := e.org(t, nil)
		k := e.key(t, &o.ID, invite.KeyInput{})
		if !slices.Equal(k.Scopes, invite.DefaultScopes) || slices.Contains(k.Scopes, invite.ScopeKeysWrite) {
			t.Fatalf("a new key's scopes: %v", k.Scopes)
		}
		ctx := e.as(t, k)
		if _, err := e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: e.email()}); err != nil {
			t.Errorf("a default key invites: %v", err)
		}
		_, err := e.svc.CreateKey(ctx, &o.ID, invite.KeyInput{Name: "spare"})
		wantScopeRefused(t, "a default key makes a key", err, invite.ScopeKeysWrite)
		_, err = e.svc.ListKeys(ctx, &o.ID)
		wantScopeRefused(t, "a default key lists keys", err, invite.ScopeKeysRead)
		wantScopeRefused(t, "a default key revokes itself", e.svc.DeleteKey(ctx, &o.ID, k.ID), invite.ScopeKeysWrite)

		// Another organization's key is told "not found", not what it lacks.
		other := e.key(t, &e.org(t, nil).ID, invite.KeyInput{Scopes: []string{invite.ScopeEventsRead}})
		_, err = e.svc.CreateInvitation(e.as(t, other), o.ID, invite.CreateInvitation{Email: e.email()})
		wantKind(t, err, invite.KindNotFound)
	})

	t.Run("a key gives no scope it lacks", func(t *testing.T) {
		o := e.org(t, nil)
		keeper := e.key(t, &o.ID, invite.KeyInput{Scopes: []string{invite.ScopeKeysWrite, invite.ScopeKeysRead, invite.ScopeInvitationsRead}})
		ctx := e.as(t, keeper)
		reader, err := e.svc.CreateKey(ctx, &o.ID, invite.KeyInput{Name: "reader", Scopes: []string{invite.ScopeInvitationsRead, invite.ScopeInvitationsRead}})
		if err != nil || !slices.Equal(reader.Scopes, []string{invite.ScopeInvitationsRead}) {
			t.Fatalf("a key giving a scope it holds: %+v, %v", reader, err)
		}
		_, err = e.svc.CreateKey(ctx, &o.ID, invite.KeyInput{Name: "writer", Scopes: []string{invite.ScopeInvitationsWrite}})
		wantScopeRefused(t, "a key giving a scope it lacks", err, invite.ScopeInvitationsWrite)
		// Asking for no scopes gives the default, which it does not hold either.
		_, err = e.svc.CreateKey(ctx, &o.ID, invite.KeyInput{Name: "default"})
		wantKind(t, err, invite.KindForbidden)
		keys, err := e.svc.ListKeys(ctx, &o.ID)
		if err != nil || len(keys) != 2 {
			t.Fatalf("keys after refused creates: %d, %v", len(keys), err)
		}
		rctx := e.as(t, reader)
		if _, err := e.svc.FindInvitations(rctx, invite.InvitationFilter{Org: o.ID, Limit: 10}); err != nil {
			t.Errorf("a reader lists: %v", err)
		}
		if _, err := e.svc.GetOrg(rctx, o.ID); err != nil {
			t.Errorf("a reader reads its organization: %v", err)
		}
		_, err = e.svc.CreateInvitation(rctx, o.ID, invite.CreateInvitation{Email: e.email()})
		wantScopeRefused(t, "a reader invites", err, invite.ScopeInvitationsWrite)
		_, err = e.svc.ListMembers(rctx, o.ID, invite.MemberParams{})
		wantScopeRefused(t, "a reader lists members", err, invite.ScopeMembersRead)
		name := "renamed"
		_, err = e.svc.UpdateOrg(rctx, o.ID, &name, nil)
		wantScopeRefused(t, "a reader renames the organization", err, invite.ScopeOrgWrite)
	})

	t.Run("a key cannot raise its own powers", func(t *testing.T) {
		o := e.org(t, nil)
		at := e.now().Add(time.Hour)
		k := e.key(t, &o.ID, invite.KeyInput{ExpiresAt: &at, Scopes: append([]string{invite.ScopeKeysWrite}, invite.DefaultScopes...)})
		ctx := e.as(t, k)
		// The limits guard against the organization's own keys.
		for name, patch := range map[string]*invite.SettingsPatch{
			"mails":    {MaxMailsPerRecipientPerDay: new(invite.NoLimit)},
			"hourly":   {MaxInvitationsPerHour: new(invite.NoLimit)},
			"requests": {MaxRequestsPerSecond: new(1000)},
		} {
			_, err := e.svc.UpdateOrg(ctx, o.ID, nil, patch)
			wantKind(t, err, invite.KindForbidden)
			if err == nil {
				t.Errorf("%s: an organization's key changed its limits", name)
			}
		}
		if _, err := e.svc.UpdateOrg(ctx, o.ID, nil, &invite.SettingsPatch{DefaultRole: new("admin")}); err != nil {
			t.Errorf("an organization's key changes its other settings: %v", err)
		}
		if _, err := e.svc.UpdateOrg(sys(t), o.ID, nil, &invite.SettingsPatch{MaxInvitationsPerHour: new(5)}); err != nil {
			t.Errorf("an admin changes the limits: %v", err)
		}
		// A key it makes may not outlive it.
		later := at.Add(time.Minute)
		for _, exp := range []*time.Time{nil, &later} {
			_, err := e.svc.CreateKey(ctx, &o.ID, invite.KeyInput{Name: "heir", ExpiresAt: exp})
			if invite.ErrorKind(err) != invite.KindForbidden || !strings.Contains(invite.ErrorMessage(err), "expire by then") {
				t.Errorf("a key outliving its maker (expires %v): %v", exp, err)
			}
		}
		if _, err := e.svc.CreateKey(ctx, &o.ID, invite.KeyInput{Name: "heir", ExpiresAt: &at}); err != nil {
			t.Errorf("a key expiring with its maker: %v", err)
		}
		// Accepting for the invitee makes a member: invitations:write alone
		// does not.
		inviter := e.key(t, &o.ID, invite.KeyInput{Scopes: []string{invite.ScopeInvitationsWrite}})
		ictx := e.as(t, inviter)
		res, err := e.svc.CreateInvitation(ictx, o.ID, invite.CreateInvitation{Email: e.email(), Role: "owner"})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = e.svc.AcceptInvitation(ictx, o.ID, ref(res.Invitation.ID), invite.Accept{Email: res.Invitation.Email, Name: "X"})
		wantScopeRefused(t, "accepting with invitations:write alone", err, invite.ScopeMembersWrite)
	})

	t.Run("scopes are checked when asked for", func(t *testing.T) {
		o := e.org(t, nil)
		_, err := e.svc.CreateKey(sys(t), &o.ID, invite.KeyInput{Name: "x", Scopes: []string{"invitations:read", "invitations:delete"}})
		if invite.ErrorKind(err) != invite.KindInvalid || !strings.Contains(invite.ErrorMessage(err), `"invitations:delete"`) {
			t.Errorf("an unknown scope: %v", err)
		}
		_, err = e.svc.CreateKey(sys(t), nil, invite.KeyInput{Name: "x", Scopes: []string{"invitations:read"}})
		wantKind(t, err, invite.KindInvalid)
		_, err = e.svc.CreateKey(sys(t), &o.ID, invite.KeyInput{Name: "x", Scopes: []string{}})
		wantKind(t, err, invite.KindInvalid)
	})

	t.Run("expiry", func(t *testing.T) {
		o := e.org(t, nil)
		past := e.now().Add(-time.Second)
		_, err := e.svc.CreateKey(sys(t), &o.ID, invite.KeyInput{Name: "x", ExpiresAt: &past})
		wantKind(t, err, invite.KindInvalid)
		at := e.now().Add(time.Hour)
		k := e.key(t, &o.ID, invite.KeyInput{ExpiresAt: &at})
		if _, err := e.svc.Authenticate(sys(t), k.Token); err != nil {
			t.Fatalf("before its expiry: %v", err)
		}
		e.clock.Advance(time.Hour)
		_, err = e.svc.Authenticate(sys(t), k.Token)
		if invite.ErrorKind(err) != invite.KindUnauthorized || !strings.Contains(invite.ErrorMessage(err), "expired") {
			t.Errorf("at its expiry: %v, want unauthorized saying expired", err)
		}
	})

	t.Run("last use is written at most once a minute", func(t *testing.T) {
		o := e.org(t, nil)
		at := e.now().Add(48 * time.Hour)
		k := e.key(t, &o.ID, invite.KeyInput{ExpiresAt: &at, Scopes: []string{invite.ScopeEventsRead}})
		stored := func() *invite.APIKey {
			t.Helper()
			var got *invite.APIKey
			e.write(t, func(tx invite.Tx) error {
				var err error
				got, err = tx.GetKey(sys(t), k.ID)
				return err
			})
			return got
		}
		got := stored()
		if got.LastUsedAt != nil || got.ExpiresAt == nil || !got.ExpiresAt.Equal(at) || !slices.Equal(got.Scopes, k.Scopes) {
			t.Fatalf("stored key %+v, want scopes %v, expires %v, never used", got, k.Scopes, at)
		}
		first := e.now()
		e.as(t, k)
		if got := stored(); got.LastUsedAt == nil || !got.LastUsedAt.Equal(first) {
			t.Fatalf("after a use: last_used_at %v, want %v", got.LastUsedAt, first)
		}
		e.clock.Advance(30 * time.Second)
		e.as(t, k)
		if got := stored(); !got.LastUsedAt.Equal(first) {
			t.Errorf("used again within a minute: last_used_at %v, want %v kept", got.LastUsedAt, first)
		}
		e.clock.Advance(30 * time.Second)
		e.as(t, k)
		if got := stored(); !got.LastUsedAt.Equal(e.now()) {
			t.Errorf("used a minute later: last_used_at %v, want %v", got.LastUsedAt, e.now())
		}
		keys, err := e.svc.ListKeys(sys(t), &o.ID)
		if err != nil || len(keys) != 1 || invite.ViewKey(keys[0]).LastUsedAt == nil {
			t.Errorf("listed: %+v, %v", keys, err)
		}
	})
}
