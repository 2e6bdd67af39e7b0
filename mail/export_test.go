package mail

import (
	"context"
	"net"
)

// SetDial makes the SMTP client of c connect through dial, so that a test
// can give the in-process server a name that is not loopback.
func SetDial(c *Config, dial func(ctx context.Context, network, addr string) (net.Conn, error)) {
	c.dial = dial
}
