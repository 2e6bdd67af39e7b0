package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"modernc.org/sqlite"

	"github.com/invitd/invitd/invite"
)

type tx struct {
	tx     *sql.Tx
	stmts  *stmtCache
	misses []string // queries to prepare once the transaction is over
	// bound holds the statements bound to this transaction, as a group's
	// transaction runs each many times.
	bound map[*sql.Stmt]*sql.Stmt
	// detached: statements ignore their context's cancellation (group commit).
	detached bool
	// orgs is the writer's organization cache; nil in read transactions.
	cache *writerCache
}

// writerCache keeps what the writer has read of organizations and their
// webhook endpoints, across its transactions: nearly every write reads its
// organization first, every write with events its endpoints, and both
// seldom change. What the writer changes itself is forgotten at once (a row
// written, or a write undone); what another connection commits (another
// process on the file) changes PRAGMA data_version, which each transaction
// checks before its first use.
type writerCache struct {
	orgs    map[invite.OrgID]*invite.Organization
	hooks   map[invite.OrgID][]*invite.Webhook
	version int64
	checked bool // in the current transaction
}

func newWriterCache() *writerCache {
	return &writerCache{orgs: map[invite.OrgID]*invite.Organization{}, hooks: map[invite.OrgID][]*invite.Webhook{}}
}

// begin marks the start of a writer transaction.
func (c *writerCache) begin() {
	if c != nil {
		c.checked = false
	}
}

// forget drops everything kept, after a kept row changed or a write's
// changes were undone.
func (c *writerCache) forget() {
	if c != nil {
		clear(c.orgs)
		clear(c.hooks)
	}
}

// check forgets what another connection may have changed since the last
// transaction; t is the writer's.
func (c *writerCache) check(ctx context.Context, t *tx) error {
	if c.checked {
		return nil
	}
	var v int64
	if err := t.queryRow(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		return err
	}
	if v != c.version {
		c.forget()
		c.version = v
	}
	c.checked = true
	return nil
}

func cloneOrg(o *invite.Organization) *invite.Organization {
	c := *o
	c.Settings.Roles = slices.Clone(o.Settings.Roles)
	c.Settings.Permissions = slices.Clone(o.Settings.Permissions)
	return &c
}

func (t *tx) context(ctx context.Context) context.Context {
	if t.detached {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// stmt returns q prepared on this transaction's connection, or nil the first
// time q is seen. Parsing SQL is a large part of a small transaction's cost in
// SQLite, so statements are prepared once per connection and reused.
func (t *tx) stmt(ctx context.Context, q string) *sql.Stmt {
	ctx = t.context(ctx)
	if s := t.stmts.lookup(q); s != nil {
		if b := t.bound[s]; b != nil {
			return b
		}
		b := t.tx.StmtContext(ctx, s)
		if t.bound == nil {
			t.bound = map[*sql.Stmt]*sql.Stmt{}
		}
		t.bound[s] = b
		return b
	}
	t.misses = append(t.misses, q)
	return nil
}

func (t *tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	ctx = t.context(ctx)
	if s := t.stmt(ctx, q); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

func (t *tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx = t.context(ctx)
	if s := t.stmt(ctx, q); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, q, args...)
}

func asSQLiteError(err error, target **sqlite.Error) bool { return errors.As(err, target) }

func (t *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx = t.context(ctx)
	var r sql.Result
	var err error
	if s := t.stmt(ctx, q); s != nil {
		r, err = s.ExecContext(ctx, args...)
	} else {
		r, err = t.tx.ExecContext(ctx, q, args...)
	}
	return r, mapErr(err)
}

// execOne runs a statement that must touch exactly one row.
func (t *tx) execOne(ctx context.Context, q string, args ...any) error {
	r, err := t.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return invite.ErrNotFound
	}
	return nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(n int64) time.Time { return time.UnixMicro(n).UTC() }

func microsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromMicrosPtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.Int64)
	return &t
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return invite.ErrNotFound
	}
	return err
}

// ---- organizations

const orgCols = "id, name, settings, created_at, updated_at"

func scanOrg(row interface{ Scan(...any) error }) (*invite.Organization, error) {
	var o invite.Organization
	var settings string
	var created, updated int64
	if err := row.Scan(&o.ID, &o.Name, &settings, &created, &updated); err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(settings), &o.Settings); err != nil {
		return nil, err
	}
	o.CreatedAt, o.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &o, nil
}

func (t *tx) CreateOrg(ctx context.Context, o *invite.Organization) error {
	_, err := t.exec(ctx, "INSERT INTO organizations ("+orgCols+") VALUES (?, ?, ?, ?, ?)",
		o.ID, o.Name, jsonText(o.Settings), micros(o.CreatedAt), micros(o.UpdatedAt))
	return err
}

func (t *tx) GetOrg(ctx context.Context, id invite.OrgID) (*invite.Organization, error) {
	read := func() (*invite.Organization, error) {
		return scanOrg(t.queryRow(ctx, "SELECT "+orgCols+" FROM organizations WHERE id = ?", id))
	}
	c := t.cache
	if c == nil {
		return read()
	}
	if err := c.check(ctx, t); err != nil {
		return nil, err
	}
	if o, ok := c.orgs[id]; ok {
		return cloneOrg(o), nil
	}
	o, err := read()
	if err == nil {
		c.orgs[id] = cloneOrg(o)
	}
	return o, err
}

// orgListQuery is the statement ListOrgs runs.
func orgListQuery(after *invite.OrgID, limit int) (string, []any) {
	q, args := "SELECT "+orgCols+" FROM organizations", []any{}
	if after != nil {
		q += " WHERE id > ?"
		args = append(args, *after)
	}
	return q + " ORDER BY id" + limitSQL(limit, 0), args
}

func (t *tx) ListOrgs(ctx context.Context, after *invite.OrgID, limit int) ([]*invite.Organization, error) {
	q, args := orgListQuery(after, limit)
	return queryAll(ctx, t, scanOrg, q, args...)
}

func (t *tx) UpdateOrg(ctx context.Context, o *invite.Organization) error {
	t.cache.forget()
	return t.execOne(ctx, "UPDATE organizations SET name = ?, settings = ?, updated_at = ? WHERE id = ?",
		o.Name, jsonText(o.Settings), micros(o.UpdatedAt), o.ID)
}

func (t *tx) DeleteOrg(ctx context.Context, id invite.OrgID) error {
	t.cache.forget()
	// Jobs have no foreign key to the org (some belong to none); the rest
	// (keys, members, invitations, events, webhooks) cascade.
	if _, err := t.exec(ctx, "DELETE FROM outbox WHERE org_id = ?", id); err != nil {
		return err
	}
	return t.execOne(ctx, "DELETE FROM organizations WHERE id = ?", id)
}

func queryAll[T any](ctx context.Context, t *tx, scan func(interface{ Scan(...any) error }) (T, error), q string, args ...any) ([]T, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ---- API keys

const keyCols = "id, org_id, name, secret_hash, created_at, scopes, expires_at, last_used_at"

func scanKey(row interface{ Scan(...any) error }) (*invite.APIKey, error) {
	var k invite.APIKey
	var org sql.NullString
	var created int64
	var scopes string
	var expires, used sql.NullInt64
	if err := row.Scan(&k.ID, &org, &k.Name, &k.SecretHash, &created, &scopes, &expires, &used); err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return nil, fmt.Errorf("sqlite: key %s: scopes: %w", k.ID, err)
	}
	k.ExpiresAt, k.LastUsedAt = fromMicrosPtr(expires), fromMicrosPtr(used)
	if org.Valid {
		var id invite.OrgID
		if err := id.Scan(org.String); err != nil {
			return nil, err
		}
		k.OrgID = &id
	}
	k.CreatedAt = fromMicros(created)
	return &k, nil
}

func orgArg(org *invite.OrgID) any {
	if org == nil {
		return nil
	}
	return *org
}

func (t *tx) CreateKey(ctx context.Context, k *invite.APIKey) error {
	_, err := t.exec(ctx, "INSERT INTO api_keys ("+keyCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		k.ID, orgArg(k.OrgID), k.Name, k.SecretHash, micros(k.CreatedAt), jsonText(nonNil(k.Scopes)),
		microsPtr(k.ExpiresAt), microsPtr(k.LastUsedAt))
	return err
}

func (t *tx) NoteKeyUse(ctx context.Context, id string, now, stale time.Time) error {
	_, err := t.exec(ctx, "UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)",
		micros(now), id, micros(stale))
	return err
}

func (t *tx) GetKey(ctx context.Context, id string) (*invite.APIKey, error) {
	return scanKey(t.queryRow(ctx, "SELECT "+keyCols+" FROM api_keys WHERE id = ?", id))
}

// keyListQuery is the statement ListKeys runs.
func keyListQuery(org *invite.OrgID) (string, []any) {
	if org == nil {
		// org_id leads the order as in the PostgreSQL store, which does not
		// take IS NULL as fixing the column; here it changes nothing.
		return "SELECT " + keyCols + " FROM api_keys WHERE org_id IS NULL ORDER BY org_id, created_at, id", nil
	}
	return "SELECT " + keyCols + " FROM api_keys WHERE org_id = ? ORDER BY created_at, id", []any{*org}
}

func (t *tx) ListKeys(ctx context.Context, org *invite.OrgID) ([]*invite.APIKey, error) {
	q, args := keyListQuery(org)
	return queryAll(ctx, t, scanKey, q, args...)
}

func (t *tx) DeleteKey(ctx context.Context, id string) error {
	return t.execOne(ctx, "DELETE FROM api_keys WHERE id = ?", id)
}

func (t *tx) CountKeys(ctx context.Context) (int, error) {
	var n int
	err := t.queryRow(ctx, "SELECT count(*) FROM api_keys").Scan(&n)
	return n, err
}

// ---- members

const memberCols = "id, org_id, email, name, role, permissions, created_at, updated_at, metadata, invitation_id"

func scanMember(row interface{ Scan(...any) error }) (*invite.Member, error) {
	var m invite.Member
	var perms, metadata string
	var created, updated int64
	var invitation sql.NullString
	if err := row.Scan(&m.ID, &m.OrgID, &m.Email, &m.Name, &m.Role, &perms, &created, &updated, &metadata, &invitation); err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(perms), &m.Permissions); err != nil {
		return nil, err
	}
	m.CreatedAt, m.UpdatedAt = fromMicros(created), fromMicros(updated)
	m.Metadata = json.RawMessage(metadata)
	if invitation.Valid {
		id, err := uuid.Parse(invitation.String)
		if err != nil {
			return nil, err
		}
		m.InvitationID = &id
	}
	return &m, nil
}

func (t *tx) CreateMember(ctx context.Context, m *invite.Member) error {
	_, err := t.exec(ctx, "INSERT INTO members ("+memberCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		m.ID.String(), m.OrgID, m.Email, m.Name, m.Role, jsonText(nonNil(m.Permissions)), micros(m.CreatedAt), micros(m.UpdatedAt),
		metadataText(m.Metadata), uuidText(m.InvitationID))
	return err
}

func (t *tx) GetMember(ctx context.Context, org invite.OrgID, id uuid.UUID) (*invite.Member, error) {
	return scanMember(t.queryRow(ctx, "SELECT "+memberCols+" FROM members WHERE org_id = ? AND id = ?", org, id.String()))
}

func (t *tx) GetMemberByEmail(ctx context.Context, org invite.OrgID, email string) (*invite.Member, error) {
	return scanMember(t.queryRow(ctx, "SELECT "+memberCols+" FROM members WHERE org_id = ? AND email = ?", org, email))
}

func (t *tx) GetMembersByEmail(ctx context.Context, org invite.OrgID, emails []string) ([]*invite.Member, error) {
	return queryAll(ctx, t, scanMember, "SELECT "+memberCols+" FROM members WHERE org_id = ? AND email IN (SELECT value FROM json_each(?))",
		org, jsonText(emails))
}

// memberListQuery is the statement ListMembers runs for f.
func memberListQuery(f invite.MemberFilter) (string, []any) {
	var w where
	w.add("org_id = ?", f.Org)
	if f.Email != "" {
		w.add("email = ?", f.Email)
	}
	if f.Role != "" {
		w.add("role = ?", f.Role)
	}
	if f.After != nil {
		w.add("(created_at, id) > (?, ?)", micros(f.After.Time), f.After.ID.String())
	}
	q := "SELECT " + memberCols + " FROM members WHERE " + w.sql() + " ORDER BY created_at, id" + limitSQL(f.Limit, f.Offset)
	return q, w.args
}

func (t *tx) ListMembers(ctx context.Context, f invite.MemberFilter) ([]*invite.Member, error) {
	q, args := memberListQuery(f)
	return queryAll(ctx, t, scanMember, q, args...)
}

func (t *tx) UpdateMember(ctx context.Context, m *invite.Member) error {
	return t.execOne(ctx, "UPDATE members SET name = ?, role = ?, permissions = ?, updated_at = ?, metadata = ? WHERE org_id = ? AND id = ?",
		m.Name, m.Role, jsonText(nonNil(m.Permissions)), micros(m.UpdatedAt), metadataText(m.Metadata), m.OrgID, m.ID.String())
}

func (t *tx) DeleteMember(ctx context.Context, org invite.OrgID, id uuid.UUID) error {
	return t.execOne(ctx, "DELETE FROM members WHERE org_id = ? AND id = ?", org, id.String())
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// limitSQL writes LIMIT and OFFSET as literals: SQLite plans with a bound
// LIMIT's value, so a statement with LIMIT ? is compiled again on every run.
func limitSQL(limit, offset int) string {
	q := " LIMIT " + strconv.Itoa(max(limit, 0))
	if offset > 0 {
		q += " OFFSET " + strconv.Itoa(offset)
	}
	return q
}

// where collects AND-ed conditions.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) sql() string { return strings.Join(w.conds, " AND ") }

// ---- invitations

const invCols = "number, id, org_id, email, role, permissions, inviter_id, inviter_name, state, created_at, updated_at, expires_at, finished_at, error, metadata, locale, send_count, last_sent_at, token_hash, " +
	"mail_state, mail_attempts, mail_error, mail_next_at, mail_sent_at, redirect_url, reminded_at"

func scanInv(row interface{ Scan(...any) error }) (*invite.Invitation, error) {
	var inv invite.Invitation
	var perms, metadata, state, mailState string
	var created, updated, expires int64
	var finished, lastSent, mailNext, mailSent, reminded sql.NullInt64
	err := row.Scan(&inv.Number, &inv.ID, &inv.OrgID, &inv.Email, &inv.Role, &perms, &inv.Inviter.ID, &inv.Inviter.Name,
		&state, &created, &updated, &expires, &finished, &inv.Error, &metadata, &inv.Locale, &inv.SendCount, &lastSent, &inv.TokenHash,
		&mailState, &inv.Mail.Attempts, &inv.Mail.LastError, &mailNext, &mailSent, &inv.RedirectURL, &reminded)
	if err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(perms), &inv.Permissions); err != nil {
		return nil, err
	}
	inv.State = invite.State(state)
	inv.Metadata = json.RawMessage(metadata)
	inv.CreatedAt, inv.UpdatedAt, inv.ExpiresAt = fromMicros(created), fromMicros(updated), fromMicros(expires)
	inv.FinishedAt, inv.LastSentAt = fromMicrosPtr(finished), fromMicrosPtr(lastSent)
	inv.Mail.State = invite.MailState(mailState)
	inv.Mail.NextAttemptAt, inv.Mail.SentAt = fromMicrosPtr(mailNext), fromMicrosPtr(mailSent)
	inv.RemindedAt = fromMicrosPtr(reminded)
	return &inv, nil
}

// metadataText is how a metadata object is stored: {} for none.
func metadataText(m json.RawMessage) string {
	if len(m) == 0 {
		return "{}"
	}
	return string(m)
}

// uuidText stores an optional id.
func uuidText(id *uuid.UUID) any {
	if id == nil {
		return nil
	}
	return id.String()
}

// mailState is how m.State is stored: an invitation made without one has no mail.
func mailState(m invite.MailDelivery) string {
	if m.State == "" {
		return string(invite.MailNone)
	}
	return string(m.State)
}

func (t *tx) CreateInvitation(ctx context.Context, inv *invite.Invitation) error {
	metadata := metadataText(inv.Metadata)
	// Exec rather than RETURNING, which costs SQLite a result table of its own.
	r, err := t.exec(ctx, `INSERT INTO invitations (id, org_id, email, role, permissions, inviter_id, inviter_name, state,
		created_at, updated_at, expires_at, finished_at, error, metadata, locale, send_count, last_sent_at, token_hash,
		mail_state, mail_attempts, mail_error, mail_next_at, mail_sent_at, redirect_url, reminded_at)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25
		WHERE ?8 <> 'pending' OR NOT EXISTS (SELECT 1 FROM members WHERE org_id = ?2 AND email = ?3)`,
		inv.ID.String(), inv.OrgID, inv.Email, inv.Role, jsonText(nonNil(inv.Permissions)), inv.Inviter.ID, inv.Inviter.Name, string(inv.State),
		micros(inv.CreatedAt), micros(inv.UpdatedAt), micros(inv.ExpiresAt), microsPtr(inv.FinishedAt), inv.Error, metadata,
		inv.Locale, inv.SendCount, microsPtr(inv.LastSentAt), nonNil(inv.TokenHash),
		mailState(inv.Mail), inv.Mail.Attempts, inv.Mail.LastError, microsPtr(inv.Mail.NextAttemptAt), microsPtr(inv.Mail.SentAt),
		inv.RedirectURL, microsPtr(inv.RemindedAt))
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return invite.ErrDuplicateMember
	}
	inv.Number, err = r.LastInsertId()
	return err
}

func (t *tx) getInv(ctx context.Context, cond string, args ...any) (*invite.Invitation, error) {
	return scanInv(t.queryRow(ctx, "SELECT "+invCols+" FROM invitations WHERE "+cond, args...))
}

func (t *tx) GetInvitation(ctx context.Context, org invite.OrgID, id uuid.UUID, _ bool) (*invite.Invitation, error) {
	return t.getInv(ctx, "org_id = ? AND id = ?", org, id.String())
}

func (t *tx) GetInvitationByID(ctx context.Context, id uuid.UUID, _ bool) (*invite.Invitation, error) {
	return t.getInv(ctx, "id = ?", id.String())
}

func (t *tx) GetInvitationByNumber(ctx context.Context, org invite.OrgID, number int64, _ bool) (*invite.Invitation, error) {
	return t.getInv(ctx, "org_id = ? AND number = ?", org, number)
}

func (t *tx) GetInvitationByLegacyToken(ctx context.Context, hash []byte, _ bool) (*invite.Invitation, error) {
	return t.getInv(ctx, "id = (SELECT invitation_id FROM legacy_tokens WHERE token_hash = ?1) AND token_hash = ?1", hash)
}

func (t *tx) GetPendingInvitation(ctx context.Context, org invite.OrgID, email string, _ bool) (*invite.Invitation, error) {
	return t.getInv(ctx, "org_id = ? AND email = ? AND state = 'pending'", org, email)
}

func (t *tx) GetPendingInvitations(ctx context.Context, org invite.OrgID, emails []string, _ bool) ([]*invite.Invitation, error) {
	return queryAll(ctx, t, scanInv, "SELECT "+invCols+" FROM invitations WHERE org_id = ? AND state = 'pending' AND email IN (SELECT value FROM json_each(?))",
		org, jsonText(emails))
}

func (t *tx) UpdateInvitation(ctx context.Context, inv *invite.Invitation) error {
	return t.execOne(ctx, `UPDATE invitations SET role = ?, permissions = ?, state = ?, updated_at = ?, expires_at = ?,
		finished_at = ?, error = ?, metadata = ?, locale = ?, send_count = ?, last_sent_at = ?, token_hash = ?,
		mail_state = ?, mail_attempts = ?, mail_error = ?, mail_next_at = ?, mail_sent_at = ?, redirect_url = ?, reminded_at = ?
		WHERE org_id = ? AND id = ?`,
		inv.Role, jsonText(nonNil(inv.Permissions)), string(inv.State), micros(inv.UpdatedAt), micros(inv.ExpiresAt),
		microsPtr(inv.FinishedAt), inv.Error, metadataText(inv.Metadata), inv.Locale, inv.SendCount, microsPtr(inv.LastSentAt),
		nonNil(inv.TokenHash), mailState(inv.Mail), inv.Mail.Attempts, inv.Mail.LastError, microsPtr(inv.Mail.NextAttemptAt),
		microsPtr(inv.Mail.SentAt), inv.RedirectURL, microsPtr(inv.RemindedAt), inv.OrgID, inv.ID.String())
}

// invWhere renders a filter's conditions; states match as observed at f.Now.
func invWhere(f invite.InvitationFilter) *where {
	var w where
	if f.Org != (invite.OrgID{}) { // else every organization's invitations of f.Email
		w.add("org_id = ?", f.Org)
	}
	if f.Email != "" {
		w.add("email = ?", f.Email)
	}
	if f.Role != "" {
		w.add("role = ?", f.Role)
	}
	if len(f.States) > 0 {
		var ors []string
		now := micros(f.Now)
		for _, s := range f.States {
			switch s {
			case invite.StatePending:
				ors = append(ors, "(state = 'pending' AND expires_at > ?)")
				w.args = append(w.args, now)
			case invite.StateExpired:
				ors = append(ors, "state = 'expired' OR (state = 'pending' AND expires_at <= ?)")
				w.args = append(w.args, now)
			default:
				ors = append(ors, "state = ?")
				w.args = append(w.args, string(s))
			}
		}
		w.conds = append(w.conds, "("+strings.Join(ors, " OR ")+")")
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
		w.add("("+col+", number) "+op+" (?, ?)", micros(pos.Time), pos.Number)
	}
	q := "SELECT " + invCols + " FROM invitations WHERE " + w.sql() +
		" ORDER BY " + col + " " + dir + ", number " + dir + limitSQL(f.Limit, f.Offset)
	return q, w.args
}

func (t *tx) ListInvitations(ctx context.Context, f invite.InvitationFilter) ([]*invite.Invitation, error) {
	q, args := listQuery(f)
	out, err := queryAll(ctx, t, scanInv, q, args...)
	if f.Before != nil {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, err
}

func (t *tx) CountInvitations(ctx context.Context, f invite.InvitationFilter) (int, error) {
	w := invWhere(f)
	var n int
	err := t.queryRow(ctx, "SELECT count(*) FROM invitations WHERE "+w.sql(), w.args...).Scan(&n)
	return n, err
}

// ListDueReminders reads the organizations that set reminder_after, then
// for each the range of invitations_reminder_due its reminder_after makes
// due, in the index's order, until limit are found: an organization without
// reminders costs no invitation read. (One statement joining the two sorts
// every due row: SQLite does not carry the index's order across the join.)
func (t *tx) ListDueReminders(ctx context.Context, now time.Time, after *invite.ReminderPosition, limit int) ([]*invite.Invitation, error) {
	q := "SELECT id, json_extract(settings, '$.reminder_after') FROM organizations WHERE json_extract(settings, '$.reminder_after') > 0"
	var args []any
	if after != nil {
		q += " AND id >= ?"
		args = append(args, after.Org)
	}
	type orgDue struct {
		id    invite.OrgID
		after int64
	}
	orgs, err := queryAll(ctx, t, func(row interface{ Scan(...any) error }) (orgDue, error) {
		var o orgDue
		return o, row.Scan(&o.id, &o.after)
	}, q+" ORDER BY id", args...)
	if err != nil {
		return nil, err
	}
	var out []*invite.Invitation
	for _, o := range orgs {
		var cursor *invite.ReminderPosition
		if after != nil && after.Org == o.id {
			cursor = after
		}
		q, args := dueRemindersQuery(o.id, now.Add(-time.Duration(o.after)*time.Second), now, cursor, limit-len(out))
		invs, err := queryAll(ctx, t, scanInv, q, args...)
		if err != nil {
			return nil, err
		}
		if out = append(out, invs...); len(out) >= limit {
			break
		}
	}
	return out, nil
}

// dueRemindersQuery lists org's invitations due a reminder at now, their
// mail sent by sentBy, after cursor when set.
func dueRemindersQuery(org invite.OrgID, sentBy, now time.Time, cursor *invite.ReminderPosition, limit int) (string, []any) {
	args := []any{org, micros(sentBy), micros(now.Add(invite.ReminderMargin)), limit}
	q := "SELECT " + invCols + ` FROM invitations
		WHERE org_id = ?1 AND state = 'pending' AND reminded_at IS NULL AND last_sent_at <= ?2
		AND expires_at > ?3 AND mail_state = 'sent' AND length(token_hash) = 0`
	if cursor != nil {
		args = append(args, micros(cursor.LastSentAt), cursor.Number)
		q += " AND (last_sent_at, number) > (?5, ?6)"
	}
	return q + " ORDER BY last_sent_at, number LIMIT ?4", args
}

// ---- idempotency

func (t *tx) GetIdempotency(ctx context.Context, scope, key string) (*invite.IdempotencyRecord, error) {
	r := invite.IdempotencyRecord{Scope: scope, Key: key}
	var created int64
	var answer []byte
	err := t.queryRow(ctx, "SELECT request_hash, invitation_id, created_at, answer FROM idempotency_keys WHERE scope = ? AND key = ?",
		scope, key).Scan(&r.RequestHash, &r.InvitationID, &created, &answer)
	if err != nil {
		return nil, notFound(err)
	}
	r.Answer = answer
	r.CreatedAt = fromMicros(created)
	return &r, nil
}

func (t *tx) PutIdempotency(ctx context.Context, r *invite.IdempotencyRecord) error {
	_, err := t.exec(ctx, "INSERT INTO idempotency_keys (scope, key, request_hash, invitation_id, created_at, answer) VALUES (?, ?, ?, ?, ?, ?)",
		r.Scope, r.Key, r.RequestHash, r.InvitationID.String(), micros(r.CreatedAt), []byte(r.Answer))
	return err
}

func (t *tx) DeleteIdempotencyBefore(ctx context.Context, before time.Time) error {
	_, err := t.exec(ctx, "DELETE FROM idempotency_keys WHERE created_at < ?", micros(before))
	return err
}

// ---- outbox

const jobCols = "id, kind, key, org_id, args, attempts, run_at, locked_by, locked_until, last_error, created_at"

func scanJob(row interface{ Scan(...any) error }) (*invite.Job, error) {
	var j invite.Job
	var key, org sql.NullString
	var args string
	var runAt, created int64
	var locked sql.NullInt64
	if err := row.Scan(&j.ID, &j.Kind, &key, &org, &args, &j.Attempts, &runAt, &j.LockedBy, &locked, &j.LastError, &created); err != nil {
		return nil, notFound(err)
	}
	if org.Valid {
		var id invite.OrgID
		if err := id.Scan(org.String); err != nil {
			return nil, err
		}
		j.OrgID = &id
	}
	j.Key, j.Args = key.String, json.RawMessage(args)
	j.RunAt, j.CreatedAt, j.LockedUntil = fromMicros(runAt), fromMicros(created), fromMicrosPtr(locked)
	return &j, nil
}

// EnqueueJob inserts j; a keyed job that meets a queued one with its key is
// not inserted, and the queued one runs at the earlier time (j.ID stays 0).
// DO NOTHING then an UPDATE, rather than an upsert: an upsert that updates
// leaves LastInsertId at an earlier insert's id, and RETURNING would cost
// every insert a result table.
func (t *tx) EnqueueJob(ctx context.Context, j *invite.Job) error {
	j.ID = 0
	var key any
	if j.Key != "" {
		key = j.Key
	}
	args := string(j.Args)
	if args == "" {
		args = "{}"
	}
	r, err := t.exec(ctx, `INSERT INTO outbox (kind, key, org_id, args, run_at, created_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (key) WHERE key IS NOT NULL DO NOTHING`,
		j.Kind, key, orgArg(j.OrgID), args, micros(j.RunAt), micros(j.CreatedAt))
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		_, err = t.exec(ctx, "UPDATE outbox SET run_at = min(run_at, ?) WHERE key = ?", micros(j.RunAt), j.Key)
		return err
	}
	j.ID, err = r.LastInsertId()
	return err
}

func (t *tx) ClaimJobs(ctx context.Context, worker string, kinds []string, now, leaseUntil time.Time, limit int) ([]*invite.Job, error) {
	if len(kinds) == 0 {
		return nil, nil
	}
	jobs, err := queryAll(ctx, t, scanJob, `UPDATE outbox SET locked_by = ?, locked_until = ?, attempts = attempts + 1
		WHERE id IN (SELECT id FROM outbox WHERE kind IN (SELECT value FROM json_each(?)) AND run_at <= ?
			AND (locked_until IS NULL OR locked_until <= ?) ORDER BY run_at, id`+limitSQL(limit, 0)+`)
		RETURNING `+jobCols, worker, micros(leaseUntil), jsonText(kinds), micros(now), micros(now))
	// RETURNING gives the rows in the order the UPDATE met them, not the subquery's.
	slices.SortFunc(jobs, func(a, b *invite.Job) int {
		if c := a.RunAt.Compare(b.RunAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return jobs, err
}

func (t *tx) RescheduleJob(ctx context.Context, id int64, worker string, runAt time.Time, attempts int, lastError string) error {
	return t.execOne(ctx, `UPDATE outbox SET run_at = ?, attempts = ?, locked_by = '', locked_until = NULL, last_error = ?
		WHERE id = ? AND locked_by = ?`, micros(runAt), attempts, lastError, id, worker)
}

func (t *tx) DeleteJob(ctx context.Context, id int64, worker string) error {
	return t.execOne(ctx, "DELETE FROM outbox WHERE id = ? AND locked_by = ?", id, worker)
}

func (t *tx) JobStats(ctx context.Context, now time.Time) ([]invite.JobStat, error) {
	n := micros(now)
	return queryAll(ctx, t, func(row interface{ Scan(...any) error }) (invite.JobStat, error) {
		var s invite.JobStat
		var oldest sql.NullInt64
		err := row.Scan(&s.Kind, &s.Due, &s.Scheduled, &oldest)
		s.OldestDue = fromMicrosPtr(oldest)
		return s, err
	}, `SELECT kind, count(*) FILTER (WHERE run_at <= ?1), count(*) FILTER (WHERE run_at > ?1),
		min(run_at) FILTER (WHERE run_at <= ?1) FROM outbox GROUP BY kind ORDER BY kind`, n)
}
