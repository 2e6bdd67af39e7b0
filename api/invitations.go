package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/invitd/invitd/invite"
)

// CreateBody asks for one invitation: the body of a create, and a row of a
// bulk create.
type CreateBody struct {
	Email       string   `json:"email" maxLength:"254"`
	Role        string   `json:"role,omitempty" doc:"One of the organization's roles; its default role when empty"`
	Permissions []string `json:"permissions,omitempty" maxItems:"100"`
	ExpiresIn   int64    `json:"expires_in,omitempty" minimum:"3600" maximum:"2592000" doc:"Seconds; the organization's TTL when empty"`
	Inviter     struct {
		ID   string `json:"id,omitempty" maxLength:"200"`
		Name string `json:"name,omitempty" maxLength:"200"`
	} `json:"inviter,omitempty" doc:"Who sends the invitation, as you name them"`
	Metadata    map[string]any `json:"metadata,omitempty" doc:"A small JSON object (at most 4 KiB) returned as given"`
	Locale      string         `json:"locale,omitempty" doc:"Language of the mail, e.g. en or ja"`
	SendEmail   *bool          `json:"send_email,omitempty" doc:"false: no mail is sent and accept_url is returned once"`
	RedirectURL string         `json:"redirect_url,omitempty" maxLength:"2048" doc:"Where the invitee page sends the invitee after Accept or Decline (303, with invitation_id, organization_id and state added to the query); its origin must be in the organization's allowed_redirect_origins"`
}

// create is what b asks the core for.
func (b *CreateBody) create() invite.CreateInvitation {
	c := invite.CreateInvitation{
		Email: b.Email, Role: b.Role, Permissions: b.Permissions, ExpiresIn: b.ExpiresIn,
		Inviter: invite.Inviter(b.Inviter), Locale: b.Locale, NoEmail: b.SendEmail != nil && !*b.SendEmail,
		RedirectURL: b.RedirectURL,
	}
	if b.Metadata != nil {
		c.Metadata, _ = json.Marshal(b.Metadata)
	}
	return c
}

type createInvitationInput struct {
	OrgPath
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Retrying with the same key and body within 24 hours returns the first answer"`
	Body           CreateBody
}

type listInvitationsInput struct {
	OrgPath
	State  string `query:"state" enum:"pending,accepted,declined,cancelled,expired,error"`
	Email  string `query:"email"`
	Role   string `query:"role"`
	Sort   string `query:"sort" enum:"created_at,-created_at,updated_at,-updated_at" default:"-created_at"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
	Cursor string `query:"cursor" doc:"next_cursor of the previous page"`
}

type addressInvitationsInput struct {
	Email  string `query:"email" required:"true" doc:"The address whose invitations to list"`
	State  string `query:"state" enum:"pending,accepted,declined,cancelled,expired,error"`
	Sort   string `query:"sort" enum:"created_at,-created_at" default:"-created_at"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
	Cursor string `query:"cursor" doc:"next_cursor of the previous page"`
}

type InvitationPath struct {
	OrgPath
	ID string `path:"invitation_id" doc:"The invitation's UUID or number"`
}

type acceptInput struct {
	InvitationPath
	Body struct {
		Email string `json:"email" doc:"The accepting user's email; must be the invitation's"`
		Name  string `json:"name,omitempty" maxLength:"200"`
	}
}

// AcceptResult is an accepted invitation with the member it made.
type AcceptResult struct {
	Invitation *Invitation `json:"invitation"`
	Member     *Member     `json:"member"`
}

func (h *handlers) registerInvitations(api huma.API) {
	const tag = "Invitations"
	huma.Register(api, op("POST", "/v1/organizations/{org_id}/invitations", "create-invitation", "Invite someone by email", tag, http.StatusCreated, true),
		func(ctx context.Context, in *createInvitationInput) (*body[*Invitation], error) {
			org, err := orgFor(in.OrgID)
			if err != nil {
				return nil, err
			}
			c := in.Body.create()
			c.IdempotencyKey, c.IdempotencyScope = in.IdempotencyKey, invite.PrincipalFrom(ctx).KeyID
			res, err := h.svc.CreateInvitation(ctx, org, c)
			if err != nil {
				return nil, problem(err)
			}
			v := invite.ViewInvitation(res.Invitation)
			if res.Token != "" {
				v.AcceptURL = h.baseURL + "/i/" + res.Token
			}
			return &body[*Invitation]{v}, nil
		})

	huma.Register(api, op("GET", "/v1/organizations/{org_id}/invitations", "list-invitations", "List invitations, newest first by default", tag, 0, true),
		func(ctx context.Context, in *listInvitationsInput) (*body[*List[*Invitation]], error) {
			org, err := orgFor(in.OrgID)
			if err != nil {
				return nil, err
			}
			page, err := h.svc.ListInvitations(ctx, org, invite.ListParams{
				State: in.State, Email: in.Email, Role: in.Role, Sort: in.Sort, Limit: in.Limit, Cursor: in.Cursor,
			})
			if err != nil {
				return nil, problem(err)
			}
			return &body[*List[*Invitation]]{listOf(page.Items, page.NextCursor, invite.ViewInvitation)}, nil
		})

	o := op("GET", "/v1/invitations", "list-address-invitations", "List one address's invitations in every organization (admin key)", tag, 0, true)
	o.Description = "For an application that shows a person, at sign-in, the invitations waiting for them. Newest first by default; each item carries its organization_id."
	huma.Register(api, o, func(ctx context.Context, in *addressInvitationsInput) (*body[*List[*Invitation]], error) {
		page, err := h.svc.ListInvitationsByAddress(ctx, invite.ListParams{
			State: in.State, Email: in.Email, Sort: in.Sort, Limit: in.Limit, Cursor: in.Cursor,
		})
		if err != nil {
			return nil, problem(err)
		}
		return &body[*List[*Invitation]]{listOf(page.Items, page.NextCursor, invite.ViewInvitation)}, nil
	})

	huma.Register(api, op("GET", "/v1/organizations/{org_id}/invitations/{invitation_id}", "get-invitation", "Get an invitation", tag, 0, true),
		func(ctx context.Context, in *InvitationPath) (*body[*Invitation], error) {
			return h.onInvitation(ctx, in, func(org invite.OrgID, ref invite.InvitationRef) (*invite.Invitation, error) {
				return h.svc.GetInvitation(ctx, org, ref)
			})
		})

	for _, a := range []struct {
		method, path, id, summary string
		do                        func(context.Context, invite.OrgID, invite.InvitationRef) (*invite.Invitation, error)
	}{
		{"POST", "/resend", "resend-invitation", "Send again with a new link and expiry (pending, expired or error)", h.svc.ResendInvitation},
		{"POST", "/cancel", "cancel-invitation", "Cancel a pending invitation", h.svc.CancelInvitation},
		{"POST", "/decline", "decline-invitation", "Decline a pending invitation on the invitee's behalf", h.svc.DeclineInvitation},
		{"DELETE", "", "delete-invitation", "Cancel a pending invitation (the record stays)", h.svc.CancelInvitation},
	} {
		o := op(a.method, "/v1/organizations/{org_id}/invitations/{invitation_id}"+a.path, a.id, a.summary, tag, 0, true)
		huma.Register(api, o, func(ctx context.Context, in *InvitationPath) (*body[*Invitation], error) {
			return h.onInvitation(ctx, in, func(org invite.OrgID, ref invite.InvitationRef) (*invite.Invitation, error) {
				return a.do(ctx, org, ref)
			})
		})
	}

	o = op("POST", "/v1/organizations/{org_id}/invitations/{invitation_id}/accept", "accept-invitation",
		"Accept on behalf of a user whose email matches; creates the member", tag, 0, true)
	huma.Register(api, o, func(ctx context.Context, in *acceptInput) (*body[*AcceptResult], error) {
		org, err := orgFor(in.OrgID)
		if err != nil {
			return nil, err
		}
		ref, err := invite.ParseInvitationRef(in.ID)
		if err != nil {
			return nil, problem(err)
		}
		inv, m, err := h.svc.AcceptInvitation(ctx, org, ref, invite.Accept{Email: in.Body.Email, Name: in.Body.Name})
		if err != nil {
			return nil, problem(err)
		}
		return &body[*AcceptResult]{&AcceptResult{Invitation: invite.ViewInvitation(inv), Member: invite.ViewMember(m)}}, nil
	})
}

func (h *handlers) onInvitation(ctx context.Context, in *InvitationPath, do func(invite.OrgID, invite.InvitationRef) (*invite.Invitation, error)) (*body[*Invitation], error) {
	org, err := orgFor(in.OrgID)
	if err != nil {
		return nil, err
	}
	ref, err := invite.ParseInvitationRef(in.ID)
	if err != nil {
		return nil, problem(err)
	}
	inv, err := do(org, ref)
	if err != nil {
		return nil, problem(err)
	}
	return &body[*Invitation]{invite.ViewInvitation(inv)}, nil
}
