package storetest

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
)

// ---- one pending invitation per email

func testUniquePending(t *testing.T, e *env) {
	t.Run("concurrent creates", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		email := e.email()
		const n = 50
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: email})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			if invite.ErrorKind(err) != invite.KindConflict {
				t.Errorf("a losing create: %v, want Kind Conflict", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent creates succeeded, want 1", ok, n)
		}
		if c := e.count(t, invite.InvitationFilter{Org: o.ID, Email: email}); c != 1 {
			t.Errorf("%d invitations stored for the email, want 1", c)
		}
	})

	t.Run("same address in other case", func(t *testing.T) {
		o := e.org(t, nil)
		inv := e.invite(t, o.ID, invite.CreateInvitation{Email: "Casey@Example.com"}).Invitation
		if inv.Email != "casey@example.com" {
			t.Errorf("stored email %q", inv.Email)
		}
		_, err := e.svc.CreateInvitation(sys(t), o.ID, invite.CreateInvitation{Email: " CASEY@example.COM"})
		wantKind(t, err, invite.KindConflict, "casey@example.com")
	})

	t.Run("pending limit under concurrent creates", func(t *testing.T) {
		ctx := sys(t)
		limit := 3
		o := e.org(t, &invite.SettingsPatch{MaxPending: &limit})
		const n = 12
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			email := e.email()
			wg.Go(func() {
				_, errs[i] = e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: email})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if invite.ErrorKind(err) != invite.KindConflict {
				t.Errorf("a create over the limit: %v, want Kind Conflict", err)
			}
		}
		if ok != limit {
			t.Errorf("%d concurrent creates succeeded with a limit of %d", ok, limit)
		}
		if c := e.count(t, invite.InvitationFilter{Org: o.ID, States: []invite.State{invite.StatePending}}); c != limit {
			t.Errorf("%d pending with a limit of %d", c, limit)
		}
	})

	t.Run("force replaces", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		old, oldToken := e.quiet(t, o.ID)
		e.clock.Advance(time.Second)
		res, err := e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: old.Email, Force: true, Role: "admin"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Invitation.ID == old.ID || res.Invitation.State != invite.StatePending || res.Invitation.Role != "admin" {
			t.Errorf("forced invitation %+v", res.Invitation)
		}
		got := e.get(t, o.ID, old.ID)
		if got.State != invite.StateCancelled {
			t.Errorf("replaced invitation is %s, want cancelled", got.State)
		}
		wantTimePtr(t, "replaced finished_at", got.FinishedAt, e.now())
		if v, err := e.svc.GetByToken(ctx, oldToken); err != nil || v.Invitation.State != invite.StateCancelled {
			t.Errorf("the replaced link: %+v, %v", v, err)
		}
		_, _, err = e.acceptByToken(ctx, oldToken, "x")
		wantKind(t, err, invite.KindConflict, "cancelled")
		if n := e.count(t, invite.InvitationFilter{Org: o.ID, Email: old.Email, States: []invite.State{invite.StatePending}}); n != 1 {
			t.Errorf("%d pending after force", n)
		}
		// Force with nothing pending just creates.
		e.invite(t, o.ID, invite.CreateInvitation{Force: true})
	})

	t.Run("concurrent forced creates", func(t *testing.T) {
		ctx := sys(t)
		// Each forced create mails the address: the per-recipient limit
		// would refuse most of them.
		noLimit := invite.NoLimit
		o := e.org(t, &invite.SettingsPatch{MaxMailsPerRecipientPerDay: &noLimit})
		email := e.email()
		e.invite(t, o.ID, invite.CreateInvitation{Email: email})
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: email, Force: true})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if invite.ErrorKind(err) != invite.KindConflict {
				t.Errorf("a forced create: %v, want success or Kind Conflict", err)
			}
		}
		if ok == 0 {
			t.Error("no forced create succeeded")
		}
		all := e.find(t, invite.InvitationFilter{Org: o.ID, Email: email})
		pending := 0
		for _, inv := range all {
			switch inv.State {
			case invite.StatePending:
				pending++
			case invite.StateCancelled:
			default:
				t.Errorf("invitation in state %s", inv.State)
			}
		}
		if pending != 1 || len(all) != ok+1 {
			t.Errorf("%d pending of %d stored after %d forced creates, want 1 of %d", pending, len(all), ok, ok+1)
		}
	})

	t.Run("create rules", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		bad := map[string]invite.CreateInvitation{
			"email":        {Email: "not an email"},
			"role":         {Role: "emperor"},
			"permission":   {Permissions: []string{"launch"}},
			"metadata":     {Metadata: json.RawMessage(`[1]`)},
			"locale":       {Locale: "english!"},
			"inviter.name": {Inviter: invite.Inviter{Name: "a\nb"}},
		}
		for word, c := range bad {
			if c.Email == "" {
				c.Email = e.email()
			}
			_, err := e.svc.CreateInvitation(ctx, o.ID, c)
			wantKind(t, err, invite.KindInvalid, word)
		}
		_, err := e.svc.CreateInvitation(ctx, invite.NewOrgID(), invite.CreateInvitation{Email: e.email()})
		wantKind(t, err, invite.KindNotFound)
		if n := e.count(t, invite.InvitationFilter{Org: o.ID}); n != 0 {
			t.Errorf("%d invitations made by refused creates", n)
		}
		inv := e.invite(t, o.ID, invite.CreateInvitation{
			Permissions: []string{"plans", "billing", "plans"}, Inviter: invite.Inviter{ID: "u9", Name: "Ann"},
			Metadata: json.RawMessage(` {"team": "red", "n": 2} `), Locale: "ja-JP",
		}).Invitation
		got := e.get(t, o.ID, inv.ID)
		if got.Role != o.Settings.DefaultRole || !slices.Equal(got.Permissions, []string{"plans", "billing"}) ||
			got.Inviter != (invite.Inviter{ID: "u9", Name: "Ann"}) || got.Locale != "ja-JP" || got.SendCount != 1 {
			t.Errorf("stored invitation %+v", got)
		}
		var md map[string]any
		if err := json.Unmarshal(got.Metadata, &md); err != nil || md["team"] != "red" || md["n"] != float64(2) {
			t.Errorf("stored metadata %s", got.Metadata)
		}
		wantTimePtr(t, "last_sent_at", got.LastSentAt, got.CreatedAt)
		fr := "fr"
		if _, err := e.svc.UpdateOrg(ctx, o.ID, nil, &invite.SettingsPatch{Locale: &fr}); err != nil {
			t.Fatal(err)
		}
		if l := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation.Locale; l != "fr" {
			t.Errorf("an invitation without a locale got %q, want the org's fr", l)
		}
		if l := e.invite(t, o.ID, invite.CreateInvitation{Locale: "de"}).Invitation.Locale; l != "de" {
			t.Errorf("an invitation with locale de got %q", l)
		}
		if inv.ID.Version() != 7 {
			t.Errorf("invitation id %s is UUID version %d, want 7", inv.ID, inv.ID.Version())
		}
		q := e.invite(t, o.ID, invite.CreateInvitation{NoEmail: true, Role: " admin "})
		if q.Invitation.SendCount != 0 || q.Invitation.LastSentAt != nil || q.Invitation.Role != "admin" {
			t.Errorf("an invitation without mail: role %q, send_count %d, last_sent_at %v", q.Invitation.Role, q.Invitation.SendCount, q.Invitation.LastSentAt)
		}
		// The token is the invitation's id and an HMAC of it under the server
		// secret; nothing of it is stored.
		if raw, err := base64.RawURLEncoding.DecodeString(q.Token); err != nil || len(raw) != 48 ||
			string(raw[:16]) != string(q.Invitation.ID[:]) {
			t.Errorf("token %q is not the id and 32 bytes in base64url: %v", q.Token, err)
		}
		if stored := e.get(t, o.ID, q.Invitation.ID); len(stored.TokenHash) != 0 {
			t.Errorf("a hash of the link is stored: %x", stored.TokenHash)
		}
		if v, err := e.svc.GetByToken(ctx, q.Token); err != nil || v.Invitation.ID != q.Invitation.ID {
			t.Errorf("the link of an invitation without mail: %v", err)
		}
	})
}
