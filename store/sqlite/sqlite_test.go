package sqlite

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) invite.Store {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "invitd.db"), "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		url, path, sync string
	}{
		{"sqlite:invitd.db", "invitd.db", ""},
		{"sqlite:data/invitd.db?synchronous=FULL", "data/invitd.db", "FULL"},
		{"sqlite:///var/lib/invitd/invitd.db", "/var/lib/invitd/invitd.db", ""},
		{"sqlite://invitd.db?synchronous=normal", "invitd.db", "normal"},
		{"sqlite:/tmp/my data.db", "/tmp/my data.db", ""},
	} {
		path, sync, err := ParseURL(c.url)
		if err != nil || path != c.path || sync != c.sync {
			t.Errorf("ParseURL(%q) = %q, %q, %v; want %q, %q", c.url, path, sync, err, c.path, c.sync)
		}
	}
	for _, bad := range []string{"", "sqlite:", "sqlite://", "sqlite:?synchronous=FULL", "postgres://x/y", "invitd.db", "sqlite:x.db?a=%zz",
		// A misspelt option would silently give the default durability.
		"sqlite:x.db?sync=FULL", "sqlite:x.db?synchronous=FULL&cache=shared"} {
		if path, _, err := ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) = %q, want an error", bad, path)
		}
	}
}

func pragma(t *testing.T, s *Store, name string) string {
	t.Helper()
	var v string
	if err := s.writer.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSynchronous(t *testing.T) {
	// SQLite reports synchronous as a number: NORMAL is 1, FULL is 2.
	for sync, want := range map[string]string{"": "1", "NORMAL": "1", "normal": "1", "FULL": "2", "full": "2"} {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), sync)
		if err != nil {
			t.Fatalf("synchronous=%q: %v", sync, err)
		}
		if got := pragma(t, s, "synchronous"); got != want {
			t.Errorf("synchronous=%q: PRAGMA synchronous = %s, want %s", sync, got, want)
		}
		if got := pragma(t, s, "journal_mode"); got != "wal" {
			t.Errorf("journal_mode = %s, want wal", got)
		}
		if got := pragma(t, s, "foreign_keys"); got != "1" {
			t.Errorf("foreign_keys = %s, want 1", got)
		}
		s.Close()
	}
	for _, bad := range []string{"OFF", "EXTRA", "0", "yes"} {
		dir := t.TempDir()
		if s, err := Open(t.Context(), filepath.Join(dir, "x.db"), bad); err == nil {
			s.Close()
			t.Errorf("synchronous=%q accepted", bad)
		}
	}
}

func TestReopenKeepsData(t *testing.T) {
	// A path with characters that mean something in a URL.
	path := filepath.Join(t.TempDir(), "my data #1?.db")
	ctx := invite.WithPrincipal(t.Context(), invite.System)
	s, err := Open(ctx, path, "FULL")
	if err != nil {
		t.Fatal(err)
	}
	// The links outlive the process as long as the secret does.
	secret, err := invite.NewSecret(invite.RandomSecret())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := invite.NewService(s, invite.Config{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	o, err := svc.CreateOrg(ctx, "Kept", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: "kept@example.com", NoEmail: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database is not at the path it was given: %v", err)
	}

	s, err = Open(ctx, path, "")
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	svc, _ = invite.NewService(s, invite.Config{Secret: secret})
	if got, err := svc.GetOrg(ctx, o.ID); err != nil || got.Name != "Kept" {
		t.Fatalf("org after reopen: %+v, %v", got, err)
	}
	v, err := svc.GetByToken(ctx, res.Token)
	if err != nil || v.Invitation.ID != res.Invitation.ID || v.Invitation.Number != res.Invitation.Number {
		t.Fatalf("invitation after reopen: %+v, %v", v, err)
	}
	// Numbers keep growing after a reopen.
	next, err := svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: "next@example.com", NoEmail: true})
	if err != nil {
		t.Fatal(err)
	}
	if next.Invitation.Number <= res.Invitation.Number {
		t.Errorf("number %d after reopen, was %d", next.Invitation.Number, res.Invitation.Number)
	}
	if err := s.Ping(ctx); err != nil {
		t.Error(err)
	}
}

func TestUseAfterClose(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "x.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Write(ctx, func(invite.Tx) error { return nil }); err == nil {
			t.Error("a write after Close succeeded")
		}
		if err := s.Read(ctx, func(invite.Tx) error { return nil }); err == nil {
			t.Error("a read after Close succeeded")
		}
		if err := s.Ping(ctx); err == nil {
			t.Error("Ping after Close succeeded")
		}
		s.Close()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("using a closed store hangs")
	}
}
