package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/invitd/invitd/store/sqlite"
)

func TestSecretConfiguration(t *testing.T) {
	long := strings.Repeat("x", 32)
	for _, c := range []struct {
		name, url, given, previous, wantErr string
	}{
		{"postgres needs it given", "postgres://db.example/invitd", "", "", "INVITD_SECRET is required with PostgreSQL"},
		{"too short", "postgres://db.example/invitd", "short", "", "INVITD_SECRET must be at least 32 bytes (it has 5)"},
		{"previous too short", "postgres://db.example/invitd", long, "short", "INVITD_SECRET_PREVIOUS must be at least 32 bytes"},
		{"postgres given", "postgres://db.example/invitd", long, long + "y", ""},
		{"sqlite given", "sqlite:" + filepath.Join(t.TempDir(), "given.db"), long, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Secret(c.url, c.given, c.previous)
			if c.wantErr == "" {
				if err != nil || s == nil {
					t.Fatalf("Secret: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("Secret: %v, want %q", err, c.wantErr)
			}
		})
	}
}

// On SQLite a given secret is used as it is and no file is made; without
// one, the file beside the database is.
func TestSecretOnSQLite(t *testing.T) {
	dir := t.TempDir()
	given := filepath.Join(dir, "given.db")
	if _, err := Secret("sqlite:"+given, strings.Repeat("x", 32), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sqlite.SecretPath(given)); !os.IsNotExist(err) {
		t.Errorf("a secret file was made although a secret was given: %v", err)
	}
	kept := filepath.Join(dir, "kept.db")
	if _, err := Secret("sqlite:"+kept+"?synchronous=FULL", "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sqlite.SecretPath(kept)); err != nil {
		t.Errorf("no secret file beside the database: %v", err)
	}
}
