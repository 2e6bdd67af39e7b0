// Package lifecycle holds the job handlers that move the core's records
// along with time: the expiry of invitations, their reminders and the
// retention of events.
package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/job"
)

// Expiry records an invitation's expiry when its expire_invitation job
// comes due; the core emits invitation.expired once, whichever node or
// write meets the expiry first.
type Expiry struct{ Service *invite.Service }

// Kind is the job kind the handler does.
func (Expiry) Kind() string { return invite.JobExpireInvitation }

// Policy retries a failed expiry soon: it is due already.
func (Expiry) Policy() job.Policy {
	return job.Policy{Concurrency: 4, Timeout: 30 * time.Second,
		Backoff: func(n int) time.Duration { return job.Backoff(n, time.Second, time.Minute) }}
}

// Work records the expiry, or waits again until a later expiry a resend set.
func (h Expiry) Work(ctx context.Context, j *invite.Job) (job.Attempt, error) {
	var a invite.ExpiryArgs
	if err := json.Unmarshal(j.Args, &a); err != nil {
		return job.Attempt{}, job.Permanent(fmt.Errorf("the expiry job is damaged: %w", err))
	}
	id, err := uuid.Parse(a.InvitationID)
	if err != nil {
		return job.Attempt{}, job.Permanent(fmt.Errorf("the expiry job names no invitation: %w", err))
	}
	later, err := h.Service.ExpireInvitation(ctx, id)
	if err != nil {
		return job.Attempt{}, err
	}
	if later != nil {
		return job.Attempt{}, job.Again(*later)
	}
	return job.Attempt{}, nil
}

// Retention removes events older than Keep, once per Every, as one
// periodic job shared by every node.
type Retention struct {
	Service *invite.Service
	Keep    time.Duration
	Every   time.Duration
}

// RetentionKey is the key of the one retention job.
const RetentionKey = "event_retention"

// Kind is the job kind the handler does.
func (Retention) Kind() string { return invite.JobEventRetention }

// Policy retries a failed purge within minutes.
func (Retention) Policy() job.Policy {
	return job.Policy{Timeout: 5 * time.Minute,
		Backoff: func(n int) time.Duration { return job.Backoff(n, 10*time.Second, 10*time.Minute) }}
}

// Ensure queues the retention job unless it is queued already; every node
// calls it at start.
func (h Retention) Ensure(ctx context.Context) error {
	return h.Service.EnsureJob(ctx, &invite.Job{Kind: invite.JobEventRetention, Key: RetentionKey,
		Args: json.RawMessage("{}"), RunAt: h.Service.Now()})
}

// Work removes what is past retention and runs again after Every.
func (h Retention) Work(ctx context.Context, _ *invite.Job) (job.Attempt, error) {
	now := h.Service.Now()
	if _, err := h.Service.PurgeEvents(ctx, now.Add(-h.Keep)); err != nil {
		return job.Attempt{}, err
	}
	// The notes the mail limit counts are past use after a day.
	if _, err := h.Service.PurgeMails(ctx); err != nil {
		return job.Attempt{}, err
	}
	// Idle console sessions, and sign-in links past counting.
	if _, err := h.Service.PurgeConsole(ctx); err != nil {
		return job.Attempt{}, err
	}
	return job.Attempt{}, job.Again(now.Add(h.Every))
}

// Reminders queues the reminders that have come due, once per Every, as one
// periodic job shared by every node.
type Reminders struct {
	Service *invite.Service
	Every   time.Duration
	// Batch is how many due invitations are read at a time; 0 means
	// invite.DefaultReminderBatch.
	Batch int
}

// RemindersKey is the key of the one reminder job.
const RemindersKey = "send_reminders"

// Kind is the job kind the handler does.
func (Reminders) Kind() string { return invite.JobSendReminders }

// Policy retries a failed sweep soon: what it left is due already. An
// attempt cut short loses nothing (each reminder commits on its own), so it
// is kept within the default lease.
func (Reminders) Policy() job.Policy {
	return job.Policy{Timeout: time.Minute,
		Backoff: func(n int) time.Duration { return job.Backoff(n, 5*time.Second, 5*time.Minute) }}
}

// Ensure queues the reminder job unless it is queued already; every node
// calls it at start.
func (h Reminders) Ensure(ctx context.Context) error {
	return h.Service.EnsureJob(ctx, &invite.Job{Kind: invite.JobSendReminders, Key: RemindersKey,
		Args: json.RawMessage("{}"), RunAt: h.Service.Now()})
}

// Work queues every reminder due now and runs again after Every.
func (h Reminders) Work(ctx context.Context, _ *invite.Job) (job.Attempt, error) {
	if _, err := h.Service.SendReminders(ctx, h.Batch); err != nil {
		return job.Attempt{}, err
	}
	return job.Attempt{}, job.Again(h.Service.Now().Add(h.Every))
}
