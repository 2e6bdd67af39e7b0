package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/invitd/invitd/invite"
)

// The list of one address's invitations across organizations reads the
// invitations_address index: without it, every invitation would be read.
func TestAddressListUsesItsIndex(t *testing.T) {
	walksIndex(t, planConn(t), "invitations_address", "DROP INDEX invitations_address",
		query(listQuery(invite.InvitationFilter{Email: "bob@example.com", Sort: invite.SortCreatedAt, Desc: true,
			After: &invite.Position{Time: time.Now(), Number: 5}, Limit: 21})))
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

// An organization's invitation list pages read invitations_org_created or
// invitations_org_updated in the page's order: without the index each page
// would sort the whole organization.
func TestInvitationListUsesItsIndexes(t *testing.T) {
	conn := planConn(t)
	org := invite.NewOrgID()
	pos := &invite.Position{Time: time.Now(), Number: 5}
	list := func(f invite.InvitationFilter) planQuery {
		f.Org, f.Limit = org, 21
		return query(listQuery(f))
	}
	walksIndex(t, conn, "invitations_org_created", "DROP INDEX invitations_org_created",
		list(invite.InvitationFilter{Sort: invite.SortCreatedAt, Desc: true}),
		list(invite.InvitationFilter{Sort: invite.SortCreatedAt}),
		list(invite.InvitationFilter{Sort: invite.SortCreatedAt, Desc: true, After: pos}),
		list(invite.InvitationFilter{Sort: invite.SortCreatedAt, Desc: true, Before: pos}))
	walksIndex(t, conn, "invitations_org_updated", "DROP INDEX invitations_org_updated",
		list(invite.InvitationFilter{Sort: invite.SortUpdatedAt, Desc: true}))
}

// A list filtered by one state reads only that state's rows of the
// organization, in order: walking the organization's every row instead
// would read most of them for a rare state.
func TestStateListUsesItsIndex(t *testing.T) {
	list := func(st invite.State) planQuery {
		return query(listQuery(invite.InvitationFilter{Org: invite.NewOrgID(), States: []invite.State{st}, Sort: invite.SortCreatedAt,
			Desc: true, After: &invite.Position{Time: time.Now(), Number: 5}, Limit: 21, Now: time.Now()}))
	}
	walksIndex(t, planConn(t), "invitations_org_state_created", "DROP INDEX invitations_org_state_created",
		list(invite.StateCancelled), list(invite.StatePending))
}

// The admin list of organizations pages through organizations_pkey:
// without it each page would sort every organization.
func TestOrgListUsesItsIndex(t *testing.T) {
	after := invite.NewOrgID()
	walksIndex(t, planConn(t), "organizations_pkey", "ALTER TABLE organizations DROP CONSTRAINT organizations_pkey CASCADE",
		wholeIndex(query(orgListQuery(nil, 51))), query(orgListQuery(&after, 51)))
}

// An organization's keys and the admin keys are read from api_keys_org in
// list order: without it every list of keys would be sorted.
func TestKeyListsUseTheirIndex(t *testing.T) {
	org := invite.NewOrgID()
	walksIndex(t, planConn(t), "api_keys_org", "DROP INDEX api_keys_org", query(keyListQuery(&org)), query(keyListQuery(nil)))
}

// A page of members, by cursor or offset and with a role filter, reads
// members_org_created in order: without it each page would sort the whole
// organization's members.
func TestMemberListUsesItsIndex(t *testing.T) {
	org := invite.NewOrgID()
	walksIndex(t, planConn(t), "members_org_created", "DROP INDEX members_org_created",
		query(memberListQuery(invite.MemberFilter{Org: org, Limit: 21})),
		query(memberListQuery(invite.MemberFilter{Org: org, Offset: 40, Limit: 21})),
		query(memberListQuery(invite.MemberFilter{Org: org, Role: "admin", After: &invite.MemberPosition{Time: time.Now(), ID: uuid.New()}, Limit: 21})))
}

// The console's sign-in finds an address's memberships through members_email:
// without it every organization's members would be read.
func TestMembershipsUseTheirIndex(t *testing.T) {
	walksIndex(t, planConn(t), "members_email", "DROP INDEX members_email", query(membershipsQuery("bob@example.com")))
}

// An organization's event log is read from its cursor in (tx, seq) order,
// through events_org_log, or events_org_subject for one object's events:
// without them each page would read and sort the organization's whole log.
func TestEventListUsesItsIndexes(t *testing.T) {
	conn := planConn(t)
	org := invite.NewOrgID()
	after := invite.EventPosition{Tx: 1000, Seq: 5}
	walksIndex(t, conn, "events_org_log", "DROP INDEX events_org_log",
		query(eventListQuery(invite.EventFilter{Org: org, Limit: 101})),
		query(eventListQuery(invite.EventFilter{Org: org, Types: []string{"member.created"}, Prefixes: []string{"invitation."}, After: after, Limit: 101})))
	walksIndex(t, conn, "events_org_subject", "DROP INDEX events_org_subject",
		query(eventListQuery(invite.EventFilter{Org: org, Subject: "inv_1", After: after, Limit: 101})),
		query(eventListQuery(invite.EventFilter{Org: org, Subject: "inv_1", Prefixes: []string{"invitation."}, Limit: 101})))
}

// An organization's webhook endpoints are read from webhooks_org in list
// order: without it every table row would be read.
func TestWebhookListUsesItsIndex(t *testing.T) {
	walksIndex(t, planConn(t), "webhooks_org", "DROP INDEX webhooks_org", query(webhookListQuery(invite.NewOrgID())))
}

// An endpoint's deliveries are paged newest first through
// webhook_deliveries_webhook: without it each page would sort all of the
// endpoint's deliveries.
func TestDeliveryListUsesItsIndex(t *testing.T) {
	walksIndex(t, planConn(t), "webhook_deliveries_webhook", "DROP INDEX webhook_deliveries_webhook",
		query(deliveryListQuery("wh_1", 0, 21)), query(deliveryListQuery("wh_1", 50, 21)))
}

// planQuery is a statement with its arguments, as a query-building function
// of the store returns them.
type planQuery struct {
	q     string
	args  []any
	whole bool // an unfiltered first page: it may walk the index from its start
}

func query(q string, args []any) planQuery { return planQuery{q: q, args: args} }

// wholeIndex marks pq as an unfiltered first page, which walks the index
// from its start (no Index Cond) and stops at its LIMIT.
func wholeIndex(pq planQuery) planQuery { pq.whole = true; return pq }

// walksIndex checks that each query seeks index (an Index Cond, not a walk
// of the whole index, unless wholeIndex) and reads it in the query's order,
// then runs drop and checks that no plan names the index any more.
func walksIndex(t *testing.T, conn *pgx.Conn, index, drop string, queries ...planQuery) {
	t.Helper()
	uses := " using " + index + " on " // not a longer name that starts with index
	for _, pq := range queries {
		p := explain(t, conn, pq.q, pq.args)
		seeks := pq.whole || strings.Contains(p, "Index Cond: ")
		if !strings.Contains(p, uses) || !seeks || strings.Contains(p, "Sort") || strings.Contains(p, "Seq Scan") {
			t.Errorf("the plan does not walk %s in order:\n%s\n%s", index, pq.q, p)
		}
	}
	if _, err := conn.Exec(context.Background(), drop); err != nil {
		t.Fatal(err)
	}
	for _, pq := range queries {
		if p := explain(t, conn, pq.q, pq.args); strings.Contains(p, uses) {
			t.Errorf("the plan names a dropped index:\n%s\n%s", pq.q, p)
		}
	}
}

// planConn is a connection to an empty store's database on which
// sequential and bitmap scans are priced out: its tables are near empty,
// and a plan must show the index a large table would be read through, in
// the index's order (a bitmap scan, which a few rows expected favour,
// gives them unordered, to be sorted).
func planConn(t *testing.T) *pgx.Conn {
	t.Helper()
	_, u := openStore(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, "SET enable_seqscan = off; SET enable_bitmapscan = off"); err != nil {
		t.Fatal(err)
	}
	return conn
}
