package webhook_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/invitd/invitd/webhook"
)

// resolver answers names from a table, so that no test asks DNS.
func resolver(t *testing.T, table map[string][]string) func(context.Context, string) ([]netip.Addr, error) {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		ss, ok := table[host]
		if !ok {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out, nil
	}
}

func refused(t *testing.T, err error) *webhook.RefusedError {
	t.Helper()
	var re *webhook.RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *RefusedError", err, err)
	}
	return re
}

func TestCheckURLRefusesSpecialAddresses(t *testing.T) {
	g := &webhook.Guard{}
	for _, tc := range []struct{ url, reason string }{
		{"http://127.0.0.1/hook", "loopback"},
		{"http://127.8.9.10:8080/hook", "loopback"},
		{"http://10.0.0.1/", "private"},
		{"http://172.16.5.4/", "private"},
		{"http://192.168.1.1/", "private"},
		{"http://169.254.169.254/latest/meta-data/", "link-local"},
		{"http://[::1]/", "loopback"},
		{"http://[::1]:9000/", "loopback"},
		{"http://0.0.0.0/", "unspecified"},
		{"http://[::]/", "unspecified"},
		{"http://0.1.2.3/", "this network"},
		{"http://100.64.0.1/", "CGNAT"},
		{"http://192.0.0.8/", "IETF"},
		{"http://198.18.0.1/", "benchmarking"},
		{"http://198.19.255.255/", "benchmarking"},
		{"http://224.0.0.1/", "multicast"},
		{"http://240.0.0.1/", "reserved"},
		{"http://255.255.255.255/", "broadcast"},
		{"http://[::ffff:127.0.0.1]/", "loopback"},
		{"http://[::ffff:10.0.0.1]/", "private"},
		{"http://[::ffff:169.254.169.254]/", "link-local"},
		{"http://[::ffff:0.0.0.0]/", "unspecified"},
		{"http://[::ffff:100.64.0.1]/", "CGNAT"},
		{"http://[::ffff:255.255.255.255]/", "broadcast"},
		{"http://[::7f00:1]/", "reserved"}, // IPv4-compatible
		{"http://[fc00::1]/", "unique local"},
		{"http://[fd12:3456::1]/", "unique local"},
		{"http://[fe80::1]/", "link-local"},
		{"http://[fe80::1%25eth0]/", "link-local"},
		{"http://[ff02::1]/", "multicast"},
		{"http://[64:ff9b::7f00:1]/", "NAT64 form of a loopback"},
		{"http://[2002:a00:1::1]/", "6to4 form of a private"},
		{"https://[2001::1]/", "IETF"},
	} {
		err := g.CheckURL(context.Background(), tc.url)
		if err == nil {
			t.Errorf("CheckURL(%q) = nil, want refused (%s)", tc.url, tc.reason)
			continue
		}
		re := refused(t, err)
		if !re.Addr.IsValid() || !strings.Contains(re.Reason, tc.reason) {
			t.Errorf("CheckURL(%q): Addr %v, Reason %q; want an address and a reason with %q", tc.url, re.Addr, re.Reason, tc.reason)
		}
	}
}

// Literal public addresses pass without any lookup and are never dialed.
func TestCheckURLAcceptsPublicAddresses(t *testing.T) {
	g := &webhook.Guard{LookupIP: func(context.Context, string) ([]netip.Addr, error) {
		t.Error("a literal address was looked up")
		return nil, errors.New("no lookups")
	}}
	for _, u := range []string{
		"https://203.0.113.5/hook",
		"http://198.51.100.7:8443/x?y=z",
		"https://[2001:db8::5]/",
		"https://[2606:4700::1111]/",
		"http://[::ffff:203.0.113.5]/",
		"http://[64:ff9b::cb00:7105]/", // NAT64 of 203.0.113.5
		"http://[2002:cb00:7105::1]/",  // 6to4 of 203.0.113.5
		"HTTPS://203.0.113.5/",
	} {
		if err := g.CheckURL(context.Background(), u); err != nil {
			t.Errorf("CheckURL(%q) = %v, want nil", u, err)
		}
	}
}

func TestCheckURLResolvesNames(t *testing.T) {
	g := &webhook.Guard{LookupIP: resolver(t, map[string][]string{
		"internal.example": {"127.0.0.1"},
		"public.example":   {"203.0.113.5", "2001:db8::5"},
		"mixed.example":    {"203.0.113.5", "10.1.2.3"},
	})}
	ctx := context.Background()

	err := g.CheckURL(ctx, "https://internal.example/hook")
	re := refused(t, err)
	if want := `webhook URL host "internal.example" resolves to 127.0.0.1, a loopback address`; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if re.Host != "internal.example" || re.Addr != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("RefusedError = %+v", re)
	}

	if err := g.CheckURL(ctx, "https://public.example/hook"); err != nil {
		t.Errorf("public name refused: %v", err)
	}

	// One refused address among several refuses the name.
	err = g.CheckURL(ctx, "https://mixed.example/hook")
	if re := refused(t, err); re.Addr != netip.MustParseAddr("10.1.2.3") {
		t.Errorf("mixed.example refused for %v, want 10.1.2.3", re.Addr)
	}

	// A failed lookup is not a refusal: it may be transient.
	err = g.CheckURL(ctx, "https://nowhere.example/")
	var re2 *webhook.RefusedError
	if err == nil || errors.As(err, &re2) {
		t.Errorf("unknown host: error %v, want a lookup error that is not a *RefusedError", err)
	}
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) {
		t.Errorf("unknown host: error %v does not wrap the *net.DNSError", err)
	}
}

func TestCheckURLLiteralMessage(t *testing.T) {
	err := (&webhook.Guard{}).CheckURL(context.Background(), "http://127.0.0.1:8080/")
	if want := `webhook URL host "127.0.0.1" is a loopback address`; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

// The default resolver is the system's: "localhost" is in every hosts file.
func TestCheckURLDefaultResolver(t *testing.T) {
	re := refused(t, (&webhook.Guard{}).CheckURL(context.Background(), "http://localhost:8080/"))
	if !strings.Contains(re.Reason, "loopback") {
		t.Errorf("localhost refused for %q, want loopback", re.Reason)
	}
}

func TestCheckURLShape(t *testing.T) {
	g := &webhook.Guard{LookupIP: func(context.Context, string) ([]netip.Addr, error) {
		t.Error("a malformed URL was looked up")
		return nil, errors.New("no lookups")
	}}
	for _, tc := range []struct{ url, want string }{
		{"ftp://203.0.113.5/", `scheme "ftp"`},
		{"file:///etc/passwd", `scheme "file"`},
		{"/relative/path", "absolute"},
		{"203.0.113.5/hook", "absolute"},
		{"http:opaque", "no host"},
		{"http:///path", "no host"},
		{"https://user:hunter2@203.0.113.5/", "user info"},
		{"https://203.0.113.5:0/", "port"},
		{"https://203.0.113.5:70000/", "port"},
		{"http://[::1/", "not a URL"},
	} {
		err := g.CheckURL(context.Background(), tc.url)
		if err == nil {
			t.Errorf("CheckURL(%q) = nil, want refused", tc.url)
			continue
		}
		re := refused(t, err)
		if re.Addr.IsValid() || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckURL(%q) = %v, want a URL refusal mentioning %q", tc.url, err, tc.want)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("CheckURL(%q) repeats the password: %v", tc.url, err)
		}
	}
}

func TestParseAllow(t *testing.T) {
	got, err := webhook.ParseAllow(" 127.0.0.0/8, 10.1.2.3,::1 ,fd00::/8,10.9.9.9/16,")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.0/8", "10.1.2.3/32", "::1/128", "fd00::/8", "10.9.0.0/16"}
	if len(got) != len(want) {
		t.Fatalf("ParseAllow = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("prefix %d = %v, want %v", i, got[i], want[i])
		}
	}

	for _, s := range []string{"", "  ", ","} {
		if got, err := webhook.ParseAllow(s); err != nil || len(got) != 0 {
			t.Errorf("ParseAllow(%q) = %v, %v; want none", s, got, err)
		}
	}

	for _, bad := range []string{"nope", "10.0.0.0/33", "fe80::1%eth0", "10.0.0/8", "300.1.1.1"} {
		_, err := webhook.ParseAllow("127.0.0.0/8," + bad)
		if err == nil || !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("ParseAllow(...%q) = %v, want an error naming the entry", bad, err)
		}
	}
}

func TestAllowOverridesRefusal(t *testing.T) {
	allow, err := webhook.ParseAllow("127.0.0.0/8,fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	g := &webhook.Guard{Allow: allow, LookupIP: resolver(t, map[string][]string{
		"receiver.test": {"127.0.0.1", "fd00::7"},
	})}
	ctx := context.Background()
	for _, u := range []string{"http://127.0.0.1:1/", "http://[::ffff:127.0.0.1]/", "http://[fd00::1]/", "http://receiver.test/"} {
		if err := g.CheckURL(ctx, u); err != nil {
			t.Errorf("CheckURL(%q) with %v allowed = %v", u, allow, err)
		}
	}
	for _, u := range []string{"http://10.0.0.1/", "http://[::1]/", "http://169.254.169.254/"} {
		if err := g.CheckURL(ctx, u); err == nil {
			t.Errorf("CheckURL(%q) = nil, want refused: it is not allowed", u)
		}
	}
}

// Control judges the address a socket is about to connect to: no
// connection reaches the listener unless the address is allowed.
func TestControlChecksDialedAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()

	d := net.Dialer{Control: (&webhook.Guard{}).Control, Timeout: 5 * time.Second}
	_, err = d.Dial("tcp", ln.Addr().String())
	re := refused(t, err)
	if want := "webhook connection to 127.0.0.1 refused: a loopback address"; re.Error() != want {
		t.Errorf("error = %q, want %q", re, want)
	}

	allow, _ := webhook.ParseAllow("127.0.0.1")
	d.Control = (&webhook.Guard{Allow: allow}).Control
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("allowed dial: %v", err)
	}
	c.Close()

	// Exactly one connection arrived: the allowed one.
	(<-accepted).Close()
	ln.Close()
	if c, ok := <-accepted; ok {
		c.Close()
		t.Error("the refused dial reached the listener")
	}
}
