package storetest

import (
	"strings"
	"sync"
	"testing"

	"github.com/invitd/invitd/invite"
)

func testBootstrap(t *testing.T, e *env) {
	ctx := sys(t)
	// Services as several processes on one database would have them.
	const n = 5
	tokens := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		svc, err := invite.NewService(e.store, invite.Config{Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { tokens[i], errs[i] = svc.EnsureAdminKey(ctx) })
	}
	wg.Wait()
	var token string
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("EnsureAdminKey: %v", errs[i])
		}
		if tokens[i] != "" {
			if token != "" {
				t.Fatal("EnsureAdminKey created two keys")
			}
			token = tokens[i]
		}
	}
	if token == "" {
		t.Fatal("EnsureAdminKey created no key on an empty store")
	}
	p, err := e.svc.Authenticate(ctx, token)
	if err != nil || !p.IsAdmin() {
		t.Fatalf("bootstrap key: %+v, %v", p, err)
	}
	if again, err := e.svc.EnsureAdminKey(ctx); err != nil || again != "" {
		t.Errorf("EnsureAdminKey again = %q, %v; want nothing", again, err)
	}
	withKey, err := invite.NewService(e.store, invite.Config{AdminKey: strings.Repeat("k", 40)})
	if err != nil {
		t.Fatal(err)
	}
	if again, err := withKey.EnsureAdminKey(ctx); err != nil || again != "" {
		t.Errorf("EnsureAdminKey with a configured key = %q, %v; want nothing", again, err)
	}
	var keys int
	e.store.Read(ctx, func(tx invite.Tx) error {
		var err error
		keys, err = tx.CountKeys(ctx)
		return err
	})
	if keys != 1 {
		t.Errorf("%d keys after bootstrap, want 1", keys)
	}
	admins, err := e.svc.ListKeys(ctx, nil)
	if err != nil || len(admins) != 1 {
		t.Errorf("admin keys after bootstrap: %+v, %v", admins, err)
	}
}
