package invite

import (
	"encoding/json"
	"time"
)

// The native JSON shape of each object, as the API answers it and as events
// carry it in their data. Struct tags beyond json document the API.

// OrganizationView is an organization as the API shows it.
type OrganizationView struct {
	ID        string     `json:"id" doc:"ULID; the same 128 bits in UUID form are accepted in paths"`
	Name      string     `json:"name"`
	Settings  Settings   `json:"settings"`
	Seats     *SeatsView `json:"seats,omitempty" doc:"How the seats are used; in the answer to a get of one organization"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// SeatsView is how an organization's seats are used.
type SeatsView struct {
	Limit   int `json:"limit" doc:"max_members; 0: no limit"`
	Members int `json:"members"`
	Pending int `json:"pending" doc:"Pending invitations that have not expired"`
}

// ViewOrganization shows o as the API does.
func ViewOrganization(o *Organization) *OrganizationView {
	v := &OrganizationView{ID: o.ID.String(), Name: o.Name, Settings: o.Settings, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
	if o.Seats != nil {
		v.Seats = &SeatsView{Limit: o.Seats.Limit, Members: o.Seats.Members, Pending: o.Seats.Pending}
	}
	return v
}

// InvitationView is an invitation as the API shows it.
type InvitationView struct {
	ID             string            `json:"id" format:"uuid"`
	Number         int64             `json:"number" doc:"A unique integer id, for clients that need one"`
	OrganizationID string            `json:"organization_id"`
	Email          string            `json:"email"`
	Role           string            `json:"role"`
	Permissions    []string          `json:"permissions"`
	Inviter        Inviter           `json:"inviter"`
	State          string            `json:"state" enum:"pending,accepted,declined,cancelled,expired,error"`
	CreatedAt      string            `json:"created_at" format:"date-time"`
	UpdatedAt      string            `json:"updated_at" format:"date-time"`
	ExpiresAt      string            `json:"expires_at" format:"date-time"`
	FinishedAt     *string           `json:"finished_at" format:"date-time" nullable:"true"`
	Error          *string           `json:"error" nullable:"true" doc:"Why the mail could not be delivered, when state is error"`
	Metadata       Object            `json:"metadata"`
	Locale         string            `json:"locale"`
	SendCount      int               `json:"send_count"`
	LastSentAt     *string           `json:"last_sent_at" format:"date-time" nullable:"true"`
	RemindedAt     *string           `json:"reminded_at" format:"date-time" nullable:"true" doc:"When its one reminder mail was queued (the organization's reminder_after)"`
	Delivery       *MailDeliveryView `json:"delivery" doc:"Where the invitation's latest mail stands"`
	RedirectURL    *string           `json:"redirect_url" format:"uri" nullable:"true" doc:"Where the invitee goes after answering"`
	AcceptURL      string            `json:"accept_url,omitempty" doc:"Only when the invitation was created with send_email false: the link to deliver yourself"`
}

// MailDeliveryView is the state of an invitation's latest mail.
type MailDeliveryView struct {
	State         string  `json:"state" enum:"none,queued,sent,retrying,failed"`
	Attempts      int     `json:"attempts"`
	LastError     *string `json:"last_error" nullable:"true"`
	NextAttemptAt *string `json:"next_attempt_at" format:"date-time" nullable:"true"`
	SentAt        *string `json:"sent_at" format:"date-time" nullable:"true" doc:"When the mail server took the mail"`
}

// ViewInvitation shows inv as the API does.
func ViewInvitation(inv *Invitation) *InvitationView {
	v := &InvitationView{
		ID: inv.ID.String(), Number: inv.Number, OrganizationID: inv.OrgID.String(), Email: inv.Email,
		Role: inv.Role, Permissions: inv.Permissions, Inviter: inv.Inviter, State: string(inv.State),
		CreatedAt: Timestamp(inv.CreatedAt), UpdatedAt: Timestamp(inv.UpdatedAt), ExpiresAt: Timestamp(inv.ExpiresAt),
		FinishedAt: TimestampOrNull(inv.FinishedAt), LastSentAt: TimestampOrNull(inv.LastSentAt),
		RemindedAt: TimestampOrNull(inv.RemindedAt), Locale: inv.Locale, SendCount: inv.SendCount, Metadata: Object(inv.Metadata),
	}
	if inv.RedirectURL != "" {
		v.RedirectURL = &inv.RedirectURL
	}
	if v.Permissions == nil {
		v.Permissions = []string{}
	}
	if inv.Error != "" {
		v.Error = &inv.Error
	}
	m := inv.Mail
	if m.State == "" {
		m.State = MailNone
	}
	v.Delivery = &MailDeliveryView{State: string(m.State), Attempts: m.Attempts,
		NextAttemptAt: TimestampOrNull(m.NextAttemptAt), SentAt: TimestampOrNull(m.SentAt)}
	if m.LastError != "" {
		v.Delivery.LastError = &m.LastError
	}
	return v
}

// Object is a JSON object the store holds as text, written out as it is: a
// list carries many, and decoding each only to encode it again costs more
// than the rest of the row.
type Object json.RawMessage

// MarshalJSON writes the object as stored; {} when there is none.
func (o Object) MarshalJSON() ([]byte, error) {
	if len(o) == 0 {
		return []byte("{}"), nil
	}
	return o, nil
}

// UnmarshalJSON keeps the object as written, for answers read back (a bulk
// create's, given again for its Idempotency-Key).
func (o *Object) UnmarshalJSON(b []byte) error {
	*o = append((*o)[:0], b...)
	return nil
}

// Timestamp formats t as time.Time's JSON does. Lists carry many times, and a
// string encodes several times faster than a json.Marshaler.
func Timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// TimestampOrNull is Timestamp, or nil for no time.
func TimestampOrNull(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := Timestamp(*t)
	return &s
}

// MemberView is a member as the API shows it.
type MemberView struct {
	ID             string    `json:"id" format:"uuid"`
	OrganizationID string    `json:"organization_id"`
	Email          string    `json:"email"`
	Name           string    `json:"name"`
	Role           string    `json:"role"`
	Permissions    []string  `json:"permissions"`
	Metadata       Object    `json:"metadata" doc:"The accepted invitation's metadata, until a PATCH changes it"`
	InvitationID   *string   `json:"invitation_id" format:"uuid" nullable:"true" doc:"The invitation whose accept made the member"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// ViewMember shows m as the API does.
func ViewMember(m *Member) *MemberView {
	v := &MemberView{ID: m.ID.String(), OrganizationID: m.OrgID.String(), Email: m.Email, Name: m.Name, Role: m.Role,
		Permissions: m.Permissions, Metadata: Object(m.Metadata), CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
	if m.InvitationID != nil {
		id := m.InvitationID.String()
		v.InvitationID = &id
	}
	if v.Permissions == nil {
		v.Permissions = []string{}
	}
	return v
}

// APIKeyView is a key as listed; the secret is never shown again.
type APIKeyView struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	OrganizationID *string    `json:"organization_id" nullable:"true" doc:"null for an admin key"`
	Scopes         []string   `json:"scopes" doc:"What the key may do; an admin key may do anything and shows none"`
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      *time.Time `json:"expires_at" nullable:"true" doc:"When the key stops working; null: never"`
	LastUsedAt     *time.Time `json:"last_used_at" nullable:"true" doc:"When the key was last used, to the minute; null: never"`
}

// ViewKey shows k as the API does.
func ViewKey(k *APIKey) *APIKeyView {
	v := &APIKeyView{ID: k.ID, Name: k.Name, Scopes: k.Scopes, CreatedAt: k.CreatedAt,
		ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt}
	if v.Scopes == nil {
		v.Scopes = []string{}
	}
	if k.OrgID != nil {
		s := k.OrgID.String()
		v.OrganizationID = &s
	}
	return v
}

// WebhookView is a webhook endpoint as the API shows it; its secret only
// in the answers that make one.
type WebhookView struct {
	ID             string    `json:"id"`
	OrganizationID string    `json:"organization_id"`
	URL            string    `json:"url" format:"uri"`
	Events         []string  `json:"events" doc:"Event types, \"prefix.*\" patterns, or \"*\" for all"`
	Description    string    `json:"description"`
	Enabled        bool      `json:"enabled"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	Secret         string    `json:"secret,omitempty" doc:"whsec_...; only in the answers to create and rotate_secret"`
}

// ViewWebhook shows w as the API does, without its secret.
func ViewWebhook(w *Webhook) *WebhookView {
	ev := w.Events
	if ev == nil {
		ev = []string{}
	}
	return &WebhookView{ID: w.ID, OrganizationID: w.OrgID.String(), URL: w.URL, Events: ev, Description: w.Description,
		Enabled: w.Enabled, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

// EventView is an event as the log API lists it and as webhooks deliver it.
type EventView struct {
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	OrganizationID string          `json:"organization_id"`
	CreatedAt      string          `json:"created_at" format:"date-time"`
	Actor          Actor           `json:"actor"`
	RequestID      *string         `json:"request_id" nullable:"true" doc:"The X-Request-Id of the request that caused it; null for background work"`
	Data           json.RawMessage `json:"data" doc:"The object as the API shows it after the change"`
}

// ViewEvent shows e as the API does.
func ViewEvent(e *Event) *EventView {
	v := &EventView{ID: e.ID, Type: e.Type, OrganizationID: e.OrgID.String(), CreatedAt: Timestamp(e.CreatedAt),
		Actor: e.Actor, Data: e.Data}
	if e.RequestID != "" {
		v.RequestID = &e.RequestID
	}
	if len(v.Data) == 0 {
		v.Data = json.RawMessage("{}")
	}
	return v
}

// DeliveryView is one event's delivery to an endpoint.
type DeliveryView struct {
	EventID       string  `json:"event_id"`
	EventType     string  `json:"event_type"`
	State         string  `json:"state" enum:"pending,succeeded,retrying,failed"`
	Attempts      int     `json:"attempts"`
	StatusCode    *int    `json:"status_code" nullable:"true" doc:"Of the last attempt; null when it got no answer"`
	DurationMS    int64   `json:"duration_ms" doc:"Of the last attempt"`
	Error         *string `json:"error" nullable:"true"`
	AttemptedAt   *string `json:"attempted_at" format:"date-time" nullable:"true"`
	NextAttemptAt *string `json:"next_attempt_at" format:"date-time" nullable:"true"`
	CreatedAt     string  `json:"created_at" format:"date-time"`
}

// ViewDelivery shows d as the API does.
func ViewDelivery(d *Delivery) *DeliveryView {
	v := &DeliveryView{EventID: d.EventID, EventType: d.EventType, State: string(d.State), Attempts: d.Attempts,
		DurationMS: d.Duration.Milliseconds(), AttemptedAt: TimestampOrNull(d.AttemptedAt),
		NextAttemptAt: TimestampOrNull(d.NextAttemptAt), CreatedAt: Timestamp(d.CreatedAt)}
	if d.StatusCode != 0 {
		v.StatusCode = &d.StatusCode
	}
	if d.Error != "" {
		v.Error = &d.Error
	}
	return v
}

// marshal encodes a view; every view encodes.
func marshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("invite: a view failed to encode: " + err.Error())
	}
	return b
}

// BulkView is the answer to a bulk create: one result per row, in order.
type BulkView struct {
	Results []BulkResultView `json:"results"`
	Created int              `json:"created"`
	Skipped int              `json:"skipped"`
	Errors  int              `json:"errors"`
	DryRun  bool             `json:"dry_run" doc:"true: every row was checked and nothing was written"`
}

// BulkResultView is what became of one row of a bulk create.
type BulkResultView struct {
	Index      int             `json:"index" doc:"The row's place in the request, from 0 (the first row after a CSV header)"`
	Email      string          `json:"email"`
	Status     string          `json:"status" enum:"created,skipped,error"`
	Invitation *InvitationView `json:"invitation,omitempty" doc:"The invitation made (in a dry run, as it would be made)"`
	Error      *BulkErrorView  `json:"error,omitempty" doc:"Why the row was not created"`
}

// BulkErrorView is why a row of a bulk create was not created, as the
// single create would have answered it.
type BulkErrorView struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func (r *BulkResultView) fail(err error) {
	r.Status = BulkError
	r.Error = &BulkErrorView{Status: ErrorKind(err).HTTPStatus(), Detail: ErrorMessage(err)}
}
