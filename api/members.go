package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/invitd/invitd/invite"
)

type listMembersInput struct {
	OrgPath
	Email  string `query:"email"`
	Role   string `query:"role"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
	Cursor string `query:"cursor"`
}

type MemberPath struct {
	OrgPath
	MemberID string `path:"member_id" format:"uuid"`
}

type updateMemberInput struct {
	MemberPath
	Body struct {
		Name        *string         `json:"name,omitempty" maxLength:"200"`
		Role        *string         `json:"role,omitempty"`
		Permissions *[]string       `json:"permissions,omitempty" maxItems:"100"`
		Metadata    *map[string]any `json:"metadata,omitempty" doc:"Replaces the member's metadata: a JSON object of at most 4 KiB"`
	}
}

func memberRef(ctx context.Context, in *MemberPath) (invite.OrgID, uuid.UUID, error) {
	org, err := orgFor(in.OrgID)
	if err != nil {
		return org, uuid.UUID{}, err
	}
	id, perr := uuid.Parse(in.MemberID)
	if perr != nil {
		return org, id, problem(invite.NotFound("member %q not found", in.MemberID))
	}
	return org, id, nil
}

func (h *handlers) registerMembers(api huma.API) {
	const tag = "Members"
	huma.Register(api, op("GET", "/v1/organizations/{org_id}/members", "list-members", "List members in the order they joined", tag, 0, true),
		func(ctx context.Context, in *listMembersInput) (*body[*List[*Member]], error) {
			org, err := orgFor(in.OrgID)
			if err != nil {
				return nil, err
			}
			page, err := h.svc.ListMembers(ctx, org, invite.MemberParams{Email: in.Email, Role: in.Role, Limit: in.Limit, Cursor: in.Cursor})
			if err != nil {
				return nil, problem(err)
			}
			return &body[*List[*Member]]{listOf(page.Items, page.NextCursor, invite.ViewMember)}, nil
		})

	huma.Register(api, op("GET", "/v1/organizations/{org_id}/members/{member_id}", "get-member", "Get a member", tag, 0, true),
		func(ctx context.Context, in *MemberPath) (*body[*Member], error) {
			org, id, err := memberRef(ctx, in)
			if err != nil {
				return nil, err
			}
			m, err := h.svc.GetMember(ctx, org, id)
			if err != nil {
				return nil, problem(err)
			}
			return &body[*Member]{invite.ViewMember(m)}, nil
		})

	huma.Register(api, op("PATCH", "/v1/organizations/{org_id}/members/{member_id}", "update-member", "Change a member's name, role, permissions or metadata", tag, 0, true),
		func(ctx context.Context, in *updateMemberInput) (*body[*Member], error) {
			org, id, err := memberRef(ctx, &in.MemberPath)
			if err != nil {
				return nil, err
			}
			patch := invite.MemberPatch{Name: in.Body.Name, Role: in.Body.Role, Permissions: in.Body.Permissions}
			if in.Body.Metadata != nil {
				patch.Metadata, _ = json.Marshal(*in.Body.Metadata)
			}
			m, err := h.svc.UpdateMember(ctx, org, id, patch)
			if err != nil {
				return nil, problem(err)
			}
			return &body[*Member]{invite.ViewMember(m)}, nil
		})

	huma.Register(api, op("DELETE", "/v1/organizations/{org_id}/members/{member_id}", "delete-member", "Remove a member", tag, http.StatusNoContent, true),
		func(ctx context.Context, in *MemberPath) (*struct{}, error) {
			org, id, err := memberRef(ctx, in)
			if err != nil {
				return nil, err
			}
			return nil, problem(h.svc.DeleteMember(ctx, org, id))
		})
}
