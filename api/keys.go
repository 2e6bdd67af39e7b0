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
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Key       string     `json:"key" doc:"Send as Authorization: Bearer <key>. Shown only here."`
	Secret    string     `json:"secret" doc:"For HTTP Basic with id as user name. Shown only here."`
	Scopes    []string   `json:"scopes" doc:"What the key may do; an admin key may do anything and shows none"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at" nullable:"true" doc:"When the key stops working; null: never"`
}

// ViewNewKey shows a key just made, with its secret.
func ViewNewKey(k *invite.NewKey) *NewAPIKey {
	v := invite.ViewKey(k.APIKey)
	return &NewAPIKey{ID: k.ID, Name: k.Name, Key: k.Token, Secret: k.Secret, Scopes: v.Scopes, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt}
}

type createKeyInput struct {
	OrgPath
	Body struct {
		Name   string   `json:"name" minLength:"1" maxLength:"200"`
		Scopes []string `json:"scopes,omitempty" required:"false" enum:"invitations:read,invitations:write,members:read,members:write,webhooks:read,webhooks:write,events:read,keys:read,keys:write,organization:write" doc:"What the key may do; default: every scope but keys:read and keys:write. A key gives no scope it lacks."`
		// A pointer, so that an absent expiry is no expiry.
		ExpiresAt *time.Time `json:"expires_at,omitempty" required:"false" doc:"When the key stops working (RFC 3339, in the future); default: never"`
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
			k, err := h.svc.CreateKey(ctx, &id, invite.KeyInput{Name: in.Body.Name, Scopes: in.Body.Scopes, ExpiresAt: in.Body.ExpiresAt})
			if err != nil {
				return nil, problem(err)
			}
			return &body[*NewAPIKey]{ViewNewKey(k)}, nil
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
