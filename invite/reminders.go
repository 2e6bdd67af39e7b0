package invite

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

// DefaultReminderBatch is how many due invitations a sweep reads at a time
// when its caller gives no limit.
const DefaultReminderBatch = 100

// SendReminders queues the one reminder of every invitation due one now, over
// every organization whose reminder_after is set, reading limit candidates
// at a time; it says how many it queued. Each reminder is a change of its
// own that reads its invitation again, so sweeps that overlap (two nodes, or
// a sweep and a resend) queue it once.
//
// A reminder the per-recipient mail limit would refuse is not queued: the
// invitation stays due and a later sweep tries again while it still
// qualifies.
func (s *Service) SendReminders(ctx context.Context, limit int) (int, error) {
	if err := requireAdmin(ctx); err != nil {
		return 0, err
	}
	if limit <= 0 {
		limit = DefaultReminderBatch
	}
	var after *ReminderPosition
	queued := 0
	for {
		now := s.Now()
		var due []*Invitation
		err := s.store.Read(ctx, func(tx Tx) error {
			var err error
			due, err = tx.ListDueReminders(ctx, now, after, limit)
			return err
		})
		if err != nil {
			return queued, err
		}
		for _, inv := range due {
			ok, err := s.remind(ctx, inv.ID)
			if err != nil {
				return queued, err
			}
			if ok {
				queued++
			}
		}
		if len(due) < limit {
			return queued, nil
		}
		// The reminded leave the list, but not those left for later (the
		// mail limit): paging past them keeps them from filling every batch.
		last := due[len(due)-1]
		after = &ReminderPosition{Org: last.OrgID, LastSentAt: *last.LastSentAt, Number: last.Number}
	}
}

// remind queues invitation id's reminder if it is due one at the change's
// now, and tells whether it did.
func (s *Service) remind(ctx context.Context, id uuid.UUID) (bool, error) {
	var done bool
	err := s.write(ctx, func(c *change) error {
		done = false
		// The address's mails are counted before the invitation is locked,
		// in the order a resend takes the two locks.
		peek, err := c.tx.GetInvitationByID(c.ctx, id, false)
		if err != nil {
			return ignoreNotFound(err)
		}
		o, err := c.tx.GetOrg(c.ctx, peek.OrgID)
		if err != nil {
			return ignoreNotFound(err)
		}
		if !reminderDue(o, peek, c.now) {
			return nil
		}
		mails, err := s.countMails(c, o, peek.Email)
		if err != nil {
			return err
		}
		inv, err := c.tx.GetInvitationByID(c.ctx, id, true)
		if err != nil {
			return ignoreNotFound(err)
		}
		if !reminderDue(o, inv, c.now) || mails.refuseMail(c.now, inv.Email) != nil {
			return nil
		}
		inv.RemindedAt = &c.now
		inv.UpdatedAt = c.now
		if err := c.tx.UpdateInvitation(c.ctx, inv); err != nil {
			return err
		}
		c.emit(inv.OrgID, EventInvitationReminded, inv.ID.String(), ViewInvitation(inv))
		org := inv.OrgID
		if err := c.tx.RecordMail(c.ctx, org, inv.Email, c.now); err != nil {
			return err
		}
		// The reminder is for the current send: a resend before it goes
		// makes it stale, and the newer mail goes instead.
		args := marshal(MailPayload{InvitationID: inv.ID.String(), Send: inv.SendCount, Reminder: true})
		if err := c.enqueue(&Job{Kind: JobSendInvitation, OrgID: &org, Args: args}); err != nil {
			return err
		}
		done = true
		return nil
	})
	return done && err == nil, err
}

// reminderDue tells whether inv, of o, is due its reminder at now; it is
// the rule ListDueReminders selects by. Only a mail that went out is
// reminded of; an invitation whose link is a random one of an earlier
// version, which no mail can carry again, gets none.
func reminderDue(o *Organization, inv *Invitation, now time.Time) bool {
	after := time.Duration(o.Settings.ReminderAfter) * time.Second
	return after > 0 && inv.State == StatePending && inv.RemindedAt == nil &&
		inv.LastSentAt != nil && inv.Mail.State == MailSent && len(inv.TokenHash) == 0 &&
		!now.Before(inv.LastSentAt.Add(after)) && inv.ExpiresAt.After(now.Add(ReminderMargin))
}

// ignoreNotFound is err, or nil for a row gone meanwhile.
func ignoreNotFound(err error) error {
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
