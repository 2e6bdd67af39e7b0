package invite

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
)

// Mail is everything an invitation mail says.
type Mail struct {
	Invitation   *Invitation
	Organization *Organization
	Token        string
}

// ClaimJobs leases due outbox jobs to worker for lease.
func (s *Service) ClaimJobs(ctx context.Context, worker string, limit int, lease time.Duration) ([]*Job, error) {
	var jobs []*Job
	now := s.Now()
	err := s.store.Write(ctx, func(tx Tx) error {
		var err error
		jobs, err = tx.ClaimJobs(ctx, worker, now, now.Add(lease), limit)
		return err
	})
	return jobs, err
}

// MailFor loads what a send_invitation job's mail needs. ErrNotFound means the
// job has nothing left to send.
func (s *Service) MailFor(ctx context.Context, j *Job) (*Mail, error) {
	mails, errs, err := s.MailsFor(ctx, []*Job{j})
	if err != nil {
		return nil, err
	}
	return mails[0], errs[0]
}

// MailsFor loads the mails of several jobs in one read transaction, which
// matters when a worker claims a batch. For each job it gives the mail or why
// there is none (ErrNotFound: nothing left to send; a JSON error: a damaged
// job); err is set only when the transaction itself failed.
func (s *Service) MailsFor(ctx context.Context, jobs []*Job) (mails []*Mail, errs []error, err error) {
	mails, errs = make([]*Mail, len(jobs)), make([]error, len(jobs))
	tokens := make([]string, len(jobs))
	var ids []uuid.UUID
	for i, j := range jobs {
		var p MailPayload
		if errs[i] = json.Unmarshal(j.Payload, &p); errs[i] != nil {
			continue
		}
		tokens[i] = p.Token
		if id, ok := tokenInvitation(p.Token); ok {
			ids = append(ids, id)
		}
	}
	err = s.store.Read(ctx, func(tx Tx) error {
		// The invitations are read in one statement; a token names its own.
		found, err := tx.GetInvitationsByID(ctx, ids)
		if err != nil {
			return err
		}
		byID := make(map[uuid.UUID]*Invitation, len(found))
		for _, inv := range found {
			byID[inv.ID] = inv
		}
		read := func(id uuid.UUID) (*Invitation, error) {
			if inv := byID[id]; inv != nil {
				return inv, nil
			}
			return nil, ErrNotFound
		}
		orgs := map[OrgID]*Organization{}
		for i, token := range tokens {
			if errs[i] != nil {
				continue
			}
			inv, err := openToken(ctx, tx, token, false, read)
			if errors.Is(err, ErrNotFound) {
				errs[i] = err
				continue
			}
			if err != nil {
				return err
			}
			o := orgs[inv.OrgID]
			if o == nil {
				if o, err = tx.GetOrg(ctx, inv.OrgID); err != nil {
					return err
				}
				orgs[inv.OrgID] = o
			}
			mails[i] = &Mail{Token: token, Invitation: inv, Organization: o}
		}
		return nil
	})
	return mails, errs, err
}

// JobDone removes a job after its work was done.
func (s *Service) JobDone(ctx context.Context, j *Job) error {
	return s.store.Write(ctx, func(tx Tx) error { return tx.DeleteJob(ctx, j.ID, j.LockedBy) })
}

// JobRetry frees a job to run again at runAt after a failed attempt.
func (s *Service) JobRetry(ctx context.Context, j *Job, runAt time.Time, reason string) error {
	return s.store.Write(ctx, func(tx Tx) error {
		return tx.RescheduleJob(ctx, j.ID, j.LockedBy, runAt.UTC().Truncate(time.Microsecond), reason)
	})
}

// JobFailed gives up on a mail job for good: the invitation moves to error
// with reason, unless it has already moved on.
func (s *Service) JobFailed(ctx context.Context, j *Job, reason string) error {
	return s.store.Write(ctx, func(tx Tx) error {
		if err := tx.DeleteJob(ctx, j.ID, j.LockedBy); err != nil {
			return err
		}
		inv, err := tx.GetInvitationByID(ctx, j.InvitationID, true)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		now := s.Now()
		inv.Observe(now)
		to, err := Next(inv.State, ActionFail)
		if err != nil {
			return nil // accepted, cancelled or expired meanwhile: nothing to mark
		}
		inv.State, inv.Error, inv.UpdatedAt, inv.FinishedAt = to, reason, now, &now
		return tx.UpdateInvitation(ctx, inv)
	})
}

// OutboxStats reports the outbox's depth and the age of its oldest job.
func (s *Service) OutboxStats(ctx context.Context) (int, time.Duration, error) {
	var n int
	var oldest *time.Time
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		n, oldest, err = tx.OutboxStats(ctx)
		return err
	})
	var age time.Duration
	if oldest != nil {
		age = s.Now().Sub(*oldest)
	}
	return n, age, err
}
