package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/invitd/invitd/invite"
)

type createWebhookInput struct {
	OrgPath
	Body struct {
		URL         string   `json:"url" minLength:"1" maxLength:"2048" doc:"An absolute http or https URL on the public internet"`
		Events      []string `json:"events,omitempty" maxItems:"100" doc:"Event types, \"prefix.*\" patterns or \"*\"; all events when empty"`
		Description string   `json:"description,omitempty" maxLength:"1000"`
		Enabled     *bool    `json:"enabled,omitempty" doc:"Default true; a disabled endpoint receives only tests"`
	}
}

type updateWebhookInput struct {
	WebhookPath
	Body struct {
		URL         *string  `json:"url,omitempty" minLength:"1" maxLength:"2048"`
		Events      []string `json:"events,omitempty" maxItems:"100" doc:"Replaces the list; an empty list means all events"`
		Description *string  `json:"description,omitempty" maxLength:"1000"`
		Enabled     *bool    `json:"enabled,omitempty"`
	}
}

type WebhookPath struct {
	OrgPath
	WebhookID string `path:"webhook_id" doc:"wh_..."`
}

type listDeliveriesInput struct {
	WebhookPath
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
	Cursor string `query:"cursor" doc:"next_cursor of the previous page"`
}

type retryDeliveryInput struct {
	WebhookPath
	EventID string `path:"event_id" doc:"The event whose delivery to send again"`
}

// withSecret shows w with its secret, for the answers that make one.
func withSecret(w *invite.Webhook) *Webhook {
	v := invite.ViewWebhook(w)
	v.Secret = w.Secret
	return v
}

func (h *handlers) registerWebhooks(api huma.API) {
	const tag = "Webhooks"
	const base = "/v1/organizations/{org_id}/webhooks"
	// A URL's host is looked up: a failed lookup is a 503 to retry.
	create := op("POST", base, "create-webhook", "Add an endpoint that receives the organization's events", tag, http.StatusCreated, true)
	create.Errors = append(create.Errors, http.StatusServiceUnavailable)
	huma.Register(api, create,
		func(ctx context.Context, in *createWebhookInput) (*body[*Webhook], error) {
			org, err := orgFor(in.OrgID)
			if err != nil {
				return nil, err
			}
			b := in.Body
			wi := invite.WebhookInput{URL: &b.URL, Description: &b.Description, Enabled: b.Enabled}
			if b.Events != nil {
				wi.Events = &b.Events
			}
			w, err := h.svc.CreateWebhook(ctx, org, wi)
			if err != nil {
				return nil, problem(err)
			}
			return &body[*Webhook]{withSecret(w)}, nil
		})

	huma.Register(api, op("GET", base, "list-webhooks", "List the organization's endpoints, oldest first", tag, 0, true),
		func(ctx context.Context, in *OrgPath) (*body[*List[*Webhook]], error) {
			org, err := orgFor(in.OrgID)
			if err != nil {
				return nil, err
			}
			list, err := h.svc.ListWebhooks(ctx, org)
			if err != nil {
				return nil, problem(err)
			}
			return &body[*List[*Webhook]]{listOf(list, "", invite.ViewWebhook)}, nil
		})

	huma.Register(api, op("GET", base+"/{webhook_id}", "get-webhook", "Get an endpoint", tag, 0, true),
		func(ctx context.Context, in *WebhookPath) (*body[*Webhook], error) {
			return h.onWebhook(ctx, in, invite.ViewWebhook, func(org invite.OrgID) (*invite.Webhook, error) {
				return h.svc.GetWebhook(ctx, org, in.WebhookID)
			})
		})

	update := op("PATCH", base+"/{webhook_id}", "update-webhook", "Change an endpoint's URL, events, description or whether it is enabled", tag, 0, true)
	update.Errors = append(update.Errors, http.StatusServiceUnavailable)
	huma.Register(api, update,
		func(ctx context.Context, in *updateWebhookInput) (*body[*Webhook], error) {
			b := in.Body
			wi := invite.WebhookInput{URL: b.URL, Description: b.Description, Enabled: b.Enabled}
			if b.Events != nil {
				wi.Events = &b.Events
			}
			return h.onWebhook(ctx, &in.WebhookPath, invite.ViewWebhook, func(org invite.OrgID) (*invite.Webhook, error) {
				return h.svc.UpdateWebhook(ctx, org, in.WebhookID, wi)
			})
		})

	huma.Register(api, op("DELETE", base+"/{webhook_id}", "delete-webhook", "Remove an endpoint and its deliveries", tag, http.StatusNoContent, true),
		func(ctx context.Context, in *WebhookPath) (*struct{}, error) {
			org, err := orgFor(in.OrgID)
			if err != nil {
				return nil, err
			}
			return nil, problem(h.svc.DeleteWebhook(ctx, org, in.WebhookID))
		})

	huma.Register(api, op("POST", base+"/{webhook_id}/rotate_secret", "rotate-webhook-secret",
		"Give an endpoint a new secret; the old one also signs for 24 hours", tag, 0, true),
		func(ctx context.Context, in *WebhookPath) (*body[*Webhook], error) {
			return h.onWebhook(ctx, in, withSecret, func(org invite.OrgID) (*invite.Webhook, error) {
				return h.svc.RotateWebhookSecret(ctx, org, in.WebhookID)
			})
		})

	huma.Register(api, op("GET", base+"/{webhook_id}/deliveries", "list-webhook-deliveries", "List an endpoint's deliveries, newest first", tag, 0, true),
		func(ctx context.Context, in *listDeliveriesInput) (*body[*List[*Delivery]], error) {
			org, err := orgFor(in.OrgID)
			if err != nil {
				return nil, err
			}
			page, err := h.svc.ListDeliveries(ctx, org, in.WebhookID, in.Limit, in.Cursor)
			if err != nil {
				return nil, problem(err)
			}
			return &body[*List[*Delivery]]{listOf(page.Items, page.NextCursor, invite.ViewDelivery)}, nil
		})

	huma.Register(api, op("POST", base+"/{webhook_id}/deliveries/{event_id}/retry", "retry-webhook-delivery",
		"Send an event to the endpoint again now", tag, http.StatusAccepted, true),
		func(ctx context.Context, in *retryDeliveryInput) (*body[*Delivery], error) {
			org, err := orgFor(in.OrgID)
			if err != nil {
				return nil, err
			}
			d, err := h.svc.RetryDelivery(ctx, org, in.WebhookID, in.EventID)
			if err != nil {
				return nil, problem(err)
			}
			return &body[*Delivery]{invite.ViewDelivery(d)}, nil
		})

	huma.Register(api, op("POST", base+"/{webhook_id}/test", "test-webhook",
		"Send a webhook.test event to the endpoint, enabled or not", tag, http.StatusAccepted, true),
		func(ctx context.Context, in *WebhookPath) (*body[*Event], error) {
			org, err := orgFor(in.OrgID)
			if err != nil {
				return nil, err
			}
			e, err := h.svc.TestWebhook(ctx, org, in.WebhookID)
			if err != nil {
				return nil, problem(err)
			}
			return &body[*Event]{invite.ViewEvent(e)}, nil
		})
}

func (h *handlers) onWebhook(ctx context.Context, in *WebhookPath, view func(*invite.Webhook) *Webhook, do func(invite.OrgID) (*invite.Webhook, error)) (*body[*Webhook], error) {
	org, err := orgFor(in.OrgID)
	if err != nil {
		return nil, err
	}
	w, err := do(org)
	if err != nil {
		return nil, problem(err)
	}
	return &body[*Webhook]{view(w)}, nil
}
