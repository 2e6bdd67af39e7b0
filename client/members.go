package client

import (
	"context"
	"iter"
	"net/url"
)

// Members lists org's members in the order they joined.
func (c *Client) Members(ctx context.Context, org string, f ListMembers) iter.Seq2[*Member, error] {
	q := url.Values{}
	if f.Email != "" {
		q.Set("email", f.Email)
	}
	if f.Role != "" {
		q.Set("role", f.Role)
	}
	return walk[*Member](ctx, c, path("/v1/organizations/%s/members", org), q, f.Limit)
}

// GetMember reads one member.
func (c *Client) GetMember(ctx context.Context, org, id string) (*Member, error) {
	r, _ := c.newRequest("GET", path("/v1/organizations/%s/members/%s", org, id), nil)
	var m Member
	return &m, c.do(ctx, r, &m)
}

// UpdateMember changes what u names.
func (c *Client) UpdateMember(ctx context.Context, org, id string, u MemberUpdate) (*Member, error) {
	r, err := c.newRequest("PATCH", path("/v1/organizations/%s/members/%s", org, id), u)
	if err != nil {
		return nil, err
	}
	var m Member
	return &m, c.do(ctx, r, &m)
}

// RemoveMember takes the member out of the organization.
func (c *Client) RemoveMember(ctx context.Context, org, id string) error {
	r, _ := c.newRequest("DELETE", path("/v1/organizations/%s/members/%s", org, id), nil)
	return c.do(ctx, r, nil)
}
