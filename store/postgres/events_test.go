package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/invitd/invitd/invite"
)

func newEvent(org invite.OrgID, typ, subject string) *invite.Event {
	return &invite.Event{ID: fmt.Sprintf("evt_%d_%d", time.Now().UnixNano(), rand.Int64()), Type: typ, OrgID: org,
		Subject: subject, CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
		Actor: invite.Actor{Type: invite.ActorSystem, ID: "system", Name: "test"}, Data: json.RawMessage(`{"n":1}`)}
}

// appendNow appends events in tx and sends the insert at once: a held
// insert goes out only with the next statement, and these tests need the
// events' seq taken while the transaction is still open.
func appendNow(ctx context.Context, tx invite.Tx, org invite.OrgID, events ...*invite.Event) error {
	if err := tx.AppendEvents(ctx, events); err != nil {
		return err
	}
	_, err := tx.GetOrg(ctx, org)
	return err
}

// listAll lists the org's events after pos in one Read.
func listAll(t *testing.T, s *Store, f invite.EventFilter) []*invite.Event {
	t.Helper()
	var out []*invite.Event
	err := s.Read(t.Context(), func(tx invite.Tx) error {
		var err error
		out, err = tx.ListEvents(t.Context(), f)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// naiveReader reads the log as a plain seq cursor would.
type naiveReader struct {
	pool *pgxpool.Pool
	org  invite.OrgID
	last int64
	seen map[string]bool
}

func (r *naiveReader) poll(ctx context.Context) error {
	rows, err := r.pool.Query(ctx, "SELECT seq, id FROM events WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT 100",
		pgtype.UUID{Bytes: r.org, Valid: true}, r.last)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var id string
		if err := rows.Scan(&seq, &id); err != nil {
			return err
		}
		r.last, r.seen[id] = seq, true
	}
	return rows.Err()
}

// A transaction that took a lower seq and commits after one with a higher
// seq: a seq cursor read between the two commits passes over its event for
// good, while ListEvents holds the later event back until the earlier
// transaction ends and then lists both, in (tx, seq) order.
func TestHeldTransactionIsNotSkipped(t *testing.T) {
	s, _ := openStore(t)
	o := newOrg(t, s)
	ctx := t.Context()
	naive := &naiveReader{pool: s.pool, org: o.ID, seen: map[string]bool{}}

	e1, e2 := newEvent(o.ID, "member.created", "m1"), newEvent(o.ID, "member.created", "m2")
	appended, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Write(ctx, func(tx invite.Tx) error {
			if err := appendNow(ctx, tx, o.ID, e1); err != nil {
				return err
			}
			close(appended)
			<-release
			return nil
		})
	}()
	<-appended
	if err := s.Write(ctx, func(tx invite.Tx) error { return tx.AppendEvents(ctx, []*invite.Event{e2}) }); err != nil {
		t.Fatal(err)
	}
	if err := naive.poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := listAll(t, s, invite.EventFilter{Org: o.ID, Limit: 10}); len(got) != 0 {
		t.Errorf("ListEvents listed %d events while a transaction before them was open", len(got))
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := naive.poll(ctx); err != nil {
		t.Fatal(err)
	}
	if naive.seen[e1.ID] || !naive.seen[e2.ID] {
		t.Fatalf("the seq cursor saw e1 %v, e2 %v; the race was not made", naive.seen[e1.ID], naive.seen[e2.ID])
	}
	got := listAll(t, s, invite.EventFilter{Org: o.ID, Limit: 10})
	if len(got) != 2 || got[0].ID != e1.ID || got[1].ID != e2.ID {
		t.Fatalf("ListEvents after both commits: %v, want e1 then e2", eventIDs(got))
	}
	if !got[0].Position.Less(got[1].Position) || got[0].Position != e1.Position || got[1].Position != e2.Position {
		t.Errorf("positions listed %+v %+v, set by the commits %+v %+v", got[0].Position, got[1].Position, e1.Position, e2.Position)
	}
}

// A transaction that got its id first and appends last comes first in the
// log, though its seq is higher: the log is in the order of transaction ids.
func TestLogIsInTransactionOrder(t *testing.T) {
	s, _ := openStore(t)
	o := newOrg(t, s)
	ctx := t.Context()
	e1, e2 := newEvent(o.ID, "member.created", "m1"), newEvent(o.ID, "member.created", "m2")
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Write(ctx, func(tx invite.Tx) error {
			o.Name = "Renamed" // any write gives the transaction its id
			if err := tx.UpdateOrg(ctx, o); err != nil {
				return err
			}
			close(started)
			<-release
			return tx.AppendEvents(ctx, []*invite.Event{e1})
		})
	}()
	<-started
	if err := s.Write(ctx, func(tx invite.Tx) error { return tx.AppendEvents(ctx, []*invite.Event{e2}) }); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if e1.Position.Seq < e2.Position.Seq || e1.Position.Tx > e2.Position.Tx {
		t.Fatalf("positions %+v and %+v: the race was not made", e1.Position, e2.Position)
	}
	got := listAll(t, s, invite.EventFilter{Org: o.ID, Limit: 10})
	if len(got) != 2 || got[0].ID != e1.ID || got[1].ID != e2.ID {
		t.Errorf("ListEvents: %v, want e1 (the earlier transaction) then e2", eventIDs(got))
	}
	if rest := listAll(t, s, invite.EventFilter{Org: o.ID, After: e1.Position, Limit: 10}); len(rest) != 1 || rest[0].ID != e2.ID {
		t.Errorf("ListEvents after e1: %v, want e2", eventIDs(rest))
	}
}

func eventIDs(es []*invite.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// Writers on three nodes append an org's events at once, half of their
// transactions held open for up to 200 ms after their events got their seq;
// a reader on a fourth node polls ListEvents with its cursor. It sees every
// event once, each page in increasing positions. A seq cursor polling the
// same log beside it misses some.
func TestConcurrentWritersReaderSeesEveryEventOnce(t *testing.T) {
	_, u := openStore(t)
	writers := []*Store{openURL(t, u), openURL(t, u), openURL(t, u)}
	reader := openURL(t, u)
	o := newOrg(t, writers[0])
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	const perStore, txs = 4, 25
	var (
		mu       sync.Mutex
		appended = map[string]bool{}
		writing  sync.WaitGroup
		failed   atomic.Bool
	)
	for _, s := range writers {
		for range perStore {
			writing.Go(func() {
				for range txs {
					hold := rand.IntN(2) == 0
					sleep := time.Duration(rand.IntN(200)) * time.Millisecond
					events := make([]*invite.Event, 1+rand.IntN(3))
					for i := range events {
						events[i] = newEvent(o.ID, "invitation.created", fmt.Sprint("inv", i))
					}
					err := s.Write(ctx, func(tx invite.Tx) error {
						if !hold {
							return tx.AppendEvents(ctx, events)
						}
						if err := appendNow(ctx, tx, o.ID, events...); err != nil {
							return err
						}
						time.Sleep(sleep)
						return nil
					})
					if err != nil {
						t.Errorf("write: %v", err)
						failed.Store(true)
						return
					}
					mu.Lock()
					for _, e := range events {
						appended[e.ID] = true
					}
					mu.Unlock()
				}
			})
		}
	}
	writersDone := make(chan struct{})
	go func() { writing.Wait(); close(writersDone) }()

	seen := map[string]int{}
	var last invite.EventPosition
	naive := &naiveReader{pool: reader.pool, org: o.ID, seen: map[string]bool{}}
	poll := func() int {
		var page []*invite.Event
		err := reader.Read(ctx, func(tx invite.Tx) error {
			var err error
			page, err = tx.ListEvents(ctx, invite.EventFilter{Org: o.ID, After: last, Limit: 50})
			return err
		})
		if err != nil {
			t.Fatalf("ListEvents: %v", err)
		}
		for _, e := range page {
			if !last.Less(e.Position) {
				t.Fatalf("position %+v listed after %+v", e.Position, last)
			}
			last = e.Position
			seen[e.ID]++
		}
		if err := naive.poll(ctx); err != nil {
			t.Fatalf("seq cursor: %v", err)
		}
		return len(page)
	}
	for running := true; running; {
		select {
		case <-writersDone:
			running = false
		default:
			poll()
		}
	}
	// Drain: what is committed is listed once no transaction before it is
	// open, which on a shared server may take a moment.
	for deadline := time.Now().Add(30 * time.Second); len(seen) < len(appended) && time.Now().Before(deadline); {
		if poll() == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	for range 3 {
		poll()
	}
	if failed.Load() {
		return
	}
	for id := range appended {
		if seen[id] != 1 {
			t.Errorf("event %s listed %d times", id, seen[id])
		}
	}
	if len(seen) != len(appended) {
		t.Errorf("listed %d events, %d appended", len(seen), len(appended))
	}
	missed := 0
	for id := range appended {
		if !naive.seen[id] {
			missed++
		}
	}
	t.Logf("%d events appended; ListEvents listed %d, a seq cursor missed %d", len(appended), len(seen), missed)
	if missed == 0 {
		t.Error("the seq cursor missed no event: the test did not make the race it is about")
	}
}

// Several events of one transaction go in one insert, keep their order and
// learn their positions by the commit; filters by type, prefix and subject
// select from them, a prefix matching literally.
func TestEventsOfOneWrite(t *testing.T) {
	s, _ := openStore(t)
	o, other := newOrg(t, s), newOrg(t, s)
	ctx := t.Context()
	events := []*invite.Event{
		newEvent(o.ID, "api_key.created", "k1"),
		newEvent(o.ID, "apiXkey.created", "k2"),
		newEvent(o.ID, "member.created", "m1"),
		newEvent(o.ID, "member.deleted", "m1"),
		newEvent(other.ID, "member.created", "m9"),
	}
	events[0].RequestID = "req_1"
	if err := s.Write(ctx, func(tx invite.Tx) error { return tx.AppendEvents(ctx, events) }); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(events); i++ {
		if !events[i-1].Position.Less(events[i].Position) || events[i].Position.Tx != events[0].Position.Tx {
			t.Errorf("positions %+v then %+v", events[i-1].Position, events[i].Position)
		}
	}
	for _, c := range []struct {
		f    invite.EventFilter
		want []int
	}{
		{invite.EventFilter{Org: o.ID, Limit: 10}, []int{0, 1, 2, 3}},
		{invite.EventFilter{Org: o.ID, Limit: 2}, []int{0, 1}},
		{invite.EventFilter{Org: o.ID, After: events[1].Position, Limit: 10}, []int{2, 3}},
		{invite.EventFilter{Org: o.ID, Prefixes: []string{"api_key."}, Limit: 10}, []int{0}},
		{invite.EventFilter{Org: o.ID, Types: []string{"member.deleted"}, Prefixes: []string{"api_key."}, Limit: 10}, []int{0, 3}},
		{invite.EventFilter{Org: o.ID, Subject: "m1", Limit: 10}, []int{2, 3}},
		{invite.EventFilter{Org: o.ID, Subject: "m1", Types: []string{"member.created"}, Limit: 10}, []int{2}},
		{invite.EventFilter{Org: other.ID, Limit: 10}, []int{4}},
	} {
		got := listAll(t, s, c.f)
		var want []string
		for _, i := range c.want {
			want = append(want, events[i].ID)
		}
		if fmt.Sprint(eventIDs(got)) != fmt.Sprint(want) {
			t.Errorf("%+v: %v, want %v", c.f, eventIDs(got), want)
		}
	}
	err := s.Read(ctx, func(tx invite.Tx) error {
		got, err := tx.GetEvent(ctx, o.ID, events[0].ID)
		if err != nil {
			return err
		}
		if got.Position != events[0].Position || got.RequestID != "req_1" || got.Actor != events[0].Actor ||
			string(got.Data) != `{"n":1}` || !got.CreatedAt.Equal(events[0].CreatedAt) || got.Subject != "k1" {
			t.Errorf("GetEvent: %+v, want %+v", got, events[0])
		}
		if _, err := tx.GetEvent(ctx, other.ID, events[0].ID); !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("another org's event: %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Retention deletes old events from the oldest end, up to its limit.
func TestDeleteEventsBefore(t *testing.T) {
	s, _ := openStore(t)
	o := newOrg(t, s)
	ctx := t.Context()
	cut := time.Now().UTC().Truncate(time.Microsecond)
	var events []*invite.Event
	for i := range 5 {
		e := newEvent(o.ID, "member.created", "m")
		e.CreatedAt = cut.Add(time.Duration(i-3) * time.Hour) // three before the cut
		events = append(events, e)
	}
	if err := s.Write(ctx, func(tx invite.Tx) error { return tx.AppendEvents(ctx, events) }); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct{ limit, want int }{{2, 2}, {2, 1}, {2, 0}} {
		var n int
		err := s.Write(ctx, func(tx invite.Tx) error {
			var err error
			n, err = tx.DeleteEventsBefore(ctx, cut, step.limit)
			return err
		})
		if err != nil || n != step.want {
			t.Fatalf("DeleteEventsBefore(limit %d) = %d, %v; want %d", step.limit, n, err, step.want)
		}
	}
	if got := listAll(t, s, invite.EventFilter{Org: o.ID, Limit: 10}); fmt.Sprint(eventIDs(got)) != fmt.Sprint(eventIDs(events[3:])) {
		t.Errorf("left %v, want %v", eventIDs(got), eventIDs(events[3:]))
	}
}

// A keyed job meeting a queued one with its key merges into it, in the same
// transaction or a later one: the queued job stays, runs at the earlier
// time, and the merged one's ID stays 0.
func TestKeyedJobMerges(t *testing.T) {
	s, _ := openStore(t)
	o := newOrg(t, s)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	job := func(key string, at time.Time) *invite.Job {
		return &invite.Job{Kind: invite.JobExpireInvitation, Key: key, OrgID: &o.ID, Args: json.RawMessage(`{"invitation_id":"x"}`),
			RunAt: at, CreatedAt: now}
	}
	first, same, later, earlier, unkeyed := job("k", now.Add(time.Hour)), job("k", now.Add(2*time.Hour)),
		job("k", now.Add(3*time.Hour)), job("k", now.Add(time.Minute)), job("", now)
	if err := s.Write(ctx, func(tx invite.Tx) error {
		for _, j := range []*invite.Job{first, same, unkeyed} {
			if err := tx.EnqueueJob(ctx, j); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, j := range []*invite.Job{later, earlier} {
		if err := s.Write(ctx, func(tx invite.Tx) error { return tx.EnqueueJob(ctx, j) }); err != nil {
			t.Fatal(err)
		}
	}
	if first.ID == 0 || unkeyed.ID == 0 || same.ID != 0 || later.ID != 0 || earlier.ID != 0 {
		t.Errorf("ids: first %d, unkeyed %d, merged %d %d %d", first.ID, unkeyed.ID, same.ID, later.ID, earlier.ID)
	}
	var jobs []*invite.Job
	if err := s.Write(ctx, func(tx invite.Tx) error {
		var err error
		jobs, err = tx.ClaimJobs(ctx, "w", []string{invite.JobExpireInvitation}, now.Add(24*time.Hour), now.Add(25*time.Hour), 10)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[0].ID != unkeyed.ID || jobs[1].ID != first.ID || !jobs[1].RunAt.Equal(earlier.RunAt) ||
		jobs[1].Key != "k" || jobs[0].Key != "" || jobs[1].Attempts != 1 || *jobs[1].OrgID != o.ID {
		t.Fatalf("claimed %+v; want the unkeyed job, then the keyed one at %v", jobs, earlier.RunAt)
	}
}

// A transaction open in another database of the server cannot write this
// one's events, so it does not hold this log back; one open in this
// database does, until it ends.
func TestOnlyThisDatabasesTransactionsHoldTheLog(t *testing.T) {
	s, _ := openStore(t)
	other, _ := openStore(t)
	o := newOrg(t, s)
	oo := newOrg(t, other)

	// An open transaction with an xid, elsewhere on the server.
	hold := func(st *Store, org invite.OrgID) (release func()) {
		started, done := make(chan error, 1), make(chan struct{})
		go func() {
			err := st.Write(context.Background(), func(tx invite.Tx) error {
				if err := appendNow(context.Background(), tx, org, newEvent(org, invite.EventWebhookTest, "held")); err != nil {
					return err
				}
				started <- nil
				<-done
				return nil
			})
			if err != nil {
				started <- err
			}
		}()
		if err := <-started; err != nil {
			t.Fatal(err)
		}
		return func() { close(done) }
	}
	releaseOther := hold(other, oo.ID)
	defer releaseOther()

	e := newEvent(o.ID, invite.EventWebhookTest, "mine")
	if err := s.Write(t.Context(), func(tx invite.Tx) error { return tx.AppendEvents(t.Context(), []*invite.Event{e}) }); err != nil {
		t.Fatal(err)
	}
	got := listAll(t, s, invite.EventFilter{Org: o.ID, Limit: 10})
	if len(got) != 1 || got[0].ID != e.ID {
		t.Fatalf("with a transaction open in another database the log shows %d events, want the one committed", len(got))
	}
	seen := got[0].Position

	// One open in this database may still commit an event before e2: e2 waits.
	releaseMine := hold(s, o.ID)
	e2 := newEvent(o.ID, invite.EventWebhookTest, "later")
	if err := s.Write(t.Context(), func(tx invite.Tx) error { return tx.AppendEvents(t.Context(), []*invite.Event{e2}) }); err != nil {
		t.Fatal(err)
	}
	if got := listAll(t, s, invite.EventFilter{Org: o.ID, After: seen, Limit: 10}); len(got) != 0 {
		t.Fatalf("while a transaction of this database is open the log showed %d events after it", len(got))
	}
	releaseMine()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := listAll(t, s, invite.EventFilter{Org: o.ID, Limit: 10})
		if len(got) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the held transaction ended the log shows %d events, want 3", len(got))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
