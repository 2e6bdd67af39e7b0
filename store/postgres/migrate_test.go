package postgres

import (
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/invitd/invitd/invite"
)

// TestLinksMailedBeforeTheUpgradeStillOpen fills a database at version 2,
// when tokens were 32 random bytes, then opens it: each old link opens its
// invitation until a resend replaces it.
func TestLinksMailedBeforeTheUpgradeStillOpen(t *testing.T) {
	ctx := t.Context()
	u := emptyDatabase(t)
	cc, err := pgx.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cc)
	fsys, _ := fs.Sub(migrations, "migrations")
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	org := invite.NewOrgID()
	now := time.Now()
	tokens := []string{strings.Repeat("a", 43), strings.Repeat("b", 43)}
	ids := []uuid.UUID{uuid.New(), uuid.New()}
	if _, err := db.ExecContext(ctx, `INSERT INTO organizations VALUES ($1, 'Org', '{}', $2, $2)`, org.UUID(), now); err != nil {
		t.Fatal(err)
	}
	for i, state := range []string{"pending", "accepted"} {
		if _, err := db.ExecContext(ctx, `INSERT INTO invitations (id, org_id, email, role, permissions, inviter_id, inviter_name, state,
			created_at, updated_at, expires_at, error, metadata, locale, send_count, token_hash)
			VALUES ($1, $2, $3, 'member', '{}', '', '', $4, $5, $5, $6, '', '{}', '', 1, $7)`,
			ids[i], org.UUID(), state+"@example.com", state, now, now.Add(time.Hour), invite.HashToken(tokens[i])); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	svc, err := invite.NewService(openURL(t, u), invite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []invite.State{invite.StatePending, invite.StateAccepted} {
		if v, err := svc.GetByToken(ctx, tokens[i]); err != nil || v.Invitation.ID != ids[i] || v.Invitation.State != want {
			t.Errorf("the link mailed for invitation %d: %+v, %v; want it %s", i+1, v, err, want)
		}
	}
	if _, err := svc.GetByToken(ctx, strings.Repeat("c", 43)); invite.ErrorKind(err) != invite.KindNotFound {
		t.Errorf("a link never mailed: %v, want not found", err)
	}
	if _, err := svc.ResendInvitation(ctx, org, invite.InvitationRef{ID: ids[0]}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.GetByToken(ctx, tokens[0]); invite.ErrorKind(err) != invite.KindNotFound {
		t.Errorf("a link a resend replaced: %v, want not found", err)
	}
	if _, _, err := svc.AcceptByToken(ctx, tokens[0], "x"); invite.ErrorKind(err) != invite.KindNotFound {
		t.Errorf("accepting with a link a resend replaced: %v, want not found", err)
	}
}

// Every migration goes down and up again.
func TestMigrationsGoDownAndUp(t *testing.T) {
	ctx := t.Context()
	cc, err := pgx.ParseConfig(emptyDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cc)
	defer db.Close()
	fsys, _ := fs.Sub(migrations, "migrations")
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys)
	if err != nil {
		t.Fatal(err)
	}
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
