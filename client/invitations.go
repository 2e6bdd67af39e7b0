package client

import (
	"context"
	"iter"
	"net/url"
)

// CreateInvitation invites someone into org. The create carries an
// Idempotency-Key (in.IdempotencyKey, or a random one), so the retries the
// client makes after a lost answer make one invitation.
func (c *Client) CreateInvitation(ctx context.Context, org string, in CreateInvitation) (*Invitation, error) {
	r, err := c.newRequest("POST", path("/v1/organizations/%s/invitations", org), in)
	if err != nil {
		return nil, err
	}
	var inv Invitation
	return &inv, c.do(ctx, r.withIdempotencyKey(in.IdempotencyKey), &inv)
}

// BulkCreate invites every row in one request (at most 1,000) and answers
// a result per row.
func (c *Client) BulkCreate(ctx context.Context, org string, rows []CreateInvitation, opts BulkOptions) (*Bulk, error) {
	r, err := c.newRequest("POST", path("/v1/organizations/%s/invitations/bulk", org),
		map[string]any{"invitations": rows, "dry_run": opts.DryRun})
	if err != nil {
		return nil, err
	}
	var b Bulk
	return &b, c.do(ctx, r.withIdempotencyKey(opts.IdempotencyKey), &b)
}

// BulkCreateCSV invites the rows of a CSV file (a header row naming the
// columns email, role, permissions, locale, expires_in, metadata,
// redirect_url).
func (c *Client) BulkCreateCSV(ctx context.Context, org string, csv []byte, opts BulkOptions) (*Bulk, error) {
	r, _ := c.newRequest("POST", path("/v1/organizations/%s/invitations/bulk", org), nil)
	r.body, r.contentType = csv, "text/csv"
	if opts.DryRun {
		r.query = url.Values{"dry_run": {"true"}}
	}
	var b Bulk
	return &b, c.do(ctx, r.withIdempotencyKey(opts.IdempotencyKey), &b)
}

// GetInvitation reads one invitation by its id or number.
func (c *Client) GetInvitation(ctx context.Context, org, id string) (*Invitation, error) {
	return c.invitationCall(ctx, "GET", org, id, "")
}

// CancelInvitation ends a pending invitation; its link stops working.
func (c *Client) CancelInvitation(ctx context.Context, org, id string) (*Invitation, error) {
	return c.invitationCall(ctx, "POST", org, id, "/cancel")
}

// ResendInvitation mails a pending, expired or failed invitation again with
// a new link and expiry; earlier links stop working.
func (c *Client) ResendInvitation(ctx context.Context, org, id string) (*Invitation, error) {
	return c.invitationCall(ctx, "POST", org, id, "/resend")
}

// DeclineInvitation declines an invitation on the invitee's behalf.
func (c *Client) DeclineInvitation(ctx context.Context, org, id string) (*Invitation, error) {
	return c.invitationCall(ctx, "POST", org, id, "/decline")
}

func (c *Client) invitationCall(ctx context.Context, method, org, id, action string) (*Invitation, error) {
	r, _ := c.newRequest(method, path("/v1/organizations/%s/invitations/%s", org, id)+action, nil)
	var inv Invitation
	return &inv, c.do(ctx, r, &inv)
}

// AcceptInvitation accepts on behalf of the invitee whose address is email
// (it must be the invitation's) and makes the member, named name.
func (c *Client) AcceptInvitation(ctx context.Context, org, id, email, name string) (*Accepted, error) {
	r, err := c.newRequest("POST", path("/v1/organizations/%s/invitations/%s/accept", org, id), map[string]string{"email": email, "name": name})
	if err != nil {
		return nil, err
	}
	var a Accepted
	return &a, c.do(ctx, r, &a)
}

// Invitations lists org's invitations, following the cursors.
func (c *Client) Invitations(ctx context.Context, org string, f ListInvitations) iter.Seq2[*Invitation, error] {
	q := url.Values{}
	for k, v := range map[string]string{"state": f.State, "email": f.Email, "role": f.Role, "sort": f.Sort} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return walk[*Invitation](ctx, c, path("/v1/organizations/%s/invitations", org), q, f.Limit)
}

// AddressInvitations lists one address's invitations in every organization
// (admin key); state "" for all.
func (c *Client) AddressInvitations(ctx context.Context, email, state string, limit int) iter.Seq2[*Invitation, error] {
	q := url.Values{"email": {email}}
	if state != "" {
		q.Set("state", state)
	}
	return walk[*Invitation](ctx, c, "/v1/invitations", q, limit)
}

// InvitationEvents lists one invitation's events, oldest first.
func (c *Client) InvitationEvents(ctx context.Context, org, id string, f ListEvents) iter.Seq2[*Event, error] {
	return c.events(ctx, path("/v1/organizations/%s/invitations/%s/events", org, id), f)
}

// Token calls need no key: the link's token is the credential.

// GetByToken reads what an invitation link shows.
func (c *Client) GetByToken(ctx context.Context, token string) (*TokenInvitation, error) {
	r, _ := c.newRequest("GET", path("/v1/invitations/%s", token), nil)
	var v TokenInvitation
	return &v, c.do(ctx, r, &v)
}

// AcceptByToken accepts an invitation with its link's token.
func (c *Client) AcceptByToken(ctx context.Context, token, name string) (*TokenInvitation, error) {
	r, err := c.newRequest("POST", path("/v1/invitations/%s/accept", token), map[string]string{"name": name})
	if err != nil {
		return nil, err
	}
	var v TokenInvitation
	return &v, c.do(ctx, r, &v)
}

// DeclineByToken declines an invitation with its link's token.
func (c *Client) DeclineByToken(ctx context.Context, token string) (*TokenInvitation, error) {
	r, _ := c.newRequest("POST", path("/v1/invitations/%s/decline", token), nil)
	var v TokenInvitation
	return &v, c.do(ctx, r, &v)
}
