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

// parallel runs op(i) for i in [from, to) on benchWorkers goroutines and
// returns how long that took.
func parallel(b *testing.B, from, to int, op func(i int) error) time.Duration {
	b.Helper()
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	errs := make(chan error, benchWorkers)
	start := time.Now()
	for range benchWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= to {
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
	return elapsed
}

// benchChunk is how many operations of one kind run before the other kind
// has its turn, so that both see the same machine when it is shared.
const benchChunk = 200

// BenchmarkCreateVsRawInsert compares invitd's CreateInvitation on this store
// with the least a database can do for it: one transaction inserting one row
// into a table like invitations, through the same pool. Both run b.N
// operations on benchWorkers goroutines; raw_ops/s, create_ops/s and their
// ratio are reported. The two kinds take turns in chunks.
func BenchmarkCreateVsRawInsert(b *testing.B) {
	s, _ := openStore(b)
	ctx := invite.WithPrincipal(context.Background(), invite.System)
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

	rawOp := func(i int) error {
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
	}
	createOp := func(i int) error {
		_, err := svc.CreateInvitation(ctx, org.ID, invite.CreateInvitation{Email: fmt.Sprintf("user%d-%s@example.com", i, run)})
		return err
	}
	var rawTime, createTime time.Duration
	for from, turn := 0, 0; from < b.N; from, turn = from+benchChunk, turn+1 {
		to := min(from+benchChunk, b.N)
		if turn%2 == 0 {
			rawTime += parallel(b, from, to, rawOp)
			createTime += parallel(b, from, to, createOp)
		} else {
			createTime += parallel(b, from, to, createOp)
			rawTime += parallel(b, from, to, rawOp)
		}
	}
	raw := float64(b.N) / rawTime.Seconds()
	create := float64(b.N) / createTime.Seconds()

	b.StopTimer()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(raw, "raw_ops/s")
	b.ReportMetric(create, "create_ops/s")
	b.ReportMetric(create/raw, "create/raw")
}
