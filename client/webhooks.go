package client

import (
	"context"
	"iter"
)

// CreateWebhook adds an endpoint; the answer's Secret, shown only now,
// verifies its deliveries (VerifyWebhook).
func (c *Client) CreateWebhook(ctx context.Context, org string, in WebhookInput) (*Webhook, error) {
	return c.webhookCall(ctx, "POST", path("/v1/organizations/%s/webhooks", org), in)
}

// GetWebhook reads one endpoint.
func (c *Client) GetWebhook(ctx context.Context, org, id string) (*Webhook, error) {
	return c.webhookCall(ctx, "GET", path("/v1/organizations/%s/webhooks/%s", org, id), nil)
}

// UpdateWebhook changes what in names.
func (c *Client) UpdateWebhook(ctx context.Context, org, id string, in WebhookInput) (*Webhook, error) {
	return c.webhookCall(ctx, "PATCH", path("/v1/organizations/%s/webhooks/%s", org, id), in)
}

// RotateWebhookSecret makes a new secret (in the answer); deliveries are
// signed with both for a while, so receivers can switch.
func (c *Client) RotateWebhookSecret(ctx context.Context, org, id string) (*Webhook, error) {
	return c.webhookCall(ctx, "POST", path("/v1/organizations/%s/webhooks/%s/rotate_secret", org, id), nil)
}

func (c *Client) webhookCall(ctx context.Context, method, p string, body any) (*Webhook, error) {
	r, err := c.newRequest(method, p, body)
	if err != nil {
		return nil, err
	}
	var w Webhook
	return &w, c.do(ctx, r, &w)
}

// Webhooks lists org's endpoints.
func (c *Client) Webhooks(ctx context.Context, org string) ([]*Webhook, error) {
	r, _ := c.newRequest("GET", path("/v1/organizations/%s/webhooks", org), nil)
	var p page[*Webhook]
	return p.Data, c.do(ctx, r, &p)
}

// DeleteWebhook removes an endpoint and its deliveries.
func (c *Client) DeleteWebhook(ctx context.Context, org, id string) error {
	r, _ := c.newRequest("DELETE", path("/v1/organizations/%s/webhooks/%s", org, id), nil)
	return c.do(ctx, r, nil)
}

// TestWebhook sends the endpoint a webhook.test event and answers it.
func (c *Client) TestWebhook(ctx context.Context, org, id string) (*Event, error) {
	r, _ := c.newRequest("POST", path("/v1/organizations/%s/webhooks/%s/test", org, id), nil)
	var e Event
	return &e, c.do(ctx, r, &e)
}

// Deliveries lists an endpoint's deliveries, newest first.
func (c *Client) Deliveries(ctx context.Context, org, id string, limit int) iter.Seq2[*Delivery, error] {
	return walk[*Delivery](ctx, c, path("/v1/organizations/%s/webhooks/%s/deliveries", org, id), nil, limit)
}

// RedeliverEvent sends one event to the endpoint again.
func (c *Client) RedeliverEvent(ctx context.Context, org, id, event string) (*Delivery, error) {
	r, _ := c.newRequest("POST", path("/v1/organizations/%s/webhooks/%s/deliveries/%s/retry", org, id, event), nil)
	var d Delivery
	return &d, c.do(ctx, r, &d)
}
