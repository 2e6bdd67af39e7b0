package job

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/invitd/invitd/invite"
)

// Config configures a Runner.
type Config struct {
	// Lease is how long a claim holds its jobs, and so how long the jobs of
	// a node that died wait before another takes them; default 2m.
	Lease time.Duration
	// PollInterval is how often the outbox is looked at without a Wake; default 1s.
	PollInterval time.Duration
	// Batch is the most jobs of a kind one claim takes; default 50.
	Batch int
	Log   *slog.Logger
	// Registerer, when not nil, receives the runner's metrics.
	Registerer prometheus.Registerer
}

// Runner claims and runs jobs for the handlers registered with it.
type Runner struct {
	svc     *invite.Service
	cfg     Config
	log     *slog.Logger
	id      string
	kinds   map[string]*kind
	metrics *metrics

	mu      sync.Mutex
	running map[int64]bool // jobs this runner is working on
}

// kind is one registered handler and its claim loop's state.
type kind struct {
	h      Handler
	policy Policy
	wake   chan struct{}
}

// New returns a runner with no handlers.
func New(svc *invite.Service, cfg Config) (*Runner, error) {
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 50
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{svc: svc, cfg: cfg, log: cfg.Log.With("component", "jobs"), id: workerID(), kinds: map[string]*kind{},
		running: map[int64]bool{}}
	var err error
	if r.metrics, err = newMetrics(svc, cfg.Registerer); err != nil {
		return nil, err
	}
	return r, nil
}

// Register adds the handler of a kind; call it before Run.
func (r *Runner) Register(h Handler) {
	p := h.Policy()
	p.defaults()
	r.kinds[h.Kind()] = &kind{h: h, policy: p, wake: make(chan struct{}, 1)}
}

// ID is the name the runner claims jobs under.
func (r *Runner) ID() string { return r.id }

// workerID names this runner uniquely across processes and hosts.
func workerID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "host"
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Wake makes the loop of a kind look at the outbox now; "" wakes every kind.
func (r *Runner) Wake(kind string) {
	for n, k := range r.kinds {
		if kind != "" && n != kind {
			continue
		}
		select {
		case k.wake <- struct{}{}:
		default:
		}
	}
}

// Run works until ctx is done, then waits for the attempts under way.
func (r *Runner) Run(ctx context.Context) {
	// Its writes may wait briefly to share the requests' commits.
	ctx = invite.WithPrincipal(invite.Background(ctx), invite.System)
	var wg sync.WaitGroup
	names := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		wg.Add(1)
		go func() { defer wg.Done(); r.loop(ctx, r.kinds[n]) }()
	}
	wg.Wait()
	for _, n := range names {
		if c, ok := r.kinds[n].h.(interface{ Close() error }); ok {
			if err := c.Close(); err != nil {
				r.log.Warn("closing a job handler failed", "kind", n, "err", err)
			}
		}
	}
}

// Idler is a Handler told when its kind has no work for now, with no
// attempt running (the mail handler closes an unused connection).
type Idler interface{ Idle() }

// pool is the state one kind's loop shares with its workers and settlers.
type pool struct {
	slots chan struct{} // one per attempt under way or handed out
	work  chan *invite.Job
	// running counts attempts under way. The idle check reads it rather than
	// len(slots): a channel's length orders nothing, an atomic does, so an
	// attempt's last use of the handler happens before Idle.
	running atomic.Int32
	// settling is held shared while a result is written and its job let go
	// here, and whole by a claim: a claim that saw a result's write (a retry
	// due at once) always finds its job let go, and so runs it.
	settling sync.RWMutex
}

// loop claims k's jobs while there is room for them and hands each to one
// of Concurrency workers. The workers live as long as the loop: an attempt
// on a fresh goroutine would first grow its stack to the depth of a
// database call, every time. A worker hands its attempt's result to one of
// Concurrency settlers and goes on to the next job: the result's write
// then shares a commit with the next claim and the other results rather
// than wait for one of its own.
func (r *Runner) loop(ctx context.Context, k *kind) {
	p := &pool{slots: make(chan struct{}, k.policy.Concurrency), work: make(chan *invite.Job)}
	// Unbuffered: a result waits in a worker until a settler writes it, so
	// at most two results a worker are unwritten, which a node killed
	// meanwhile leaves to be done again.
	results := make(chan settled)
	var workers, settlers sync.WaitGroup
	for range k.policy.Concurrency {
		settlers.Go(func() {
			for s := range results {
				p.settling.RLock()
				r.record(ctx, s.job, s.res)
				r.done(s.job.ID)
				p.settling.RUnlock()
			}
		})
		workers.Go(func() {
			for j := range p.work {
				res, ok := r.attempt(ctx, k, j)
				p.running.Add(-1)
				<-p.slots
				if ok {
					results <- settled{j, res}
				} else {
					r.done(j.ID)
				}
				// Half the slots are free (the one, for a kind run one at a
				// time): claim more without waiting for a poll, in a claim
				// big enough to be worth its write.
				if cap(p.slots)-len(p.slots) < max(cap(p.slots)/2, 1) {
					continue
				}
				select {
				case k.wake <- struct{}{}:
				default:
				}
			}
		})
	}
	defer settlers.Wait()
	defer close(results)
	defer workers.Wait()
	defer close(p.work)
	t := time.NewTicker(r.cfg.PollInterval)
	defer t.Stop()
	for {
		claimed := 0
		if free := cap(p.slots) - len(p.slots); free > 0 {
			// A claim takes a round of jobs beyond the free slots, handed
			// out as slots free: a worker that ends an attempt then starts
			// the next without waiting for a claim of its own.
			claimed = r.claim(ctx, k, p, min(free+k.policy.Concurrency, r.cfg.Batch))
		}
		if claimed > 0 && ctx.Err() == nil {
			continue
		}
		if idler, ok := k.h.(Idler); ok && p.running.Load() == 0 {
			idler.Idle()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-k.wake:
		}
	}
}

// claim leases up to n of k's jobs and hands them to p's workers, each when
// a slot is free; it returns how many it claimed.
func (r *Runner) claim(ctx context.Context, k *kind, p *pool, n int) int {
	leaseEnd := time.Now().Add(r.cfg.Lease)
	p.settling.Lock()
	jobs, err := r.svc.ClaimJobs(ctx, r.id, []string{k.h.Kind()}, n, r.cfg.Lease)
	var mine []*invite.Job
	for _, j := range jobs {
		// One not started is ours already: its lease ran out under its
		// attempt (the clock stepped, or the attempt is slow) and this
		// claim renewed it. The attempt under way settles it.
		if r.start(j.ID) {
			mine = append(mine, j)
		}
	}
	p.settling.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("claiming jobs failed", "kind", k.h.Kind(), "err", err)
		}
		return 0
	}
	// Leave room at the end of the lease for one slow attempt, so that no
	// job runs after another node may have claimed it.
	margin := min(2*k.policy.Timeout, r.cfg.Lease/2)
	for i, j := range mine {
		p.slots <- struct{}{} // waits while Concurrency attempts run
		if ctx.Err() != nil || time.Until(leaseEnd) < margin {
			<-p.slots
			r.release(ctx, mine[i:])
			for _, j := range mine[i:] {
				r.done(j.ID)
			}
			break
		}
		p.running.Add(1)
		p.work <- j
	}
	return len(jobs)
}

// start marks job id as worked on here; false if it already is.
func (r *Runner) start(id int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running[id] {
		return false
	}
	r.running[id] = true
	return true
}

func (r *Runner) done(id int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.running, id)
}

// settled is an attempt's result, to be recorded.
type settled struct {
	job *invite.Job
	res invite.JobResult
}

// attempt does one attempt at j and says what to record of it; false when
// the runner is stopping and the job was given back instead.
func (r *Runner) attempt(ctx context.Context, k *kind, j *invite.Job) (invite.JobResult, bool) {
	log := r.log.With("kind", j.Kind, "job", j.ID, "attempt", j.Attempts)
	actx, cancel := context.WithTimeout(ctx, k.policy.Timeout)
	start := time.Now()
	a, err := safeWork(actx, k.h, j)
	cancel()
	elapsed := time.Since(start)
	if a.Duration == 0 {
		a.Duration = elapsed
	}
	if ctx.Err() != nil && err != nil {
		// Stopping: the attempt was cut short, not failed; give it back.
		r.release(ctx, []*invite.Job{j})
		return invite.JobResult{}, false
	}
	res := result(j, k.policy, a, err, r.svc.Now())
	r.metrics.observe(j.Kind, res.Outcome, elapsed)
	switch res.Outcome {
	case invite.Retrying:
		log.Warn("job attempt failed; retrying", "err", res.Error, "retry_at", res.RunAt)
	case invite.Failed:
		log.Error("job given up", "err", res.Error)
	case invite.Void:
		log.Debug("job dropped", "why", res.Error)
	}
	return res, true
}

// record writes an attempt's result.
func (r *Runner) record(ctx context.Context, j *invite.Job, res invite.JobResult) {
	if err := settle(ctx, func(c context.Context) error { return r.svc.SettleJob(c, j, res) }); err != nil && !errors.Is(err, invite.ErrNotFound) {
		r.log.Error("recording a job's result failed", "kind", j.Kind, "job", j.ID, "attempt", j.Attempts, "err", err)
	}
}

// safeWork runs one attempt; a panic in a handler fails the attempt, not the node.
func safeWork(ctx context.Context, h Handler, j *invite.Job) (a Attempt, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the %s handler panicked: %v", j.Kind, p)
		}
	}()
	return h.Work(ctx, j)
}

// release gives jobs back for another claim at once; the claim's attempt does not count.
func (r *Runner) release(ctx context.Context, jobs []*invite.Job) {
	for _, j := range jobs {
		res := invite.JobResult{Outcome: invite.Rescheduled, RunAt: r.svc.Now(), Attempts: max(j.Attempts-1, 0), Error: j.LastError}
		err := settle(ctx, func(c context.Context) error { return r.svc.SettleJob(c, j, res) })
		if err != nil && !errors.Is(err, invite.ErrNotFound) {
			r.log.Warn("releasing a job failed", "job", j.ID, "err", err)
		}
	}
}

// settle runs a store call that must happen even while ctx ends: the work
// was done (or not) and the outbox must say so.
func settle(ctx context.Context, fn func(context.Context) error) error {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return fn(c)
}

// Backoff is min doubled per failed attempt (1-based), capped at max, then
// jittered into its upper half.
func Backoff(attempt int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return jitter(d)
}

// jitter spreads d over its upper half, so that retries of many jobs that
// failed together do not come back together.
func jitter(d time.Duration) time.Duration {
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + mrand.N(half+1)
}
