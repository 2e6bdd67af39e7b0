package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/invite"
)

// membershipsQuery is the statement GetMembershipsByEmail runs.
func membershipsQuery(email string) (string, []any) {
	return "SELECT " + memberCols + " FROM members WHERE email = ?", []any{email}
}

func (t *tx) GetMembershipsByEmail(ctx context.Context, email string) ([]*invite.Member, error) {
	q, args := membershipsQuery(email)
	return queryAll(ctx, t, scanMember, q, args...)
}

const sessionCols = "id_hash, kind, key_id, admin_hash, org_id, member_id, created_at, last_seen_at"

func (t *tx) CreateSession(ctx context.Context, s *invite.Session) error {
	var key, org, member any
	if s.KeyID != "" {
		key = s.KeyID
	}
	if s.OrgID != nil {
		org = *s.OrgID
	}
	if s.MemberID != nil {
		member = s.MemberID.String()
	}
	_, err := t.exec(ctx, "INSERT INTO console_sessions ("+sessionCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		s.IDHash, string(s.Kind), key, s.AdminHash, org, member, micros(s.CreatedAt), micros(s.LastSeenAt))
	return err
}

func (t *tx) GetSession(ctx context.Context, idHash []byte) (*invite.Session, error) {
	var s invite.Session
	var kind string
	var key, member sql.NullString
	var org sql.Null[invite.OrgID]
	var created, seen int64
	err := t.queryRow(ctx, "SELECT "+sessionCols+" FROM console_sessions WHERE id_hash = ?", idHash).
		Scan(&s.IDHash, &kind, &key, &s.AdminHash, &org, &member, &created, &seen)
	if err != nil {
		return nil, notFound(err)
	}
	s.Kind, s.KeyID = invite.SessionKind(kind), key.String
	if org.Valid {
		s.OrgID = &org.V
	}
	if member.Valid {
		id, err := uuid.Parse(member.String)
		if err != nil {
			return nil, err
		}
		s.MemberID = &id
	}
	s.CreatedAt, s.LastSeenAt = fromMicros(created), fromMicros(seen)
	return &s, nil
}

func (t *tx) TouchSession(ctx context.Context, idHash []byte, now time.Time) error {
	return t.execOne(ctx, "UPDATE console_sessions SET last_seen_at = ? WHERE id_hash = ?", micros(now), idHash)
}

func (t *tx) DeleteSession(ctx context.Context, idHash []byte) error {
	return t.execOne(ctx, "DELETE FROM console_sessions WHERE id_hash = ?", idHash)
}

func (t *tx) DeleteSessionsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	return t.deleteCount(ctx, "DELETE FROM console_sessions WHERE rowid IN (SELECT rowid FROM console_sessions WHERE last_seen_at < ?"+
		limitSQL(limit, 0)+")", micros(before))
}

const linkCols = "id, org_id, member_id, email, created_at, expires_at, used_at"

func (t *tx) CreateSignInLink(ctx context.Context, l *invite.SignInLink) error {
	_, err := t.exec(ctx, "INSERT INTO console_links ("+linkCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		l.ID, l.OrgID, l.MemberID.String(), l.Email, micros(l.CreatedAt), micros(l.ExpiresAt), microsPtr(l.UsedAt))
	return err
}

func (t *tx) GetSignInLink(ctx context.Context, id string) (*invite.SignInLink, error) {
	var l invite.SignInLink
	var member string
	var created, expires int64
	var used sql.NullInt64
	err := t.queryRow(ctx, "SELECT "+linkCols+" FROM console_links WHERE id = ?", id).
		Scan(&l.ID, &l.OrgID, &member, &l.Email, &created, &expires, &used)
	if err != nil {
		return nil, notFound(err)
	}
	if l.MemberID, err = uuid.Parse(member); err != nil {
		return nil, err
	}
	l.CreatedAt, l.ExpiresAt, l.UsedAt = fromMicros(created), fromMicros(expires), fromMicrosPtr(used)
	return &l, nil
}

func (t *tx) UseSignInLink(ctx context.Context, id string, now time.Time) error {
	return t.execOne(ctx, "UPDATE console_links SET used_at = ? WHERE id = ? AND used_at IS NULL", micros(now), id)
}

func (t *tx) CountSignInLinks(ctx context.Context, email string, since time.Time) (int, error) {
	var n int
	err := t.queryRow(ctx, "SELECT count(*) FROM console_links WHERE email = ? AND created_at > ?", email, micros(since)).Scan(&n)
	return n, err
}

func (t *tx) DeleteSignInLinksBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	return t.deleteCount(ctx, "DELETE FROM console_links WHERE rowid IN (SELECT rowid FROM console_links WHERE expires_at < ?"+
		limitSQL(limit, 0)+")", micros(before))
}

// deleteCount runs a DELETE and says how many rows it removed.
func (t *tx) deleteCount(ctx context.Context, q string, args ...any) (int, error) {
	r, err := t.exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	n, err := r.RowsAffected()
	return int(n), err
}
