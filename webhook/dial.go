package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// DialContext connects to address ("host:port") for an http.Transport. It
// resolves the host itself, through LookupIP, and dials the addresses one by
// one, each through a net.Dialer whose Control refuses the connection unless
// the Guard accepts the address the socket is about to connect to. That
// check on the address actually dialed, not on an earlier lookup, is what
// defeats DNS rebinding. A refused address ends the attempt; the addresses
// after it are not tried.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if addr, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{addr}
	} else if addrs, err = g.lookup(ctx, host); err != nil {
		return nil, err
	}
	addrs = usable(network, addrs)
	if len(addrs) == 0 {
		return nil, fmt.Errorf("webhook URL host %q has no address for %s", host, network)
	}

	var firstErr error
	for i, addr := range addrs {
		d := net.Dialer{
			KeepAlive: 30 * time.Second,
			Control: func(network, address string, c syscall.RawConn) error {
				return g.control(host, address)
			},
		}
		// Like net.Dialer, give each address a share of the time left,
		// so that one that never answers leaves time for the next.
		attemptCtx, cancel := partialDeadline(ctx, len(addrs)-i)
		conn, err := d.DialContext(attemptCtx, network, net.JoinHostPort(addr.Unmap().String(), port))
		cancel()
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		var refused *RefusedError
		if errors.As(err, &refused) || ctx.Err() != nil {
			return nil, err
		}
	}
	return nil, firstErr
}

// Control is a net.Dialer Control function that refuses to connect to any
// address the Guard does not accept. DialContext uses it; it is exported
// for callers that build their own net.Dialer.
func (g *Guard) Control(network, address string, c syscall.RawConn) error {
	return g.control("", address)
}

func (g *Guard) control(host, address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// Fail closed: an address that cannot be read cannot be
		// judged.
		return fmt.Errorf("webhook: cannot check dialed address %q: %w", address, err)
	}
	return g.check(host, ap.Addr())
}

// usable keeps the addresses that network ("tcp", "tcp4" or "tcp6") can
// dial, in their order.
func usable(network string, addrs []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		v4 := a.Unmap().Is4()
		if (network == "tcp4" && !v4) || (network == "tcp6" && v4) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// partialDeadline bounds one of n remaining attempts to its share of the
// time ctx has left, but at least two seconds, as net.Dialer does.
func partialDeadline(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok || n <= 1 {
		return context.WithCancel(ctx)
	}
	share := time.Until(deadline) / time.Duration(n)
	const floor = 2 * time.Second
	if share < floor {
		share = floor
	}
	return context.WithTimeout(ctx, share)
}
