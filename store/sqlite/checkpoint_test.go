package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
)

// The checkpointer, not the writer, copies commits from the WAL into the
// database, long before the writer's own bound would.
func TestCheckpointerCopiesTheWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	st := openAt(t, path)
	before := fileSize(t, path)
	const writes = 1000
	name := strings.Repeat("n", 500) // about 1,000 pages in all
	for range writes {
		err := st.Write(ctx, func(tx invite.Tx) error {
			now := time.Now()
			return tx.CreateOrg(ctx, &invite.Organization{ID: invite.NewOrgID(), Name: name, Settings: invite.DefaultSettings(), CreatedAt: now, UpdatedAt: now})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The commits wrote a few thousand pages to the WAL, fewer than
	// walBackstop: without the checkpointer the database file would not grow.
	grown := int64(256 << 10)
	for deadline := time.Now().Add(10 * time.Second); fileSize(t, path)-before < grown; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the database file grew from %d to %d bytes after %d commits of about 600 bytes each: nothing was checkpointed",
				before, fileSize(t, path), writes)
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
