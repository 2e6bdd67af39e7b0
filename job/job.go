// Package job runs the outbox's jobs on every node: it claims due jobs
// through the core (the store leases each to one node), hands each to the
// handler registered for its kind, and records what became of it: done,
// retried with backoff, given up, or run again later. Handlers do the work
// and know nothing of leases, backoff or metrics; the runner knows nothing
// of what the work is.
package job

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/invitd/invitd/invite"
)

// Handler does the work of one kind of job.
type Handler interface {
	Kind() string
	Policy() Policy
	// Work does one attempt at j. It returns nil when the work was done, a
	// Void, Permanent, Again or Snooze error to say otherwise, or any other
	// error for an attempt that failed and may be tried again. Attempt
	// reports what the attempt saw, for kinds that record it.
	Work(ctx context.Context, j *invite.Job) (Attempt, error)
}

// Attempt is what one attempt saw.
type Attempt struct {
	Status   int // an HTTP status; 0 for none
	Duration time.Duration
}

// Policy is how the runner treats a kind's jobs.
type Policy struct {
	// MaxAttempts: after this many failed attempts the job is given up; 0
	// means never.
	MaxAttempts int
	// Backoff is the wait after the given (1-based) failed attempt.
	Backoff func(attempt int) time.Duration
	// Concurrency is how many of the kind's jobs run at once on a node; 1
	// runs them in claim order. Default 1.
	Concurrency int
	// Timeout bounds one attempt; no attempt starts with less than twice
	// this left of its lease. Default 30s.
	Timeout time.Duration
}

func (p *Policy) defaults() {
	if p.Concurrency <= 0 {
		p.Concurrency = 1
	}
	if p.Timeout <= 0 {
		p.Timeout = 30 * time.Second
	}
	if p.Backoff == nil {
		p.Backoff = func(int) time.Duration { return time.Minute }
	}
}

type outcomeError struct {
	outcome invite.Outcome
	runAt   time.Time
	wait    time.Duration
	keep    bool // Snooze: the attempt does not count
	err     error
}

func (e *outcomeError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return "rescheduled"
}

func (e *outcomeError) Unwrap() error { return e.err }

// Void says the work is no longer wanted and nothing was done.
func Void(why string) error { return &outcomeError{outcome: invite.Void, err: errors.New(why)} }

// Permanent says the attempt failed and no retry can succeed: the job is given up now.
func Permanent(err error) error { return &outcomeError{outcome: invite.Failed, err: err} }

// Again says the job is to run again at t as if new (periodic work, or
// work that is not due yet).
func Again(t time.Time) error { return &outcomeError{outcome: invite.Rescheduled, runAt: t} }

// Snooze says the job could not be tried now and is to run after d; the
// attempt does not count.
func Snooze(d time.Duration, why string) error {
	return &outcomeError{outcome: invite.Rescheduled, wait: d, keep: true, err: errors.New(why)}
}

// result decides what becomes of j after an attempt that returned err.
func result(j *invite.Job, p Policy, a Attempt, err error, now time.Time) invite.JobResult {
	r := invite.JobResult{Outcome: invite.Succeeded, Status: a.Status, Duration: a.Duration}
	if err == nil {
		return r
	}
	r.Error = truncate(err.Error(), 1000)
	var oe *outcomeError
	if !errors.As(err, &oe) {
		if p.MaxAttempts > 0 && j.Attempts >= p.MaxAttempts {
			r.Outcome = invite.Failed
			r.Error = truncate(fmt.Sprintf("gave up after %d attempts; last error: %s", j.Attempts, err), 1000)
			return r
		}
		r.Outcome, r.RunAt = invite.Retrying, now.Add(p.Backoff(j.Attempts))
		return r
	}
	r.Outcome = oe.outcome
	if oe.outcome != invite.Rescheduled {
		return r
	}
	r.RunAt = oe.runAt
	if oe.keep {
		r.RunAt, r.Attempts = now.Add(oe.wait), max(j.Attempts-1, 0)
	} else {
		r.Error = ""
	}
	return r
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}
