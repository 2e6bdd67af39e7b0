package client_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/invitd/invitd/client"
	"github.com/invitd/invitd/internal/testnode"
	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/job"
	"github.com/invitd/invitd/server"
)

const adminKey = "client-test-admin-key-0123456789abcdef"

// env is a real invitd (SQLite file, job runner, HTTP over loopback) and
// clients of it.
type env struct {
	t     *testing.T
	ctx   context.Context
	url   string
	srv   *server.Server
	admin *client.Client
	org   string
	key   string // an organization key of org, with every scope
	c     *client.Client
}

// launch runs a server on a SQLite file in dir until stop is called.
func launch(dir string) (url string, srv *server.Server, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, err
	}
	url = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err = server.Open(invite.WithPrincipal(ctx, invite.System), server.Config{
		DB: "sqlite:" + filepath.Join(dir, "invitd.db"), AdminKey: adminKey, BaseURL: url,
		Secret:       testnode.Secret,
		Jobs:         job.Config{PollInterval: 20 * time.Millisecond},
		WebhookAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		KeyRate:      10000, KeyBurst: 10000,
		Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		cancel()
		ln.Close()
		return "", nil, nil, err
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ctx, ln) }()
	return url, srv, func() { cancel(); <-done; srv.Close() }, nil
}

func start(t *testing.T) *env {
	t.Helper()
	url, srv, stop, err := launch(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	e := &env{t: t, ctx: context.Background(), url: url, srv: srv, admin: client.New(url, adminKey)}
	o, err := e.admin.CreateOrganization(e.ctx, "Acme", &client.SettingsUpdate{MaxInvitationsPerHour: client.Ptr(-1), MaxMailsPerRecipientPerDay: client.Ptr(-1)})
	if err != nil {
		t.Fatal(err)
	}
	e.org = o.ID
	k, err := e.admin.CreateAPIKey(e.ctx, o.ID, client.CreateAPIKey{Name: "tests",
		Scopes: []string{"invitations:read", "invitations:write", "members:read", "members:write", "webhooks:read",
			"webhooks:write", "events:read", "keys:read", "keys:write", "organization:write"}})
	if err != nil {
		t.Fatal(err)
	}
	e.key = k.Key
	e.c = client.New(url, k.Key)
	return e
}

// ok fails the test on err.
func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// collect drains an iterator, failing on an error.
func collect[T any](t *testing.T, seq func(func(T, error) bool)) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// counting is a transport that counts the requests it carries.
type counting struct {
	n    int
	next http.RoundTripper
}

func (c *counting) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n++
	return c.next.RoundTrip(r)
}
