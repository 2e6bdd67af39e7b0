package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/store/sqlite"
)

// BenchmarkBulkCreate1000 is one bulk create of 1,000 rows through the
// core on a SQLite file, without HTTP.
func BenchmarkBulkCreate1000(b *testing.B) {
	ctx, svc, org := benchOrg(b)
	for n := 0; b.Loop(); n++ {
		rows := make([]invite.BulkRow, 1000)
		for i := range rows {
			rows[i].Create = invite.CreateInvitation{Email: fmt.Sprintf("b%d-%d@example.com", n, i)}
		}
		res, err := svc.BulkCreate(ctx, org, rows, invite.BulkOptions{})
		if err != nil || res.View.Created != 1000 {
			b.Fatalf("bulk: %v", err)
		}
	}
}

// BenchmarkCreate is single creates through the core on a SQLite file from
// 16 goroutines, without HTTP and with no mail sent: the core and the store
// alone, to set against invitd-bench's create over HTTP and its raw insert.
func BenchmarkCreate(b *testing.B) {
	ctx, svc, org := benchOrg(b)
	var n atomic.Int64
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := invite.CreateInvitation{Email: fmt.Sprintf("c%d@example.com", n.Add(1))}
			if _, err := svc.CreateInvitation(ctx, org, c); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchOrg opens the core on a new SQLite file (synchronous=NORMAL, as
// invitd serves) with one organization whose hourly and per-recipient limits
// are off: every create is to a new address.
func benchOrg(b *testing.B) (context.Context, *invite.Service, invite.OrgID) {
	b.Helper()
	ctx := invite.WithPrincipal(context.Background(), invite.System)
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), "NORMAL")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	svc, err := invite.NewService(st, invite.Config{})
	if err != nil {
		b.Fatal(err)
	}
	o, err := svc.CreateOrg(ctx, "Bench", &invite.SettingsPatch{
		MaxInvitationsPerHour: ptr(invite.NoLimit), MaxMailsPerRecipientPerDay: ptr(invite.NoLimit)})
	if err != nil {
		b.Fatal(err)
	}
	return ctx, svc, o.ID
}

func ptr[T any](v T) *T { return &v }
