package storetest

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
)

// ---- the console's sessions and sign-in links

func testConsole(t *testing.T, e *env) {
	t.Run("KeySession", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		k, err := e.svc.CreateKey(ctx, &o.ID, invite.KeyInput{Name: "console", Scopes: []string{invite.ScopeInvitationsRead}})
		if err != nil {
			t.Fatal(err)
		}
		s, err := e.svc.SignInWithKey(t.Context(), k.Token)
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.svc.Session(t.Context(), s.Token)
		if err != nil {
			t.Fatal(err)
		}
		if c.Kind != invite.SessionKey || c.KeyID != k.ID || c.Org == nil || *c.Org != o.ID ||
			!c.Has(invite.ScopeInvitationsRead) || c.Has(invite.ScopeInvitationsWrite) {
			t.Errorf("session caller %+v, want the key's, with its one scope", c.Principal)
		}
		_, err = e.svc.CreateKey(invite.WithPrincipal(t.Context(), c.Principal), &o.ID, invite.KeyInput{Name: "x"})
		wantKind(t, err, invite.KindForbidden)

		// Using the console is using the key: its last use is noted, at
		// most once a minute, as for requests.
		e.clock.Advance(invite.KeyUseInterval)
		if _, err := e.svc.Session(t.Context(), s.Token); err != nil {
			t.Fatal(err)
		}
		keys, err := e.svc.ListKeys(ctx, &o.ID)
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys %v %v", keys, err)
		}
		wantTimePtr(t, "the key's last use", keys[0].LastUsedAt, e.now())

		_, err = e.svc.SignInWithKey(t.Context(), k.Token+"x")
		wantKind(t, err, invite.KindUnauthorized)

		// Revoking the key ends its session at once.
		if err := e.svc.DeleteKey(ctx, &o.ID, k.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Session(t.Context(), s.Token)
		wantKind(t, err, invite.KindUnauthorized, "sign in again")
	})

	t.Run("ExpiringKey", func(t *testing.T) {
		o := e.org(t, nil)
		at := e.now().Add(2 * time.Hour)
		k, err := e.svc.CreateKey(sys(t), &o.ID, invite.KeyInput{Name: "short", ExpiresAt: &at})
		if err != nil {
			t.Fatal(err)
		}
		s, err := e.svc.SignInWithKey(t.Context(), k.Token)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Hour)
		if _, err := e.svc.Session(t.Context(), s.Token); err != nil {
			t.Fatalf("an hour before the key expires: %v", err)
		}
		e.clock.Advance(time.Hour)
		_, err = e.svc.Session(t.Context(), s.Token)
		wantKind(t, err, invite.KindUnauthorized)
	})

	t.Run("AdminSession", func(t *testing.T) {
		const key, other = "console-admin-key-0123456789abcdef", "console-admin-key-fedcba9876543210"
		svc := e.service(t, key)
		s, err := svc.SignInWithKey(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := svc.Session(t.Context(), s.Token)
		if err != nil || !c.IsAdmin() || c.Kind != invite.SessionAdmin {
			t.Fatalf("admin session: %+v, %v", c, err)
		}
		// A node configured with another admin key does not honour it.
		_, err = e.service(t, other).Session(t.Context(), s.Token)
		wantKind(t, err, invite.KindUnauthorized)
		_, err = e.service(t, "").Session(t.Context(), s.Token)
		wantKind(t, err, invite.KindUnauthorized)
	})

	t.Run("IdleTimeout", func(t *testing.T) {
		o := e.org(t, nil)
		k, err := e.svc.CreateKey(sys(t), &o.ID, invite.KeyInput{Name: "idle"})
		if err != nil {
			t.Fatal(err)
		}
		s, err := e.svc.SignInWithKey(t.Context(), k.Token)
		if err != nil {
			t.Fatal(err)
		}
		// Used every 11 hours, it lives on past 12 hours.
		for range 3 {
			e.clock.Advance(11 * time.Hour)
			if _, err := e.svc.Session(t.Context(), s.Token); err != nil {
				t.Fatalf("used within the idle timeout: %v", err)
			}
		}
		e.clock.Advance(invite.DefaultSessionIdle)
		_, err = e.svc.Session(t.Context(), s.Token)
		wantKind(t, err, invite.KindUnauthorized)
	})

	t.Run("SignOut", func(t *testing.T) {
		o := e.org(t, nil)
		k, err := e.svc.CreateKey(sys(t), &o.ID, invite.KeyInput{Name: "out"})
		if err != nil {
			t.Fatal(err)
		}
		s, err := e.svc.SignInWithKey(t.Context(), k.Token)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SignOut(t.Context(), s.Token); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Session(t.Context(), s.Token)
		wantKind(t, err, invite.KindUnauthorized)
		if err := e.svc.SignOut(t.Context(), s.Token); err != nil {
			t.Errorf("signing out twice: %v", err)
		}
		for _, bad := range []string{"", "short", strings.Repeat("\x00", 43)} {
			_, err = e.svc.Session(t.Context(), bad)
			wantKind(t, err, invite.KindUnauthorized)
		}
	})

	t.Run("MemberLink", func(t *testing.T) {
		e.drain(t)
		o := e.org(t, nil)
		other := e.org(t, nil)
		addr := e.email()
		m := e.member(t, o.ID, addr, "admin")
		e.member(t, other.ID, addr, "owner")
		if err := e.svc.RequestSignInLink(t.Context(), "  "+strings.ToUpper(addr)+" "); err != nil {
			t.Fatal(err)
		}
		mails := e.signInMails(t)
		if len(mails) != 2 {
			t.Fatalf("%d sign-in mails for a member of two organizations, want 2", len(mails))
		}
		var mine *invite.SignInMail
		for _, sm := range mails {
			if sm.Link.Email != addr || sm.Link.ExpiresAt.Sub(e.now()) != invite.SignInLinkTTL {
				t.Errorf("link %+v", sm.Link)
			}
			if sm.Organization.ID == o.ID {
				mine = sm
			}
		}
		if mine == nil || mine.Member.ID != m.ID {
			t.Fatalf("no link for the member of %s", o.ID)
		}
		// Nothing stored opens the link.
		if strings.Contains(mine.Token, mine.Link.ID) {
			t.Errorf("the token %q holds the stored id in the clear", mine.Token)
		}
		s, err := e.svc.SignInWithLink(t.Context(), mine.Token)
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.svc.Session(t.Context(), s.Token)
		if err != nil {
			t.Fatal(err)
		}
		if c.Kind != invite.SessionMember || c.Type != invite.ActorMember || c.KeyID != m.ID.String() || c.Email != addr ||
			c.Org == nil || *c.Org != o.ID || c.Authorize(other.ID) == nil {
			t.Errorf("member session %+v", c.Principal)
		}
		// The member's changes are recorded as theirs.
		mctx := invite.WithPrincipal(t.Context(), c.Principal)
		res, err := e.svc.CreateInvitation(mctx, o.ID, invite.CreateInvitation{Email: e.email(), NoEmail: true})
		if err != nil {
			t.Fatal(err)
		}
		ev := e.subjectEvents(t, o.ID, res.Invitation.ID.String())
		if len(ev) != 1 || ev[0].Actor != (invite.Actor{Type: invite.ActorMember, ID: m.ID.String(), Name: m.Name}) {
			t.Errorf("events of the member's invitation: %+v", ev)
		}

		// The link works once.
		_, err = e.svc.SignInWithLink(t.Context(), mine.Token)
		wantKind(t, err, invite.KindUnauthorized, "used")
		// A made-up or altered link does not work.
		_, err = e.svc.SignInWithLink(t.Context(), mine.Token[:len(mine.Token)-2]+"AA")
		wantKind(t, err, invite.KindUnauthorized)

		// A member made a plain member loses the session at once.
		role := "member"
		if _, err := e.svc.UpdateMember(sys(t), o.ID, m.ID, invite.MemberPatch{Role: &role}); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Session(t.Context(), s.Token)
		wantKind(t, err, invite.KindUnauthorized)
	})

	t.Run("LinkExpires", func(t *testing.T) {
		e.drain(t)
		o := e.org(t, nil)
		addr := e.email()
		e.member(t, o.ID, addr, "owner")
		if err := e.svc.RequestSignInLink(t.Context(), addr); err != nil {
			t.Fatal(err)
		}
		mails := e.signInMails(t)
		if len(mails) != 1 {
			t.Fatalf("%d mails", len(mails))
		}
		e.clock.Advance(invite.SignInLinkTTL)
		_, err := e.svc.SignInWithLink(t.Context(), mails[0].Token)
		wantKind(t, err, invite.KindUnauthorized, "expired")
		// Nor is a mail sent for it any more.
		if _, err := e.svc.SignInMailFor(t.Context(), &invite.Job{Args: []byte(`{"link_id":"` + mails[0].Link.ID + `"}`)}); err != invite.ErrNotFound {
			t.Errorf("mail for an expired link: %v, want ErrNotFound", err)
		}
	})

	t.Run("RemovedMember", func(t *testing.T) {
		e.drain(t)
		o := e.org(t, nil)
		addr := e.email()
		m := e.member(t, o.ID, addr, "owner")
		if err := e.svc.RequestSignInLink(t.Context(), addr); err != nil {
			t.Fatal(err)
		}
		mails := e.signInMails(t)
		if err := e.svc.DeleteMember(sys(t), o.ID, m.ID); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.SignInWithLink(t.Context(), mails[0].Token)
		wantKind(t, err, invite.KindUnauthorized)
	})

	t.Run("SameAnswerForEveryone", func(t *testing.T) {
		e.drain(t)
		o := e.org(t, nil)
		plain := e.email()
		e.member(t, o.ID, plain, "member")
		for _, addr := range []string{e.email(), plain} {
			if err := e.svc.RequestSignInLink(t.Context(), addr); err != nil {
				t.Errorf("%s: %v, want the same nil answer as for a console member", addr, err)
			}
		}
		if n := len(e.signInMails(t)); n != 0 {
			t.Errorf("%d links mailed to a stranger and a plain member", n)
		}
		wantKind(t, e.svc.RequestSignInLink(t.Context(), "not an address"), invite.KindInvalid)
	})

	t.Run("RateLimit", func(t *testing.T) {
		e.drain(t)
		o := e.org(t, nil)
		addr := e.email()
		e.member(t, o.ID, addr, "owner")
		for range invite.SignInLinksPerWindow + 2 {
			if err := e.svc.RequestSignInLink(t.Context(), addr); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(e.signInMails(t)); n != invite.SignInLinksPerWindow {
			t.Errorf("%d links mailed in a window, want %d", n, invite.SignInLinksPerWindow)
		}
		e.clock.Advance(invite.SignInWindow)
		if err := e.svc.RequestSignInLink(t.Context(), addr); err != nil {
			t.Fatal(err)
		}
		if n := len(e.signInMails(t)); n != 1 {
			t.Errorf("%d links after the window, want 1", n)
		}
	})

	t.Run("Purge", func(t *testing.T) {
		e.drain(t)
		o := e.org(t, nil)
		addr := e.email()
		e.member(t, o.ID, addr, "owner")
		k, err := e.svc.CreateKey(sys(t), &o.ID, invite.KeyInput{Name: "purge"})
		if err != nil {
			t.Fatal(err)
		}
		s, err := e.svc.SignInWithKey(t.Context(), k.Token)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.RequestSignInLink(t.Context(), addr); err != nil {
			t.Fatal(err)
		}
		mails := e.signInMails(t)
		kept := func(want error) {
			t.Helper()
			e.write(t, func(tx invite.Tx) error {
				if _, err := tx.GetSession(t.Context(), hashOf(s.Token)); err != want {
					t.Errorf("the session after a purge: %v, want %v", err, want)
				}
				if _, err := tx.GetSignInLink(t.Context(), mails[0].Link.ID); err != want {
					t.Errorf("the link after a purge: %v, want %v", err, want)
				}
				return nil
			})
		}
		if _, err := e.svc.PurgeConsole(sys(t)); err != nil {
			t.Fatal(err)
		}
		kept(nil)
		e.clock.Advance(invite.DefaultSessionIdle + time.Minute)
		if n, err := e.svc.PurgeConsole(sys(t)); err != nil || n < 2 {
			t.Errorf("purged %d, %v; want at least the idle session and the spent link", n, err)
		}
		kept(invite.ErrNotFound)
	})
}

// member makes a member of org with role, through an accepted invitation.
func (e *env) member(t *testing.T, org invite.OrgID, addr, role string) *invite.Member {
	t.Helper()
	res := e.invite(t, org, invite.CreateInvitation{Email: addr, Role: role, NoEmail: true})
	_, m, err := e.acceptByToken(t.Context(), res.Token, "Member "+role)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// signInMails claims the queued sign-in jobs and loads each one's mail.
func (e *env) signInMails(t *testing.T) []*invite.SignInMail {
	t.Helper()
	var out []*invite.SignInMail
	for _, j := range e.claimAll(t, time.Minute, invite.JobSendSignInLink) {
		m, err := e.svc.SignInMailFor(t.Context(), j)
		if err != nil {
			t.Fatalf("SignInMailFor: %v", err)
		}
		out = append(out, m)
		e.settle(t, j, invite.JobResult{Outcome: invite.Succeeded})
	}
	return out
}

// service is another node's Service over the same store and clock,
// configured with adminKey.
func (e *env) service(t *testing.T, adminKey string) *invite.Service {
	t.Helper()
	svc, err := invite.NewService(e.store, invite.Config{Now: e.clock.Now, AdminKey: adminKey})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// hashOf is how a session's token is found: its SHA-256.
func hashOf(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
