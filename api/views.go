package api

import "github.com/invitd/invitd/invite"

// The objects as the API shows them; the core defines their shape, which
// events carry too.
type (
	Organization = invite.OrganizationView
	Invitation   = invite.InvitationView
	Member       = invite.MemberView
	APIKey       = invite.APIKeyView
	Webhook      = invite.WebhookView
	Event        = invite.EventView
	Delivery     = invite.DeliveryView
)

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
