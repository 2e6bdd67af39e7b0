package api

import (
	"encoding/json"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/invitd/invitd/invite"
)

// Organization is an organization as the API shows it.
type Organization struct {
	ID        string          `json:"id" doc:"ULID; the same 128 bits in UUID form are accepted in paths"`
	Name      string          `json:"name"`
	Settings  invite.Settings `json:"settings"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// ViewOrganization shows o as the API does.
func ViewOrganization(o *invite.Organization) *Organization {
	return &Organization{ID: o.ID.String(), Name: o.Name, Settings: o.Settings, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
}

// Invitation is an invitation as the API shows it.
type Invitation struct {
	ID             string         `json:"id" format:"uuid"`
	Number         int64          `json:"number" doc:"A unique integer id, for clients that need one"`
	OrganizationID string         `json:"organization_id"`
	Email          string         `json:"email"`
	Role           string         `json:"role"`
	Permissions    []string       `json:"permissions"`
	Inviter        invite.Inviter `json:"inviter"`
	State          string         `json:"state" enum:"pending,accepted,declined,cancelled,expired,error"`
	CreatedAt      string         `json:"created_at" format:"date-time"`
	UpdatedAt      string         `json:"updated_at" format:"date-time"`
	ExpiresAt      string         `json:"expires_at" format:"date-time"`
	FinishedAt     *string        `json:"finished_at" format:"date-time" nullable:"true"`
	Error          *string        `json:"error" nullable:"true" doc:"Why the mail could not be delivered, when state is error"`
	Metadata       object         `json:"metadata"`
	Locale         string         `json:"locale"`
	SendCount      int            `json:"send_count"`
	LastSentAt     *string        `json:"last_sent_at" format:"date-time" nullable:"true"`
	AcceptURL      string         `json:"accept_url,omitempty" doc:"Only when the invitation was created with send_email false: the link to deliver yourself"`
}

// ViewInvitation shows inv as the API does.
func ViewInvitation(inv *invite.Invitation) *Invitation {
	v := &Invitation{
		ID: inv.ID.String(), Number: inv.Number, OrganizationID: inv.OrgID.String(), Email: inv.Email,
		Role: inv.Role, Permissions: inv.Permissions, Inviter: inv.Inviter, State: string(inv.State),
		CreatedAt: timestamp(inv.CreatedAt), UpdatedAt: timestamp(inv.UpdatedAt), ExpiresAt: timestamp(inv.ExpiresAt),
		FinishedAt: timestampOrNull(inv.FinishedAt), LastSentAt: timestampOrNull(inv.LastSentAt),
		Locale: inv.Locale, SendCount: inv.SendCount, Metadata: object(inv.Metadata),
	}
	if v.Permissions == nil {
		v.Permissions = []string{}
	}
	if inv.Error != "" {
		v.Error = &inv.Error
	}
	return v
}

// object is a JSON object the store holds as text, written out as it is: a
// list carries many, and decoding each only to encode it again costs more
// than the rest of the row.
type object json.RawMessage

func (o object) MarshalJSON() ([]byte, error) {
	if len(o) == 0 {
		return []byte("{}"), nil
	}
	return o, nil
}

func (object) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeObject, AdditionalProperties: true}
}

// timestamp formats t as time.Time's JSON does. Lists carry many times, and a
// string encodes several times faster than a json.Marshaler.
func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func timestampOrNull(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := timestamp(*t)
	return &s
}

// Member is a member as the API shows it.
type Member struct {
	ID             string    `json:"id" format:"uuid"`
	OrganizationID string    `json:"organization_id"`
	Email          string    `json:"email"`
	Name           string    `json:"name"`
	Role           string    `json:"role"`
	Permissions    []string  `json:"permissions"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// ViewMember shows m as the API does.
func ViewMember(m *invite.Member) *Member {
	v := &Member{ID: m.ID.String(), OrganizationID: m.OrgID.String(), Email: m.Email, Name: m.Name, Role: m.Role,
		Permissions: m.Permissions, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
	if v.Permissions == nil {
		v.Permissions = []string{}
	}
	return v
}

// APIKey is a key as listed; the secret is never shown again.
type APIKey struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	OrganizationID *string   `json:"organization_id" nullable:"true" doc:"null for an admin key"`
	CreatedAt      time.Time `json:"created_at"`
}

// ViewKey shows k as the API does.
func ViewKey(k *invite.APIKey) *APIKey {
	v := &APIKey{ID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt}
	if k.OrgID != nil {
		s := k.OrgID.String()
		v.OrganizationID = &s
	}
	return v
}

// List is one page of a list.
type List[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor" nullable:"true" doc:"Pass as cursor for the next page; null on the last page"`
}

func listOf[T, V any](items []T, next string, view func(T) V) *List[V] {
	l := &List[V]{Data: make([]V, 0, len(items))}
	for _, it := range items {
		l.Data = append(l.Data, view(it))
	}
	if next != "" {
		l.NextCursor = &next
	}
	return l
}

type body[T any] struct {
	Body T
}
