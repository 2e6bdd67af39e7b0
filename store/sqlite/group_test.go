package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
)

// Concurrent writes share commits; one that fails is undone alone, and one
// whose caller gives up does not take the others with it.
func TestGroupCommitUndoesOnlyTheFailedWrite(t *testing.T) {
	ctx := context.Background()
	st := openAt(t, filepath.Join(t.TempDir(), "g.db"))
	errBoom := errors.New("boom")
	const n = 200
	ids := make([]invite.OrgID, n)
	results := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		ids[i] = invite.NewOrgID()
		wg.Add(1)
		go func() {
			defer wg.Done()
			wctx := ctx
			if i%7 == 0 {
				c, cancel := context.WithCancel(ctx)
				cancel()
				wctx = c
			}
			results[i] = st.Write(wctx, func(tx invite.Tx) error {
				now := time.Now()
				o := &invite.Organization{ID: ids[i], Name: fmt.Sprint(i), Settings: invite.DefaultSettings(), CreatedAt: now, UpdatedAt: now}
				if err := tx.CreateOrg(ctx, o); err != nil {
					return err
				}
				if i%3 == 0 {
					return errBoom // after a write: it must be undone
				}
				return nil
			})
		}()
	}
	wg.Wait()
	if st.grouped.Load() == 0 {
		t.Fatal("no two writes shared a commit; the test did not exercise group commit")
	}
	for i := range n {
		var got *invite.Organization
		rerr := st.Read(ctx, func(tx invite.Tx) error {
			var err error
			got, err = tx.GetOrg(ctx, ids[i])
			return err
		})
		switch {
		case results[i] == nil && (rerr != nil || got.Name != fmt.Sprint(i)):
			t.Fatalf("write %d answered success but is not stored: %v", i, rerr)
		case results[i] != nil && !errors.Is(rerr, invite.ErrNotFound):
			t.Fatalf("write %d failed (%v) but left a row", i, results[i])
		case i%3 == 0 && i%7 != 0 && !errors.Is(results[i], errBoom):
			t.Fatalf("write %d: got %v, want its own error", i, results[i])
		case i%3 != 0 && i%7 != 0 && results[i] != nil:
			t.Fatalf("write %d failed: %v", i, results[i])
		}
	}
}

// Writes in one group read their organization once; each still sees every
// change made before it in the group, and none of a write that was undone.
// A group with a failed write runs twice: see runGroup.
func TestGroupSeesOrgChanges(t *testing.T) {
	ctx := context.Background()
	st := openAt(t, filepath.Join(t.TempDir(), "g.db"))
	now := time.Now()
	org := &invite.Organization{ID: invite.NewOrgID(), Name: "old", Settings: invite.DefaultSettings(), CreatedAt: now, UpdatedAt: now}
	if err := st.Write(ctx, func(tx invite.Tx) error { return tx.CreateOrg(ctx, org) }); err != nil {
		t.Fatal(err)
	}
	errBoom := errors.New("boom")
	var seen []string
	read := func(tx invite.Tx) error {
		o, err := tx.GetOrg(ctx, org.ID)
		if err != nil {
			return err
		}
		seen = append(seen, o.Name+" "+o.Settings.Roles[0])
		o.Settings.Roles = append(o.Settings.Roles[:0], "changed by its reader") // must not reach the others
		return nil
	}
	rename := func(name string, fail bool) func(tx invite.Tx) error {
		return func(tx invite.Tx) error {
			o, err := tx.GetOrg(ctx, org.ID)
			if err != nil {
				return err
			}
			o.Name = name
			if err := tx.UpdateOrg(ctx, o); err != nil {
				return err
			}
			if err := read(tx); err != nil || fail {
				return errBoom
			}
			return nil
		}
	}
	fns := []func(invite.Tx) error{read, read, rename("undone", true), read, rename("new", false), read}
	batch := make([]*writeReq, len(fns))
	for i, fn := range fns {
		batch[i] = &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	}
	if err := st.runGroup(batch); err != nil {
		t.Fatal(err)
	}
	// The first run stops at the failed write and is rolled back; the group
	// then runs again with a savepoint for each write.
	want := []string{"old owner", "old owner", "undone owner",
		"old owner", "old owner", "undone owner", "old owner", "new owner", "new owner"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("the group's writes saw %q, want %q", seen, want)
	}
	for i, r := range batch {
		if err := <-r.done; (err != nil) != (i == 2) {
			t.Errorf("write %d: %v", i, err)
		}
	}
}

// While requests write, a background write alone waits for a request's
// write to share its commit; with no request writing, it does not wait.
func TestBackgroundWriteWaitsForARequest(t *testing.T) {
	hold, window := holdBackground, busyWindow
	holdBackground, busyWindow = time.Minute, time.Minute // only a request ends a wait
	t.Cleanup(func() { holdBackground, busyWindow = hold, window })
	ctx := context.Background()
	st := openAt(t, filepath.Join(t.TempDir(), "g.db"))
	write := func(ctx context.Context) error {
		return st.Write(ctx, func(tx invite.Tx) error {
			now := time.Now()
			return tx.CreateOrg(ctx, &invite.Organization{ID: invite.NewOrgID(), Name: "o", Settings: invite.DefaultSettings(), CreatedAt: now, UpdatedAt: now})
		})
	}
	bg := invite.Background(ctx)

	// No request has written yet: the background write goes through alone.
	done := make(chan error, 1)
	go func() { done <- write(bg) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a background write waited with no request writing")
	}

	if err := write(ctx); err != nil {
		t.Fatal(err)
	}
	go func() { done <- write(bg) }()
	select {
	case err := <-done:
		t.Fatalf("a background write went through alone while requests write: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := write(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := st.grouped.Load(); n != 2 {
		t.Errorf("%d writes shared a commit, want the background write and the request's", n)
	}

	// A write that panics in the group's first run and not in its second is
	// committed, and its caller gets no panic.
	go func() { done <- write(bg) }()
	time.Sleep(100 * time.Millisecond) // the background write is held
	runs := 0
	org := invite.NewOrgID()
	err := st.Write(ctx, func(tx invite.Tx) error {
		if runs++; runs == 1 {
			panic("first run")
		}
		now := time.Now()
		return tx.CreateOrg(ctx, &invite.Organization{ID: org, Name: "flaky", Settings: invite.DefaultSettings(), CreatedAt: now, UpdatedAt: now})
	})
	if err != nil || runs != 2 {
		t.Fatalf("a write that panicked only in the first run: %v after %d runs", err, runs)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := st.Read(ctx, func(tx invite.Tx) error { _, err := tx.GetOrg(ctx, org); return err }); err != nil {
		t.Errorf("the write is not stored: %v", err)
	}
}

// The writer keeps organizations across its transactions, yet sees a change
// committed by another connection (another process on the file) and forgets
// what a write it undid had read.
func TestWriterOrgCacheStaysTrue(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.db")
	st := openAt(t, path)
	now := time.Now()
	org := &invite.Organization{ID: invite.NewOrgID(), Name: "first", Settings: invite.DefaultSettings(), CreatedAt: now, UpdatedAt: now}
	if err := st.Write(ctx, func(tx invite.Tx) error { return tx.CreateOrg(ctx, org) }); err != nil {
		t.Fatal(err)
	}
	name := func() string {
		var got string
		if err := st.Write(ctx, func(tx invite.Tx) error {
			o, err := tx.GetOrg(ctx, org.ID)
			if err == nil {
				got = o.Name
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := name(); got != "first" {
		t.Fatalf("name %q, want first", got)
	}

	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, "UPDATE organizations SET name = 'second' WHERE id = ?", org.ID); err != nil {
		t.Fatal(err)
	}
	if got := name(); got != "second" {
		t.Errorf("after another connection renamed it: %q, want second", got)
	}

	errBoom := errors.New("boom")
	err = st.Write(ctx, func(tx invite.Tx) error {
		o, err := tx.GetOrg(ctx, org.ID)
		if err != nil {
			return err
		}
		o.Name = "undone"
		if err := tx.UpdateOrg(ctx, o); err != nil {
			return err
		}
		if _, err := tx.GetOrg(ctx, org.ID); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("the undone write: %v", err)
	}
	if got := name(); got != "second" {
		t.Errorf("after a write that renamed it was undone: %q, want second", got)
	}
}

// The writer keeps an organization's webhook endpoints the same way: a
// change of its own, one by another connection, and an undone write are all
// seen as they are.
func TestWriterWebhookCacheStaysTrue(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "w.db")
	st := openAt(t, path)
	now := time.Now().UTC().Truncate(time.Microsecond)
	org := &invite.Organization{ID: invite.NewOrgID(), Name: "o", Settings: invite.DefaultSettings(), CreatedAt: now, UpdatedAt: now}
	hook := func(id string) *invite.Webhook {
		return &invite.Webhook{ID: id, OrgID: org.ID, URL: "https://example.com/" + id, Events: []string{"*"}, Enabled: true,
			Secret: "whsec_x", CreatedAt: now, UpdatedAt: now}
	}
	if err := st.Write(ctx, func(tx invite.Tx) error { return tx.CreateOrg(ctx, org) }); err != nil {
		t.Fatal(err)
	}
	urls := func() []string {
		var got []string
		if err := st.Write(ctx, func(tx invite.Tx) error {
			list, err := tx.ListWebhooks(ctx, org.ID)
			for _, w := range list {
				got = append(got, w.URL)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := urls(); len(got) != 0 {
		t.Fatalf("endpoints %v, want none", got)
	}
	if err := st.Write(ctx, func(tx invite.Tx) error { return tx.CreateWebhook(ctx, hook("wh_a")) }); err != nil {
		t.Fatal(err)
	}
	if got := urls(); len(got) != 1 {
		t.Fatalf("after its own create: %v", got)
	}

	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, "UPDATE webhooks SET url = 'https://example.com/moved'"); err != nil {
		t.Fatal(err)
	}
	if got := urls(); len(got) != 1 || got[0] != "https://example.com/moved" {
		t.Errorf("after another connection changed it: %v", got)
	}

	errBoom := errors.New("boom")
	err = st.Write(ctx, func(tx invite.Tx) error {
		if err := tx.CreateWebhook(ctx, hook("wh_b")); err != nil {
			return err
		}
		if list, err := tx.ListWebhooks(ctx, org.ID); err != nil || len(list) != 2 {
			t.Errorf("inside the write that adds one: %d endpoints, %v", len(list), err)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("the undone write: %v", err)
	}
	if got := urls(); len(got) != 1 {
		t.Errorf("after a write that added one was undone: %v", got)
	}
}

// openAt opens the store at path, closed when the test ends.
func openAt(t *testing.T, path string) *Store {
	t.Helper()
	st, err := Open(t.Context(), path, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// A write that went through in a group's first run, but whose caller gave
// up before the group ran again (another write having failed), is not
// stored and its caller hears why.
func TestGroupRerunSkipsAWriteGivenUp(t *testing.T) {
	ctx := context.Background()
	st := openAt(t, filepath.Join(t.TempDir(), "g.db"))
	kept, given := invite.NewOrgID(), invite.NewOrgID()
	create := func(id invite.OrgID) func(invite.Tx) error {
		return func(tx invite.Tx) error {
			now := time.Now()
			return tx.CreateOrg(ctx, &invite.Organization{ID: id, Name: "o", Settings: invite.DefaultSettings(), CreatedAt: now, UpdatedAt: now})
		}
	}
	giveUpCtx, giveUp := context.WithCancel(ctx)
	defer giveUp()
	errBoom := errors.New("boom")
	fns := []struct {
		ctx context.Context
		fn  func(invite.Tx) error
	}{
		{giveUpCtx, func(tx invite.Tx) error { giveUp(); return create(given)(tx) }},
		{ctx, create(kept)},
		{ctx, func(invite.Tx) error { return errBoom }},
	}
	batch := make([]*writeReq, len(fns))
	for i, f := range fns {
		batch[i] = &writeReq{ctx: f.ctx, fn: f.fn, done: make(chan error, 1)}
	}
	if err := st.runGroup(batch); err != nil {
		t.Fatal(err)
	}
	for i, want := range []error{context.Canceled, nil, errBoom} {
		if err := <-batch[i].done; !errors.Is(err, want) {
			t.Errorf("write %d: %v, want %v", i, err, want)
		}
	}
	err := st.Read(ctx, func(tx invite.Tx) error {
		if _, err := tx.GetOrg(ctx, given); !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("the write given up is stored: %v", err)
		}
		_, err := tx.GetOrg(ctx, kept)
		return err
	})
	if err != nil {
		t.Errorf("the write that went through: %v", err)
	}
}
