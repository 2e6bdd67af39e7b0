package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/invitd/invitd/invite"
)

// One writer at a time: a count in a Write holds until its commit without
// a lock of its own.

// The counts read at most limit index entries, and the oldest is the first
// of them in the index's order. The limit is written in (see limitSQL): an
// organization's setting, so few texts.

func (t *tx) CountInvitationsCreated(ctx context.Context, org invite.OrgID, since time.Time, limit int) (int, time.Time, error) {
	return t.countSince(ctx, `SELECT count(*), min(created_at) FROM (SELECT created_at FROM invitations
		WHERE org_id = ? AND created_at > ? ORDER BY created_at`+limitSQL(limit, 0)+`)`, org, micros(since))
}

func (t *tx) RecordMail(ctx context.Context, org invite.OrgID, email string, at time.Time) error {
	_, err := t.exec(ctx, "INSERT INTO invitation_mails (org_id, email, queued_at) VALUES (?, ?, ?)", org, email, micros(at))
	return err
}

func (t *tx) CountMails(ctx context.Context, org invite.OrgID, email string, since time.Time, limit int) (int, time.Time, error) {
	return t.countSince(ctx, `SELECT count(*), min(queued_at) FROM (SELECT queued_at FROM invitation_mails
		WHERE org_id = ? AND email = ? AND queued_at > ? ORDER BY queued_at`+limitSQL(limit, 0)+`)`, org, email, micros(since))
}

func (t *tx) CountMailsEach(ctx context.Context, org invite.OrgID, emails []string, since time.Time, limit int) (map[string]invite.MailCount, error) {
	rows, err := t.query(ctx, `SELECT email, count(*), min(queued_at) FROM (SELECT email, queued_at,
		row_number() OVER (PARTITION BY email ORDER BY queued_at) AS n FROM invitation_mails
		WHERE org_id = ? AND email IN (SELECT value FROM json_each(?)) AND queued_at > ?) WHERE n <= ? GROUP BY email`,
		org, jsonText(emails), micros(since), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]invite.MailCount{}
	for rows.Next() {
		var email string
		var n int
		var oldest int64
		if err := rows.Scan(&email, &n, &oldest); err != nil {
			return nil, err
		}
		out[email] = invite.MailCount{N: n, Oldest: fromMicros(oldest)}
	}
	return out, rows.Err()
}

func (t *tx) countSince(ctx context.Context, q string, args ...any) (int, time.Time, error) {
	var n int
	var oldest sql.NullInt64
	if err := t.queryRow(ctx, q, args...).Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, err
	}
	if !oldest.Valid {
		return n, time.Time{}, nil
	}
	return n, fromMicros(oldest.Int64), nil
}

func (t *tx) DeleteMailsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	return t.deleteCount(ctx, "DELETE FROM invitation_mails WHERE rowid IN (SELECT rowid FROM invitation_mails WHERE queued_at < ?"+
		limitSQL(limit, 0)+")", micros(before))
}

func (t *tx) CountSeats(ctx context.Context, org invite.OrgID, now time.Time) (members, pending int, err error) {
	err = t.queryRow(ctx, `SELECT (SELECT count(*) FROM members WHERE org_id = ?1),
		(SELECT count(*) FROM invitations WHERE org_id = ?1 AND state = 'pending' AND expires_at > ?2)`, org, micros(now)).Scan(&members, &pending)
	return members, pending, err
}
