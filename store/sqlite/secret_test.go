package sqlite

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/invitd/invitd/invite"
)

func TestSecretFileMadeOnceOwnerOnly(t *testing.T) {
	withUmask(t)
	db := filepath.Join(t.TempDir(), "invitd.db")
	first, err := Secret(db)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) < invite.MinSecretLen {
		t.Fatalf("secret of %d bytes", len(first))
	}
	fi, err := os.Stat(SecretPath(db))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the secret file has mode %04o, want 0600", fi.Mode().Perm())
	}
	again, err := Secret(db)
	if err != nil || again != first {
		t.Fatalf("a second start read %q, %v; want the first secret", again, err)
	}
	// Nothing but the secret is left beside the database.
	entries, _ := os.ReadDir(filepath.Dir(db))
	if len(entries) != 1 {
		t.Errorf("%d files beside the database, want only the secret", len(entries))
	}
}

// Processes starting at once (a node and a shell command) agree on one.
func TestSecretFileMadeAtOnceIsOne(t *testing.T) {
	db := filepath.Join(t.TempDir(), "invitd.db")
	got := make([]string, 16)
	errs := make([]error, len(got))
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i], errs[i] = Secret(db) })
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != got[0] {
			t.Fatalf("call %d: %q, %v; call 0: %q", i, got[i], errs[i], got[0])
		}
	}
}

func TestSecretFileReadableByOthersIsNarrowed(t *testing.T) {
	db := filepath.Join(t.TempDir(), "invitd.db")
	want := strings.Repeat("s", 40)
	if err := os.WriteFile(SecretPath(db), []byte(want+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(SecretPath(db), 0o644)
	got, err := Secret(db)
	if err != nil || got != want {
		t.Fatalf("Secret: %q, %v", got, err)
	}
	if fi, _ := os.Stat(SecretPath(db)); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o after reading, want 0600", fi.Mode().Perm())
	}
}

func TestDamagedSecretFileIsRefused(t *testing.T) {
	db := filepath.Join(t.TempDir(), "invitd.db")
	if err := os.WriteFile(SecretPath(db), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Secret(db); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("a damaged secret file: %v, want an error saying so", err)
	}
	if b, _ := os.ReadFile(SecretPath(db)); string(b) != "short\n" {
		t.Errorf("the damaged file was changed to %q; it may be the operator's to restore", b)
	}
}
