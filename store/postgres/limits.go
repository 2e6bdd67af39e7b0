package postgres

import (
	"context"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/invitd/invitd/invite"
)

// lockNamespaceMails serializes the counts of one address's mails; see
// lockCount.
const lockNamespaceMails = 0x696e7603

func mailLockKey(org invite.OrgID, email string) int32 {
	h := fnv.New32a()
	h.Write(org[:])
	h.Write([]byte(email))
	return int32(h.Sum32())
}

// The counts read at most limit index entries, and the oldest is the first
// of them in the index's order.

func (t *tx) CountInvitationsCreated(ctx context.Context, org invite.OrgID, since time.Time, limit int) (int, time.Time, error) {
	if err := t.lockCount(ctx, lockNamespaceOrgInvitations, orgLockKey(org)); err != nil {
		return 0, time.Time{}, err
	}
	return t.countSince(ctx, `SELECT count(*), min(created_at) FROM (SELECT created_at FROM invitations
		WHERE org_id = $1 AND created_at > $2 ORDER BY created_at LIMIT $3::bigint) s`, orgUUID(org), since, limit)
}

func (t *tx) RecordMail(ctx context.Context, org invite.OrgID, email string, at time.Time) error {
	_, err := t.exec(ctx, "INSERT INTO invitation_mails (org_id, email, queued_at) VALUES ($1, $2, $3)", orgUUID(org), email, at)
	return err
}

func (t *tx) CountMails(ctx context.Context, org invite.OrgID, email string, since time.Time, limit int) (int, time.Time, error) {
	if err := t.lockCount(ctx, lockNamespaceMails, mailLockKey(org, email)); err != nil {
		return 0, time.Time{}, err
	}
	return t.countSince(ctx, `SELECT count(*), min(queued_at) FROM (SELECT queued_at FROM invitation_mails
		WHERE org_id = $1 AND email = $2 AND queued_at > $3 ORDER BY queued_at LIMIT $4::bigint) s`, orgUUID(org), email, since, limit)
}

func (t *tx) countSince(ctx context.Context, q string, args ...any) (int, time.Time, error) {
	var n int
	var oldest pgtype.Timestamptz
	if err := t.queryRow(ctx, q, args...).Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, mapErr(err)
	}
	if !oldest.Valid {
		return n, time.Time{}, nil
	}
	return n, utc(oldest.Time), nil
}

func (t *tx) DeleteMailsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	var lim any
	if limit >= 0 {
		lim = limit
	}
	n, err := t.exec(ctx, `DELETE FROM invitation_mails WHERE ctid = ANY(ARRAY(
		SELECT ctid FROM invitation_mails WHERE queued_at < $1 LIMIT $2::bigint))`, before, lim)
	return int(n), err
}
