package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/invitd/invitd/invite"
)

// The list of one address's invitations across organizations reads the
// invitations_address index: without it, every invitation would be read.
func TestAddressListUsesItsIndex(t *testing.T) {
	ctx := context.Background()
	conn := planConn(t)
	plan := func() string {
		q, args := listQuery(invite.InvitationFilter{Email: "bob@example.com", Sort: invite.SortCreatedAt, Desc: true,
			After: &invite.Position{Time: time.Now(), Number: 5}, Limit: 21})
		return explain(t, conn, q, args)
	}
	if p := plan(); !strings.Contains(p, "invitations_address") || strings.Contains(p, "Sort") {
		t.Fatalf("the address list's plan does not walk invitations_address in order:\n%s", p)
	}
	if _, err := conn.Exec(ctx, "DROP INDEX invitations_address"); err != nil {
		t.Fatal(err)
	}
	if p := plan(); strings.Contains(p, "invitations_address") {
		t.Fatalf("the plan names a dropped index:\n%s", p)
	}
}

// The reminder sweep reads invitations only through invitations_reminder_due,
// the due range of each organization that sets reminder_after, in order.
func TestDueRemindersUseTheirIndex(t *testing.T) {
	conn := planConn(t)
	for _, after := range []*invite.ReminderPosition{nil, {Org: invite.NewOrgID(), LastSentAt: time.Now(), Number: 5}} {
		q, args := dueRemindersQuery(time.Now(), after, 100)
		p := explain(t, conn, q, args)
		if !strings.Contains(p, "invitations_reminder_due") || strings.Contains(p, "Seq Scan on invitations") {
			t.Errorf("with cursor %v the sweep's plan does not read each organization's due range:\n%s", after, p)
		}
	}
}

// explain is the plan PostgreSQL makes for q on conn, one node a line.
func explain(t *testing.T, conn *pgx.Conn, q string, args []any) string {
	t.Helper()
	rows, err := conn.Query(context.Background(), "EXPLAIN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// A list filtered by one state reads only that state's rows of the
// organization, in order: walking the organization's every row instead
// would read most of them for a rare state.
func TestStateListUsesItsIndex(t *testing.T) {
	ctx := context.Background()
	conn := planConn(t)
	plan := func(st invite.State) string {
		q, args := listQuery(invite.InvitationFilter{Org: invite.NewOrgID(), States: []invite.State{st}, Sort: invite.SortCreatedAt,
			Desc: true, After: &invite.Position{Time: time.Now(), Number: 5}, Limit: 21, Now: time.Now()})
		return explain(t, conn, q, args)
	}
	for _, st := range []invite.State{invite.StateCancelled, invite.StatePending} {
		if p := plan(st); !strings.Contains(p, "invitations_org_state_created") || strings.Contains(p, "Sort") {
			t.Errorf("the %s list's plan does not walk invitations_org_state_created in order:\n%s", st, p)
		}
	}
	if _, err := conn.Exec(ctx, "DROP INDEX invitations_org_state_created"); err != nil {
		t.Fatal(err)
	}
	if p := plan(invite.StateCancelled); strings.Contains(p, "invitations_org_state_created") {
		t.Fatalf("the plan names a dropped index:\n%s", p)
	}
}

// planConn is a connection to an empty store's database on which
// sequential scans are priced out: its tables are near empty, and a plan
// must show the index a large table would be read through.
func planConn(t *testing.T) *pgx.Conn {
	t.Helper()
	_, u := openStore(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	return conn
}
