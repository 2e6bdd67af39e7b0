package invite_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/store/sqlite"
)

// countingStore counts the read transactions of a store.
type countingStore struct {
	invite.Store
	reads atomic.Int64
}

func (s *countingStore) Read(ctx context.Context, fn func(invite.Tx) error) error {
	s.reads.Add(1)
	return s.Store.Read(ctx, fn)
}

// A node reads an organization's request setting once per few seconds,
// however many of its keys' requests arrive at once, and follows a change
// after that.
func TestRequestSettingReadOnceAndFollowed(t *testing.T) {
	ctx := invite.WithPrincipal(context.Background(), invite.System)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "invitd.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cs := &countingStore{Store: st}
	var mu sync.Mutex
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	svc, err := invite.NewService(cs, invite.Config{Now: clock, RequestsPerSecond: 1, RequestBurst: 1})
	if err != nil {
		t.Fatal(err)
	}
	none := invite.NoLimit
	o, err := svc.CreateOrg(ctx, "Acme", &invite.SettingsPatch{MaxRequestsPerSecond: &none})
	if err != nil {
		t.Fatal(err)
	}
	key := &invite.Principal{Type: invite.ActorAPIKey, KeyID: "0123456789abcdef", Org: &o.ID}
	before := cs.reads.Load()
	errs := make([]error, 50)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = svc.Admit(ctx, key, nil) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d with no limit: %v", i, err)
		}
	}
	if n := cs.reads.Load() - before; n != 1 {
		t.Errorf("%d reads of the setting for 50 requests, want 1", n)
	}

	// Back to the node's bucket of 1: seen once the copy is old.
	zero := 0
	if _, err := svc.UpdateOrg(ctx, o.ID, nil, &invite.SettingsPatch{MaxRequestsPerSecond: &zero}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Admit(ctx, key, nil); err != nil {
		t.Fatalf("within the copy's life: %v", err)
	}
	mu.Lock()
	now = now.Add(6 * time.Second)
	mu.Unlock()
	if err := svc.Admit(ctx, key, nil); err != nil {
		t.Fatalf("the first of the bucket: %v", err)
	}
	err = svc.Admit(ctx, key, nil)
	if invite.ErrorKind(err) != invite.KindTooManyRequests || invite.LimitOf(err) == nil {
		t.Errorf("past the bucket: %v", err)
	}
}
