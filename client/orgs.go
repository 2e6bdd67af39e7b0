package client

import (
	"context"
	"iter"
)

// CreateOrganization makes an organization (admin key); settings may be nil.
func (c *Client) CreateOrganization(ctx context.Context, name string, settings *SettingsUpdate) (*Organization, error) {
	r, err := c.newRequest("POST", "/v1/organizations", map[string]any{"name": name, "settings": settings})
	if err != nil {
		return nil, err
	}
	var o Organization
	return &o, c.do(ctx, r, &o)
}

// GetOrganization reads one organization, with its seat count.
func (c *Client) GetOrganization(ctx context.Context, id string) (*Organization, error) {
	r, _ := c.newRequest("GET", path("/v1/organizations/%s", id), nil)
	var o Organization
	return &o, c.do(ctx, r, &o)
}

// UpdateOrganization renames the organization (name "" keeps it) and
// changes the settings the update names.
func (c *Client) UpdateOrganization(ctx context.Context, id, name string, settings *SettingsUpdate) (*Organization, error) {
	body := map[string]any{}
	if name != "" {
		body["name"] = name
	}
	if settings != nil {
		body["settings"] = settings
	}
	r, err := c.newRequest("PATCH", path("/v1/organizations/%s", id), body)
	if err != nil {
		return nil, err
	}
	var o Organization
	return &o, c.do(ctx, r, &o)
}

// DeleteOrganization deletes the organization and everything in it (admin
// key).
func (c *Client) DeleteOrganization(ctx context.Context, id string) error {
	r, _ := c.newRequest("DELETE", path("/v1/organizations/%s", id), nil)
	return c.do(ctx, r, nil)
}

// Organizations lists every organization (admin key), limit a page.
func (c *Client) Organizations(ctx context.Context, limit int) iter.Seq2[*Organization, error] {
	return walk[*Organization](ctx, c, "/v1/organizations", nil, limit)
}
