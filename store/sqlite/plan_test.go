package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
)

// The list of one address's invitations across organizations reads the
// invitations_address index: without it, every invitation would be read.
func TestAddressListUsesItsIndex(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "plan.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	plan := func() string {
		q, args := listQuery(invite.InvitationFilter{Email: "bob@example.com", Sort: invite.SortCreatedAt, Desc: true,
			After: &invite.Position{Time: time.Now(), Number: 5}, Limit: 21})
		return explain(t, s, q, args)
	}
	if p := plan(); !strings.Contains(p, "USING INDEX invitations_address") || strings.Contains(p, "TEMP B-TREE") {
		t.Fatalf("the address list's plan does not walk invitations_address in order:\n%s", p)
	}
	if _, err := s.writer.ExecContext(ctx, "DROP INDEX invitations_address"); err != nil {
		t.Fatal(err)
	}
	if p := plan(); strings.Contains(p, "invitations_address") {
		t.Fatalf("the plan names a dropped index:\n%s", p)
	}
}

// The reminder sweep reads invitations only through invitations_reminder_due,
// the due range of each organization that sets reminder_after, in order.
func TestDueRemindersUseTheirIndex(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "plan.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	org := invite.NewOrgID()
	for _, after := range []*invite.ReminderPosition{nil, {Org: org, LastSentAt: time.Now(), Number: 5}} {
		q, args := dueRemindersQuery(org, time.Now().Add(-time.Hour), time.Now(), after, 100)
		p := explain(t, s, q, args)
		if !strings.Contains(p, "USING INDEX invitations_reminder_due (org_id=? AND last_sent_at") || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("with cursor %v the sweep's plan does not read each organization's due range in order:\n%s", after, p)
		}
	}
}

// explain is the plan SQLite makes for q on the writer, which sees every
// schema change at once, one step a line.
func explain(t *testing.T, s *Store, q string, args []any) string {
	t.Helper()
	rows, err := s.writer.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		b.WriteString(detail + "\n")
	}
	return b.String()
}
