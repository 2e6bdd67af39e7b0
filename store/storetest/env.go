package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/invite"
)

// Clock is a settable clock. It starts off UTC and with nanoseconds, as a
// real clock does, so that anything not stored as the service's Now shows.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at a fixed instant.
func NewClock() *Clock {
	return &Clock{now: time.Date(2031, 3, 4, 5, 6, 7, 891234567, time.FixedZone("UTC+2", 2*3600))}
}

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type env struct {
	store invite.Store
	clock *Clock
	svc   *invite.Service
	seq   atomic.Int64
}

func newEnv(t *testing.T, st invite.Store) *env {
	t.Helper()
	c := NewClock()
	svc, err := invite.NewService(st, invite.Config{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &env{store: st, clock: c, svc: svc}
}

// now is the service's view of the clock.
func (e *env) now() time.Time { return e.svc.Now() }

// email returns an address not used before in this group.
func (e *env) email() string { return fmt.Sprintf("user%d@example.com", e.seq.Add(1)) }

func (e *env) org(t *testing.T, patch *invite.SettingsPatch) *invite.Organization {
	t.Helper()
	o, err := e.svc.CreateOrg(sys(t), fmt.Sprintf("Org %d", e.seq.Add(1)), patch)
	if err != nil {
		t.Fatalf("CreateOrg: %v", err)
	}
	return o
}

func (e *env) invite(t *testing.T, org invite.OrgID, c invite.CreateInvitation) *invite.Created {
	t.Helper()
	if c.Email == "" {
		c.Email = e.email()
	}
	res, err := e.svc.CreateInvitation(sys(t), org, c)
	if err != nil {
		t.Fatalf("CreateInvitation(%s): %v", c.Email, err)
	}
	return res
}

// quiet creates an invitation without mail and returns it with its token.
func (e *env) quiet(t *testing.T, org invite.OrgID) (*invite.Invitation, string) {
	t.Helper()
	res := e.invite(t, org, invite.CreateInvitation{NoEmail: true})
	if res.Token == "" {
		t.Fatal("a create without mail returned no token")
	}
	return res.Invitation, res.Token
}

func (e *env) get(t *testing.T, org invite.OrgID, id uuid.UUID) *invite.Invitation {
	t.Helper()
	inv, err := e.svc.GetInvitation(sys(t), org, ref(id))
	if err != nil {
		t.Fatalf("GetInvitation %s: %v", id, err)
	}
	return inv
}

func (e *env) find(t *testing.T, f invite.InvitationFilter) []*invite.Invitation {
	t.Helper()
	if f.Limit == 0 {
		f.Limit = 10000
	}
	out, err := e.svc.FindInvitations(sys(t), f)
	if err != nil {
		t.Fatalf("FindInvitations: %v", err)
	}
	return out
}

func (e *env) count(t *testing.T, f invite.InvitationFilter) int {
	t.Helper()
	n, err := e.svc.CountInvitations(sys(t), f)
	if err != nil {
		t.Fatalf("CountInvitations: %v", err)
	}
	return n
}

// allKinds are the job kinds the core enqueues, and the suite's own.
var allKinds = []string{invite.JobSendInvitation, invite.JobExpireInvitation, invite.JobWebhookDelivery, invite.JobEventRetention, invite.JobSendReminders, invite.JobSendSignInLink, "other"}

// stats returns the queued jobs of each kind.
func (e *env) stats(t *testing.T) map[string]invite.JobStat {
	t.Helper()
	st, _, err := e.svc.JobStats(sys(t))
	if err != nil {
		t.Fatalf("JobStats: %v", err)
	}
	m := map[string]invite.JobStat{}
	for _, s := range st {
		m[s.Kind] = s
	}
	return m
}

// queued counts the jobs of kind in the outbox, due or not.
func (e *env) queued(t *testing.T, kind string) int {
	t.Helper()
	s := e.stats(t)[kind]
	return s.Due + s.Scheduled
}

// depth counts the queued mails.
func (e *env) depth(t *testing.T) int {
	t.Helper()
	return e.queued(t, invite.JobSendInvitation)
}

// claimAll leases every due job of kinds (every kind when none is given)
// to a new worker and returns them.
func (e *env) claimAll(t *testing.T, lease time.Duration, kinds ...string) []*invite.Job {
	t.Helper()
	if len(kinds) == 0 {
		kinds = allKinds
	}
	worker := fmt.Sprintf("worker-%d", e.seq.Add(1))
	jobs, err := e.svc.ClaimJobs(sys(t), worker, kinds, 10000, lease)
	if err != nil {
		t.Fatalf("ClaimJobs: %v", err)
	}
	return jobs
}

// drain removes every job, due or not, so that a test can count exactly.
func (e *env) drain(t *testing.T) {
	t.Helper()
	ctx := sys(t)
	far := e.now().Add(1000 * 24 * time.Hour)
	worker := fmt.Sprintf("drain-%d", e.seq.Add(1))
	e.write(t, func(tx invite.Tx) error {
		st, err := tx.JobStats(ctx, far)
		if err != nil {
			return err
		}
		var kinds []string
		for _, s := range st {
			kinds = append(kinds, s.Kind)
		}
		jobs, err := tx.ClaimJobs(ctx, worker, kinds, far, far.Add(time.Hour), 100000)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if err := tx.DeleteJob(ctx, j.ID, worker); err != nil {
				return err
			}
		}
		return nil
	})
	if st := e.stats(t); len(st) != 0 {
		t.Fatalf("jobs left after draining: %+v", st)
	}
}

// mailArgs decodes a send_invitation job's arguments.
func mailArgs(t *testing.T, j *invite.Job) invite.MailPayload {
	t.Helper()
	var p invite.MailPayload
	if err := json.Unmarshal(j.Args, &p); err != nil {
		t.Fatalf("job args %s: %v", j.Args, err)
	}
	return p
}

// jobFor claims the due mail jobs and returns the newest of invitation id
// (an older one is a mail a resend replaced, left for the worker to drop).
func (e *env) jobFor(t *testing.T, id uuid.UUID) *invite.Job {
	t.Helper()
	var found *invite.Job
	for _, j := range e.claimAll(t, time.Minute, invite.JobSendInvitation) {
		if mailArgs(t, j).InvitationID == id.String() && (found == nil || j.ID > found.ID) {
			found = j
		}
	}
	if found == nil {
		t.Fatalf("no due mail job for invitation %s", id)
	}
	return found
}

// tokenOf claims the mail job of invitation id and returns the link its
// mail carries. The job itself holds no link, only the send it is for.
func (e *env) tokenOf(t *testing.T, id uuid.UUID) string {
	t.Helper()
	j := e.jobFor(t, id)
	if p := mailArgs(t, j); p.Token != "" || p.InvitationID != id.String() || p.Send < 1 {
		t.Fatalf("mail job of %s has arguments %s, want its id and send count only", id, j.Args)
	}
	m, err := e.svc.MailFor(sys(t), j)
	if err != nil {
		t.Fatalf("MailFor(job of %s): %v", id, err)
	}
	if m.Token == "" || strings.Contains(string(j.Args), m.Token) {
		t.Fatalf("mail of %s: link %q, job %s", id, m.Token, j.Args)
	}
	return m.Token
}

// settle records r for j, which must be held still.
func (e *env) settle(t *testing.T, j *invite.Job, r invite.JobResult) {
	t.Helper()
	if err := e.svc.SettleJob(sys(t), j, r); err != nil {
		t.Fatalf("SettleJob(%s, outcome %d): %v", j.Kind, r.Outcome, err)
	}
}

// events lists org's events in log order, of the given types when any are.
func (e *env) events(t *testing.T, org invite.OrgID, types ...string) []*invite.Event {
	t.Helper()
	return e.listEvents(t, invite.EventFilter{Org: org, Types: types, Limit: 100000})
}

// subjectEvents lists the events about subject in org, in log order.
func (e *env) subjectEvents(t *testing.T, org invite.OrgID, subject string) []*invite.Event {
	t.Helper()
	return e.listEvents(t, invite.EventFilter{Org: org, Subject: subject, Limit: 100000})
}

// eventTypes lists the types of events, in their order.
func eventTypes(events []*invite.Event) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = ev.Type
	}
	return out
}

func (e *env) write(t *testing.T, fn func(invite.Tx) error) {
	t.Helper()
	if err := e.store.Write(sys(t), fn); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func ref(id uuid.UUID) invite.InvitationRef { return invite.InvitationRef{ID: id} }

var kindNames = map[invite.Kind]string{
	invite.KindInternal: "Internal", invite.KindInvalid: "Invalid", invite.KindBadRequest: "BadRequest",
	invite.KindUnauthorized: "Unauthorized", invite.KindForbidden: "Forbidden", invite.KindNotFound: "NotFound",
	invite.KindConflict: "Conflict", invite.KindTooManyRequests: "TooManyRequests",
}

// wantKind fails unless err is a core error of kind whose message contains
// every one of words.
func wantKind(t *testing.T, err error, kind invite.Kind, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want Kind %s", kindNames[kind])
	}
	if got := invite.ErrorKind(err); got != kind {
		t.Fatalf("got %v (Kind %s), want Kind %s", err, kindNames[got], kindNames[kind])
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func wantTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func wantTimePtr(t *testing.T, what string, got *time.Time, want time.Time) {
	t.Helper()
	if got == nil {
		t.Errorf("%s is unset, want %v", what, want)
		return
	}
	wantTime(t, what, *got, want)
}

func ids(invs []*invite.Invitation) []uuid.UUID {
	out := make([]uuid.UUID, len(invs))
	for i, inv := range invs {
		out[i] = inv.ID
	}
	return out
}

// sys is the test's context acting as the system, which may do anything.
func sys(t testing.TB) context.Context { return invite.WithPrincipal(t.Context(), invite.System) }

// acceptByToken accepts by link and returns what the answer shows.
func (e *env) acceptByToken(ctx context.Context, token, name string) (*invite.Invitation, *invite.Member, error) {
	v, err := e.svc.AcceptByToken(ctx, token, name)
	if err != nil {
		return nil, nil, err
	}
	return v.Invitation, v.Member, nil
}
