package client

import (
	"encoding/json"
	"time"
)

// Organization is a tenant: its members, invitations, keys and webhooks.
type Organization struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Settings  Settings  `json:"settings"`
	Seats     *Seats    `json:"seats,omitempty"` // on a get of one organization
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Seats count an organization's members and pending invitations against
// its max_members.
type Seats struct {
	Limit   int `json:"limit"`
	Members int `json:"members"`
	Pending int `json:"pending"`
}

// Settings are an organization's invitation rules, as it shows them.
type Settings struct {
	InvitationTTL              int64    `json:"invitation_ttl"`
	Roles                      []string `json:"roles"`
	DefaultRole                string   `json:"default_role"`
	Permissions                []string `json:"permissions"`
	Locale                     string   `json:"locale,omitempty"`
	MaxPending                 int      `json:"max_pending,omitempty"`
	MaxMailsPerRecipientPerDay int      `json:"max_mails_per_recipient_per_day,omitempty"`
	MaxInvitationsPerHour      int      `json:"max_invitations_per_hour,omitempty"`
	MaxRequestsPerSecond       int      `json:"max_requests_per_second,omitempty"`
	MaxMembers                 int      `json:"max_members,omitempty"`
	AllowedEmailDomains        []string `json:"allowed_email_domains,omitempty"`
	BlockedEmailDomains        []string `json:"blocked_email_domains,omitempty"`
	AllowedRedirectOrigins     []string `json:"allowed_redirect_origins,omitempty"`
	DefaultRedirectURL         string   `json:"default_redirect_url,omitempty"`
	DisplayName                string   `json:"display_name,omitempty"`
	LogoURL                    string   `json:"logo_url,omitempty"`
	BrandColor                 string   `json:"brand_color,omitempty"`
	SupportEmail               string   `json:"support_email,omitempty"`
	ReminderAfter              int64    `json:"reminder_after,omitempty"`
}

// SettingsUpdate changes the settings it names (nil fields stay). Ptr makes
// a field's pointer.
type SettingsUpdate struct {
	InvitationTTL              *int64    `json:"invitation_ttl,omitempty"`
	Roles                      *[]string `json:"roles,omitempty"`
	DefaultRole                *string   `json:"default_role,omitempty"`
	Permissions                *[]string `json:"permissions,omitempty"`
	Locale                     *string   `json:"locale,omitempty"`
	MaxPending                 *int      `json:"max_pending,omitempty"`
	MaxMailsPerRecipientPerDay *int      `json:"max_mails_per_recipient_per_day,omitempty"`
	MaxInvitationsPerHour      *int      `json:"max_invitations_per_hour,omitempty"`
	MaxRequestsPerSecond       *int      `json:"max_requests_per_second,omitempty"`
	MaxMembers                 *int      `json:"max_members,omitempty"`
	AllowedEmailDomains        *[]string `json:"allowed_email_domains,omitempty"`
	BlockedEmailDomains        *[]string `json:"blocked_email_domains,omitempty"`
	AllowedRedirectOrigins     *[]string `json:"allowed_redirect_origins,omitempty"`
	DefaultRedirectURL         *string   `json:"default_redirect_url,omitempty"`
	DisplayName                *string   `json:"display_name,omitempty"`
	LogoURL                    *string   `json:"logo_url,omitempty"`
	BrandColor                 *string   `json:"brand_color,omitempty"`
	SupportEmail               *string   `json:"support_email,omitempty"`
	ReminderAfter              *int64    `json:"reminder_after,omitempty"`
}

// Ptr returns a pointer to v, for the fields of an update.
func Ptr[T any](v T) *T { return &v }

// Inviter is who sent an invitation, as the caller's system names them.
type Inviter struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Invitation is an invitation into an organization.
type Invitation struct {
	ID             string          `json:"id"`
	Number         int64           `json:"number"`
	OrganizationID string          `json:"organization_id"`
	Email          string          `json:"email"`
	Role           string          `json:"role"`
	Permissions    []string        `json:"permissions"`
	Inviter        Inviter         `json:"inviter"`
	State          string          `json:"state"` // pending, accepted, declined, cancelled, expired, error
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	ExpiresAt      time.Time       `json:"expires_at"`
	FinishedAt     *time.Time      `json:"finished_at"`
	Error          *string         `json:"error"`
	Metadata       json.RawMessage `json:"metadata"`
	Locale         string          `json:"locale"`
	SendCount      int             `json:"send_count"`
	LastSentAt     *time.Time      `json:"last_sent_at"`
	RemindedAt     *time.Time      `json:"reminded_at"`
	Delivery       *MailDelivery   `json:"delivery"`
	RedirectURL    *string         `json:"redirect_url"`
	// AcceptURL is the link to deliver yourself, only in the answer to a
	// create with SendEmail false.
	AcceptURL string `json:"accept_url,omitempty"`
}

// MailDelivery is where an invitation's latest mail stands.
type MailDelivery struct {
	State         string     `json:"state"` // none, queued, sent, retrying, failed
	Attempts      int        `json:"attempts"`
	LastError     *string    `json:"last_error"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	SentAt        *time.Time `json:"sent_at"`
}

// CreateInvitation is what an invitation is made of; Email alone is
// required.
type CreateInvitation struct {
	Email       string   `json:"email"`
	Role        string   `json:"role,omitempty"`
	Permissions []string `json:"permissions,omitempty"`
	Inviter     *Inviter `json:"inviter,omitempty"`
	// ExpiresIn is seconds; 0 for the organization's TTL.
	ExpiresIn int64          `json:"expires_in,omitempty"`
	Locale    string         `json:"locale,omitempty"`
	Metadata  map[string]any `json:"metadata,omitempty"`
	// SendEmail false makes no mail; the answer's AcceptURL is the link.
	SendEmail   *bool  `json:"send_email,omitempty"`
	RedirectURL string `json:"redirect_url,omitempty"`
	// IdempotencyKey makes retries of this create one invitation; the
	// client sets a random one when it is empty.
	IdempotencyKey string `json:"-"`
}

// ListInvitations filters and pages a list of invitations.
type ListInvitations struct {
	State, Email, Role string
	Sort               string // created_at, -created_at (default), updated_at, -updated_at
	Limit              int    // page size, 1..100; 0 for the server's 20
}

// BulkResult is one row's outcome of a bulk create.
type BulkResult struct {
	Index      int         `json:"index"`
	Email      string      `json:"email"`
	Status     string      `json:"status"` // created, skipped, error
	Invitation *Invitation `json:"invitation,omitempty"`
	Error      *BulkError  `json:"error,omitempty"`
}

// BulkError is why a row was not created: the status and detail a single
// create would have answered.
type BulkError struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// Bulk is the answer of a bulk create: a result per row, in order.
type Bulk struct {
	Results []BulkResult `json:"results"`
	Created int          `json:"created"`
	Skipped int          `json:"skipped"`
	Errors  int          `json:"errors"`
	DryRun  bool         `json:"dry_run"`
}

// BulkOptions say how a bulk create runs.
type BulkOptions struct {
	DryRun         bool   // check every row, write nothing
	IdempotencyKey string // as CreateInvitation's
}

// Accepted is an accepted invitation and the member it made.
type Accepted struct {
	Invitation *Invitation `json:"invitation"`
	Member     *Member     `json:"member"`
}

// TokenInvitation is what an invitation link shows its holder.
type TokenInvitation struct {
	Organization struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		DisplayName string `json:"display_name"`
	} `json:"organization"`
	Email       string    `json:"email"`
	Role        string    `json:"role"`
	Permissions []string  `json:"permissions"`
	Inviter     Inviter   `json:"inviter"`
	State       string    `json:"state"`
	ExpiresAt   time.Time `json:"expires_at"`
	MemberID    string    `json:"member_id,omitempty"`
	RedirectURL string    `json:"redirect_url,omitempty"`
}

// Member is a person in an organization.
type Member struct {
	ID             string          `json:"id"`
	OrganizationID string          `json:"organization_id"`
	Email          string          `json:"email"`
	Name           string          `json:"name"`
	Role           string          `json:"role"`
	Permissions    []string        `json:"permissions"`
	Metadata       json.RawMessage `json:"metadata"`
	InvitationID   *string         `json:"invitation_id"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// MemberUpdate changes what it names.
type MemberUpdate struct {
	Name        *string         `json:"name,omitempty"`
	Role        *string         `json:"role,omitempty"`
	Permissions *[]string       `json:"permissions,omitempty"`
	Metadata    *map[string]any `json:"metadata,omitempty"`
}

// ListMembers filters and pages a list of members.
type ListMembers struct {
	Email, Role string
	Limit       int
}

// APIKey is a key as lists show it, without its secret.
type APIKey struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	OrganizationID *string    `json:"organization_id"`
	Scopes         []string   `json:"scopes"`
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      *time.Time `json:"expires_at"`
	LastUsedAt     *time.Time `json:"last_used_at"`
}

// NewAPIKey is a key just made: Key (the bearer token) is shown only now.
type NewAPIKey struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Key       string     `json:"key"`
	Secret    string     `json:"secret"`
	Scopes    []string   `json:"scopes"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// CreateAPIKey describes a key to make.
type CreateAPIKey struct {
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes,omitempty"` // default: all but keys:*
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Webhook is an endpoint that receives the organization's events.
type Webhook struct {
	ID             string    `json:"id"`
	OrganizationID string    `json:"organization_id"`
	URL            string    `json:"url"`
	Events         []string  `json:"events"`
	Description    string    `json:"description"`
	Enabled        bool      `json:"enabled"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	// Secret signs the deliveries (see VerifyWebhook); shown on create and
	// on a rotation only.
	Secret string `json:"secret,omitempty"`
}

// WebhookInput makes or changes an endpoint; nil fields stay (or take their
// defaults on create: every event, enabled).
type WebhookInput struct {
	URL         *string   `json:"url,omitempty"`
	Events      *[]string `json:"events,omitempty"`
	Description *string   `json:"description,omitempty"`
	Enabled     *bool     `json:"enabled,omitempty"`
}

// Delivery is one event's delivery to one endpoint.
type Delivery struct {
	EventID       string     `json:"event_id"`
	EventType     string     `json:"event_type"`
	State         string     `json:"state"`
	Attempts      int        `json:"attempts"`
	StatusCode    *int       `json:"status_code"`
	DurationMS    int64      `json:"duration_ms"`
	Error         *string    `json:"error"`
	AttemptedAt   *time.Time `json:"attempted_at"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	CreatedAt     time.Time  `json:"created_at"`
}

// Event is one change in an organization, as the event log and webhooks
// carry it.
type Event struct {
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	OrganizationID string          `json:"organization_id"`
	CreatedAt      time.Time       `json:"created_at"`
	Actor          Actor           `json:"actor"`
	RequestID      *string         `json:"request_id"`
	Data           json.RawMessage `json:"data"`
}

// Actor is who made a change.
type Actor struct {
	// Type is admin_key, api_key, member (an owner or admin signed in to
	// the console), invitee or system.
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ListEvents filters and pages the event log, oldest first.
type ListEvents struct {
	Types []string // event types or prefix patterns such as invitation.*
	After string   // a cursor of an earlier page; "" for the start
	Limit int
}

// page is a list answer of the native API.
type page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}
