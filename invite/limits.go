package invite

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/invitd/invitd/ratelimit"
)

// The abuse limits' defaults. An organization's setting of 0 (or none, as
// organizations made before the settings existed have) means the default;
// -1 means no limit.
const (
	// DefaultMailsPerRecipientPerDay bounds the invitation mails to one
	// address of an organization in any MailWindow, whatever made them.
	DefaultMailsPerRecipientPerDay = 3
	// DefaultInvitationsPerHour bounds the invitations an organization
	// makes in any InvitationWindow.
	DefaultInvitationsPerHour = 1000
	// DefaultRequestsPerSecond and DefaultRequestBurst are each key's
	// token bucket on a node, unless Config says otherwise.
	DefaultRequestsPerSecond = 50
	DefaultRequestBurst      = 100

	MailWindow       = 24 * time.Hour
	InvitationWindow = time.Hour

	// MaxLimitSetting bounds what a limit setting may be set to.
	MaxLimitSetting = 1_000_000
)

// NoLimit, as a limit setting, turns the limit off.
const NoLimit = -1

// effective reads a limit setting: 0 the default, negative none (0 back).
func effective(setting, def int) int {
	switch {
	case setting == 0:
		return def
	case setting < 0:
		return 0
	}
	return setting
}

func checkLimit(name string, v int) error {
	if v < NoLimit || v > MaxLimitSetting {
		return Invalid("%s must be -1 (no limit), 0 (the default) or up to %d", name, MaxLimitSetting)
	}
	return nil
}

// checkLimits validates the limit settings.
func (s *Settings) checkLimits() error {
	if err := checkLimit("max_mails_per_recipient_per_day", s.MaxMailsPerRecipientPerDay); err != nil {
		return err
	}
	if err := checkLimit("max_invitations_per_hour", s.MaxInvitationsPerHour); err != nil {
		return err
	}
	return checkLimit("max_requests_per_second", s.MaxRequestsPerSecond)
}

// tooMany is the error of a refused request: d says which limit and when
// to come back.
func tooMany(d ratelimit.Decision, format string, args ...any) error {
	e := errorf(KindTooManyRequests, format, args...)
	e.RetryAfter, e.Limit = d.RetryAfter, &d
	return e
}

// LimitOf returns the limit a KindTooManyRequests error ran into, nil when
// it names none.
func LimitOf(err error) *ratelimit.Decision {
	var e *Error
	if errors.As(err, &e) {
		return e.Limit
	}
	return nil
}

// windowCount is what a limit over rows counted in a write: n rows in the
// window, the oldest at oldest. It is counted before the write's other
// statements, which takes the store's lock on it, and decided after them,
// so that a conflict is answered as one.
type windowCount struct {
	policy ratelimit.Policy
	n      int
	oldest time.Time
}

// refuse says whether one more row would pass the limit, at now.
func (w *windowCount) refuse(now time.Time, format string, args ...any) error {
	if w == nil || w.n < w.policy.Quota {
		return nil
	}
	retry := max(w.oldest.Add(w.policy.Window).Sub(now), time.Second)
	return tooMany(ratelimit.Decision{Policy: w.policy, RetryAfter: retry, Reset: retry}, format, args...)
}

func (w *windowCount) refuseMail(now time.Time, email string) error {
	if w == nil {
		return nil
	}
	return w.refuse(now, "%s has had %d invitation mails from this organization in the last 24 hours, its limit; try again later",
		email, w.policy.Quota)
}

func (w *windowCount) refuseInvitation(now time.Time) error {
	if w == nil {
		return nil
	}
	return w.refuse(now, "the organization has made %d invitations in the last hour, its limit; try again later", w.policy.Quota)
}

// mailPolicy is o's per-recipient limit; false when it has none.
func mailPolicy(o *Organization) (ratelimit.Policy, bool) {
	max := effective(o.Settings.MaxMailsPerRecipientPerDay, DefaultMailsPerRecipientPerDay)
	return ratelimit.Policy{Name: "recipient", Quota: max, Window: MailWindow}, max > 0
}

// countMails counts the mails to email in o's window; nil when o has no limit.
func (s *Service) countMails(ch *change, o *Organization, email string) (*windowCount, error) {
	policy, ok := mailPolicy(o)
	if !ok {
		return nil, nil
	}
	n, oldest, err := ch.tx.CountMails(ch.ctx, o.ID, email, ch.now.Add(-MailWindow), policy.Quota)
	if err != nil {
		return nil, err
	}
	return &windowCount{policy: policy, n: n, oldest: oldest}, nil
}

// countCreated counts o's invitations made in its window but the write's
// own, of which there are own (the newest); nil when o has no limit.
func (s *Service) countCreated(ch *change, o *Organization, own int) (*windowCount, error) {
	quota := effective(o.Settings.MaxInvitationsPerHour, DefaultInvitationsPerHour)
	if quota == 0 {
		return nil, nil
	}
	n, oldest, err := ch.tx.CountInvitationsCreated(ch.ctx, o.ID, ch.now.Add(-InvitationWindow), quota+own)
	if err != nil {
		return nil, err
	}
	return &windowCount{policy: ratelimit.Policy{Name: "invitations", Quota: quota, Window: InvitationWindow},
		n: max(n-own, 0), oldest: oldest}, nil
}

// PurgeMails removes the notes of mails older than any window counts, in
// batches; the event-retention job calls it.
func (s *Service) PurgeMails(ctx context.Context) (int, error) {
	if err := requireAdmin(ctx); err != nil {
		return 0, err
	}
	before := s.Now().Add(-MailWindow)
	return s.purge(ctx, func(c *change) (int, error) { return c.tx.DeleteMailsBefore(c.ctx, before, purgeBatch) })
}

// ---- requests per key

// requestLimits holds every key's bucket on this node and a short-lived
// copy of each organization's request setting, so that a request costs no
// read beyond its key's.
type requestLimits struct {
	buckets *ratelimit.Limiter
	def     ratelimit.Policy
	off     bool

	mu   sync.Mutex
	orgs map[OrgID]*orgRate
}

// orgRate is an organization's request setting as read; setting is
// written before loaded is closed and read after.
type orgRate struct {
	setting int
	until   time.Time
	loaded  chan struct{}
}

// orgRateTTL is how long a node goes on with an organization's request
// setting before it reads it again: a change takes up to this long.
const orgRateTTL = 5 * time.Second

func newRequestLimits(rate float64, burst int, off bool) *requestLimits {
	if rate <= 0 {
		rate = DefaultRequestsPerSecond
	}
	if burst <= 0 {
		burst = DefaultRequestBurst
	}
	return &requestLimits{buckets: ratelimit.New(), def: ratelimit.Bucket("default", rate, burst), orgs: map[OrgID]*orgRate{}, off: off}
}

// Admit counts one request of p's key on this node, by its organization's
// max_requests_per_second (burst twice that) or the node's default, or by
// fixed when a surface documents a limit of its own, which only an
// organization's -1 (no limit) lifts. Refused, it is a KindTooManyRequests
// error that says when to come back.
func (s *Service) Admit(ctx context.Context, p *Principal, fixed *ratelimit.Policy) error {
	if p == nil || p.Type == ActorSystem || s.limits.off {
		return nil
	}
	now := s.now()
	policy := s.limits.def
	if p.Org != nil {
		switch v := s.orgRequestSetting(ctx, *p.Org, now); {
		case v < 0:
			return nil
		case v > 0:
			policy = ratelimit.Bucket("default", float64(v), 2*v)
		}
	}
	if fixed != nil {
		policy = *fixed
	}
	d := s.limits.buckets.Allow(policy.Name+"|"+p.KeyID, policy, now)
	if d.OK {
		return nil
	}
	return tooMany(d, "this API key has made more requests than its limit allows; slow down")
}

// orgRequestSetting is org's max_requests_per_second as this node last read
// it, at most orgRateTTL ago; requests that find it being read wait for
// that one read. A failed read counts as the default, and is not kept: the
// request that follows meets the failure itself.
func (s *Service) orgRequestSetting(ctx context.Context, org OrgID, now time.Time) int {
	l := s.limits
	l.mu.Lock()
	if c := l.orgs[org]; c != nil && now.Before(c.until) {
		l.mu.Unlock()
		select {
		case <-c.loaded:
			return c.setting
		case <-ctx.Done():
			return 0
		}
	}
	if len(l.orgs) >= 10_000 {
		for id, c := range l.orgs {
			if !now.Before(c.until) {
				delete(l.orgs, id)
			}
		}
	}
	c := &orgRate{until: now.Add(orgRateTTL), loaded: make(chan struct{})}
	l.orgs[org] = c
	l.mu.Unlock()
	defer close(c.loaded)
	err := s.store.Read(ctx, func(tx Tx) error {
		o, err := tx.GetOrg(ctx, org)
		if err == nil {
			c.setting = o.Settings.MaxRequestsPerSecond
		}
		return err
	})
	if err != nil {
		c.setting = 0
		l.mu.Lock()
		c.until = now
		l.mu.Unlock()
	}
	return c.setting
}
