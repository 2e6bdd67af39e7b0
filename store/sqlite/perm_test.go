//go:build unix

package sqlite

import (
	"database/sql"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/invitd/invitd/invite"
)

// withUmask runs the test under umask 022, the usual default, which leaves
// files SQLite creates readable by everyone. The umask is the process's, so
// these tests must not run in parallel with others.
func withUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
}

// checkModes fails unless each of the database's files that exists has mode
// 0600, and the database and its WAL and shm exist.
func checkModes(t *testing.T, path string) {
	t.Helper()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		fi, err := os.Stat(p)
		if err != nil {
			if p == path+"-journal" && os.IsNotExist(err) {
				continue
			}
			t.Errorf("stat: %v", err)
			continue
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(p), got)
		}
	}
	// Nothing else beside it.
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch e.Name() {
		case filepath.Base(path), filepath.Base(path) + "-wal", filepath.Base(path) + "-shm", filepath.Base(path) + "-journal":
		default:
			t.Errorf("unexpected file %s beside the database", e.Name())
		}
	}
}

// write makes the store write, so that the WAL and shm exist.
func write(t *testing.T, s *Store, name string) {
	t.Helper()
	ctx := invite.WithPrincipal(t.Context(), invite.System)
	svc, err := invite.NewService(s, invite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateOrg(ctx, name, nil); err != nil {
		t.Fatal(err)
	}
}

func TestFileModes(t *testing.T) {
	withUmask(t)
	path := filepath.Join(t.TempDir(), "invitd.db")
	s, err := Open(t.Context(), path, "")
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, "First")
	checkModes(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A clean close removes the WAL and shm; those made on reopening are 0600 too.
	s, err = Open(t.Context(), path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write(t, s, "Second")
	checkModes(t, path)
}

func TestFileModesTightened(t *testing.T) {
	withUmask(t)
	path := filepath.Join(t.TempDir(), "invitd.db")
	// A database made readable by all, as by an earlier version: another
	// connection keeps its WAL and shm in place, with their writes in them.
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetMaxOpenConns(1)
	if _, err := other.ExecContext(t.Context(), "CREATE TABLE leftover (x); INSERT INTO leftover VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o044 == 0 {
			t.Fatalf("%s has mode %04o before the test: not a readable file to tighten", p, fi.Mode().Perm())
		}
	}

	s, err := Open(t.Context(), path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write(t, s, "After")
	checkModes(t, path)
	var n int
	if err := s.reader.QueryRowContext(t.Context(), "SELECT count(*) FROM leftover").Scan(&n); err != nil || n != 1 {
		t.Errorf("the other connection's row: %d, %v", n, err)
	}
}

func TestFileModesNarrowerKept(t *testing.T) {
	withUmask(t)
	path := filepath.Join(t.TempDir(), "invitd.db")
	// The umask takes bits away from a new file, never adds them; a stricter
	// one must not leave the database unwritable by its owner.
	syscall.Umask(0o277)
	s, err := Open(t.Context(), path, "")
	syscall.Umask(0o022)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write(t, s, "Strict")
	checkModes(t, path)
}
