//go:build unix

package sqlite

import (
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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

// readableDatabase makes a database at path readable by all, its WAL and
// shm kept in place, with their writes in them, by another connection that
// stays open for the test.
func readableDatabase(t *testing.T, path string) {
	t.Helper()
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
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
}

// wantLeftover checks that s reads the row readableDatabase wrote.
func wantLeftover(t *testing.T, s *Store) {
	t.Helper()
	var n int
	if err := s.reader.QueryRowContext(t.Context(), "SELECT count(*) FROM leftover").Scan(&n); err != nil || n != 1 {
		t.Errorf("the other connection's row: %d, %v", n, err)
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
	// A database made readable by all, as by an earlier version.
	readableDatabase(t, path)

	s, err := Open(t.Context(), path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write(t, s, "After")
	checkModes(t, path)
	wantLeftover(t, s)
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

// A symlink to nothing at the database path is refused: SQLite would create
// its target with its default mode, readable by others under umask 022.
func TestFileModesDanglingSymlink(t *testing.T) {
	withUmask(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "real", "invitd.db")
	if err := os.Mkdir(filepath.Dir(target), 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "invitd.db")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path, "")
	if err == nil {
		s.Close()
	}
	if fi, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the link's target was created (%v): %v", fi.Mode(), err)
	}
	if err == nil || !strings.Contains(err.Error(), "symlink to nothing") {
		t.Errorf("Open of a symlink to nothing: %v, want an error saying so", err)
	}
}

// A directory at the database path is a clear error, and is left as it was.
func TestFileModesDirectory(t *testing.T) {
	withUmask(t)
	path := filepath.Join(t.TempDir(), "invitd.db")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path, "")
	if err == nil {
		s.Close()
		t.Fatal("Open of a directory succeeded")
	}
	if !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("error %q does not say it is not a regular file", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("the directory was changed: %v, %v", fi.Mode(), err)
	}
}

// A symlink to an existing database readable by others is followed, as
// SQLite follows it: the target, and the WAL and shm SQLite keeps beside the
// target, are narrowed; the link itself is left alone.
func TestFileModesSymlinkToDatabase(t *testing.T) {
	withUmask(t)
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(real, "invitd.db")
	readableDatabase(t, target)
	path := filepath.Join(dir, "invitd.db")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}

	s, err := Open(t.Context(), path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write(t, s, "Linked")
	checkModes(t, target)
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v, %v", fi.Mode(), err)
	}
	wantLeftover(t, s)
}

// A symlink where SQLite keeps its WAL is refused before SQLite is asked to
// open it, and what it points to is left alone.
func TestFileModesSymlinkedLeftover(t *testing.T) {
	withUmask(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "invitd.db")
	s, err := Open(t.Context(), path, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(dir, "elsewhere")
	if err := os.WriteFile(elsewhere, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, path+"-wal"); err != nil {
		t.Fatal(err)
	}
	s, err = Open(t.Context(), path, "")
	if err == nil {
		s.Close()
		t.Fatal("Open with a symlink as the WAL succeeded")
	}
	if !strings.Contains(err.Error(), "-wal is a symlink") {
		t.Errorf("error %q does not name the linked WAL", err)
	}
	if fi, err := os.Stat(elsewhere); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("the link's target was changed: %v, %v", fi.Mode(), err)
	}
}
