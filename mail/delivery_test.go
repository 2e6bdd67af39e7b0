package mail_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/mail/mailtest"
)

// systemActor is how events name background work.
var systemActor = invite.Actor{Type: invite.ActorSystem, ID: "system", Name: "invitd"}

// invitationEvents lists the organization's invitation events, oldest first.
func (e *env) invitationEvents() []*invite.Event {
	e.t.Helper()
	p, err := e.svc.ListEvents(e.ctx, e.org.ID, invite.EventParams{Types: []string{"invitation.*"}, Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Items
}

func types(evs []*invite.Event) string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return strings.Join(out, ",")
}

// eventData is the part of an invitation event's data these tests read.
type eventData struct {
	ID       string  `json:"id"`
	State    string  `json:"state"`
	Error    *string `json:"error"`
	Delivery struct {
		State         string  `json:"state"`
		Attempts      int     `json:"attempts"`
		LastError     *string `json:"last_error"`
		NextAttemptAt *string `json:"next_attempt_at"`
		SentAt        *string `json:"sent_at"`
	} `json:"delivery"`
}

func decode(t *testing.T, raw []byte) eventData {
	t.Helper()
	var d eventData
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("event data %s: %v", raw, err)
	}
	return d
}

// A mail is queued at the create, and once the server takes it the
// invitation shows it sent and the log says so, on behalf of the system.
func TestDeliveryGoesFromQueuedToSent(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	e := newEnv(t, nil, nil)
	key, err := e.svc.CreateKey(e.ctx, &e.org.ID, invite.KeyInput{Name: "mailer key"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.Authenticate(e.ctx, key.Token)
	if err != nil {
		t.Fatal(err)
	}
	ctx := invite.WithRequestID(invite.WithPrincipal(context.Background(), p), "req-mail-1")
	inv := e.inviteAs(ctx, "grace@example.com", nil)
	if d := e.get(inv).Mail; d.State != invite.MailQueued || d.Attempts != 0 || d.SentAt != nil || d.LastError != "" {
		t.Fatalf("before the runner starts, delivery = %+v, want queued with no attempt", d)
	}
	quiet := e.inviteAs(ctx, "quiet@example.com", func(c *invite.CreateInvitation) { c.NoEmail = true })
	if d := e.get(quiet).Mail; d.State != invite.MailNone {
		t.Errorf("an invitation without mail shows delivery %q, want none", d.State)
	}

	e.start(fast(srv.URL()))
	srv.Wait(t, 1, 10*time.Second)
	var got *invite.Invitation
	eventually(t, 5*time.Second, "the delivery is recorded as sent", func() bool {
		got = e.get(inv)
		return got.Mail.State == invite.MailSent
	})
	d := got.Mail
	if d.Attempts != 1 || d.SentAt == nil || d.LastError != "" || d.NextAttemptAt != nil {
		t.Errorf("delivery = %+v, want sent at the first attempt with a time", d)
	}
	if d.SentAt != nil && (d.SentAt.Before(inv.CreatedAt) || d.SentAt.After(time.Now())) {
		t.Errorf("sent_at %v is not between the create (%v) and now", d.SentAt, inv.CreatedAt)
	}
	if got.State != invite.StatePending {
		t.Errorf("state %s, want pending", got.State)
	}

	evs := e.invitationEvents()
	if types(evs) != "invitation.created,invitation.created,invitation.sent" {
		t.Fatalf("events %s, want two creates and one sent", types(evs))
	}
	created, sent := evs[0], evs[2]
	if want := (invite.Actor{Type: invite.ActorAPIKey, ID: key.ID, Name: "mailer key"}); created.Actor != want || created.RequestID != "req-mail-1" {
		t.Errorf("created by %+v in %q, want %+v in req-mail-1", created.Actor, created.RequestID, want)
	}
	if cd := decode(t, created.Data); cd.ID != inv.ID.String() || cd.Delivery.State != "queued" {
		t.Errorf("created data: id %s, delivery %q; want %s queued", cd.ID, cd.Delivery.State, inv.ID)
	}
	if sent.Actor != systemActor || sent.RequestID != "" || sent.Subject != inv.ID.String() {
		t.Errorf("sent event: actor %+v, request %q, subject %s; want the system, no request, %s", sent.Actor, sent.RequestID, sent.Subject, inv.ID)
	}
	sd := decode(t, sent.Data)
	if sd.ID != inv.ID.String() || sd.State != "pending" || sd.Delivery.State != "sent" || sd.Delivery.Attempts != 1 ||
		sd.Delivery.SentAt == nil || *sd.Delivery.SentAt != invite.Timestamp(*d.SentAt) || sd.Delivery.LastError != nil {
		t.Errorf("sent data = %s", sent.Data)
	}
}

// A server that defers the mail leaves it retrying, with why and when; once
// it takes the mail, the next attempt records it sent.
func TestDeferredMailShowsRetryingThenSent(t *testing.T) {
	var refusing atomic.Bool
	refusing.Store(true)
	srv := mailtest.Start(t, mailtest.Options{Reply: func(stage string, _ int, _ string) error {
		if stage == "RCPT" && refusing.Load() {
			return mailtest.SMTPError(451, "greylisted, try again later")
		}
		return nil
	}})
	// The runner reads the service's clock for due times and backoff, so
	// the retry waits until the test moves it.
	var mu sync.Mutex
	clock := time.Now().UTC().Truncate(time.Microsecond) // as the service stores times
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	e := newEnv(t, now, nil)
	cfg := fast(srv.URL())
	cfg.MinBackoff, cfg.MaxBackoff = time.Hour, time.Hour
	e.start(cfg)
	inv := e.invite("later@example.com", nil)

	var got *invite.Invitation
	eventually(t, 10*time.Second, "the delivery is retrying", func() bool {
		got = e.get(inv)
		return got.Mail.State == invite.MailRetrying
	})
	d := got.Mail
	if d.Attempts != 1 || !strings.Contains(d.LastError, "451") || !strings.Contains(d.LastError, "greylisted") {
		t.Errorf("delivery = %+v, want one attempt and the server's 451", d)
	}
	at := now()
	if d.NextAttemptAt == nil || d.NextAttemptAt.Before(at.Add(30*time.Minute)) || d.NextAttemptAt.After(at.Add(time.Hour)) {
		t.Errorf("next_attempt_at = %v, want within [30m, 1h] of %v (the backoff, jittered)", d.NextAttemptAt, at)
	}
	if d.SentAt != nil || got.State != invite.StatePending || got.Error != "" {
		t.Errorf("a deferred mail left sent_at %v, state %s, error %q", d.SentAt, got.State, got.Error)
	}
	view, _ := json.Marshal(invite.ViewInvitation(got))
	var shown eventData
	_ = json.Unmarshal(view, &shown)
	if shown.Delivery.State != "retrying" || shown.Delivery.LastError == nil || shown.Delivery.NextAttemptAt == nil ||
		*shown.Delivery.NextAttemptAt != invite.Timestamp(*d.NextAttemptAt) {
		t.Errorf("the API shows delivery %s", view)
	}
	if evs := e.invitationEvents(); types(evs) != "invitation.created" {
		t.Errorf("events %s: a retry is not an event", types(evs))
	}

	refusing.Store(false)
	mu.Lock()
	clock = clock.Add(2 * time.Hour)
	mu.Unlock()
	e.runner.Load().Wake("")
	srv.Wait(t, 1, 10*time.Second)
	eventually(t, 5*time.Second, "the delivery is recorded as sent", func() bool {
		got = e.get(inv)
		return got.Mail.State == invite.MailSent
	})
	if d := got.Mail; d.Attempts != 2 || d.LastError != "" || d.NextAttemptAt != nil || d.SentAt == nil || !d.SentAt.Equal(now()) {
		t.Errorf("after the retry, delivery = %+v; want sent at the second attempt, at %v", d, now())
	}
	evs := e.invitationEvents()
	if types(evs) != "invitation.created,invitation.sent" || evs[1].Actor != systemActor {
		t.Errorf("events %s (last by %+v), want created then sent by the system", types(evs), evs[len(evs)-1].Actor)
	}
}

// When no attempt is left the mail is failed, the invitation is in error,
// and invitation.failed says why, on behalf of the system.
func TestGivenUpMailFailsTheInvitation(t *testing.T) {
	cases := []struct {
		name      string
		code      int
		msg       string
		attempts  int
		wantError []string
	}{
		{"attempts run out", 452, "mailbox full", 3, []string{"gave up after 3 attempts", "452", "mailbox full"}},
		{"rejected", 550, "no such mailbox here", 1, []string{"rejected", "550", "no such mailbox here"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := mailtest.Start(t, mailtest.Options{Reply: func(stage string, _ int, _ string) error {
				if stage == "RCPT" {
					return mailtest.SMTPError(c.code, c.msg)
				}
				return nil
			}})
			e := newEnv(t, nil, nil)
			cfg := fast(srv.URL())
			cfg.MaxAttempts = 3
			e.start(cfg)
			inv := e.invite("full@example.com", nil)

			var got *invite.Invitation
			eventually(t, 10*time.Second, "the invitation is in error", func() bool {
				got = e.get(inv)
				return got.State == invite.StateError
			})
			d := got.Mail
			if d.State != invite.MailFailed || d.Attempts != c.attempts || d.NextAttemptAt != nil || d.SentAt != nil {
				t.Errorf("delivery = %+v, want failed after %d attempts", d, c.attempts)
			}
			for _, s := range c.wantError {
				if !strings.Contains(d.LastError, s) || !strings.Contains(got.Error, s) {
					t.Errorf("last_error %q / error %q lacks %q", d.LastError, got.Error, s)
				}
			}
			if got.FinishedAt == nil {
				t.Error("finished_at not set")
			}

			evs := e.invitationEvents()
			if types(evs) != "invitation.created,invitation.failed" {
				t.Fatalf("events %s, want created then failed", types(evs))
			}
			failed := evs[1]
			if failed.Actor != systemActor || failed.RequestID != "" || failed.Subject != inv.ID.String() {
				t.Errorf("failed event: actor %+v, request %q, subject %s", failed.Actor, failed.RequestID, failed.Subject)
			}
			fd := decode(t, failed.Data)
			if fd.ID != inv.ID.String() || fd.State != "error" || fd.Error == nil || fd.Delivery.State != "failed" || fd.Delivery.Attempts != c.attempts {
				t.Fatalf("failed data = %s", failed.Data)
			}
			for _, s := range c.wantError {
				if !strings.Contains(*fd.Error, s) {
					t.Errorf("data.error %q lacks %q", *fd.Error, s)
				}
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("%d mails accepted, want none", n)
			}
		})
	}
}
