package job_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/job"
	"github.com/invitd/invitd/store/sqlite"
	"github.com/invitd/invitd/store/storetest"
)

// handler does what its work function says, counting attempts.
type handler struct {
	kind   string
	policy job.Policy
	work   func(n int, j *invite.Job) error
	mu     sync.Mutex
	calls  []int // the job's attempts at each call
}

func (h *handler) Kind() string       { return h.kind }
func (h *handler) Policy() job.Policy { return h.policy }

func (h *handler) Work(_ context.Context, j *invite.Job) (job.Attempt, error) {
	h.mu.Lock()
	h.calls = append(h.calls, j.Attempts)
	n := len(h.calls)
	h.mu.Unlock()
	return job.Attempt{}, h.work(n, j)
}

func (h *handler) attempts() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.calls...)
}

type env struct {
	svc    *invite.Service
	runner *job.Runner
	clock  *storetest.Clock
	ctx    context.Context
}

// start runs a runner with h on a fresh SQLite file; it stops with the test.
func start(t *testing.T, lease time.Duration, hs ...job.Handler) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "jobs.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{clock: storetest.NewClock(), ctx: invite.WithPrincipal(t.Context(), invite.System)}
	var r *job.Runner
	if e.svc, err = invite.NewService(st, invite.Config{Now: e.clock.Now, Wake: func(k string) { r.Wake(k) }}); err != nil {
		t.Fatal(err)
	}
	if r, err = job.New(e.svc, job.Config{PollInterval: 5 * time.Millisecond, Lease: lease}); err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		r.Register(h)
	}
	e.runner = r
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

func (e *env) enqueue(t *testing.T, kind string) {
	t.Helper()
	if err := e.svc.EnsureJob(e.ctx, &invite.Job{Kind: kind, Args: json.RawMessage("{}")}); err != nil {
		t.Fatal(err)
	}
}

// queued counts kind's queued jobs.
func (e *env) queued(t *testing.T, kind string) (due, scheduled int) {
	t.Helper()
	stats, _, err := e.svc.JobStats(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stats {
		if s.Kind == kind {
			return s.Due, s.Scheduled
		}
	}
	return 0, 0
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestOutcomes(t *testing.T) {
	fast := func(int) time.Duration { return 0 }
	succeed := &handler{kind: "succeed", work: func(int, *invite.Job) error { return nil }}
	// Fails twice, then succeeds: retried with the attempts counted.
	flaky := &handler{kind: "flaky", policy: job.Policy{MaxAttempts: 5, Backoff: fast}, work: func(n int, _ *invite.Job) error {
		if n < 3 {
			return errors.New("not yet")
		}
		return nil
	}}
	// Always fails: given up after MaxAttempts.
	broken := &handler{kind: "broken", policy: job.Policy{MaxAttempts: 3, Backoff: fast},
		work: func(int, *invite.Job) error { return errors.New("down") }}
	permanent := &handler{kind: "permanent", policy: job.Policy{MaxAttempts: 5, Backoff: fast},
		work: func(int, *invite.Job) error { return job.Permanent(errors.New("no such thing")) }}
	// A panic fails the attempt, not the node.
	panics := &handler{kind: "panics", policy: job.Policy{MaxAttempts: 2, Backoff: fast},
		work: func(int, *invite.Job) error { panic("boom") }}
	// Snoozed twice, then done: a snooze does not count as an attempt.
	snoozes := &handler{kind: "snoozes", work: func(n int, _ *invite.Job) error {
		if n < 3 {
			return job.Snooze(0, "busy")
		}
		return nil
	}}
	e := start(t, time.Minute, succeed, flaky, broken, permanent, panics, snoozes)
	for _, h := range []*handler{succeed, flaky, broken, permanent, panics, snoozes} {
		e.enqueue(t, h.kind)
	}
	for _, c := range []struct {
		h    *handler
		want []int
	}{
		{succeed, []int{1}}, {flaky, []int{1, 2, 3}}, {broken, []int{1, 2, 3}}, {permanent, []int{1}},
		{panics, []int{1, 2}}, {snoozes, []int{1, 1, 1}},
	} {
		eventually(t, c.h.kind+" to be done with", func() bool {
			due, sched := e.queued(t, c.h.kind)
			return due+sched == 0 && len(c.h.attempts()) >= len(c.want)
		})
		if got := c.h.attempts(); len(got) != len(c.want) || got[len(got)-1] != c.want[len(c.want)-1] {
			t.Errorf("%s: attempts %v, want %v", c.h.kind, got, c.want)
		}
	}
}

// Again reschedules a job to run later as new: a periodic job.
func TestAgainReschedules(t *testing.T) {
	var e *env
	periodic := &handler{kind: "periodic", work: func(n int, _ *invite.Job) error {
		return job.Again(e.clock.Now().Add(time.Hour))
	}}
	e = start(t, time.Minute, periodic)
	e.enqueue(t, "periodic")
	eventually(t, "the first run", func() bool { _, sched := e.queued(t, "periodic"); return sched == 1 })
	e.clock.Advance(time.Hour)
	eventually(t, "the second run", func() bool { return len(periodic.attempts()) == 2 })
	if got := periodic.attempts(); got[1] != 1 {
		t.Errorf("the second run counted attempts %v; Again starts the count anew", got)
	}
}

// When its lease runs out under an attempt (here: the clock steps past it),
// the node that holds the job claims it again but does not run it twice.
func TestAJobRunsOnceOnItsNodeWhenItsLeaseRunsOut(t *testing.T) {
	release := make(chan struct{})
	var running atomic.Int32
	slow := &handler{kind: "slow", policy: job.Policy{Concurrency: 4, Timeout: 10 * time.Second},
		work: func(int, *invite.Job) error {
			running.Add(1)
			<-release
			return nil
		}}
	e := start(t, time.Minute, slow)
	e.enqueue(t, "slow")
	eventually(t, "the attempt to start", func() bool { return running.Load() == 1 })
	e.clock.Advance(2 * time.Minute)   // the lease is over
	time.Sleep(100 * time.Millisecond) // many polls: each claims the job again
	if n := len(slow.attempts()); n != 1 {
		t.Errorf("the job ran %d times at once on its node", n)
	}
	close(release)
	eventually(t, "the job to be done", func() bool { due, sched := e.queued(t, "slow"); return due+sched == 0 })
	if n := len(slow.attempts()); n != 1 {
		t.Errorf("the job ran %d times", n)
	}
}

// idler is a handler whose Work and Idle share state with no lock, as the
// mail handler's connection does: the runner promises Idle no attempt runs.
type idler struct {
	handler
	done   int // attempts ended, written by Work, read by Idle
	during atomic.Bool
	bad    atomic.Int32
	seen   atomic.Int32 // done, as the last Idle read it
}

func (h *idler) Work(ctx context.Context, j *invite.Job) (job.Attempt, error) {
	h.during.Store(true)
	defer h.during.Store(false)
	h.done++
	return h.handler.Work(ctx, j)
}

func (h *idler) Idle() {
	if h.during.Load() {
		h.bad.Add(1)
	}
	h.seen.Store(int32(h.done))
}

// Idle is called only between attempts, ordered after them (the race
// detector checks the order), and again once the work runs out.
func TestIdleFollowsTheAttempts(t *testing.T) {
	h := &idler{handler: handler{kind: "idle", policy: job.Policy{Concurrency: 1},
		work: func(int, *invite.Job) error { return nil }}}
	e := start(t, time.Minute, h)
	const n = 200
	for range n {
		e.enqueue(t, "idle")
	}
	eventually(t, "Idle after the last attempt", func() bool { return h.seen.Load() == n })
	if b := h.bad.Load(); b > 0 {
		t.Errorf("Idle was called %d times during an attempt", b)
	}
}
