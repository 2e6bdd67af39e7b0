package invite

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Store keeps the model. Every change runs in a Write transaction, and a
// backend makes a read followed by a write inside one hold: the SQLite
// backend has a single writer; the PostgreSQL backend locks the rows read
// with forUpdate, serializes counts that guard a limit, and refuses a pending
// invitation for an existing member in the statement that writes it.
// Constraint violations come back as the Err* values of this package; a
// missing row as ErrNotFound.
type Store interface {
	Read(ctx context.Context, fn func(Tx) error) error
	Write(ctx context.Context, fn func(Tx) error) error
	Ping(ctx context.Context) error
	Close() error
}

type backgroundKey struct{}

// Background marks ctx as work no request waits on (the mail worker's
// bookkeeping). A store may hold a write made with it back briefly, so that
// it shares a commit with the writes of requests instead of costing one.
func Background(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

// IsBackground tells whether ctx was marked by Background.
func IsBackground(ctx context.Context) bool { return ctx.Value(backgroundKey{}) != nil }

// Tx is one transaction. In a Read transaction writes fail.
type Tx interface {
	CreateOrg(ctx context.Context, o *Organization) error
	GetOrg(ctx context.Context, id OrgID) (*Organization, error)
	// ListOrgs returns orgs ordered by id, after the given id when set.
	ListOrgs(ctx context.Context, after *OrgID, limit int) ([]*Organization, error)
	UpdateOrg(ctx context.Context, o *Organization) error
	// DeleteOrg removes the org and everything in it.
	DeleteOrg(ctx context.Context, id OrgID) error

	CreateKey(ctx context.Context, k *APIKey) error
	GetKey(ctx context.Context, id string) (*APIKey, error)
	// ListKeys lists an org's keys, or the admin keys when org is nil.
	ListKeys(ctx context.Context, org *OrgID) ([]*APIKey, error)
	DeleteKey(ctx context.Context, id string) error
	// NoteKeyUse sets key id's last_used_at to now when it is unset or
	// before stale, so that racing uses write it once.
	NoteKeyUse(ctx context.Context, id string, now, stale time.Time) error
	CountKeys(ctx context.Context) (int, error)

	CreateMember(ctx context.Context, m *Member) error
	GetMember(ctx context.Context, org OrgID, id uuid.UUID) (*Member, error)
	GetMemberByEmail(ctx context.Context, org OrgID, email string) (*Member, error)
	// GetMembersByEmail returns org's members with these addresses, in no order.
	GetMembersByEmail(ctx context.Context, org OrgID, emails []string) ([]*Member, error)
	// GetMembershipsByEmail returns the members with this address in every
	// organization, in no order.
	GetMembershipsByEmail(ctx context.Context, email string) ([]*Member, error)
	ListMembers(ctx context.Context, f MemberFilter) ([]*Member, error)
	UpdateMember(ctx context.Context, m *Member) error
	DeleteMember(ctx context.Context, org OrgID, id uuid.UUID) error

	// CreateInvitation inserts inv and sets inv.Number. A pending invitation
	// for someone already a member of the org, one who became a member while
	// the insert ran included, is refused with ErrDuplicateMember; a second
	// pending one for an address with ErrDuplicatePending. Either leaves the
	// transaction usable.
	CreateInvitation(ctx context.Context, inv *Invitation) error
	GetInvitation(ctx context.Context, org OrgID, id uuid.UUID, forUpdate bool) (*Invitation, error)
	// GetInvitationByID finds an invitation in any org, for background work.
	GetInvitationByID(ctx context.Context, id uuid.UUID, forUpdate bool) (*Invitation, error)
	GetInvitationByNumber(ctx context.Context, org OrgID, number int64, forUpdate bool) (*Invitation, error)
	// GetInvitationByLegacyToken finds the invitation whose current token
	// hashes to tokenHash, for tokens made before they carried their
	// invitation's id.
	GetInvitationByLegacyToken(ctx context.Context, tokenHash []byte, forUpdate bool) (*Invitation, error)
	// GetPendingInvitation returns the stored pending invitation for
	// (org, email), expired or not.
	GetPendingInvitation(ctx context.Context, org OrgID, email string, forUpdate bool) (*Invitation, error)
	// GetPendingInvitations is GetPendingInvitation for many addresses at
	// once, in no order; an address without one is left out.
	GetPendingInvitations(ctx context.Context, org OrgID, emails []string, forUpdate bool) ([]*Invitation, error)
	UpdateInvitation(ctx context.Context, inv *Invitation) error
	ListInvitations(ctx context.Context, f InvitationFilter) ([]*Invitation, error)
	// ListDueReminders lists up to limit invitations due a reminder at now,
	// of every organization whose reminder_after is set: pending, not
	// reminded, their last mail sent (mail_state sent) at least
	// reminder_after before now, and expiring after now+ReminderMargin.
	// They come ordered by (organization, last_sent_at, number), after the
	// position after when it is set, so that a sweep pages past those it
	// leaves for later.
	ListDueReminders(ctx context.Context, now time.Time, after *ReminderPosition, limit int) ([]*Invitation, error)
	CountInvitations(ctx context.Context, f InvitationFilter) (int, error)

	// CountSeats counts org's members and its pending invitations that
	// have not expired at now. In a Write the counts hold, until the
	// commit, against every other Write that counts org's invitations.
	CountSeats(ctx context.Context, org OrgID, now time.Time) (members, pending int, err error)
	// CountInvitationsCreated counts org's invitations created after since,
	// up to limit (a limit's check needs no more, and reads no more), and
	// gives the creation time of the oldest of them. In a Write the count
	// holds, until the commit, against every other Write that counts org's
	// invitations.
	CountInvitationsCreated(ctx context.Context, org OrgID, since time.Time, limit int) (int, time.Time, error)
	// RecordMail notes an invitation mail queued to (org, email) at at.
	RecordMail(ctx context.Context, org OrgID, email string, at time.Time) error
	// CountMails counts the mails noted for (org, email) after since, up to
	// limit, and gives the time of the oldest of them. In a Write the count
	// holds, until the commit, against every other Write that counts that
	// address's mails.
	CountMails(ctx context.Context, org OrgID, email string, since time.Time, limit int) (int, time.Time, error)
	// CountMailsEach is CountMails for many addresses at once: each
	// address's count, holding as CountMails does; an address with none is
	// left out.
	CountMailsEach(ctx context.Context, org OrgID, emails []string, since time.Time, limit int) (map[string]MailCount, error)
	// DeleteMailsBefore removes up to limit notes of mails queued before t
	// and says how many it removed.
	DeleteMailsBefore(ctx context.Context, before time.Time, limit int) (int, error)

	CreateSession(ctx context.Context, s *Session) error
	GetSession(ctx context.Context, idHash []byte) (*Session, error)
	// TouchSession sets a session's last_seen_at.
	TouchSession(ctx context.Context, idHash []byte, now time.Time) error
	DeleteSession(ctx context.Context, idHash []byte) error
	// DeleteSessionsBefore removes up to limit sessions last seen before t
	// and says how many it removed.
	DeleteSessionsBefore(ctx context.Context, t time.Time, limit int) (int, error)
	CreateSignInLink(ctx context.Context, l *SignInLink) error
	GetSignInLink(ctx context.Context, id string) (*SignInLink, error)
	// UseSignInLink sets a link's used_at unless it is set; ErrNotFound
	// when it was (or there is no such link), so that a link is used once.
	UseSignInLink(ctx context.Context, id string, now time.Time) error
	// CountSignInLinks counts the links made for email after since. In a
	// Write the count holds, until the commit, against every other Write
	// that counts that address's links.
	CountSignInLinks(ctx context.Context, email string, since time.Time) (int, error)
	// DeleteSignInLinksBefore removes up to limit links that expired
	// before t and says how many it removed.
	DeleteSignInLinksBefore(ctx context.Context, t time.Time, limit int) (int, error)

	GetIdempotency(ctx context.Context, scope, key string) (*IdempotencyRecord, error)
	PutIdempotency(ctx context.Context, r *IdempotencyRecord) error
	// DeleteIdempotencyBefore removes the records created before t.
	DeleteIdempotencyBefore(ctx context.Context, t time.Time) error

	// AppendEvents adds events to the log. A store may send the insert with
	// the transaction's next statement or its commit.
	AppendEvents(ctx context.Context, events []*Event) error
	// ListEvents lists f.Org's events after f.After in log order, setting
	// each one's Position. It lists only events that no transaction still
	// open can come before: once a position is handed out, no event that
	// commits later sorts before it.
	ListEvents(ctx context.Context, f EventFilter) ([]*Event, error)
	GetEvent(ctx context.Context, org OrgID, id string) (*Event, error)
	// GetEventsByID returns the events with these ids, of any organization,
	// in no order; an id with no event is left out.
	GetEventsByID(ctx context.Context, ids []string) ([]*Event, error)
	// DeleteEventsBefore removes up to limit events created before t and
	// says how many it removed.
	DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (int, error)

	CreateWebhook(ctx context.Context, w *Webhook) error
	GetWebhook(ctx context.Context, org OrgID, id string) (*Webhook, error)
	// GetWebhooksByID returns the endpoints with these ids, of any
	// organization, in no order; an id with no endpoint is left out.
	GetWebhooksByID(ctx context.Context, ids []string) ([]*Webhook, error)
	// ListWebhooks lists org's endpoints ordered by (created_at, id).
	ListWebhooks(ctx context.Context, org OrgID) ([]*Webhook, error)
	// ListAllWebhooks lists every organization's endpoints, in no order.
	ListAllWebhooks(ctx context.Context) ([]*Webhook, error)
	UpdateWebhook(ctx context.Context, w *Webhook) error
	// DeleteWebhook removes an endpoint with its deliveries.
	DeleteWebhook(ctx context.Context, org OrgID, id string) error

	// CreateDelivery records a delivery and sets d.ID by the time the
	// commit returns; a store may send the insert with the next statement.
	// (WebhookID, EventID) is unique.
	CreateDelivery(ctx context.Context, d *Delivery) error
	GetDelivery(ctx context.Context, webhookID, eventID string) (*Delivery, error)
	// UpdateDelivery writes d's state and last attempt over the delivery of
	// d.EventID to d.WebhookID; ErrNotFound if there is none.
	UpdateDelivery(ctx context.Context, d *Delivery) error
	// ListDeliveries lists an endpoint's deliveries newest first, with ID
	// below before when before is not 0.
	ListDeliveries(ctx context.Context, webhookID string, before int64, limit int) ([]*Delivery, error)

	// EnqueueJob adds a job to the outbox and sets j.ID. When j.Key names a
	// queued job, that job stays and runs at the earlier of the two RunAts,
	// and j.ID is left 0. A store may send the insert with the
	// transaction's next statement or its commit, and report its failure
	// there; j.ID is set by the time the commit returns.
	EnqueueJob(ctx context.Context, j *Job) error
	// ClaimJobs leases up to limit jobs of the given kinds whose RunAt has
	// come and whose lease (if any) has run out, to worker until
	// leaseUntil, counting an attempt on each; no two workers get the same
	// job while a lease holds. Jobs come in RunAt order.
	ClaimJobs(ctx context.Context, worker string, kinds []string, now, leaseUntil time.Time, limit int) ([]*Job, error)
	// RescheduleJob frees a job worker holds until runAt, with attempts and
	// lastError as given; ErrNotFound if the lease was lost.
	RescheduleJob(ctx context.Context, id int64, worker string, runAt time.Time, attempts int, lastError string) error
	// DeleteJob removes a job worker holds; ErrNotFound if the lease was lost.
	DeleteJob(ctx context.Context, id int64, worker string) error
	// JobStats counts queued jobs by kind as of now, in kind order.
	JobStats(ctx context.Context, now time.Time) ([]JobStat, error)
}

// MailCount is how many mails an address was sent in a window, and when
// the oldest of them was.
type MailCount struct {
	N      int
	Oldest time.Time
}

// ReminderPosition is a position in the order ListDueReminders lists in.
type ReminderPosition struct {
	Org        OrgID
	LastSentAt time.Time
	Number     int64
}

// SortField is a column invitations are listed by.
type SortField string

// The sort fields.
const (
	SortCreatedAt SortField = "created_at"
	SortUpdatedAt SortField = "updated_at"
)

// Position is a keyset position: the sort column's value and the number as a tie-break.
type Position struct {
	Time   time.Time
	Number int64
}

// InvitationFilter selects and orders invitations. States match as observed at Now
// (a stored pending row past its expiry matches expired, not pending).
type InvitationFilter struct {
	// Org is the organization; the zero OrgID lists every organization's
	// invitations of Email, which must then be set.
	Org    OrgID
	States []State // any of; empty means all
	Email  string
	Role   string
	Now    time.Time

	Sort SortField
	Desc bool
	// After: rows strictly after this position in the order. Before: rows
	// strictly before it, still returned in the order. At most one is set.
	After  *Position
	Before *Position
	Offset int
	Limit  int
}

// MemberFilter selects members, ordered by (created_at, id).
type MemberFilter struct {
	Org    OrgID
	Email  string
	Role   string
	After  *MemberPosition
	Offset int
	Limit  int
}

// MemberPosition is a keyset position over members.
type MemberPosition struct {
	Time time.Time
	ID   uuid.UUID
}
