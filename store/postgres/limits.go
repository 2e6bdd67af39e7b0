package postgres

import (
	"context"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/invitd/invitd/invite"
)

// lockNamespaceMails serializes the counts of one address's mails; see
// lockCount. lockNamespaceOrgMails is held shared by each such count and
// exclusively by a count of many addresses at once (a bulk create), which
// so holds them all with one lock.
const (
	lockNamespaceMails    = 0x696e7603
	lockNamespaceOrgMails = 0x696e7604
)

// holdLock is lockCount sent with the next statement, the count it guards,
// in one round trip: each statement of a READ COMMITTED transaction reads a
// snapshot taken when it starts, so the count, which starts once the lock
// is granted, sees every row the lock's previous holder committed.
func (t *tx) holdLock(namespace, key int32) { t.holdLockAs("pg_advisory_xact_lock", namespace, key) }

// holdLockAs is holdLock with the lock function named, for a shared lock.
func (t *tx) holdLockAs(fn string, namespace, key int32) {
	if !t.write {
		return
	}
	t.ahead = append(t.ahead, ahead{q: "SELECT " + fn + "($1::int4, $2::int4)", args: []any{namespace, key},
		read: func(br pgx.BatchResults) error { _, err := br.Exec(); return mapErr(err) }})
}

func mailLockKey(org invite.OrgID, email string) int32 {
	h := fnv.New32a()
	h.Write(org[:])
	h.Write([]byte(email))
	return int32(h.Sum32())
}

// The counts read at most limit index entries, and the oldest is the first
// of them in the index's order.

func (t *tx) CountInvitationsCreated(ctx context.Context, org invite.OrgID, since time.Time, limit int) (int, time.Time, error) {
	t.holdLock(lockNamespaceOrgInvitations, orgLockKey(org))
	return t.countSince(ctx, `SELECT count(*), min(created_at) FROM (SELECT created_at FROM invitations
		WHERE org_id = $1 AND created_at > $2 ORDER BY created_at LIMIT $3::bigint) s`, orgUUID(org), since, limit)
}

// RecordMail holds its insert, like EnqueueJob.
func (t *tx) RecordMail(ctx context.Context, org invite.OrgID, email string, at time.Time) error {
	t.ahead = append(t.ahead, ahead{q: "INSERT INTO invitation_mails (org_id, email, queued_at) VALUES ($1, $2, $3)",
		args: []any{orgUUID(org), email, at}, read: func(br pgx.BatchResults) error { _, err := br.Exec(); return mapErr(err) }})
	return nil
}

func (t *tx) CountMails(ctx context.Context, org invite.OrgID, email string, since time.Time, limit int) (int, time.Time, error) {
	t.holdLockAs("pg_advisory_xact_lock_shared", lockNamespaceOrgMails, orgLockKey(org))
	t.holdLock(lockNamespaceMails, mailLockKey(org, email))
	return t.countSince(ctx, `SELECT count(*), min(queued_at) FROM (SELECT queued_at FROM invitation_mails
		WHERE org_id = $1 AND email = $2 AND queued_at > $3 ORDER BY queued_at LIMIT $4::bigint) s`, orgUUID(org), email, since, limit)
}

// CountMailsEach holds every address's count of org with one exclusive
// lock, which each single count holds shared.
func (t *tx) CountMailsEach(ctx context.Context, org invite.OrgID, emails []string, since time.Time, limit int) (map[string]invite.MailCount, error) {
	t.holdLock(lockNamespaceOrgMails, orgLockKey(org))
	rows, done, err := t.query(ctx, `SELECT email, count(*), min(queued_at) FROM (SELECT email, queued_at,
		row_number() OVER (PARTITION BY email ORDER BY queued_at) AS n FROM invitation_mails
		WHERE org_id = $1 AND email = ANY($2) AND queued_at > $3) s WHERE n <= $4 GROUP BY email`, orgUUID(org), emails, since, limit)
	if err != nil {
		return nil, mapErr(err)
	}
	out := map[string]invite.MailCount{}
	for rows.Next() {
		var email string
		var c invite.MailCount
		if err := rows.Scan(&email, &c.N, &c.Oldest); err != nil {
			rows.Close()
			return nil, mapErr(err)
		}
		c.Oldest = utc(c.Oldest)
		out[email] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	return out, mapErr(done())
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

// CountSeats holds the organization's invitation-count lock, as the counts
// of pending invitations do, so that seats and those counts take turns.
func (t *tx) CountSeats(ctx context.Context, org invite.OrgID, now time.Time) (members, pending int, err error) {
	t.holdLock(lockNamespaceOrgInvitations, orgLockKey(org))
	err = t.queryRow(ctx, `SELECT (SELECT count(*) FROM members WHERE org_id = $1),
		(SELECT count(*) FROM invitations WHERE org_id = $1 AND state = 'pending' AND expires_at > $2)`, orgUUID(org), now).Scan(&members, &pending)
	return members, pending, mapErr(err)
}
