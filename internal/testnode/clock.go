package testnode

import (
	"sync"
	"time"
)

// Clock is real time moved on by what a test adds, for a Config.Now that
// the nodes of a test share.
type Clock struct {
	mu  sync.Mutex
	off time.Duration
}

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}
