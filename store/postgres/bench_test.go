package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/invite"
)

// benchWorkers is how many goroutines insert at once in both halves.
const benchWorkers = 8

// parallel runs op(i) for i in [0, n) on benchWorkers goroutines and returns
// the operations per second.
func parallel(b *testing.B, n int, op func(i int) error) float64 {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, benchWorkers)
	start := time.Now()
	for range benchWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := op(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return float64(n) / elapsed.Seconds()
}

// BenchmarkCreateVsRawInsert compares invitd's CreateInvitation on this store
// with the least a database can do for it: one transaction inserting one row
// into a table like invitations, through the same pool. Both run b.N
// operations on benchWorkers goroutines; raw_ops/s, create_ops/s and their
// ratio are reported.
func BenchmarkCreateVsRawInsert(b *testing.B) {
	s, _ := openStore(b)
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, "CREATE TABLE raw_invitations (LIKE invitations INCLUDING ALL)"); err != nil {
		b.Fatal(err)
	}
	svc, err := invite.NewService(s, invite.Config{})
	if err != nil {
		b.Fatal(err)
	}
	org, err := svc.CreateOrg(ctx, "Bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	run := fmt.Sprintf("%d", time.Now().UnixNano())
	b.ResetTimer()

	raw := parallel(b, b.N, func(i int) error {
		now := time.Now().UTC()
		id := uuid.Must(uuid.NewV7())
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, `INSERT INTO raw_invitations (id, org_id, email, role, permissions, inviter_id, inviter_name, state,
			created_at, updated_at, expires_at, error, metadata, locale, send_count, token_hash)
			VALUES ($1, $2, $3, 'member', '{}', '', '', 'pending', $4, $4, $5, '', '{}', '', 0, $6)`,
			idUUID(id), orgUUID(org.ID), fmt.Sprintf("raw%d-%s@example.com", i, run), now, now.Add(time.Hour), id[:]); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})

	create := parallel(b, b.N, func(i int) error {
		_, err := svc.CreateInvitation(ctx, org.ID, invite.CreateInvitation{Email: fmt.Sprintf("user%d-%s@example.com", i, run)})
		return err
	})

	b.StopTimer()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(raw, "raw_ops/s")
	b.ReportMetric(create, "create_ops/s")
	b.ReportMetric(create/raw, "create/raw")
}
