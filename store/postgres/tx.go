package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/invitd/invitd/invite"
)

// tx is one transaction on a connection of its own. Its BEGIN is not sent
// alone, nor are writes whose answer nobody waits for: they go in one round
// trip with the statement that follows them, or with COMMIT.
type tx struct {
	conn  *pgx.Conn
	begin string // the BEGIN statement while it is still to be sent
	ahead []ahead
	write bool
}

// ahead is a statement to send with the next one; read takes its answer.
type ahead struct {
	q    string
	args []any
	read func(pgx.BatchResults) error
}

// held tells whether statements wait to be sent with the next one.
func (t *tx) held() bool { return t.begin != "" || len(t.ahead) > 0 }

// batch sends what is held and then qs, all in one round trip, and reads
// the answers to what was held; the caller reads qs' answers from the
// results and closes them.
func (t *tx) batch(ctx context.Context, qs ...ahead) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	if t.begin != "" {
		b.Queue(t.begin)
	}
	for _, a := range t.ahead {
		b.Queue(a.q, a.args...)
	}
	for _, a := range qs {
		b.Queue(a.q, a.args...)
	}
	br := t.conn.SendBatch(ctx, b)
	begin, held := t.begin, t.ahead
	t.begin, t.ahead = "", nil
	if begin != "" {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, err
		}
	}
	for _, a := range held {
		if err := a.read(br); err != nil {
			br.Close()
			return nil, err
		}
	}
	return br, nil
}

func (t *tx) rawExec(ctx context.Context, q string, args ...any) (pgconn.CommandTag, error) {
	if !t.held() {
		return t.conn.Exec(ctx, q, args...)
	}
	br, err := t.batch(ctx, ahead{q: q, args: args})
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// batchRow is the one row of a statement sent with BEGIN.
type batchRow struct {
	br  pgx.BatchResults
	err error
}

func (r batchRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	err := r.br.QueryRow().Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

func (t *tx) queryRow(ctx context.Context, q string, args ...any) pgx.Row {
	if !t.held() {
		return t.conn.QueryRow(ctx, q, args...)
	}
	br, err := t.batch(ctx, ahead{q: q, args: args})
	return batchRow{br: br, err: err}
}

// query runs q; done must be called after the rows are closed.
func (t *tx) query(ctx context.Context, q string, args ...any) (rows pgx.Rows, done func() error, err error) {
	if !t.held() {
		rows, err := t.conn.Query(ctx, q, args...)
		return rows, func() error { return nil }, err
	}
	br, err := t.batch(ctx, ahead{q: q, args: args})
	if err != nil {
		return nil, nil, err
	}
	rows, err = br.Query()
	if err != nil {
		br.Close()
		return nil, nil, err
	}
	return rows, br.Close, nil
}

// Counts read no row that FOR UPDATE could lock, so a Write transaction that
// counts holds a transaction-scoped advisory lock on what it counts: the
// check of a count and the write that follows it hold against every other
// Write that counts the same thing. The two-key form keeps these locks apart
// from goose's single-key migration lock.
const (
	lockNamespaceOrgInvitations = 0x696e7601 // counts of an org's invitations
	lockNamespaceKeys           = 0x696e7602 // counts of API keys
)

func (t *tx) lockCount(ctx context.Context, namespace int32, key int32) error {
	if !t.write {
		return nil
	}
	_, err := t.rawExec(ctx, "SELECT pg_advisory_xact_lock($1::int4, $2::int4)", namespace, key)
	return mapErr(err)
}

func orgLockKey(id invite.OrgID) int32 {
	h := fnv.New32a()
	h.Write(id[:])
	return int32(h.Sum32())
}

type scanner interface{ Scan(...any) error }

func (t *tx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := t.rawExec(ctx, q, args...)
	if err != nil {
		return 0, mapErr(err)
	}
	return tag.RowsAffected(), nil
}

// execOne runs a statement that must touch exactly one row.
func (t *tx) execOne(ctx context.Context, q string, args ...any) error {
	n, err := t.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return invite.ErrNotFound
	}
	return nil
}

func queryAll[T any](ctx context.Context, t *tx, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, done, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			rows.Close()
			done()
			return nil, err
		}
		out = append(out, v)
	}
	rows.Close()
	err = rows.Err()
	if derr := done(); err == nil {
		err = derr
	}
	return out, mapErr(err)
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return invite.ErrNotFound
	}
	return mapErr(err)
}

// utc gives times read back one location, as the core makes them.
func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// orgUUID passes an org id as the uuid it is stored as.
func orgUUID(id invite.OrgID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: true} }

func idUUID(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: true} }

// ---- organizations

const orgCols = "id, name, settings, created_at, updated_at"

func scanOrg(row scanner) (*invite.Organization, error) {
	var o invite.Organization
	var id pgtype.UUID
	var settings []byte
	if err := row.Scan(&id, &o.Name, &settings, &o.CreatedAt, &o.UpdatedAt); err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal(settings, &o.Settings); err != nil {
		return nil, err
	}
	o.ID = id.Bytes
	o.CreatedAt, o.UpdatedAt = utc(o.CreatedAt), utc(o.UpdatedAt)
	return &o, nil
}

func (t *tx) CreateOrg(ctx context.Context, o *invite.Organization) error {
	_, err := t.exec(ctx, "INSERT INTO organizations ("+orgCols+") VALUES ($1, $2, $3, $4, $5)",
		orgUUID(o.ID), o.Name, jsonText(o.Settings), o.CreatedAt, o.UpdatedAt)
	return err
}

func (t *tx) GetOrg(ctx context.Context, id invite.OrgID) (*invite.Organization, error) {
	return scanOrg(t.queryRow(ctx, "SELECT "+orgCols+" FROM organizations WHERE id = $1", orgUUID(id)))
}

// orgListQuery is the statement ListOrgs runs.
func orgListQuery(after *invite.OrgID, limit int) (string, []any) {
	if after != nil {
		return "SELECT " + orgCols + " FROM organizations WHERE id > $1 ORDER BY id LIMIT $2", []any{orgUUID(*after), limit}
	}
	return "SELECT " + orgCols + " FROM organizations ORDER BY id LIMIT $1", []any{limit}
}

func (t *tx) ListOrgs(ctx context.Context, after *invite.OrgID, limit int) ([]*invite.Organization, error) {
	q, args := orgListQuery(after, limit)
	return queryAll(ctx, t, scanOrg, q, args...)
}

func (t *tx) UpdateOrg(ctx context.Context, o *invite.Organization) error {
	return t.execOne(ctx, "UPDATE organizations SET name = $1, settings = $2, updated_at = $3 WHERE id = $4",
		o.Name, jsonText(o.Settings), o.UpdatedAt, orgUUID(o.ID))
}

func (t *tx) DeleteOrg(ctx context.Context, id invite.OrgID) error {
	if _, err := t.exec(ctx, "DELETE FROM outbox WHERE org_id = $1", orgUUID(id)); err != nil {
		return err
	}
	return t.execOne(ctx, "DELETE FROM organizations WHERE id = $1", orgUUID(id))
}

// ---- API keys

const keyCols = "id, org_id, name, secret_hash, created_at, scopes, expires_at, last_used_at"

func scanKey(row scanner) (*invite.APIKey, error) {
	var k invite.APIKey
	var org pgtype.UUID
	if err := row.Scan(&k.ID, &org, &k.Name, &k.SecretHash, &k.CreatedAt, &k.Scopes, &k.ExpiresAt, &k.LastUsedAt); err != nil {
		return nil, notFound(err)
	}
	k.ExpiresAt, k.LastUsedAt = utcPtr(k.ExpiresAt), utcPtr(k.LastUsedAt)
	if org.Valid {
		id := invite.OrgID(org.Bytes)
		k.OrgID = &id
	}
	k.CreatedAt = utc(k.CreatedAt)
	return &k, nil
}

func orgArg(org *invite.OrgID) pgtype.UUID {
	if org == nil {
		return pgtype.UUID{}
	}
	return orgUUID(*org)
}

func (t *tx) CreateKey(ctx context.Context, k *invite.APIKey) error {
	_, err := t.exec(ctx, "INSERT INTO api_keys ("+keyCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		k.ID, orgArg(k.OrgID), k.Name, k.SecretHash, k.CreatedAt, nonNil(k.Scopes), k.ExpiresAt, k.LastUsedAt)
	return err
}

func (t *tx) NoteKeyUse(ctx context.Context, id string, now, stale time.Time) error {
	_, err := t.exec(ctx, "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)",
		now, id, stale)
	return err
}

func (t *tx) GetKey(ctx context.Context, id string) (*invite.APIKey, error) {
	return scanKey(t.queryRow(ctx, "SELECT "+keyCols+" FROM api_keys WHERE id = $1", id))
}

// keyListQuery is the statement ListKeys runs.
func keyListQuery(org *invite.OrgID) (string, []any) {
	if org == nil {
		// org_id leads the order: PostgreSQL does not take IS NULL as fixing
		// the column, and would sort the keys rather than read api_keys_org
		// in order.
		return "SELECT " + keyCols + " FROM api_keys WHERE org_id IS NULL ORDER BY org_id, created_at, id", nil
	}
	return "SELECT " + keyCols + " FROM api_keys WHERE org_id = $1 ORDER BY created_at, id", []any{orgUUID(*org)}
}

func (t *tx) ListKeys(ctx context.Context, org *invite.OrgID) ([]*invite.APIKey, error) {
	q, args := keyListQuery(org)
	return queryAll(ctx, t, scanKey, q, args...)
}

func (t *tx) DeleteKey(ctx context.Context, id string) error {
	return t.execOne(ctx, "DELETE FROM api_keys WHERE id = $1", id)
}

func (t *tx) CountKeys(ctx context.Context) (int, error) {
	if err := t.lockCount(ctx, lockNamespaceKeys, 0); err != nil {
		return 0, err
	}
	var n int
	err := t.queryRow(ctx, "SELECT count(*) FROM api_keys").Scan(&n)
	return n, mapErr(err)
}

// ---- members

const memberCols = "id, org_id, email, name, role, permissions, created_at, updated_at, metadata, invitation_id"

func scanMember(row scanner) (*invite.Member, error) {
	var m invite.Member
	var id, org, invitation pgtype.UUID
	var metadata []byte
	if err := row.Scan(&id, &org, &m.Email, &m.Name, &m.Role, &m.Permissions, &m.CreatedAt, &m.UpdatedAt, &metadata, &invitation); err != nil {
		return nil, notFound(err)
	}
	m.ID, m.OrgID = id.Bytes, org.Bytes
	m.Metadata = json.RawMessage(metadata)
	if invitation.Valid {
		inv := uuid.UUID(invitation.Bytes)
		m.InvitationID = &inv
	}
	m.Permissions = nonNil(m.Permissions)
	m.CreatedAt, m.UpdatedAt = utc(m.CreatedAt), utc(m.UpdatedAt)
	return &m, nil
}

// CreateMember inserts m; a member with the same email is reported without
// aborting the transaction, as a failed statement does not in SQLite.
func (t *tx) CreateMember(ctx context.Context, m *invite.Member) error {
	var invitation pgtype.UUID
	if m.InvitationID != nil {
		invitation = idUUID(*m.InvitationID)
	}
	n, err := t.exec(ctx, "INSERT INTO members ("+memberCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (org_id, email) DO NOTHING",
		idUUID(m.ID), orgUUID(m.OrgID), m.Email, m.Name, m.Role, nonNil(m.Permissions), m.CreatedAt, m.UpdatedAt,
		metadataText(m.Metadata), invitation)
	if err == nil && n == 0 {
		return invite.ErrDuplicateMember
	}
	return err
}

func (t *tx) GetMember(ctx context.Context, org invite.OrgID, id uuid.UUID) (*invite.Member, error) {
	return scanMember(t.queryRow(ctx, "SELECT "+memberCols+" FROM members WHERE org_id = $1 AND id = $2", orgUUID(org), idUUID(id)))
}

func (t *tx) GetMemberByEmail(ctx context.Context, org invite.OrgID, email string) (*invite.Member, error) {
	return scanMember(t.queryRow(ctx, "SELECT "+memberCols+" FROM members WHERE org_id = $1 AND email = $2", orgUUID(org), email))
}

func (t *tx) GetMembersByEmail(ctx context.Context, org invite.OrgID, emails []string) ([]*invite.Member, error) {
	return queryAll(ctx, t, scanMember, "SELECT "+memberCols+" FROM members WHERE org_id = $1 AND email = ANY($2)", orgUUID(org), emails)
}

// memberListQuery is the statement ListMembers runs for f.
func memberListQuery(f invite.MemberFilter) (string, []any) {
	var w where
	w.add("org_id = ?", orgUUID(f.Org))
	if f.Email != "" {
		w.add("email = ?", f.Email)
	}
	if f.Role != "" {
		w.add("role = ?", f.Role)
	}
	if f.After != nil {
		w.add("(created_at, id) > (?, ?)", f.After.Time, idUUID(f.After.ID))
	}
	q := "SELECT " + memberCols + " FROM members WHERE " + w.sql() + " ORDER BY created_at, id" + w.page(f.Limit, f.Offset)
	return q, w.args
}

func (t *tx) ListMembers(ctx context.Context, f invite.MemberFilter) ([]*invite.Member, error) {
	q, args := memberListQuery(f)
	return queryAll(ctx, t, scanMember, q, args...)
}

func (t *tx) UpdateMember(ctx context.Context, m *invite.Member) error {
	return t.execOne(ctx, "UPDATE members SET name = $1, role = $2, permissions = $3, updated_at = $4, metadata = $7 WHERE org_id = $5 AND id = $6",
		m.Name, m.Role, nonNil(m.Permissions), m.UpdatedAt, orgUUID(m.OrgID), idUUID(m.ID), metadataText(m.Metadata))
}

func (t *tx) DeleteMember(ctx context.Context, org invite.OrgID, id uuid.UUID) error {
	return t.execOne(ctx, "DELETE FROM members WHERE org_id = $1 AND id = $2", orgUUID(org), idUUID(id))
}

// where collects AND-ed conditions written with ? placeholders, numbered
// $1, $2, ... as they are added.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	var b strings.Builder
	for _, r := range cond {
		if r == '?' {
			w.args = append(w.args, args[0])
			args = args[1:]
			b.WriteString("$" + strconv.Itoa(len(w.args)))
			continue
		}
		b.WriteRune(r)
	}
	w.conds = append(w.conds, b.String())
}

// or adds one condition that holds when any of conds holds.
func (w *where) or(conds []string, args [][]any) {
	var sub where
	sub.args = w.args
	for i, c := range conds {
		sub.add(c, args[i]...)
	}
	w.args = sub.args
	w.conds = append(w.conds, "("+strings.Join(sub.conds, " OR ")+")")
}

func (w *where) sql() string { return strings.Join(w.conds, " AND ") }

// page renders LIMIT and OFFSET as parameters, as SQLite reads them: a
// negative limit means no limit, a negative offset none.
func (w *where) page(limit, offset int) string {
	var lim any
	if limit >= 0 {
		lim = limit
	}
	w.args = append(w.args, lim, max(offset, 0))
	n := len(w.args)
	return " LIMIT $" + strconv.Itoa(n-1) + "::bigint OFFSET $" + strconv.Itoa(n) + "::bigint"
}

// ---- invitations

const invCols = "number, id, org_id, email, role, permissions, inviter_id, inviter_name, state, created_at, updated_at, expires_at, finished_at, error, metadata, locale, send_count, last_sent_at, token_hash, mail_state, mail_attempts, mail_error, mail_next_at, mail_sent_at, redirect_url, reminded_at"

func scanInv(row scanner) (*invite.Invitation, error) {
	var inv invite.Invitation
	var id, org pgtype.UUID
	var state, mail string
	var metadata []byte
	m := &inv.Mail
	err := row.Scan(&inv.Number, &id, &org, &inv.Email, &inv.Role, &inv.Permissions, &inv.Inviter.ID, &inv.Inviter.Name,
		&state, &inv.CreatedAt, &inv.UpdatedAt, &inv.ExpiresAt, &inv.FinishedAt, &inv.Error, &metadata, &inv.Locale,
		&inv.SendCount, &inv.LastSentAt, &inv.TokenHash, &mail, &m.Attempts, &m.LastError, &m.NextAttemptAt, &m.SentAt,
		&inv.RedirectURL, &inv.RemindedAt)
	if err != nil {
		return nil, notFound(err)
	}
	inv.ID, inv.OrgID = id.Bytes, org.Bytes
	inv.Permissions = nonNil(inv.Permissions)
	inv.State = invite.State(state)
	inv.Metadata = json.RawMessage(metadata)
	inv.CreatedAt, inv.UpdatedAt, inv.ExpiresAt = utc(inv.CreatedAt), utc(inv.UpdatedAt), utc(inv.ExpiresAt)
	inv.FinishedAt, inv.LastSentAt, inv.RemindedAt = utcPtr(inv.FinishedAt), utcPtr(inv.LastSentAt), utcPtr(inv.RemindedAt)
	m.State = invite.MailState(mail)
	m.NextAttemptAt, m.SentAt = utcPtr(m.NextAttemptAt), utcPtr(m.SentAt)
	return &inv, nil
}

func metadataText(m json.RawMessage) string {
	if len(m) == 0 {
		return "{}"
	}
	return string(m)
}

// mailState is how an invitation's mail state is stored; the column's
// default stands for none.
func mailState(s invite.MailState) string {
	if s == "" {
		return string(invite.MailNone)
	}
	return string(s)
}

// CreateInvitation inserts inv. A second pending invitation for the same
// (org, email) is reported without aborting the transaction. A pending
// invitation for someone who is a member by the time it is inserted is
// ErrDuplicateMember, and is not inserted.
//
// The member check after the insert is a statement of its own, with a
// snapshot of its own, so it sees a member committed while the insert waited
// on the pending index (the accept of the invitation this one replaces),
// which the insert's own check cannot. Both go in one round trip.
func (t *tx) CreateInvitation(ctx context.Context, inv *invite.Invitation) error {
	br, err := t.batch(ctx, ahead{q: `INSERT INTO invitations (id, org_id, email, role, permissions, inviter_id, inviter_name, state,
		created_at, updated_at, expires_at, finished_at, error, metadata, locale, send_count, last_sent_at, token_hash,
		mail_state, mail_attempts, mail_error, mail_next_at, mail_sent_at, redirect_url, reminded_at)
		SELECT $1::uuid, $2::uuid, $3::text, $4::text, $5::text[], $6::text, $7::text, $8::text, $9::timestamptz, $10::timestamptz,
			$11::timestamptz, $12::timestamptz, $13::text, $14::json, $15::text, $16::integer, $17::timestamptz, $18::bytea,
			$19::text, $20::integer, $21::text, $22::timestamptz, $23::timestamptz, $24::text, $25::timestamptz
		WHERE $8::text <> 'pending' OR NOT EXISTS (SELECT 1 FROM members WHERE org_id = $2::uuid AND email = $3::text)
		ON CONFLICT (org_id, email) WHERE state = 'pending' DO NOTHING RETURNING number`,
		args: []any{idUUID(inv.ID), orgUUID(inv.OrgID), inv.Email, inv.Role, nonNil(inv.Permissions), inv.Inviter.ID, inv.Inviter.Name,
			string(inv.State), inv.CreatedAt, inv.UpdatedAt, inv.ExpiresAt, inv.FinishedAt, inv.Error, metadataText(inv.Metadata),
			inv.Locale, inv.SendCount, inv.LastSentAt, nonNil(inv.TokenHash),
			mailState(inv.Mail.State), inv.Mail.Attempts, inv.Mail.LastError, inv.Mail.NextAttemptAt, inv.Mail.SentAt,
			inv.RedirectURL, inv.RemindedAt}},
		ahead{q: "SELECT $1::text = 'pending' AND EXISTS (SELECT 1 FROM members WHERE org_id = $2 AND email = $3)",
			args: []any{string(inv.State), orgUUID(inv.OrgID), inv.Email}})
	if err != nil {
		return mapErr(err)
	}
	defer br.Close()
	inserted := true
	if err := br.QueryRow().Scan(&inv.Number); errors.Is(err, pgx.ErrNoRows) {
		inserted = false
	} else if err != nil {
		return mapErr(err)
	}
	var member bool
	if err := br.QueryRow().Scan(&member); err != nil {
		return mapErr(err)
	}
	if err := br.Close(); err != nil {
		return mapErr(err)
	}
	switch {
	case member && inserted:
		if _, err := t.rawExec(ctx, "DELETE FROM invitations WHERE number = $1", inv.Number); err != nil {
			return mapErr(err)
		}
		return invite.ErrDuplicateMember
	case member:
		return invite.ErrDuplicateMember
	case !inserted:
		return invite.ErrDuplicatePending
	}
	return nil
}

func (t *tx) getInv(ctx context.Context, forUpdate bool, cond string, args ...any) (*invite.Invitation, error) {
	q := "SELECT " + invCols + " FROM invitations WHERE " + cond
	if forUpdate {
		q += " FOR UPDATE"
	}
	return scanInv(t.queryRow(ctx, q, args...))
}

func (t *tx) GetInvitation(ctx context.Context, org invite.OrgID, id uuid.UUID, forUpdate bool) (*invite.Invitation, error) {
	return t.getInv(ctx, forUpdate, "org_id = $1 AND id = $2", orgUUID(org), idUUID(id))
}

func (t *tx) GetInvitationByID(ctx context.Context, id uuid.UUID, forUpdate bool) (*invite.Invitation, error) {
	return t.getInv(ctx, forUpdate, "id = $1", idUUID(id))
}

func (t *tx) GetInvitationByNumber(ctx context.Context, org invite.OrgID, number int64, forUpdate bool) (*invite.Invitation, error) {
	return t.getInv(ctx, forUpdate, "org_id = $1 AND number = $2", orgUUID(org), number)
}

func (t *tx) GetInvitationByLegacyToken(ctx context.Context, hash []byte, forUpdate bool) (*invite.Invitation, error) {
	return t.getInv(ctx, forUpdate, "id = (SELECT invitation_id FROM legacy_tokens WHERE token_hash = $1) AND token_hash = $1", hash)
}

func (t *tx) GetPendingInvitation(ctx context.Context, org invite.OrgID, email string, forUpdate bool) (*invite.Invitation, error) {
	return t.getInv(ctx, forUpdate, "org_id = $1 AND email = $2 AND state = 'pending'", orgUUID(org), email)
}

func (t *tx) GetPendingInvitations(ctx context.Context, org invite.OrgID, emails []string, forUpdate bool) ([]*invite.Invitation, error) {
	// In address order, so that two writes locking some of the same rows
	// wait on each other rather than deadlock.
	q := "SELECT " + invCols + " FROM invitations WHERE org_id = $1 AND email = ANY($2) AND state = 'pending' ORDER BY email"
	if forUpdate {
		q += " FOR UPDATE"
	}
	return queryAll(ctx, t, scanInv, q, orgUUID(org), emails)
}

// UpdateInvitation stores inv. Like CreateInvitation, it does not make an
// invitation pending for someone who is a member by then: ErrDuplicateMember.
func (t *tx) UpdateInvitation(ctx context.Context, inv *invite.Invitation) error {
	n, err := t.exec(ctx, `UPDATE invitations SET role = $1, permissions = $2, state = $3, updated_at = $4, expires_at = $5,
		finished_at = $6, error = $7, metadata = $8, locale = $9, send_count = $10, last_sent_at = $11, token_hash = $12,
		mail_state = $15, mail_attempts = $16, mail_error = $17, mail_next_at = $18, mail_sent_at = $19,
		redirect_url = $20, reminded_at = $21
		WHERE org_id = $13 AND id = $14
		AND ($3::text <> 'pending' OR NOT EXISTS (SELECT 1 FROM members m WHERE m.org_id = $13 AND m.email = invitations.email))`,
		inv.Role, nonNil(inv.Permissions), string(inv.State), inv.UpdatedAt, inv.ExpiresAt,
		inv.FinishedAt, inv.Error, metadataText(inv.Metadata), inv.Locale, inv.SendCount, inv.LastSentAt,
		nonNil(inv.TokenHash), orgUUID(inv.OrgID), idUUID(inv.ID),
		mailState(inv.Mail.State), inv.Mail.Attempts, inv.Mail.LastError, inv.Mail.NextAttemptAt, inv.Mail.SentAt,
		inv.RedirectURL, inv.RemindedAt)
	if err != nil || n == 1 {
		return err
	}
	if inv.State != invite.StatePending {
		return invite.ErrNotFound
	}
	var exists, member bool
	err = t.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM invitations WHERE org_id = $1 AND id = $2),
		EXISTS (SELECT 1 FROM members WHERE org_id = $1 AND email = (SELECT email FROM invitations WHERE org_id = $1 AND id = $2))`,
		orgUUID(inv.OrgID), idUUID(inv.ID)).Scan(&exists, &member)
	switch {
	case err != nil:
		return mapErr(err)
	case exists && member:
		return invite.ErrDuplicateMember
	}
	return invite.ErrNotFound
}

// invWhere renders a filter's conditions; states match as observed at f.Now.
func invWhere(f invite.InvitationFilter) *where {
	var w where
	if f.Org != (invite.OrgID{}) { // else every organization's invitations of f.Email
		w.add("org_id = ?", orgUUID(f.Org))
	}
	if f.Email != "" {
		w.add("email = ?", f.Email)
	}
	if f.Role != "" {
		w.add("role = ?", f.Role)
	}
	if len(f.States) > 0 {
		var conds []string
		var args [][]any
		for _, s := range f.States {
			switch s {
			case invite.StatePending:
				conds = append(conds, "(state = 'pending' AND expires_at > ?)")
				args = append(args, []any{f.Now})
			case invite.StateExpired:
				conds = append(conds, "state = 'expired' OR (state = 'pending' AND expires_at <= ?)")
				args = append(args, []any{f.Now})
			default:
				conds = append(conds, "state = ?")
				args = append(args, []any{string(s)})
			}
		}
		w.or(conds, args)
	}
	return &w
}

// listQuery is the statement ListInvitations runs for f.
func listQuery(f invite.InvitationFilter) (string, []any) {
	w := invWhere(f)
	col := "created_at"
	if f.Sort == invite.SortUpdatedAt {
		col = "updated_at"
	}
	// Before walks the order backwards from the position, then flips the page.
	desc := f.Desc != (f.Before != nil)
	pos, op, dir := f.After, ">", "ASC"
	if f.Before != nil {
		pos = f.Before
	}
	if desc {
		op, dir = "<", "DESC"
	}
	if pos != nil {
		w.add("("+col+", number) "+op+" (?, ?)", pos.Time, pos.Number)
	}
	q := "SELECT " + invCols + " FROM invitations WHERE " + w.sql() +
		" ORDER BY " + col + " " + dir + ", number " + dir + w.page(f.Limit, f.Offset)
	return q, w.args
}

func (t *tx) ListInvitations(ctx context.Context, f invite.InvitationFilter) ([]*invite.Invitation, error) {
	q, args := listQuery(f)
	out, err := queryAll(ctx, t, scanInv, q, args...)
	if f.Before != nil {
		slices.Reverse(out)
	}
	return out, err
}

func (t *tx) CountInvitations(ctx context.Context, f invite.InvitationFilter) (int, error) {
	if err := t.lockCount(ctx, lockNamespaceOrgInvitations, orgLockKey(f.Org)); err != nil {
		return 0, err
	}
	w := invWhere(f)
	var n int
	err := t.queryRow(ctx, "SELECT count(*) FROM invitations WHERE "+w.sql(), w.args...).Scan(&n)
	return n, mapErr(err)
}

// dueRemindersQuery is the statement ListDueReminders runs. It walks the
// organizations that set reminder_after, and for each the range of
// invitations_reminder_due its reminder_after makes due, in the index's
// order; an organization without reminders costs no invitation read.
func dueRemindersQuery(now time.Time, after *invite.ReminderPosition, limit int) (string, []any) {
	args := []any{now, now.Add(invite.ReminderMargin), limit}
	inner, outer := "", ""
	if after != nil {
		args = append(args, orgUUID(after.Org), after.LastSentAt, after.Number)
		inner = " AND (o.id > $4 OR (i.last_sent_at, i.number) > ($5, $6))"
		outer = " AND o.id >= $4"
	}
	q := `SELECT d.* FROM organizations o CROSS JOIN LATERAL (
			SELECT ` + invCols + ` FROM invitations i
			WHERE i.org_id = o.id AND i.state = 'pending' AND i.reminded_at IS NULL
			AND i.last_sent_at <= $1::timestamptz - (o.settings->>'reminder_after')::bigint * interval '1 second'
			AND i.expires_at > $2::timestamptz AND i.mail_state = 'sent' AND octet_length(i.token_hash) = 0` + inner + `
			ORDER BY i.last_sent_at, i.number LIMIT $3::bigint) d
		WHERE (o.settings->>'reminder_after')::bigint > 0` + outer + `
		ORDER BY o.id, d.last_sent_at, d.number LIMIT $3::bigint`
	return q, args
}

func (t *tx) ListDueReminders(ctx context.Context, now time.Time, after *invite.ReminderPosition, limit int) ([]*invite.Invitation, error) {
	q, args := dueRemindersQuery(now, after, limit)
	return queryAll(ctx, t, scanInv, q, args...)
}

// ---- idempotency

func (t *tx) GetIdempotency(ctx context.Context, scope, key string) (*invite.IdempotencyRecord, error) {
	r := invite.IdempotencyRecord{Scope: scope, Key: key}
	var id pgtype.UUID
	var answer []byte
	err := t.queryRow(ctx, "SELECT request_hash, invitation_id, created_at, answer FROM idempotency_keys WHERE scope = $1 AND key = $2",
		scope, key).Scan(&r.RequestHash, &id, &r.CreatedAt, &answer)
	if err != nil {
		return nil, notFound(err)
	}
	r.Answer = answer
	r.InvitationID = id.Bytes
	r.CreatedAt = utc(r.CreatedAt)
	return &r, nil
}

// PutIdempotency stores r; a key stored already is reported without aborting
// the transaction.
func (t *tx) PutIdempotency(ctx context.Context, r *invite.IdempotencyRecord) error {
	n, err := t.exec(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, invitation_id, created_at, answer)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, key) DO NOTHING`,
		r.Scope, r.Key, r.RequestHash, idUUID(r.InvitationID), r.CreatedAt, []byte(r.Answer))
	if err == nil && n == 0 {
		return invite.ErrDuplicateIdempotencyKey
	}
	return err
}

func (t *tx) DeleteIdempotencyBefore(ctx context.Context, before time.Time) error {
	_, err := t.exec(ctx, "DELETE FROM idempotency_keys WHERE created_at < $1", before)
	return err
}

// ---- outbox

const jobCols = "id, kind, key, org_id, args, attempts, run_at, locked_by, locked_until, last_error, created_at"

func scanJob(row scanner) (*invite.Job, error) {
	var j invite.Job
	var key *string
	var org pgtype.UUID
	var args string
	if err := row.Scan(&j.ID, &j.Kind, &key, &org, &args, &j.Attempts, &j.RunAt, &j.LockedBy, &j.LockedUntil, &j.LastError, &j.CreatedAt); err != nil {
		return nil, notFound(err)
	}
	if key != nil {
		j.Key = *key
	}
	if org.Valid {
		id := invite.OrgID(org.Bytes)
		j.OrgID = &id
	}
	j.Args = json.RawMessage(args)
	j.RunAt, j.CreatedAt, j.LockedUntil = utc(j.RunAt), utc(j.CreatedAt), utcPtr(j.LockedUntil)
	return &j, nil
}

// jobArgs is a job's arguments as stored: JSON text, {} when there are none.
func jobArgs(a json.RawMessage) string {
	if len(a) == 0 {
		return "{}"
	}
	return string(a)
}

// EnqueueJob holds its insert, to be sent with the transaction's next
// statement or its COMMIT: the caller needs no answer from it. A job whose
// key is queued already moves that job's run_at to the earlier of the two
// and leaves j.ID 0: the row a conflict updates has an xmax, a new one none.
func (t *tx) EnqueueJob(ctx context.Context, j *invite.Job) error {
	var key *string
	if j.Key != "" {
		key = &j.Key
	}
	t.ahead = append(t.ahead, ahead{
		q: `INSERT INTO outbox (kind, key, org_id, args, run_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (key) WHERE key IS NOT NULL DO UPDATE SET run_at = LEAST(outbox.run_at, excluded.run_at)
			RETURNING CASE WHEN xmax = 0 THEN id ELSE 0 END`,
		args: []any{j.Kind, key, orgArg(j.OrgID), jobArgs(j.Args), j.RunAt, j.CreatedAt},
		read: func(br pgx.BatchResults) error { return mapErr(br.QueryRow().Scan(&j.ID)) },
	})
	return nil
}

// ClaimJobs leases due jobs. Rows another transaction is claiming are
// skipped, not waited for, so workers on several nodes never share a job.
func (t *tx) ClaimJobs(ctx context.Context, worker string, kinds []string, now, leaseUntil time.Time, limit int) ([]*invite.Job, error) {
	jobs, err := queryAll(ctx, t, scanJob, `WITH due AS (
			SELECT id FROM outbox WHERE kind = ANY($5) AND run_at <= $3 AND (locked_until IS NULL OR locked_until <= $3)
			ORDER BY run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
		UPDATE outbox o SET locked_by = $1, locked_until = $2, attempts = o.attempts + 1
		FROM due WHERE o.id = due.id
		RETURNING `+prefixed("o.", jobCols), worker, leaseUntil, now, limit, nonNil(kinds))
	slices.SortFunc(jobs, func(a, b *invite.Job) int {
		if c := a.RunAt.Compare(b.RunAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return jobs, err
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}

func (t *tx) RescheduleJob(ctx context.Context, id int64, worker string, runAt time.Time, attempts int, lastError string) error {
	return t.execOne(ctx, `UPDATE outbox SET run_at = $1, attempts = $2, locked_by = '', locked_until = NULL, last_error = $3
		WHERE id = $4 AND locked_by = $5`, runAt, attempts, lastError, id, worker)
}

func (t *tx) DeleteJob(ctx context.Context, id int64, worker string) error {
	return t.execOne(ctx, "DELETE FROM outbox WHERE id = $1 AND locked_by = $2", id, worker)
}

func (t *tx) JobStats(ctx context.Context, now time.Time) ([]invite.JobStat, error) {
	return queryAll(ctx, t, func(row scanner) (invite.JobStat, error) {
		var s invite.JobStat
		err := row.Scan(&s.Kind, &s.Due, &s.Scheduled, &s.OldestDue)
		s.OldestDue = utcPtr(s.OldestDue)
		return s, err
	}, `SELECT kind, count(*) FILTER (WHERE run_at <= $1), count(*) FILTER (WHERE run_at > $1),
		min(run_at) FILTER (WHERE run_at <= $1)
		FROM outbox GROUP BY kind ORDER BY kind`, now)
}
