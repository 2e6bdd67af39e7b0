package invite

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/invitd/invitd/ratelimit"
)

// Settings stored before the limits existed read as the defaults.
func TestLimitSettingsDefaultWhenAbsent(t *testing.T) {
	var st Settings
	if err := json.Unmarshal([]byte(`{"invitation_ttl":604800,"roles":["member"],"default_role":"member","permissions":[]}`), &st); err != nil {
		t.Fatal(err)
	}
	if got := effective(st.MaxMailsPerRecipientPerDay, DefaultMailsPerRecipientPerDay); got != 3 {
		t.Errorf("mails per recipient %d, want 3", got)
	}
	if got := effective(st.MaxInvitationsPerHour, DefaultInvitationsPerHour); got != 1000 {
		t.Errorf("invitations per hour %d, want 1000", got)
	}
	if got := effective(NoLimit, DefaultInvitationsPerHour); got != 0 {
		t.Errorf("-1 reads as %d, want 0 (none)", got)
	}
	if got := effective(7, DefaultInvitationsPerHour); got != 7 {
		t.Errorf("7 reads as %d", got)
	}
	if err := st.Check(); err != nil {
		t.Errorf("old settings: %v", err)
	}
}

// A count at its bound refuses with the time its oldest row leaves the
// window, at least a second; below it, nothing.
func TestWindowCountRefuses(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	w := &windowCount{policy: ratelimit.Policy{Name: "recipient", Quota: 3, Window: MailWindow}, n: 2, oldest: now.Add(-time.Hour)}
	if err := w.refuse(now, "x"); err != nil {
		t.Fatalf("below the bound: %v", err)
	}
	w.n = 3
	err := w.refuse(now, "x")
	d := LimitOf(err)
	if ErrorKind(err) != KindTooManyRequests || d == nil || d.RetryAfter != 23*time.Hour || d.Header() != `"recipient";r=0;t=82800` {
		t.Errorf("at the bound: %v %+v", err, d)
	}
	w.oldest = now.Add(-MailWindow)
	if d := LimitOf(w.refuse(now, "x")); d == nil || d.RetryAfter != time.Second {
		t.Errorf("a row leaving now: %+v, want a retry in 1s", d)
	}
	var none *windowCount
	if err := none.refuse(now, "x"); err != nil {
		t.Errorf("no limit: %v", err)
	}
}
