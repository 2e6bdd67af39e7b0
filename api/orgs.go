package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/invitd/invitd/invite"
)

type OrgPath struct {
	OrgID string `path:"org_id" doc:"Organization id, ULID or UUID form"`
}

type createOrgInput struct {
	Body struct {
		Name     string                `json:"name" minLength:"1" maxLength:"200"`
		Settings *invite.SettingsPatch `json:"settings,omitempty" doc:"Changes to the default settings"`
	}
}

type listOrgsInput struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
	Cursor string `query:"cursor"`
}

type updateOrgInput struct {
	OrgPath
	Body struct {
		Name     *string               `json:"name,omitempty" minLength:"1" maxLength:"200"`
		Settings *invite.SettingsPatch `json:"settings,omitempty"`
	}
}

func (h *handlers) registerOrgs(api huma.API) {
	huma.Register(api, op("POST", "/v1/organizations", "create-organization", "Create an organization (admin key)", "Organizations", http.StatusCreated, true),
		func(ctx context.Context, in *createOrgInput) (*body[*Organization], error) {
			o, err := h.svc.CreateOrg(ctx, in.Body.Name, in.Body.Settings)
			if err != nil {
				return nil, problem(err)
			}
			return &body[*Organization]{invite.ViewOrganization(o)}, nil
		})

	huma.Register(api, op("GET", "/v1/organizations", "list-organizations", "List organizations (admin key)", "Organizations", 0, true),
		func(ctx context.Context, in *listOrgsInput) (*body[*List[*Organization]], error) {
			var after *invite.OrgID
			if in.Cursor != "" {
				id, err := invite.ParseOrgID(in.Cursor)
				if err != nil {
					return nil, problem(invite.Invalid("cursor is not valid for this list"))
				}
				after = &id
			}
			orgs, err := h.svc.ListOrgs(ctx, after, in.Limit+1)
			if err != nil {
				return nil, problem(err)
			}
			next := ""
			if len(orgs) > in.Limit {
				orgs = orgs[:in.Limit]
				next = orgs[in.Limit-1].ID.String()
			}
			return &body[*List[*Organization]]{listOf(orgs, next, invite.ViewOrganization)}, nil
		})

	huma.Register(api, op("GET", "/v1/organizations/{org_id}", "get-organization", "Get an organization", "Organizations", 0, true),
		func(ctx context.Context, in *OrgPath) (*body[*Organization], error) {
			id, err := orgFor(in.OrgID)
			if err != nil {
				return nil, err
			}
			o, err := h.svc.GetOrgWithSeats(ctx, id)
			if err != nil {
				return nil, problem(err)
			}
			return &body[*Organization]{invite.ViewOrganization(o)}, nil
		})

	huma.Register(api, op("PATCH", "/v1/organizations/{org_id}", "update-organization", "Rename an organization or change its settings", "Organizations", 0, true),
		func(ctx context.Context, in *updateOrgInput) (*body[*Organization], error) {
			id, err := orgFor(in.OrgID)
			if err != nil {
				return nil, err
			}
			o, err := h.svc.UpdateOrg(ctx, id, in.Body.Name, in.Body.Settings)
			if err != nil {
				return nil, problem(err)
			}
			return &body[*Organization]{invite.ViewOrganization(o)}, nil
		})

	huma.Register(api, op("DELETE", "/v1/organizations/{org_id}", "delete-organization", "Delete an organization with everything in it (admin key)", "Organizations", http.StatusNoContent, true),
		func(ctx context.Context, in *OrgPath) (*struct{}, error) {
			id, err := orgFor(in.OrgID)
			if err != nil {
				return nil, err
			}
			return nil, problem(h.svc.DeleteOrg(ctx, id))
		})
}
