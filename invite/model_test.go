package invite_test

import (
	"strings"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
)

func TestNext(t *testing.T) {
	// The whole machine as the design draws it; every other move is refused.
	allowed := map[invite.State]map[invite.Action]invite.State{
		invite.StatePending: {
			invite.ActionAccept:  invite.StateAccepted,
			invite.ActionDecline: invite.StateDeclined,
			invite.ActionCancel:  invite.StateCancelled,
			invite.ActionExpire:  invite.StateExpired,
			invite.ActionFail:    invite.StateError,
			invite.ActionResend:  invite.StatePending,
		},
		invite.StateExpired: {invite.ActionResend: invite.StatePending},
		invite.StateError:   {invite.ActionResend: invite.StatePending},
	}
	actions := []invite.Action{invite.ActionAccept, invite.ActionDecline, invite.ActionCancel,
		invite.ActionExpire, invite.ActionFail, invite.ActionResend}
	for _, from := range append(invite.States, "bogus") {
		for _, a := range actions {
			to, err := invite.Next(from, a)
			want, ok := allowed[from][a]
			if ok {
				if err != nil || to != want {
					t.Errorf("Next(%s, %s) = %q, %v; want %s", from, a, to, err, want)
				}
				continue
			}
			if invite.ErrorKind(err) != invite.KindConflict || to != "" {
				t.Errorf("Next(%s, %s) = %q, %v; want a conflict", from, a, to, err)
				continue
			}
			if msg := err.Error(); !strings.Contains(msg, string(from)) || !strings.Contains(msg, string(a)) {
				t.Errorf("Next(%s, %s): message %q names neither the state nor the action", from, a, msg)
			}
		}
	}
}

func TestStates(t *testing.T) {
	for _, s := range invite.States {
		if !s.Valid() {
			t.Errorf("%s is not valid", s)
		}
		if s.Finished() != (s != invite.StatePending) {
			t.Errorf("%s.Finished() = %v", s, s.Finished())
		}
	}
	for _, s := range []invite.State{"", "open", "Pending", "canceled"} {
		if s.Valid() {
			t.Errorf("%q is valid", s)
		}
	}
}

func TestObserve(t *testing.T) {
	exp := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		state invite.State
		now   time.Time
		want  invite.State
	}{
		{invite.StatePending, exp.Add(-time.Microsecond), invite.StatePending},
		{invite.StatePending, exp, invite.StateExpired},
		{invite.StatePending, exp.Add(time.Hour), invite.StateExpired},
		{invite.StateAccepted, exp.Add(time.Hour), invite.StateAccepted},
		{invite.StateCancelled, exp.Add(time.Hour), invite.StateCancelled},
		{invite.StateError, exp.Add(time.Hour), invite.StateError},
	} {
		inv := &invite.Invitation{State: c.state, ExpiresAt: exp}
		inv.Observe(c.now)
		if inv.State != c.want {
			t.Errorf("%s at expires_at%+v reads as %s, want %s", c.state, c.now.Sub(exp), inv.State, c.want)
		}
		if c.state == invite.StatePending && c.want == invite.StateExpired && (inv.FinishedAt == nil || !inv.FinishedAt.Equal(exp)) {
			t.Errorf("an expired invitation's finished_at is %v, want expires_at", inv.FinishedAt)
		}
		if c.want == invite.StatePending && inv.FinishedAt != nil {
			t.Errorf("a pending invitation got finished_at %v", inv.FinishedAt)
		}
	}
}

func TestPrincipal(t *testing.T) {
	a, b := invite.NewOrgID(), invite.NewOrgID()
	var none *invite.Principal
	if invite.ErrorKind(none.Authorize(a)) != invite.KindNotFound || none.IsAdmin() {
		t.Error("no principal may manage an org")
	}
	if invite.ErrorKind((&invite.Principal{}).Authorize(a)) != invite.KindNotFound {
		t.Error("a principal of no type manages an org")
	}
	org := &invite.Principal{Type: invite.ActorAPIKey, KeyID: "k", Org: &a}
	if org.Authorize(a) != nil || invite.ErrorKind(org.Authorize(b)) != invite.KindNotFound {
		t.Error("an org key manages its own org and no other")
	}
	if invite.ErrorKind(org.RequireAdmin()) != invite.KindForbidden {
		t.Error("an org key passes RequireAdmin")
	}
	invitee := &invite.Principal{Type: invite.ActorInvitee, KeyID: "i", Org: &a}
	if invite.ErrorKind(invitee.Authorize(a)) != invite.KindNotFound {
		t.Error("an invitee manages the org it was invited to")
	}
	for _, p := range []*invite.Principal{{Type: invite.ActorAdminKey, KeyID: "admin"}, invite.System} {
		if !p.IsAdmin() || p.Authorize(a) != nil || p.RequireAdmin() != nil {
			t.Errorf("%s does not manage every org", p.Type)
		}
	}
	if got := org.Actor(); got != (invite.Actor{Type: invite.ActorAPIKey, ID: "k"}) {
		t.Errorf("an org key's actor is %+v", got)
	}
}

func TestRequestIDUsable(t *testing.T) {
	for id, want := range map[string]bool{
		"abc-123": true, "": false, "has space": false, "tab\t": false, "nul\x00": false, "é": false,
		strings.Repeat("a", invite.MaxRequestIDLen): true, strings.Repeat("a", invite.MaxRequestIDLen+1): false,
	} {
		if got := invite.RequestIDUsable(id); got != want {
			t.Errorf("RequestIDUsable(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestHashToken(t *testing.T) {
	if string(invite.HashToken("a")) != string(invite.HashToken("a")) || string(invite.HashToken("a")) == string(invite.HashToken("b")) {
		t.Error("HashToken is not a function of the token")
	}
	if strings.Contains(string(invite.HashToken("secret-token")), "secret-token") {
		t.Error("the hash contains the token")
	}
}
