package sqlite

import (
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"github.com/invitd/invitd/invite"
)

// TestMigrationRebuildsInvitations fills a database at version 2, then
// opens it: the rebuilt invitations table keeps every row, goes on
// numbering after the highest number ever given, still allows one pending
// invitation per address, and the links mailed before still open their
// invitations until a resend replaces them.
func TestMigrationRebuildsInvitations(t *testing.T) {
	ctx := invite.WithPrincipal(t.Context(), invite.System)
	path := filepath.Join(t.TempDir(), "old.db")
	db, p := migrator(t, path)
	if _, err := p.UpTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	org := invite.NewOrgID()
	now := time.Now().UnixMicro()
	// Tokens as they were: 32 random bytes in base64url.
	tokens := []string{strings.Repeat("a", 43), strings.Repeat("b", 43), strings.Repeat("c", 43)}
	stmts := []string{
		`INSERT INTO organizations VALUES ('` + org.UUID() + `', 'Org', '{}', 0, 0)`,
	}
	for i, c := range []struct{ email, state string }{{"a@example.com", "pending"}, {"b@example.com", "accepted"}, {"c@example.com", "pending"}} {
		stmts = append(stmts, `INSERT INTO invitations (id, org_id, email, role, permissions, inviter_id, inviter_name, state,
			created_at, updated_at, expires_at, error, metadata, locale, send_count, token_hash)
			VALUES ('`+uuid.NewString()+`', '`+org.UUID()+`', '`+c.email+`', 'member', '[]', '', '', '`+c.state+`', `+
			itoa(now)+`, `+itoa(now)+`, `+itoa(now+3600e6)+`, '', '{}', '', 1, x'`+hex.EncodeToString(invite.HashToken(tokens[i]))+`')`)
	}
	stmts = append(stmts, `DELETE FROM invitations WHERE number = 3`)
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err := Open(ctx, path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := s.writer.QueryRowContext(ctx, "SELECT count(*) FROM invitations").Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d invitations after the migration (%v), want 2", n, err)
	}
	add := func(email string) (*invite.Invitation, error) {
		inv := &invite.Invitation{ID: uuid.New(), OrgID: org, Email: email, Role: "member", State: invite.StatePending,
			CreatedAt: time.Now(), UpdatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour), TokenHash: []byte{9}}
		return inv, s.Write(ctx, func(tx invite.Tx) error { return tx.CreateInvitation(ctx, inv) })
	}
	if _, err := add("a@example.com"); !errors.Is(err, invite.ErrDuplicatePending) {
		t.Errorf("a second pending invitation for a: %v, want ErrDuplicatePending", err)
	}
	inv, err := add("b@example.com")
	if err != nil {
		t.Fatalf("a pending invitation beside an accepted one: %v", err)
	}
	if inv.Number != 4 {
		t.Errorf("the first invitation after the migration has number %d, want 4", inv.Number)
	}
	a, err := readInv(t, s, org, "a@example.com")
	if err != nil || a.State != invite.StatePending || string(a.TokenHash) != string(invite.HashToken(tokens[0])) {
		t.Fatalf("a's invitation after the migration: %+v, %v", a, err)
	}

	svc, err := invite.NewService(s, invite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []invite.State{invite.StatePending, invite.StateAccepted} {
		if v, err := svc.GetByToken(ctx, tokens[i]); err != nil || v.Invitation.State != want {
			t.Errorf("the link mailed for invitation %d: %+v, %v; want it %s", i+1, v, err, want)
		}
	}
	if _, err := svc.GetByToken(ctx, tokens[2]); invite.ErrorKind(err) != invite.KindNotFound {
		t.Errorf("the link of a deleted invitation: %v, want not found", err)
	}
	if _, err := svc.ResendInvitation(ctx, org, invite.InvitationRef{ID: a.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.GetByToken(ctx, tokens[0]); invite.ErrorKind(err) != invite.KindNotFound {
		t.Errorf("a link a resend replaced: %v, want not found", err)
	}
}

// migrator opens the file at path for goose, with the embedded migrations.
func migrator(t *testing.T, path string) (*sql.DB, *goose.Provider) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	fsys, _ := fs.Sub(migrations, "migrations")
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys)
	if err != nil {
		t.Fatal(err)
	}
	return db, p
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func readInv(t *testing.T, s *Store, org invite.OrgID, email string) (*invite.Invitation, error) {
	var inv *invite.Invitation
	err := s.Read(t.Context(), func(tx invite.Tx) error {
		var err error
		inv, err = tx.GetPendingInvitation(t.Context(), org, email, false)
		return err
	})
	return inv, err
}

// Down from the rebuild gives back the version-2 table with every row and
// its pending rule; Up again keeps them too.
func TestMigrationRebuildGoesBackDown(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "new.db")
	s, err := Open(ctx, path, "")
	if err != nil {
		t.Fatal(err)
	}
	org := &invite.Organization{ID: invite.NewOrgID(), Name: "Org", Settings: invite.DefaultSettings(), CreatedAt: time.Now(), UpdatedAt: time.Now()}
	inv := func(email string, state invite.State) *invite.Invitation {
		return &invite.Invitation{ID: uuid.New(), OrgID: org.ID, Email: email, Role: "member", State: state,
			CreatedAt: time.Now(), UpdatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour), TokenHash: invite.HashToken(uuid.NewString())}
	}
	err = s.Write(ctx, func(tx invite.Tx) error {
		if err := tx.CreateOrg(ctx, org); err != nil {
			return err
		}
		for _, i := range []*invite.Invitation{inv("a@example.com", invite.StatePending), inv("a@example.com", invite.StateAccepted)} {
			if err := tx.CreateInvitation(ctx, i); err != nil {
				return err
			}
		}
		return nil
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}

	db, p := migrator(t, path)
	if _, err := p.DownTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM invitations").Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d invitations after going down (%v), want 2", n, err)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO invitations (id, org_id, email, role, permissions, inviter_id, inviter_name, state,
		created_at, updated_at, expires_at, error, metadata, locale, send_count, token_hash)
		VALUES ('x', ?, 'a@example.com', 'member', '[]', '', '', 'pending', 0, 0, 0, '', '{}', '', 0, x'01')`, org.ID.UUID())
	if err == nil || !strings.Contains(err.Error(), "UNIQUE") {
		t.Errorf("a second pending invitation after going down: %v, want a UNIQUE failure", err)
	}
	db.Close()

	s, err = Open(ctx, path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := readInv(t, s, org.ID, "a@example.com"); err != nil || got.State != invite.StatePending {
		t.Errorf("the pending invitation after going down and up: %+v, %v", got, err)
	}
}

// Every migration goes down and up again.
func TestMigrationsGoDownAndUp(t *testing.T) {
	ctx := t.Context()
	_, p := migrator(t, filepath.Join(t.TempDir(), "m.db"))
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	// Versions may skip numbers: the last one is the latest.
	latest := p.ListSources()[len(p.ListSources())-1].Version
	if v, err := p.GetDBVersion(ctx); err != nil || v != latest {
		t.Errorf("version %d (%v) after going down and up, want %d", v, err, latest)
	}
}

// TestMigrationMakesTheOutboxGeneric fills a database at version 4 and opens
// it: the queued mail job carries its invitation's id and token and belongs
// to its org, every pending invitation has its expiry queued, each
// invitation's mail state follows from what was stored, and job ids go on
// after the highest ever given. Down again, the mail job is as it was.
func TestMigrationMakesTheOutboxGeneric(t *testing.T) {
	ctx := invite.WithPrincipal(t.Context(), invite.System)
	path := filepath.Join(t.TempDir(), "v4.db")
	db, p := migrator(t, path)
	if _, err := p.UpTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	org := invite.NewOrgID()
	now := time.Now().UTC().Truncate(time.Microsecond)
	type row struct {
		state     invite.State
		sendCount int
		lastSent  *time.Time
		expires   time.Time
		err       string
		id        uuid.UUID
		token     string
	}
	sentAt := now.Add(-time.Minute)
	rows := map[string]*row{
		"queued":   {state: invite.StatePending, sendCount: 1, lastSent: &now, expires: now.Add(time.Hour)},
		"sent":     {state: invite.StatePending, sendCount: 1, lastSent: &sentAt, expires: now.Add(2 * time.Hour)},
		"quiet":    {state: invite.StatePending, expires: now.Add(3 * time.Hour)},
		"failed":   {state: invite.StateError, sendCount: 1, lastSent: &sentAt, expires: now.Add(time.Hour), err: "550 no such user"},
		"accepted": {state: invite.StateAccepted, sendCount: 1, lastSent: &sentAt, expires: now.Add(time.Hour)},
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO organizations VALUES (?, 'Org', ?, 0, 0)`, org.UUID(), `{"invitation_ttl":604800,"roles":["member"],"default_role":"member","permissions":[]}`)
	for name, r := range rows {
		r.id = uuid.Must(uuid.NewV7())
		secret := make([]byte, 32)
		copy(secret, name)
		r.token = base64.RawURLEncoding.EncodeToString(append(r.id[:], secret...))
		var last any
		if r.lastSent != nil {
			last = r.lastSent.UnixMicro()
		}
		exec(`INSERT INTO invitations (id, org_id, email, role, permissions, inviter_id, inviter_name, state,
			created_at, updated_at, expires_at, error, metadata, locale, send_count, last_sent_at, token_hash)
			VALUES (?, ?, ?, 'member', '[]', '', '', ?, ?, ?, ?, ?, '{}', '', ?, ?, ?)`,
			r.id.String(), org.UUID(), name+"@example.com", string(r.state), now.UnixMicro(), now.UnixMicro(), r.expires.UnixMicro(),
			r.err, r.sendCount, last, invite.HashToken(r.token))
	}
	q := rows["queued"]
	exec(`INSERT INTO outbox (kind, invitation_id, payload, attempts, run_at, last_error, created_at) VALUES ('send_invitation', ?, ?, 2, ?, '421 later', ?)`,
		q.id.String(), `{"token":"`+q.token+`"}`, now.UnixMicro(), now.UnixMicro())
	// A job sent and deleted: its id is not given again.
	exec(`INSERT INTO outbox (kind, invitation_id, payload, run_at, created_at) VALUES ('send_invitation', ?, ?, 0, 0)`,
		rows["sent"].id.String(), `{"token":"`+rows["sent"].token+`"}`)
	exec(`DELETE FROM outbox WHERE id = 2`)
	db.Close()

	s, err := Open(ctx, path, "")
	if err != nil {
		t.Fatal(err)
	}
	var invs []*invite.Invitation
	var jobs []*invite.Job
	far := now.Add(24 * time.Hour)
	err = s.Write(ctx, func(tx invite.Tx) error {
		for _, r := range rows {
			inv, err := tx.GetInvitationByID(ctx, r.id, false)
			if err != nil {
				return err
			}
			invs = append(invs, inv)
		}
		var err error
		jobs, err = tx.ClaimJobs(ctx, "w", []string{invite.JobSendInvitation, invite.JobExpireInvitation}, far, far.Add(time.Minute), 100)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	mail := map[uuid.UUID]invite.MailDelivery{}
	for _, inv := range invs {
		mail[inv.ID] = inv.Mail
	}
	for name, want := range map[string]invite.MailState{
		"queued": invite.MailQueued, "sent": invite.MailSent, "quiet": invite.MailNone, "failed": invite.MailFailed, "accepted": invite.MailSent,
	} {
		m := mail[rows[name].id]
		if m.State != want {
			t.Errorf("the %s invitation's mail is %q, want %q", name, m.State, want)
		}
		if want == invite.MailSent {
			if m.SentAt == nil || !m.SentAt.Equal(*rows[name].lastSent) {
				t.Errorf("the %s invitation's mail was sent at %v, want %v", name, m.SentAt, rows[name].lastSent)
			}
		} else if m.SentAt != nil {
			t.Errorf("the %s invitation's mail was sent at %v, want never", name, m.SentAt)
		}
	}
	if m := mail[rows["failed"].id]; m.LastError != "550 no such user" {
		t.Errorf("the failed invitation's mail error %q", m.LastError)
	}

	var sendJob *invite.Job
	expiries := map[string]*invite.Job{}
	for _, j := range jobs {
		if j.OrgID == nil || *j.OrgID != org {
			t.Errorf("job %+v does not belong to the invitation's org", j)
		}
		switch j.Kind {
		case invite.JobSendInvitation:
			if sendJob != nil {
				t.Fatalf("two mail jobs: %+v and %+v", sendJob, j)
			}
			sendJob = j
		case invite.JobExpireInvitation:
			var a invite.ExpiryArgs
			if err := json.Unmarshal(j.Args, &a); err != nil {
				t.Fatalf("expiry args %s: %v", j.Args, err)
			}
			expiries[a.InvitationID] = j
		}
	}
	if sendJob == nil {
		t.Fatal("the queued mail job is gone")
	}
	var args invite.MailPayload
	if err := json.Unmarshal(sendJob.Args, &args); err != nil || args.InvitationID != q.id.String() || args.Token != q.token {
		t.Errorf("the mail job's args %s (%v), want invitation %s and its token", sendJob.Args, err, q.id)
	}
	// Claimed once more here: it had two attempts.
	if sendJob.ID != 1 || sendJob.Attempts != 3 || sendJob.LastError != "421 later" || sendJob.Key != "" || !sendJob.RunAt.Equal(now) {
		t.Errorf("the mail job %+v", sendJob)
	}
	if len(expiries) != 3 {
		t.Errorf("%d expiry jobs, want one for each of the 3 pending invitations", len(expiries))
	}
	for _, name := range []string{"queued", "sent", "quiet"} {
		r := rows[name]
		j := expiries[r.id.String()]
		if j == nil {
			t.Errorf("no expiry job for the %s invitation", name)
			continue
		}
		if j.Key != "expire:"+r.id.String() || !j.RunAt.Equal(r.expires) {
			t.Errorf("the %s invitation's expiry job %+v, want key expire:%s at %v", name, j, r.id, r.expires)
		}
	}

	// The service reads the migrated job; new jobs go on from the counter;
	// the org's jobs go with it.
	svc, err := invite.NewService(s, invite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := svc.MailFor(ctx, sendJob); err != nil || m.Invitation.ID != q.id || m.Token != q.token {
		t.Errorf("MailFor of the migrated job: %+v, %v", m, err)
	}
	next := &invite.Job{Kind: "other", Args: json.RawMessage(`{}`), RunAt: now, CreatedAt: now}
	if err := s.Write(ctx, func(tx invite.Tx) error { return tx.EnqueueJob(ctx, next) }); err != nil {
		t.Fatal(err)
	}
	if next.ID <= 2+int64(len(expiries)) {
		t.Errorf("a new job has id %d, given before", next.ID)
	}
	s.Close()

	db, p = migrator(t, path)
	if _, err := p.DownTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	var invID, payload string
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*), max(invitation_id), max(payload) FROM outbox").Scan(&n, &invID, &payload); err != nil {
		t.Fatal(err)
	}
	if n != 1 || invID != q.id.String() || payload != `{"token":"`+q.token+`"}` {
		t.Errorf("after going down: %d jobs, %s %s; want the mail job as it was", n, invID, payload)
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pragma_table_info('invitations') WHERE name LIKE 'mail%'").Scan(&n); err != nil || n != 0 {
		t.Errorf("%d mail columns left after going down (%v)", n, err)
	}
	db.Close()
	s, err = Open(ctx, path, "")
	if err != nil {
		t.Fatalf("up again: %v", err)
	}
	s.Close()
}
