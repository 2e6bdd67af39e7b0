package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func TestBucketRefusesPastBurstAndRefills(t *testing.T) {
	l := New()
	p := Bucket("default", 50, 100)
	for i := range 100 {
		if d := l.Allow("k", p, t0); !d.OK {
			t.Fatalf("request %d refused within the burst", i)
		}
	}
	d := l.Allow("k", p, t0)
	if d.OK || d.Remaining != 0 || d.RetryAfter != 20*time.Millisecond {
		t.Fatalf("past the burst: %+v, want refused, 0 left, retry in 20ms", d)
	}
	if got := d.Header(); got != `"default";r=0;t=1` {
		t.Errorf("RateLimit = %s", got)
	}
	if got := p.PolicyHeader(); got != `"default";q=100;w=2` {
		t.Errorf("RateLimit-Policy = %s", got)
	}
	// 50 a second come back.
	n := 0
	for l.Allow("k", p, t0.Add(time.Second)).OK {
		n++
	}
	if n != 50 {
		t.Errorf("a second later %d passed, want 50", n)
	}
	if !l.Allow("other", p, t0).OK {
		t.Error("another key shares the bucket")
	}
}

func TestSlidingWindowIsExact(t *testing.T) {
	l := New()
	p := Policy{Name: "clickhouse", Quota: 10, Window: 10 * time.Second, Sliding: true}
	for i := range 10 {
		if !l.Allow("k", p, t0.Add(time.Duration(i)*time.Second)).OK {
			t.Fatalf("request %d refused", i)
		}
	}
	// At 9.5 s all ten are within the window; the first leaves at 10 s.
	d := l.Allow("k", p, t0.Add(9500*time.Millisecond))
	if d.OK || d.RetryAfter != 500*time.Millisecond {
		t.Fatalf("11th in 10 s: %+v", d)
	}
	if !l.Allow("k", p, t0.Add(10*time.Second)).OK {
		t.Fatal("refused once the first left the window")
	}
	if l.Allow("k", p, t0.Add(10*time.Second)).OK {
		t.Fatal("two passed where one left")
	}
}

func TestIdleKeysAreDropped(t *testing.T) {
	l := New()
	p := Bucket("default", 10, 10)
	for i := range 1000 {
		l.Allow(strconv.Itoa(i), p, t0)
	}
	if l.Len() != 1000 {
		t.Fatalf("%d keys kept", l.Len())
	}
	l.Allow("late", p, t0.Add(2*time.Minute))
	if l.Len() != 1 {
		t.Errorf("after they were idle %d keys kept, want 1", l.Len())
	}
	l.MaxKeys = 10
	for i := range 100 {
		l.Allow(strconv.Itoa(i), p, t0.Add(2*time.Minute))
	}
	if l.Len() > 10 {
		t.Errorf("%d keys kept past MaxKeys 10", l.Len())
	}
}

func TestChangedPolicyStartsAfresh(t *testing.T) {
	l := New()
	for l.Allow("k", Bucket("default", 1, 2), t0).OK {
	}
	if !l.Allow("k", Bucket("default", 5, 10), t0).OK {
		t.Error("a raised limit still refuses")
	}
}
