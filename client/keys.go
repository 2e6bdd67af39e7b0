package client

import "context"

// CreateAPIKey makes a key that manages org; its Key is shown only now.
func (c *Client) CreateAPIKey(ctx context.Context, org string, in CreateAPIKey) (*NewAPIKey, error) {
	r, err := c.newRequest("POST", path("/v1/organizations/%s/api_keys", org), in)
	if err != nil {
		return nil, err
	}
	var k NewAPIKey
	return &k, c.do(ctx, r, &k)
}

// APIKeys lists org's keys, without their secrets.
func (c *Client) APIKeys(ctx context.Context, org string) ([]*APIKey, error) {
	r, _ := c.newRequest("GET", path("/v1/organizations/%s/api_keys", org), nil)
	var p page[*APIKey]
	return p.Data, c.do(ctx, r, &p)
}

// RevokeAPIKey ends a key at once.
func (c *Client) RevokeAPIKey(ctx context.Context, org, id string) error {
	r, _ := c.newRequest("DELETE", path("/v1/organizations/%s/api_keys/%s", org, id), nil)
	return c.do(ctx, r, nil)
}
