package invite

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
)

// ClaimJobs leases due jobs of the given kinds to worker for lease.
func (s *Service) ClaimJobs(ctx context.Context, worker string, kinds []string, limit int, lease time.Duration) ([]*Job, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	var jobs []*Job
	err := s.write(ctx, func(c *change) error {
		var err error
		if jobs, err = c.tx.ClaimJobs(ctx, worker, kinds, c.now, c.now.Add(lease), limit); err != nil {
			return err
		}
		return s.loadDeliveries(c, jobs)
	})
	return jobs, err
}

// EnsureJob queues j unless a job with its key is queued: a periodic job
// that every node ensures at start runs as one.
func (s *Service) EnsureJob(ctx context.Context, j *Job) error {
	if err := requireAdmin(ctx); err != nil {
		return err
	}
	return s.write(ctx, func(c *change) error {
		k := *j
		return c.enqueue(&k)
	})
}

// Outcome says what becomes of a job after an attempt.
type Outcome int

// The outcomes.
const (
	// Succeeded: the work was done; the job is removed.
	Succeeded Outcome = iota
	// Retrying: the attempt failed; the job runs again at RunAt.
	Retrying
	// Failed: the job is given up; it is removed and its work recorded as failed.
	Failed
	// Rescheduled: the job runs again at RunAt with Attempts, and nothing
	// is recorded of this run (work not yet due, or periodic work).
	Rescheduled
	// Void: the work was no longer wanted and nothing was done; the job is
	// removed, and its kind records that it went unsent.
	Void
)

// JobResult is what became of one attempt at a job, as the runner decides it.
type JobResult struct {
	Outcome  Outcome
	RunAt    time.Time // Retrying and Rescheduled
	Attempts int       // Rescheduled: the attempts the job keeps
	Error    string    // why the attempt failed
	// What the attempt saw, for work that records it (webhook deliveries).
	Status   int
	Duration time.Duration
}

// SettleJob records the result of an attempt at j, which j.LockedBy holds,
// in one change with what the job's kind records of it (an invitation's
// mail state and its events, a delivery's attempt). ErrNotFound means the
// lease was lost and nothing was recorded.
func (s *Service) SettleJob(ctx context.Context, j *Job, r JobResult) error {
	if err := requireAdmin(ctx); err != nil {
		return err
	}
	return s.write(ctx, func(c *change) error {
		r := r // the store may run this twice
		if (r.Outcome == Retrying || r.Outcome == Failed) && j.Kind == JobWebhookDelivery {
			// A retry asked during a failed attempt is one more attempt,
			// at the time asked, even after the last of the schedule.
			if at, err := retryAskedDuring(c, j); err != nil {
				return err
			} else if at != nil && (r.Outcome == Failed || at.Before(r.RunAt)) {
				r.Outcome, r.RunAt = Retrying, *at
			}
		}
		var err error
		switch r.Outcome {
		case Retrying:
			err = c.tx.RescheduleJob(c.ctx, j.ID, j.LockedBy, r.RunAt.UTC().Truncate(time.Microsecond), j.Attempts, r.Error)
		case Rescheduled:
			err = c.tx.RescheduleJob(c.ctx, j.ID, j.LockedBy, r.RunAt.UTC().Truncate(time.Microsecond), r.Attempts, r.Error)
		default:
			err = c.tx.DeleteJob(c.ctx, j.ID, j.LockedBy)
		}
		if err != nil || r.Outcome == Rescheduled {
			return err
		}
		switch j.Kind {
		case JobSendInvitation:
			return s.settleMail(c, j, r)
		case JobWebhookDelivery:
			return s.settleDelivery(c, j, r)
		}
		return nil
	})
}

// settleMail records a mail attempt on its invitation, unless the invitation
// was resent meanwhile (the newer mail's state is shown) or is gone, or the
// mail is a reminder.
func (s *Service) settleMail(c *change, j *Job, r JobResult) error {
	var p MailPayload
	if err := json.Unmarshal(j.Args, &p); err != nil {
		return nil // a damaged job: nothing of it can be recorded
	}
	if p.Reminder {
		// The invitation's mail state is its invitation mail's: a reminder
		// that goes, fails or is dropped leaves it (and the invitation's
		// state) as it was. Its queueing was recorded (reminded_at, the
		// invitation.reminded event); the rest is the job's alone.
		return nil
	}
	id, err := uuid.Parse(p.InvitationID)
	if err != nil {
		return nil
	}
	inv, err := c.tx.GetInvitationByID(c.ctx, id, true)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !s.mailCurrent(inv, &p) {
		return nil
	}
	if r.Outcome == Void {
		// Not sent, and never to be: the invitation moved on first.
		inv.Mail = MailDelivery{State: MailNone, Attempts: inv.Mail.Attempts, LastError: "not sent: " + r.Error}
		return c.tx.UpdateInvitation(c.ctx, inv)
	}
	inv.Mail.Attempts = j.Attempts
	inv.Mail.NextAttemptAt = nil
	switch r.Outcome {
	case Succeeded:
		inv.Mail.State, inv.Mail.LastError, inv.Mail.SentAt = MailSent, "", &c.now
	case Retrying:
		at := r.RunAt.UTC().Truncate(time.Microsecond)
		inv.Mail.State, inv.Mail.LastError, inv.Mail.NextAttemptAt = MailRetrying, r.Error, &at
	case Failed:
		inv.Mail.State, inv.Mail.LastError = MailFailed, r.Error
	}
	if r.Outcome == Failed {
		if _, err := s.settleExpiry(c, inv); err != nil {
			return err
		}
		if inv.State == StatePending {
			inv.Error = r.Error
			return s.finish(c, inv, ActionFail)
		}
	}
	inv.UpdatedAt = c.now
	if err := c.tx.UpdateInvitation(c.ctx, inv); err != nil {
		return err
	}
	if r.Outcome == Succeeded {
		c.emit(inv.OrgID, EventInvitationSent, inv.ID.String(), ViewInvitation(inv))
	}
	return nil
}

// settleDelivery records a delivery attempt. An attempt's record is all
// known from the job and its result, so it is written without being read:
// this runs once per delivery, on the write path.
func (s *Service) settleDelivery(c *change, j *Job, r JobResult) error {
	a, ok := deliveryArgs(j)
	if !ok {
		return nil // a damaged job: nothing of it can be recorded
	}
	d := &Delivery{WebhookID: a.WebhookID, EventID: a.EventID}
	if r.Outcome == Void {
		// Given up unsent (the endpoint is disabled): say so, rather than
		// leave it pending; what its last attempt saw stays.
		var err error
		if d, err = c.tx.GetDelivery(c.ctx, a.WebhookID, a.EventID); err != nil {
			return ignoreGone(err)
		}
		d.State, d.Error, d.NextAttemptAt = DeliveryFailed, "not sent: "+r.Error, nil
		return ignoreGone(c.tx.UpdateDelivery(c.ctx, d))
	}
	d.Attempts, d.StatusCode, d.Duration, d.Error = j.Attempts, r.Status, r.Duration, r.Error
	d.AttemptedAt = &c.now
	switch r.Outcome {
	case Succeeded:
		d.State = DeliverySucceeded
	case Retrying:
		at := r.RunAt.UTC().Truncate(time.Microsecond)
		d.State, d.NextAttemptAt = DeliveryRetrying, &at
	case Failed:
		d.State = DeliveryFailed
	}
	return ignoreGone(c.tx.UpdateDelivery(c.ctx, d))
}

// retryAskedDuring is when a retry of delivery job j was asked for while
// its attempt was under way (RetryDelivery set the delivery pending, due
// after the claimed run), nil when none was: a failed attempt then runs
// again at that time, not after its backoff.
func retryAskedDuring(c *change, j *Job) (*time.Time, error) {
	a, ok := deliveryArgs(j)
	if !ok {
		return nil, nil
	}
	d, err := c.tx.GetDelivery(c.ctx, a.WebhookID, a.EventID)
	if err != nil {
		return nil, ignoreGone(err)
	}
	if d.State == DeliveryPending && d.NextAttemptAt != nil && d.NextAttemptAt.After(j.RunAt) {
		return d.NextAttemptAt, nil
	}
	return nil, nil
}

// deliveryArgs reads a webhook_delivery job's arguments; false for a
// damaged job.
func deliveryArgs(j *Job) (DeliveryArgs, bool) {
	var a DeliveryArgs
	err := json.Unmarshal(j.Args, &a)
	return a, err == nil
}

// ignoreGone is err, or nil for a delivery deleted with its endpoint.
func ignoreGone(err error) error {
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Mail is everything an invitation mail says.
type Mail struct {
	Invitation   *Invitation
	Organization *Organization
	Token        string
	// Reminder: the mail reminds of an invitation sent earlier.
	Reminder bool
}

// MailFor loads what a send_invitation job's mail needs, its link derived
// now. ErrNotFound means the job has nothing left to send (the invitation
// is gone, or a resend asked for a newer mail); a JSON error, that the job
// is damaged.
func (s *Service) MailFor(ctx context.Context, j *Job) (*Mail, error) {
	var p MailPayload
	if err := json.Unmarshal(j.Args, &p); err != nil {
		return nil, err
	}
	id, err := uuid.Parse(p.InvitationID)
	if err != nil {
		return nil, err
	}
	m := &Mail{Reminder: p.Reminder}
	err = s.store.Read(ctx, func(tx Tx) error {
		var err error
		if m.Invitation, err = tx.GetInvitationByID(ctx, id, false); err != nil {
			return err
		}
		if !s.mailCurrent(m.Invitation, &p) {
			return ErrNotFound
		}
		m.Organization, err = tx.GetOrg(ctx, m.Invitation.OrgID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if m.Token = p.Token; m.Token == "" {
		m.Token = s.linkOf(m.Invitation)
	}
	return m, nil
}

// mailCurrent tells whether a mail job is for inv's current link: no
// resend has asked for a newer mail since it was queued.
func (s *Service) mailCurrent(inv *Invitation, p *MailPayload) bool {
	if p.Token != "" { // queued by an earlier version, with its random link
		return s.tokenOpens(inv, p.Token)
	}
	return p.Send == inv.SendCount && len(inv.TokenHash) == 0
}

// ExpireInvitation records the expiry of invitation id once its time has
// come, with its event. When the invitation now expires later (it was
// resent), it returns that time, for the job to wait until; nil otherwise.
func (s *Service) ExpireInvitation(ctx context.Context, id uuid.UUID) (*time.Time, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	var later *time.Time
	err := s.write(ctx, func(c *change) error {
		later = nil
		inv, err := c.tx.GetInvitationByID(c.ctx, id, true)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil || inv.State != StatePending {
			return err
		}
		if c.now.Before(inv.ExpiresAt) {
			t := inv.ExpiresAt
			later = &t
			return nil
		}
		_, err = s.settleExpiry(c, inv)
		return err
	})
	return later, err
}

// JobStats counts the queued jobs by kind.
func (s *Service) JobStats(ctx context.Context) ([]JobStat, time.Time, error) {
	var st []JobStat
	now := s.Now()
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		st, err = tx.JobStats(ctx, now)
		return err
	})
	return st, now, err
}
