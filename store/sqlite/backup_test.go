package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
)

func createOrg(ctx context.Context, st *Store, name string) (invite.OrgID, error) {
	id := invite.NewOrgID()
	return id, st.Write(ctx, func(tx invite.Tx) error {
		now := time.Now()
		return tx.CreateOrg(ctx, &invite.Organization{ID: id, Name: name, Settings: invite.DefaultSettings(), CreatedAt: now, UpdatedAt: now})
	})
}

// A backup taken while writes go on holds every write answered before it
// began, passes SQLite's integrity check and opens as a store.
func TestBackupWhileWriting(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	st := openAt(t, filepath.Join(dir, "live.db"))
	var (
		mu       sync.Mutex
		answered []invite.OrgID
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id, err := createOrg(ctx, st, fmt.Sprintf("w%d-%d", w, i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				answered = append(answered, id)
				mu.Unlock()
			}
		}()
	}
	for {
		mu.Lock()
		n := len(answered)
		mu.Unlock()
		if n >= 300 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	before := append([]invite.OrgID(nil), answered...)
	mu.Unlock()
	dest := filepath.Join(dir, "backup.db")
	err := Backup(ctx, filepath.Join(dir, "live.db"), dest)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	total := len(answered)
	mu.Unlock()
	if total <= len(before) {
		t.Fatalf("no write went on during the backup (%d before, %d in all)", len(before), total)
	}
	if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the backup's mode: %v %v", fi, err)
	}
	if err := check(ctx, dest); err != nil {
		t.Fatal(err)
	}
	copyStore := openAt(t, dest)
	for _, id := range before {
		if err := copyStore.Read(ctx, func(tx invite.Tx) error {
			_, err := tx.GetOrg(ctx, id)
			return err
		}); err != nil {
			t.Fatalf("the organization %s, answered before the backup began, is not in it: %v", id, err)
		}
	}
	// Nothing but the copy is left beside it.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("a temporary file is left: %s", e.Name())
		}
	}
}

func TestBackupRefusals(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	live := filepath.Join(dir, "live.db")
	openAt(t, live)
	existing := filepath.Join(dir, "old.db")
	os.WriteFile(existing, []byte("keep me"), 0o600)
	if err := Backup(ctx, live, existing); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("a backup onto an existing file: %v", err)
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("the existing file was changed: %q", b)
	}
	missing := filepath.Join(dir, "none.db")
	if err := Backup(ctx, missing, filepath.Join(dir, "b.db")); err == nil {
		t.Error("a backup of a missing database succeeded")
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a backup of a missing database made one")
	}
}
