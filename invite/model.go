package invite

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Settings are an organization's invitation rules.
type Settings struct {
	// InvitationTTL is the default lifetime of an invitation, in seconds.
	InvitationTTL int64    `json:"invitation_ttl" doc:"How long an invitation is valid unless its create says otherwise, in seconds (3600 to 2592000; default 604800, 7 days)"`
	Roles         []string `json:"roles" doc:"The roles an invitation and a member may have"`
	DefaultRole   string   `json:"default_role" doc:"The role of an invitation whose create names none; one of roles"`
	Permissions   []string `json:"permissions" doc:"The permissions an invitation may grant"`
	// Locale is the default language of the org's mail.
	Locale string `json:"locale,omitempty" doc:"A language tag (en, ja-JP) for the mail and the invitee page when the invitation names none; a language without templates gets English"`
	// MaxPending caps pending invitations in the org; 0 means no cap.
	MaxPending int `json:"max_pending,omitempty" doc:"At most this many pending invitations; 0 or absent: no cap"`
	// The abuse limits (see limits.go): 0 means the default, -1 no limit.
	MaxMailsPerRecipientPerDay int `json:"max_mails_per_recipient_per_day,omitempty" doc:"Invitation mails to one address in any 24 hours (create, resend, re-invite); 0 or absent: 3; -1: no limit"`
	MaxInvitationsPerHour      int `json:"max_invitations_per_hour,omitempty" doc:"Invitations made in any hour; 0 or absent: 1000; -1: no limit"`
	MaxRequestsPerSecond       int `json:"max_requests_per_second,omitempty" doc:"Each of the organization's keys' requests per second on each node, with bursts of twice that; 0 or absent: the node's default (50, bursts of 100); -1: no limit"`

	// The policies (see policy.go).
	MaxMembers             int      `json:"max_members,omitempty" doc:"Seats: members plus pending, unexpired invitations may not pass it; 0 or absent: no limit"`
	AllowedEmailDomains    []string `json:"allowed_email_domains,omitempty" doc:"When set, only addresses at these domains are invited: example.com, or *.example.com for its subdomains"`
	BlockedEmailDomains    []string `json:"blocked_email_domains,omitempty" doc:"Addresses at these domains are never invited: example.com, or *.example.com for its subdomains"`
	AllowedRedirectOrigins []string `json:"allowed_redirect_origins,omitempty" doc:"Origins (https://app.example.com; http only for localhost and 127.0.0.1) an invitation's redirect_url and default_redirect_url may lead to"`
	DefaultRedirectURL     string   `json:"default_redirect_url,omitempty" doc:"Where the invitee page's Continue link leads after an answer, for invitations without a redirect_url; its origin must be allowed"`

	// Branding, in the mail and on the invitee page.
	DisplayName  string `json:"display_name,omitempty" doc:"The name the mail and the invitee page show; the organization's name when absent"`
	LogoURL      string `json:"logo_url,omitempty" doc:"An https URL of the logo the mail and the invitee page show"`
	BrandColor   string `json:"brand_color,omitempty" doc:"#RRGGBB, the colour of the mail's button and of the invitee page"`
	SupportEmail string `json:"support_email,omitempty" doc:"The address the mail's footer gives for questions"`

	// ReminderAfter, in seconds, is when a pending invitation's one reminder
	// is mailed; 0 means none.
	ReminderAfter int64 `json:"reminder_after,omitempty" doc:"Seconds after its mail when a still pending invitation gets one reminder mail (not when it expires within the hour); 0 or absent: no reminders"`
}

// DefaultSettings are given to a new organization.
func DefaultSettings() Settings {
	return Settings{
		InvitationTTL: int64(DefaultTTL / time.Second),
		Roles:         []string{"owner", "admin", "member", "restricted"},
		DefaultRole:   "member",
		Permissions:   []string{"admin", "billing", "plans", "members", "project:create", "projects:list"},
	}
}

// Limits on invitation lifetimes.
const (
	DefaultTTL = 7 * 24 * time.Hour
	MinTTL     = time.Hour
	MaxTTL     = 30 * 24 * time.Hour
)

// Organization is a tenant.
type Organization struct {
	ID        OrgID
	Name      string
	Settings  Settings
	CreatedAt time.Time
	UpdatedAt time.Time
	// Seats, when counted (a get of one organization), is how its seats are used.
	Seats *Seats
}

// HasRole tells whether role is one of the org's roles.
func (o *Organization) HasRole(role string) bool { return slices.Contains(o.Settings.Roles, role) }

// Member is a person in an organization.
type Member struct {
	ID          uuid.UUID
	OrgID       OrgID
	Email       string
	Name        string
	Role        string
	Permissions []string
	// Metadata is the accepted invitation's, then what PATCH sets.
	Metadata json.RawMessage
	// InvitationID is the invitation whose accept made the member.
	InvitationID *uuid.UUID
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// APIKey authenticates a caller. OrgID nil means an admin key.
type APIKey struct {
	ID         string
	OrgID      *OrgID
	Name       string
	SecretHash []byte
	// Scopes are what an organization's key may do; an admin key may do anything.
	Scopes    []string
	CreatedAt time.Time
	// ExpiresAt, when set, is when the key stops working.
	ExpiresAt *time.Time
	// LastUsedAt is when the key last authenticated, to KeyUseInterval.
	LastUsedAt *time.Time
}

// State is an invitation's state.
type State string

// The invitation states.
const (
	StatePending   State = "pending"
	StateAccepted  State = "accepted"
	StateDeclined  State = "declined"
	StateCancelled State = "cancelled"
	StateExpired   State = "expired"
	StateError     State = "error"
)

// States lists every state, in the order documentation shows them.
var States = []State{StatePending, StateAccepted, StateDeclined, StateCancelled, StateExpired, StateError}

// Valid tells a known state.
func (s State) Valid() bool { return slices.Contains(States, s) }

// Action is something that moves an invitation between states.
type Action string

// The actions.
const (
	ActionAccept  Action = "accept"
	ActionDecline Action = "decline"
	ActionCancel  Action = "cancel"
	ActionExpire  Action = "expire"
	ActionFail    Action = "fail"
	ActionResend  Action = "resend"
)

// transitions is the whole state machine: from a state, what each action leads to.
// Resend of a pending invitation re-sends it with a new token and stays pending.
var transitions = map[State]map[Action]State{
	StatePending: {
		ActionAccept:  StateAccepted,
		ActionDecline: StateDeclined,
		ActionCancel:  StateCancelled,
		ActionExpire:  StateExpired,
		ActionFail:    StateError,
		ActionResend:  StatePending,
	},
	StateExpired: {ActionResend: StatePending},
	StateError:   {ActionResend: StatePending},
}

// Next returns the state that action leads to from s, or a conflict error
// naming the current state.
func Next(s State, a Action) (State, error) {
	if to, ok := transitions[s][a]; ok {
		return to, nil
	}
	return "", Conflict("cannot %s an invitation that is %s", a, s)
}

// Inviter is who sent an invitation, as the caller names them.
type Inviter struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Invitation is an offer to join an organization.
type Invitation struct {
	ID          uuid.UUID
	Number      int64 // assigned by the store; unique, for surfaces with integer ids
	OrgID       OrgID
	Email       string
	Role        string
	Permissions []string
	Inviter     Inviter
	State       State
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ExpiresAt   time.Time
	FinishedAt  *time.Time
	Error       string // why, when State is error
	Metadata    json.RawMessage
	Locale      string
	SendCount   int
	LastSentAt  *time.Time
	TokenHash   []byte
	Mail        MailDelivery
	// RedirectURL is where the invitee goes after answering; "" for the
	// organization's default_redirect_url.
	RedirectURL string
	// RemindedAt is when its one reminder was queued.
	RemindedAt *time.Time
}

// Observe reports the state as of now: a pending invitation past its expiry
// reads as expired at once, whatever the stored row says.
func (inv *Invitation) Observe(now time.Time) {
	if inv.State == StatePending && !now.Before(inv.ExpiresAt) {
		inv.State = StateExpired
		t := inv.ExpiresAt
		inv.FinishedAt = &t
	}
}

// Finished tells a state with no way forward but resend.
func (s State) Finished() bool { return s != StatePending }

// Job is a piece of background work written in the same transaction as the
// change that caused it (the outbox), run by the job runner's handler for
// its Kind.
type Job struct {
	ID   int64
	Kind string
	// Key, when set, is unique among queued jobs: enqueuing a job whose key
	// is queued keeps the one queued, run at the earlier of the two times.
	Key         string
	OrgID       *OrgID // deleting the organization drops the job; nil for global work
	Args        json.RawMessage
	Attempts    int // counted at each claim
	RunAt       time.Time
	LockedBy    string
	LockedUntil *time.Time
	LastError   string
	CreatedAt   time.Time
	// Loaded is what an attempt at the job needs, read with its claim, for
	// the kinds whose attempts read: a webhook_delivery's *Outgoing (none
	// when its endpoint or event is gone). It is not stored.
	Loaded any
}

// JobStat counts the queued jobs of one kind.
type JobStat struct {
	Kind      string
	Due       int        // run_at has come
	Scheduled int        // run_at is later
	OldestDue *time.Time // run_at of the longest-waiting due job
}

// The job kinds the core enqueues.
const (
	JobSendInvitation   = "send_invitation"
	JobExpireInvitation = "expire_invitation"
	JobWebhookDelivery  = "webhook_delivery"
	JobEventRetention   = "event_retention"
	JobSendReminders    = "send_reminders"
	JobSendSignInLink   = "send_signin_link"
)

// MailPayload is a send_invitation job's arguments: the invitation and its
// send count when the mail was asked for; its link is derived when it is
// sent. Token is only in jobs queued by an earlier version, whose links
// were random.
type MailPayload struct {
	InvitationID string `json:"invitation_id"`
	Send         int    `json:"send,omitempty"`
	Token        string `json:"token,omitempty"`
	// Reminder marks the one reminder of a pending invitation.
	Reminder bool `json:"reminder,omitempty"`
}

// ExpiryArgs are an expire_invitation job's arguments.
type ExpiryArgs struct {
	InvitationID string `json:"invitation_id"`
}

// DeliveryArgs are a webhook_delivery job's arguments.
type DeliveryArgs struct {
	WebhookID string `json:"webhook_id"`
	EventID   string `json:"event_id"`
}

// IdempotencyRecord remembers the answer to a create with an Idempotency-Key.
type IdempotencyRecord struct {
	Scope        string
	Key          string
	RequestHash  []byte
	InvitationID uuid.UUID
	CreatedAt    time.Time
	// Answer is a bulk create's answer, given again as it was; nil for a
	// single create, whose invitation is read again.
	Answer json.RawMessage
}
