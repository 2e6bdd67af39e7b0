package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/server"
	"github.com/invitd/invitd/store"
)

const (
	scaleOrgs  = 100    // the loaded invitations are spread over this many organizations
	scaleSmall = 10_000 // the size each measurement is first taken at
	scaleBatch = 10_000 // invitations per loading transaction
)

// scaleStates is the mix of the loaded invitations' states, a row's state
// chosen by its index: half pending, the rest finished one way or another.
var scaleStates = []invite.State{
	invite.StatePending, invite.StatePending, invite.StatePending, invite.StatePending, invite.StatePending,
	invite.StateAccepted, invite.StateAccepted, invite.StateAccepted, invite.StateCancelled, invite.StateExpired,
	invite.StatePending, invite.StatePending, invite.StatePending, invite.StatePending, invite.StatePending,
	invite.StateAccepted, invite.StateAccepted, invite.StateDeclined, invite.StateExpired, invite.StateError,
}

// scaleFilterState is the state the state filter asks for: a tenth of the rows.
const scaleFilterState = invite.StateCancelled

// scaleLoad is what the loader keeps of the invitations it writes, for
// the measurements to ask for: a position halfway down each organization's
// list (newest first), and some ids and addresses.
type scaleLoad struct {
	orgs   []invite.OrgID
	middle []invite.Position // by organization, at the size last measured
	ids    []uuid.UUID       // by organization, interleaved: ids[i] is of orgs[i%scaleOrgs]
	emails []string          // likewise
	loaded int
	start  time.Time // created_at of the first row; row i is created i ms later
}

// benchScale loads o.rows invitations over scaleOrgs organizations through
// the store, in large transactions, and measures over HTTP the first page
// of a list, a page deep in a keyset walk, a state filter, an email filter
// and a get by id, first at scaleSmall rows and then at o.rows; it reports
// the ratio of the p50s at the two sizes for each.
func benchScale(ctx context.Context, o options, client *http.Client, dir, db string) error {
	n := max(o.rows, scaleSmall)
	url := "sqlite:" + filepath.Join(dir, "scale.db") + "?synchronous=" + o.sync
	if strings.HasPrefix(db, "postgres") {
		var drop func()
		var err error
		if url, drop, err = pgSchema(ctx, db, fmt.Sprintf("invitd_bench_scale_%d", time.Now().UnixNano())); err != nil {
			return err
		}
		defer drop()
	}
	srv, base, stop, err := startNode(ctx, url, server.Config{})
	if err != nil {
		return err
	}
	defer srv.Close()
	defer stop()
	st, err := store.Open(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()

	fmt.Printf("\nscale: %d invitations over %d organizations, through the store; %d clients, %s a measurement\n", n, scaleOrgs, o.conc, o.d)
	sl := &scaleLoad{start: time.Now().Add(-time.Duration(n) * time.Millisecond).Truncate(time.Millisecond)}
	for range scaleOrgs {
		var org struct{ ID invite.OrgID }
		if err := do(client, "POST", base+"/v1/organizations", adminKey, map[string]any{"name": "Scale", "settings": orgSettings}, 201, &org); err != nil {
			return err
		}
		sl.orgs = append(sl.orgs, org.ID)
	}
	t0 := time.Now()
	if err := sl.load(ctx, st, scaleSmall); err != nil {
		return err
	}
	fmt.Printf("  loaded %d in %s\n", scaleSmall, time.Since(t0).Round(time.Millisecond))
	small := sl.measure(client, base, o)
	t1 := time.Now()
	if err := sl.load(ctx, st, n); err != nil {
		return err
	}
	took := time.Since(t1)
	fmt.Printf("  loaded %d more in %s (%.0f rows/s)\n", n-scaleSmall, took.Round(time.Millisecond), float64(n-scaleSmall)/took.Seconds())
	large := sl.measure(client, base, o)

	fmt.Printf("\n  %-14s %12s %12s %7s\n", "measurement", fmt.Sprintf("p50 at %d", scaleSmall), fmt.Sprintf("p50 at %d", n), "ratio")
	report("scale_rows", float64(n))
	report("scale_load_s", took.Seconds())
	for i, m := range small {
		ratio := float64(large[i].p50) / float64(m.p50)
		fmt.Printf("  %-14s %12s %12s %7.2f\n", m.name, m.p50.Round(time.Microsecond), large[i].p50.Round(time.Microsecond), ratio)
		report("scale_"+m.name, ratio)
	}
	return nil
}

// load writes invitations until sl holds n, scaleBatch to a transaction.
// Row i belongs to organization i%scaleOrgs, is created i ms after the
// first, and takes its state from scaleStates.
func (sl *scaleLoad) load(ctx context.Context, st invite.Store, n int) error {
	now := time.Now()
	for sl.loaded < n {
		end := min(sl.loaded+scaleBatch, n)
		err := st.Write(ctx, func(tx invite.Tx) error {
			for i := sl.loaded; i < end; i++ {
				inv := scaleInvitation(sl.orgs[i%scaleOrgs], i, sl.start, now)
				if err := tx.CreateInvitation(ctx, inv); err != nil {
					return err
				}
				if i/scaleOrgs%100 == 0 { // one round of the organizations in a hundred
					sl.ids, sl.emails = append(sl.ids, inv.ID), append(sl.emails, inv.Email)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("loading row %d: %w", sl.loaded, err)
		}
		sl.loaded = end
	}
	// The middle of each organization's list: of its n/scaleOrgs rows,
	// newest first, the one half-way down. Its position is known from its
	// index alone but for its number, which the store gave.
	sl.middle = make([]invite.Position, scaleOrgs)
	return st.Read(ctx, func(tx invite.Tx) error {
		for j, org := range sl.orgs {
			i := j + scaleOrgs*(n/scaleOrgs/2)
			rows, err := tx.ListInvitations(ctx, invite.InvitationFilter{Org: org, Sort: invite.SortCreatedAt, Desc: true,
				After: &invite.Position{Time: sl.start.Add(time.Duration(i+1) * time.Millisecond), Number: 0}, Limit: 1, Now: now})
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				return fmt.Errorf("organization %d has no row %d", j, i)
			}
			sl.middle[j] = invite.PositionOf(rows[0], invite.SortCreatedAt)
		}
		return nil
	})
}

// scaleInvitation is loaded row i of org.
func scaleInvitation(org invite.OrgID, i int, start, now time.Time) *invite.Invitation {
	created := start.Add(time.Duration(i) * time.Millisecond)
	inv := &invite.Invitation{ID: uuid.Must(uuid.NewV7()), OrgID: org, Email: fmt.Sprintf("scale-%d@example.com", i),
		Role: "member", State: scaleStates[i%len(scaleStates)], CreatedAt: created, UpdatedAt: created,
		ExpiresAt: now.Add(7 * 24 * time.Hour), SendCount: 1, LastSentAt: &created}
	switch inv.State {
	case invite.StatePending:
	case invite.StateExpired:
		inv.ExpiresAt = created.Add(time.Hour)
		inv.FinishedAt = &inv.ExpiresAt
	default:
		inv.FinishedAt, inv.UpdatedAt = &created, created
		if inv.State == invite.StateError {
			inv.Error = "the mail was refused"
		}
	}
	return inv
}

// measure runs each of the scale measurements for o.d from o.conc
// clients, each request in another organization.
func (sl *scaleLoad) measure(client *http.Client, base string, o options) []result {
	list := func(j int) string {
		return base + "/v1/organizations/" + sl.orgs[j%scaleOrgs].String() + "/invitations"
	}
	get := func(path string) error { return do(client, "GET", path, adminKey, nil, 200, nil) }
	fmt.Printf("\n  at %d rows:\n", sl.loaded)
	ops := []struct {
		name string
		op   func(i int) error
	}{
		{"first_page", func(i int) error { return get(list(i) + "?limit=20") }},
		{"deep_page", func(i int) error {
			return get(list(i) + "?limit=20&cursor=" + invite.EncodeCursor("-created_at", sl.middle[i%scaleOrgs]))
		}},
		{"state_filter", func(i int) error { return get(list(i) + "?limit=20&state=" + string(scaleFilterState)) }},
		{"email_filter", func(i int) error {
			k := i % len(sl.emails)
			return get(list(k) + "?limit=20&email=" + sl.emails[k])
		}},
		{"get", func(i int) error {
			k := i % len(sl.ids)
			return get(list(k) + "/" + sl.ids[k].String())
		}},
	}
	out := make([]result, len(ops))
	for k, m := range ops {
		out[k] = load("  "+m.name, o.conc, o.d, func(_, i int) error { return m.op(i) })
		out[k].name = m.name
	}
	return out
}

// pgSchema makes a schema of its own in the PostgreSQL database db, so that
// the loaded rows are dropped with it, and gives the URL that uses it.
func pgSchema(ctx context.Context, db, name string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		return "", nil, err
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	sep := "?"
	if strings.Contains(db, "?") {
		sep = "&"
	}
	return db + sep + "search_path=" + name, func() {
		conn.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE")
		conn.Close(context.Background())
	}, nil
}
