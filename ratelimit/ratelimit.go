// Package ratelimit counts requests per key in this process's memory: a
// token bucket, or a sliding window for a surface that documents "n per w".
// Nothing is shared between nodes, so n nodes let a key through up to n
// times the rate.
package ratelimit

import (
	"math"
	"strconv"
	"sync"
	"time"
)

// Policy is one limit. A token bucket holds Quota tokens and gains one
// every Window/Quota; a Sliding window lets at most Quota requests through
// in any Window.
type Policy struct {
	Name    string // the policy's name in RateLimit-Policy
	Quota   int
	Window  time.Duration
	Sliding bool
}

// Bucket is the token-bucket policy of rate requests per second with room
// for burst at once, described to clients as burst per burst/rate seconds.
func Bucket(name string, rate float64, burst int) Policy {
	if rate <= 0 {
		rate = 1
	}
	burst = max(burst, 1)
	return Policy{Name: name, Quota: burst, Window: time.Duration(float64(burst) / rate * float64(time.Second))}
}

// Decision is the answer to one request.
type Decision struct {
	OK        bool
	Policy    Policy
	Remaining int           // requests that would still pass now
	Reset     time.Duration // until Remaining is back to the quota, or, when 0, until one passes
	// RetryAfter is, for a refused request, when one would pass.
	RetryAfter time.Duration
}

// PolicyHeader is the RateLimit-Policy field of p
// (draft-ietf-httpapi-ratelimit-headers): "name";q=quota;w=seconds.
func (p Policy) PolicyHeader() string {
	return strconv.Quote(p.Name) + ";q=" + strconv.Itoa(p.Quota) + ";w=" + strconv.Itoa(ceilSeconds(p.Window))
}

// Header is the RateLimit field of d: "name";r=remaining;t=seconds.
func (d Decision) Header() string {
	return strconv.Quote(d.Policy.Name) + ";r=" + strconv.Itoa(d.Remaining) + ";t=" + strconv.Itoa(ceilSeconds(d.Reset))
}

func ceilSeconds(d time.Duration) int {
	return max(int(math.Ceil(d.Seconds())), 0)
}

// entry is one key's state; a bucket uses tokens and last, a window times.
type entry struct {
	policy Policy
	tokens float64
	last   time.Time
	times  []time.Time // a window's passed requests, oldest first
}

// idle tells an entry that would read as new: a full bucket, an empty
// window. Dropping it changes no answer.
func (e *entry) idle(now time.Time) bool {
	if e.policy.Sliding {
		return len(e.times) == 0 || !now.Before(e.times[len(e.times)-1].Add(e.policy.Window))
	}
	return !now.Before(e.last.Add(e.policy.Window))
}

// Limiter keeps an entry per key, and drops idle ones, so its memory is
// bounded by the keys active within a window (and by MaxKeys).
type Limiter struct {
	mu        sync.Mutex
	keys      map[string]*entry
	lastSweep time.Time
	// MaxKeys bounds the entries kept; past it, after idle ones are
	// dropped, any are (a dropped key starts again with its full quota).
	MaxKeys int
}

// New returns an empty Limiter.
func New() *Limiter { return &Limiter{keys: map[string]*entry{}, MaxKeys: 100_000} }

const sweepEvery = time.Minute

// Allow counts one request of key under p at now.
func (l *Limiter) Allow(key string, p Policy, now time.Time) Decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= sweepEvery || len(l.keys) >= l.MaxKeys {
		l.sweep(now)
	}
	e := l.keys[key]
	if e == nil || e.policy != p {
		// A changed policy (an organization's new setting) starts afresh.
		e = &entry{policy: p, tokens: float64(p.Quota), last: now}
		l.keys[key] = e
	}
	if p.Sliding {
		return e.window(now)
	}
	return e.bucket(now)
}

func (l *Limiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, e := range l.keys {
		if e.idle(now) {
			delete(l.keys, k)
		}
	}
	for k := range l.keys {
		if len(l.keys) < l.MaxKeys {
			break
		}
		delete(l.keys, k)
	}
}

// Len says how many keys are kept, for tests.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

func (e *entry) bucket(now time.Time) Decision {
	p := e.policy
	perToken := p.Window / time.Duration(p.Quota)
	if d := now.Sub(e.last); d > 0 {
		e.tokens = min(float64(p.Quota), e.tokens+float64(d)/float64(perToken))
		e.last = now
	}
	d := Decision{Policy: p}
	if e.tokens >= 1 {
		e.tokens--
		d.OK = true
	} else {
		d.RetryAfter = time.Duration((1 - e.tokens) * float64(perToken))
	}
	d.Remaining = int(e.tokens)
	if d.Remaining == 0 {
		d.Reset = time.Duration((1 - e.tokens) * float64(perToken))
	} else {
		d.Reset = time.Duration((float64(p.Quota) - e.tokens) * float64(perToken))
	}
	return d
}

func (e *entry) window(now time.Time) Decision {
	p := e.policy
	i := 0
	for i < len(e.times) && !now.Before(e.times[i].Add(p.Window)) {
		i++
	}
	e.times = e.times[i:]
	d := Decision{Policy: p}
	if len(e.times) < p.Quota {
		e.times = append(e.times, now)
		d.OK = true
	} else {
		d.RetryAfter = e.times[0].Add(p.Window).Sub(now)
	}
	d.Remaining = p.Quota - len(e.times)
	if len(e.times) > 0 {
		if d.Remaining == 0 {
			d.Reset = e.times[0].Add(p.Window).Sub(now)
		} else {
			d.Reset = e.times[len(e.times)-1].Add(p.Window).Sub(now)
		}
	}
	return d
}
