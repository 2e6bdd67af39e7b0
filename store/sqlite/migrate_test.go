package sqlite

import (
	"database/sql"
	"encoding/hex"
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
	if v, err := p.GetDBVersion(ctx); err != nil || v != int64(len(p.ListSources())) {
		t.Errorf("version %d (%v) after going down and up, want %d", v, err, len(p.ListSources()))
	}
}
