package postgres

import (
	"context"
	"hash/fnv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/invitd/invitd/invite"
)

// membershipsQuery is the statement GetMembershipsByEmail runs.
func membershipsQuery(email string) (string, []any) {
	return "SELECT " + memberCols + " FROM members WHERE email = $1", []any{email}
}

func (t *tx) GetMembershipsByEmail(ctx context.Context, email string) ([]*invite.Member, error) {
	q, args := membershipsQuery(email)
	return queryAll(ctx, t, scanMember, q, args...)
}

const sessionCols = "id_hash, kind, key_id, admin_hash, org_id, member_id, created_at, last_seen_at"

func (t *tx) CreateSession(ctx context.Context, s *invite.Session) error {
	var key pgtype.Text
	var org, member pgtype.UUID
	if s.KeyID != "" {
		key = pgtype.Text{String: s.KeyID, Valid: true}
	}
	if s.OrgID != nil {
		org = orgUUID(*s.OrgID)
	}
	if s.MemberID != nil {
		member = idUUID(*s.MemberID)
	}
	_, err := t.exec(ctx, "INSERT INTO console_sessions ("+sessionCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		s.IDHash, string(s.Kind), key, s.AdminHash, org, member, s.CreatedAt, s.LastSeenAt)
	return err
}

func (t *tx) GetSession(ctx context.Context, idHash []byte) (*invite.Session, error) {
	var s invite.Session
	var kind string
	var key pgtype.Text
	var org, member pgtype.UUID
	err := t.queryRow(ctx, "SELECT "+sessionCols+" FROM console_sessions WHERE id_hash = $1", idHash).
		Scan(&s.IDHash, &kind, &key, &s.AdminHash, &org, &member, &s.CreatedAt, &s.LastSeenAt)
	if err != nil {
		return nil, notFound(err)
	}
	s.Kind, s.KeyID = invite.SessionKind(kind), key.String
	if org.Valid {
		o := invite.OrgID(org.Bytes)
		s.OrgID = &o
	}
	if member.Valid {
		id := uuid.UUID(member.Bytes)
		s.MemberID = &id
	}
	s.CreatedAt, s.LastSeenAt = utc(s.CreatedAt), utc(s.LastSeenAt)
	return &s, nil
}

func (t *tx) TouchSession(ctx context.Context, idHash []byte, now time.Time) error {
	return t.execOne(ctx, "UPDATE console_sessions SET last_seen_at = $1 WHERE id_hash = $2", now, idHash)
}

func (t *tx) DeleteSession(ctx context.Context, idHash []byte) error {
	return t.execOne(ctx, "DELETE FROM console_sessions WHERE id_hash = $1", idHash)
}

func (t *tx) DeleteSessionsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := t.exec(ctx, `DELETE FROM console_sessions WHERE ctid = ANY(ARRAY(
		SELECT ctid FROM console_sessions WHERE last_seen_at < $1 LIMIT $2::bigint))`, before, limit)
	return int(n), err
}

const linkCols = "id, org_id, member_id, email, created_at, expires_at, used_at"

func (t *tx) CreateSignInLink(ctx context.Context, l *invite.SignInLink) error {
	_, err := t.exec(ctx, "INSERT INTO console_links ("+linkCols+") VALUES ($1, $2, $3, $4, $5, $6, $7)",
		l.ID, orgUUID(l.OrgID), idUUID(l.MemberID), l.Email, l.CreatedAt, l.ExpiresAt, l.UsedAt)
	return err
}

func (t *tx) GetSignInLink(ctx context.Context, id string) (*invite.SignInLink, error) {
	var l invite.SignInLink
	var org, member pgtype.UUID
	err := t.queryRow(ctx, "SELECT "+linkCols+" FROM console_links WHERE id = $1", id).
		Scan(&l.ID, &org, &member, &l.Email, &l.CreatedAt, &l.ExpiresAt, &l.UsedAt)
	if err != nil {
		return nil, notFound(err)
	}
	l.OrgID, l.MemberID = org.Bytes, member.Bytes
	l.CreatedAt, l.ExpiresAt = utc(l.CreatedAt), utc(l.ExpiresAt)
	if l.UsedAt != nil {
		u := utc(*l.UsedAt)
		l.UsedAt = &u
	}
	return &l, nil
}

func (t *tx) UseSignInLink(ctx context.Context, id string, now time.Time) error {
	return t.execOne(ctx, "UPDATE console_links SET used_at = $1 WHERE id = $2 AND used_at IS NULL", now, id)
}

// lockNamespaceSignIn serializes the counts of one address's sign-in
// links, so that racing requests on several nodes mail no more than the
// limit.
const lockNamespaceSignIn = 0x696e7605

func (t *tx) CountSignInLinks(ctx context.Context, email string, since time.Time) (int, error) {
	h := fnv.New32a()
	h.Write([]byte(email))
	t.holdLock(lockNamespaceSignIn, int32(h.Sum32()))
	var n int
	err := t.queryRow(ctx, "SELECT count(*) FROM console_links WHERE email = $1 AND created_at > $2", email, since).Scan(&n)
	return n, mapErr(err)
}

func (t *tx) DeleteSignInLinksBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := t.exec(ctx, `DELETE FROM console_links WHERE ctid = ANY(ARRAY(
		SELECT ctid FROM console_links WHERE expires_at < $1 LIMIT $2::bigint))`, before, limit)
	return int(n), err
}
