package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Guard keeps webhook deliveries away from the service's own networks: a
// URL that an organization registers could otherwise make the server call
// its database, a cloud metadata endpoint (169.254.169.254) or anything else
// only it can reach (server-side request forgery). It refuses every address
// that is not on the public internet, except those inside Allow.
//
// A URL is checked twice: by CheckURL when it is registered, to give the
// user a clear answer early, and by the dialer (DialContext, Control) on
// every connection, because a name can resolve to a public address at
// registration and to 127.0.0.1 a moment later (DNS rebinding).
//
// The zero Guard allows no special network and resolves names with
// net.DefaultResolver. A Guard must not be changed while it is in use.
type Guard struct {
	// Allow lists networks that may be reached although they are not
	// public, such as a test receiver on loopback or a company's own
	// network (see ParseAllow).
	Allow []netip.Prefix

	// LookupIP resolves a host name to its addresses. Nil means
	// net.DefaultResolver.LookupNetIP. Tests set it to answer names
	// without DNS.
	LookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
}

// RefusedError is the error of a URL or an address that the Guard refuses.
// Callers find it with errors.As to tell a forbidden target (the user's to
// fix) from a network failure (worth retrying).
type RefusedError struct {
	// Host is the URL's host without port, or "" when the check saw only
	// an address (Control used on its own).
	Host string
	// Addr is the refused address; it is the zero Addr when the URL
	// itself was refused (scheme, user info, no host).
	Addr netip.Addr
	// Reason says why, as in "a loopback address" or
	// `scheme "ftp" is not http or https`.
	Reason string
}

func (e *RefusedError) Error() string {
	switch {
	case !e.Addr.IsValid():
		return "webhook URL refused: " + e.Reason
	case e.Host == "":
		return fmt.Sprintf("webhook connection to %s refused: %s", e.Addr, e.Reason)
	case isLiteral(e.Host):
		return fmt.Sprintf("webhook URL host %q is %s", e.Host, e.Reason)
	default:
		return fmt.Sprintf("webhook URL host %q resolves to %s, %s", e.Host, e.Addr, e.Reason)
	}
}

func isLiteral(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}

// ParseAllow parses a comma-separated list of networks in CIDR notation, as
// in INVITD_WEBHOOK_ALLOW_NETWORKS="10.1.0.0/16, 127.0.0.1". A bare address
// stands for itself alone (/32 or /128). Blank entries are skipped, so ""
// allows nothing.
func ParseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if !strings.Contains(entry, "/") {
			addr, err := netip.ParseAddr(entry)
			if err != nil || addr.Zone() != "" {
				return nil, fmt.Errorf("webhook allowed networks: %q is neither a CIDR network nor an IP address", entry)
			}
			out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(entry)
		if err != nil {
			return nil, fmt.Errorf("webhook allowed networks: %q is not a CIDR network: %w", entry, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// CheckURL reports whether raw may be used as a webhook URL: an absolute
// http or https URL with a host and no user info (credentials would be sent
// with every delivery and shown wherever the URL is), whose host is, or
// resolves only to, addresses the Guard accepts. A name with several
// addresses is refused if any one is, since a connection may use any of
// them. Refusals are *RefusedError; a failed lookup is returned as is.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := checkShape(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if addr, err := netip.ParseAddr(host); err == nil {
		return g.check(host, addr)
	}
	addrs, err := g.lookup(ctx, host)
	if err != nil {
		return err
	}
	for _, addr := range addrs {
		if err := g.check(host, addr); err != nil {
			return err
		}
	}
	return nil
}

// checkShape checks what can be checked of a URL without the network.
func checkShape(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL; keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &RefusedError{Reason: "not a URL: " + err.Error()}
	}
	refuse := func(reason string) (*url.URL, error) {
		return nil, &RefusedError{Host: u.Hostname(), Reason: reason}
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		if u.Scheme == "" {
			return refuse("not an absolute http or https URL")
		}
		return refuse(fmt.Sprintf("scheme %q is not http or https", u.Scheme))
	case u.Opaque != "" || u.Hostname() == "":
		return refuse("the URL has no host")
	case u.User != nil:
		return refuse("the URL has user info; put credentials elsewhere")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return refuse(fmt.Sprintf("port %q is out of range", p))
		}
	}
	return u, nil
}

// check refuses addr unless it is public or inside Allow.
func (g *Guard) check(host string, addr netip.Addr) error {
	if g.allowed(addr) {
		return nil
	}
	if r := reason(addr); r != "" {
		return &RefusedError{Host: host, Addr: addr, Reason: r}
	}
	return nil
}

func (g *Guard) allowed(addr netip.Addr) bool {
	addr = addr.WithZone("")
	plain := addr.Unmap()
	for _, p := range g.Allow {
		if p.Contains(addr) || p.Contains(plain) {
			return true
		}
	}
	return false
}

func (g *Guard) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	var err error
	if g.LookupIP != nil {
		addrs, err = g.LookupIP(ctx, host)
	} else {
		addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}
	if err != nil {
		return nil, fmt.Errorf("webhook URL host %q: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("webhook URL host %q has no addresses", host)
	}
	return addrs, nil
}
