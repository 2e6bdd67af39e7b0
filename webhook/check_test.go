package webhook_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/webhook"
)

// Check tells the core a URL to fix from a lookup to try again.
func TestCheckSaysWhoseFaultARefusalIs(t *testing.T) {
	down := errors.New("server misbehaving")
	g := &webhook.Guard{LookupIP: func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "public.example":
			return []netip.Addr{netip.MustParseAddr("203.0.113.5")}, nil
		case "inside.example":
			return []netip.Addr{netip.MustParseAddr("10.1.2.3")}, nil
		}
		return nil, &net.DNSError{Err: down.Error(), Name: host, IsTemporary: true}
	}}
	ctx := context.Background()
	if err := g.Check(ctx, "https://public.example/hook"); err != nil {
		t.Errorf("a public host: %v", err)
	}
	for _, u := range []string{"https://inside.example/hook", "http://127.0.0.1/", "ftp://public.example/"} {
		if err := g.Check(ctx, u); invite.ErrorKind(err) != invite.KindInvalid {
			t.Errorf("%s: %v (kind %d), want invalid", u, err, invite.ErrorKind(err))
		}
	}
	err := g.Check(ctx, "https://flaky.example/hook")
	var ie *invite.Error
	if invite.ErrorKind(err) != invite.KindUnavailable || !errors.As(err, &ie) || ie.RetryAfter <= 0 {
		t.Errorf("a failed lookup: %v (kind %d), want unavailable with a retry time", err, invite.ErrorKind(err))
	}
}
