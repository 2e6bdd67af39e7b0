package webhook

import "net/netip"

// special is a range of addresses that a webhook must not reach, and the
// words that say why in a RefusedError.
type special struct {
	prefix netip.Prefix
	reason string
}

func sp(cidr, reason string) special {
	return special{netip.MustParsePrefix(cidr), reason}
}

// specialV4 lists the IPv4 ranges that are not on the public internet, from
// the IANA special-purpose registry. Order matters: the first match names
// the reason. The documentation ranges (192.0.2.0/24, 198.51.100.0/24,
// 203.0.113.0/24) are left out on purpose: nothing is routed there, so there
// is no internal service to reach, and tests use them as public stand-ins.
var specialV4 = []special{
	sp("0.0.0.0/32", "an unspecified address"),
	sp("0.0.0.0/8", `a "this network" address`),
	sp("10.0.0.0/8", "a private address"),
	sp("100.64.0.0/10", "a shared (CGNAT) address"),
	sp("127.0.0.0/8", "a loopback address"),
	sp("169.254.0.0/16", "a link-local address"),
	sp("172.16.0.0/12", "a private address"),
	sp("192.0.0.0/24", "an IETF protocol assignment address"),
	sp("192.88.99.0/24", "a 6to4 relay anycast address"),
	sp("192.168.0.0/16", "a private address"),
	sp("198.18.0.0/15", "a benchmarking address"),
	sp("224.0.0.0/4", "a multicast address"),
	sp("255.255.255.255/32", "the broadcast address"),
	sp("240.0.0.0/4", "a reserved address"),
}

// specialV6 lists the IPv6 ranges refused before the global-unicast test in
// reasonV6, each with a more precise reason than "not global unicast".
var specialV6 = []special{
	sp("::/128", "an unspecified address"),
	sp("::1/128", "a loopback address"),
	sp("fc00::/7", "a private (unique local) address"),
	sp("fe80::/10", "a link-local address"),
	sp("fec0::/10", "a site-local address"),
	sp("ff00::/8", "a multicast address"),
	sp("64:ff9b:1::/48", "a local-use NAT64 address"),
	sp("100::/64", "a discard-only address"),
	sp("2001::/23", "an IETF protocol assignment address"),
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	global6   = netip.MustParsePrefix("2000::/3")
)

// reason says why addr must not be reached, or returns "" if it may be.
// IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) are judged as the IPv4
// address they carry, since that is where a socket given them connects, and
// so are the IPv4 addresses inside NAT64 and 6to4 addresses, which a
// gateway may forward into the IPv4 network.
func reason(addr netip.Addr) string {
	addr = addr.WithZone("")
	if addr.Is4In6() {
		addr = addr.Unmap()
	}
	if addr.Is4() {
		return reasonV4(addr)
	}
	return reasonV6(addr)
}

func reasonV4(addr netip.Addr) string {
	for _, s := range specialV4 {
		if s.prefix.Contains(addr) {
			return s.reason
		}
	}
	return ""
}

func reasonV6(addr netip.Addr) string {
	for _, s := range specialV6 {
		if s.prefix.Contains(addr) {
			return s.reason
		}
	}
	b := addr.As16()
	switch {
	case nat64.Contains(addr):
		if r := reasonV4(netip.AddrFrom4([4]byte(b[12:16]))); r != "" {
			return "a NAT64 form of " + r
		}
		return ""
	case sixToFour.Contains(addr):
		if r := reasonV4(netip.AddrFrom4([4]byte(b[2:6]))); r != "" {
			return "a 6to4 form of " + r
		}
		return ""
	case !global6.Contains(addr):
		// Outside 2000::/3 IANA has assigned no global unicast space:
		// it is reserved, IPv4-compatible (::a.b.c.d) or otherwise
		// not an address a public receiver has.
		return "a reserved address"
	}
	return ""
}
