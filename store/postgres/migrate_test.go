package postgres

import (
	"encoding/json"
	"errors"
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
	ctx := invite.WithPrincipal(t.Context(), invite.System)
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
	if _, err := svc.AcceptByToken(ctx, tokens[0], "x"); invite.ErrorKind(err) != invite.KindNotFound {
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
	// Versions may skip numbers: the last one is the latest.
	latest := p.ListSources()[len(p.ListSources())-1].Version
	if v, err := p.GetDBVersion(ctx); err != nil || v != latest {
		t.Errorf("version %d (%v) after going down and up, want %d", v, err, latest)
	}
}

// A database at version 4, with a queued mail job, migrates to rows the job
// runner and the mail state read: the job's args carry the invitation's id
// and the token, every pending invitation has its expiry job, and the mail
// state says what became of each invitation's mail. Down to 4 and up again
// keeps the mail job.
func TestJobsAndMailStateFromVersion4(t *testing.T) {
	ctx := t.Context()
	u := emptyDatabase(t)
	cc, err := pgx.ParseConfig(u)
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
	if _, err := p.UpTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	org := invite.NewOrgID()
	now := time.Now().UTC().Truncate(time.Microsecond)
	sentAt := now.Add(-time.Minute)
	if _, err := db.ExecContext(ctx, `INSERT INTO organizations VALUES ($1, 'Org', '{}', $2, $2)`, org.UUID(), now); err != nil {
		t.Fatal(err)
	}
	type row struct {
		state     string
		sendCount int
		queued    bool
		mail      invite.MailState
	}
	rows := map[string]row{
		"queued": {"pending", 1, true, invite.MailQueued},
		"sent":   {"pending", 1, false, invite.MailSent},
		"none":   {"pending", 0, false, invite.MailNone},
		"failed": {"error", 1, false, invite.MailFailed},
		"done":   {"accepted", 1, false, invite.MailSent},
	}
	ids := map[string]uuid.UUID{}
	const token = "tok-of-the-queued-mail"
	for name, r := range rows {
		id := uuid.Must(uuid.NewV7())
		ids[name] = id
		if _, err := db.ExecContext(ctx, `INSERT INTO invitations (id, org_id, email, role, permissions, inviter_id, inviter_name, state,
			created_at, updated_at, expires_at, error, metadata, locale, send_count, last_sent_at, token_hash)
			VALUES ($1, $2, $3, 'member', '{}', '', '', $4, $5, $5, $6, '', '{}', '', $7, $8, $9)`,
			id, org.UUID(), name+"@example.com", r.state, now, now.Add(time.Hour), r.sendCount, sentAt, id[:]); err != nil {
			t.Fatal(err)
		}
		if r.queued {
			if _, err := db.ExecContext(ctx, `INSERT INTO outbox (kind, invitation_id, payload, run_at, created_at)
				VALUES ('send_invitation', $1, $2, $3, $3)`, id, `{"token":"`+token+`"}`, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(when string) {
		t.Helper()
		s := openURL(t, u)
		err := s.Write(ctx, func(tx invite.Tx) error {
			for name, r := range rows {
				inv, err := tx.GetInvitation(ctx, org, ids[name], false)
				if err != nil {
					return err
				}
				m := inv.Mail
				if m.State != r.mail || m.Attempts != 0 || m.LastError != "" || m.NextAttemptAt != nil {
					t.Errorf("%s: %s: mail %+v, want %s", when, name, m, r.mail)
				}
				if sent := m.SentAt != nil && m.SentAt.Equal(sentAt); sent != (r.mail == invite.MailSent) {
					t.Errorf("%s: %s: mail sent at %v", when, name, m.SentAt)
				}
			}
			far := now.Add(24 * time.Hour)
			mails, err := tx.ClaimJobs(ctx, "w", []string{invite.JobSendInvitation}, far, far, 10)
			if err != nil {
				return err
			}
			if len(mails) != 1 {
				t.Fatalf("%s: %d mail jobs, want 1", when, len(mails))
			}
			var args invite.MailPayload
			if err := json.Unmarshal(mails[0].Args, &args); err != nil || args.InvitationID != ids["queued"].String() || args.Token != token {
				t.Errorf("%s: mail job args %s (%v)", when, mails[0].Args, err)
			}
			if mails[0].OrgID == nil || *mails[0].OrgID != org || mails[0].Key != "" {
				t.Errorf("%s: mail job %+v", when, mails[0])
			}
			expiries, err := tx.ClaimJobs(ctx, "w", []string{invite.JobExpireInvitation}, far, far, 10)
			if err != nil {
				return err
			}
			want := map[string]bool{}
			for name, r := range rows {
				if r.state == "pending" {
					want["expire:"+ids[name].String()] = true
				}
			}
			for _, j := range expiries {
				var args invite.ExpiryArgs
				_ = json.Unmarshal(j.Args, &args)
				if !want[j.Key] || j.Key != "expire:"+args.InvitationID || !j.RunAt.Equal(now.Add(time.Hour)) || j.OrgID == nil || *j.OrgID != org {
					t.Errorf("%s: expiry job %+v (%s)", when, j, j.Args)
				}
				delete(want, j.Key)
			}
			if len(want) != 0 {
				t.Errorf("%s: no expiry job for %v", when, want)
			}
			return errors.New("roll back")
		})
		if err == nil || err.Error() != "roll back" {
			t.Fatal(err)
		}
		s.Close()
	}
	check("migrated")

	if _, err := p.DownTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	var payload string
	if err := db.QueryRowContext(ctx, "SELECT payload FROM outbox WHERE invitation_id = $1", ids["queued"]).Scan(&payload); err != nil {
		t.Fatal(err)
	}
	if payload != `{"token" : "`+token+`"}` && payload != `{"token":"`+token+`"}` {
		t.Errorf("down to 4, the mail job's payload is %s", payload)
	}
	var jobs int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM outbox").Scan(&jobs); err != nil || jobs != 1 {
		t.Errorf("down to 4: %d jobs (%v), want the mail job alone", jobs, err)
	}
	check("down and up again")
}
