package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/invitd/invitd/invite"
)

// NewAPIKey is a key as shown once, at creation.
type NewAPIKey struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Key       string    `json:"key" doc:"Send as Authorization: Bearer <key>. Shown only here."`
	Secret    string    `json:"secret" doc:"For HTTP Basic with id as user name. Shown only here."`
	CreatedAt time.Time `json:"created_at"`
}

type createKeyInput struct {
	OrgPath
	Body struct {
		Name string `json:"name" minLength:"1" maxLength:"200"`
	}
}

type KeyPath struct {
	OrgPath
	KeyID string `path:"key_id"`
}

func (h *handlers) registerKeys(api huma.API) {
	huma.Register(api, op("POST", "/v1/organizations/{org_id}/api_keys", "create-api-key", "Create an API key for an organization", "API keys", http.StatusCreated, true),
		func(ctx context.Context, in *createKeyInput) (*body[*NewAPIKey], error) {
			id, err := orgFor(in.OrgID)
			if err != nil {
				return nil, err
			}
			k, err := h.svc.CreateKey(ctx, &id, in.Body.Name)
			if err != nil {
				return nil, problem(err)
			}
			return &body[*NewAPIKey]{&NewAPIKey{ID: k.ID, Name: k.Name, Key: k.Token, Secret: k.Secret, CreatedAt: k.CreatedAt}}, nil
		})

	huma.Register(api, op("GET", "/v1/organizations/{org_id}/api_keys", "list-api-keys", "List an organization's API keys", "API keys", 0, true),
		func(ctx context.Context, in *OrgPath) (*body[*List[*APIKey]], error) {
			id, err := orgFor(in.OrgID)
			if err != nil {
				return nil, err
			}
			keys, err := h.svc.ListKeys(ctx, &id)
			if err != nil {
				return nil, problem(err)
			}
			return &body[*List[*APIKey]]{listOf(keys, "", invite.ViewKey)}, nil
		})

	huma.Register(api, op("DELETE", "/v1/organizations/{org_id}/api_keys/{key_id}", "delete-api-key", "Revoke an API key", "API keys", http.StatusNoContent, true),
		func(ctx context.Context, in *KeyPath) (*struct{}, error) {
			id, err := orgFor(in.OrgID)
			if err != nil {
				return nil, err
			}
			return nil, problem(h.svc.DeleteKey(ctx, &id, in.KeyID))
		})
}
