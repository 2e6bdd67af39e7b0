package api

import (
	"context"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/invitd/invitd/invite"
)

// TokenInvitation is what the holder of an invitation link may see.
type TokenInvitation struct {
	Organization struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		DisplayName string `json:"display_name" doc:"The name to show the invitee: the organization's display_name, else its name"`
	} `json:"organization"`
	Email       string         `json:"email"`
	Role        string         `json:"role"`
	Permissions []string       `json:"permissions"`
	Inviter     invite.Inviter `json:"inviter"`
	State       string         `json:"state" enum:"pending,accepted,declined,cancelled,expired,error"`
	ExpiresAt   time.Time      `json:"expires_at"`
	MemberID    string         `json:"member_id,omitempty" doc:"Set in the answer to accept"`
	RedirectURL string         `json:"redirect_url,omitempty" doc:"In the answers to accept and decline: where to send the invitee, the invitation's redirect_url or the organization's default_redirect_url, with invitation_id, organization_id and state in its query"`
}

func tokenView(inv *invite.Invitation, o *invite.Organization) *TokenInvitation {
	v := &TokenInvitation{Email: inv.Email, Role: inv.Role, Permissions: inv.Permissions, Inviter: inv.Inviter,
		State: string(inv.State), ExpiresAt: inv.ExpiresAt}
	if v.Permissions == nil {
		v.Permissions = []string{}
	}
	v.Organization.ID, v.Organization.Name, v.Organization.DisplayName = o.ID.String(), o.Name, o.DisplayName()
	return v
}

type TokenPath struct {
	Token string `path:"token" doc:"The token from the invitation link"`
}

type tokenAcceptInput struct {
	TokenPath
	Body *struct {
		Name string `json:"name,omitempty" maxLength:"200" doc:"The invitee's display name"`
	}
}

// inviteeOp is op for a route whose path holds a token. The server keeps
// every answer on such a path out of caches and referrers, the router's
// own included.
func inviteeOp(method, path, id, summary string) huma.Operation {
	return op(method, path, id, summary, "Invitee", 0, false)
}

func (h *handlers) registerInvitee(api huma.API) {
	huma.Register(api, inviteeOp("GET", "/v1/invitations/{token}", "get-invitation-by-token", "What an invitation link offers (no key: the token is the credential)"),
		func(ctx context.Context, in *TokenPath) (*body[*TokenInvitation], error) {
			v, err := h.svc.GetByToken(ctx, in.Token)
			if err != nil {
				return nil, problem(err)
			}
			return &body[*TokenInvitation]{tokenView(v.Invitation, v.Organization)}, nil
		})

	huma.Register(api, inviteeOp("POST", "/v1/invitations/{token}/accept", "accept-invitation-by-token", "Accept an invitation with its link's token"), func(ctx context.Context, in *tokenAcceptInput) (*body[*TokenInvitation], error) {
		name := ""
		if in.Body != nil {
			name = in.Body.Name
		}
		v, err := h.svc.AcceptByToken(ctx, in.Token, name)
		if err != nil {
			return nil, problem(err)
		}
		return tokenAnswer(v), nil
	})

	huma.Register(api, inviteeOp("POST", "/v1/invitations/{token}/decline", "decline-invitation-by-token", "Decline an invitation with its link's token"), func(ctx context.Context, in *TokenPath) (*body[*TokenInvitation], error) {
		v, err := h.svc.DeclineByToken(ctx, in.Token)
		if err != nil {
			return nil, problem(err)
		}
		return tokenAnswer(v), nil
	})
}

func tokenAnswer(tv *invite.TokenView) *body[*TokenInvitation] {
	v := tokenView(tv.Invitation, tv.Organization)
	if tv.Member != nil {
		v.MemberID = tv.Member.ID.String()
	}
	v.RedirectURL, _ = invite.RedirectAfter(tv.Invitation, tv.Organization)
	return &body[*TokenInvitation]{v}
}
