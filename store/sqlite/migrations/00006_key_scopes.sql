-- Keys carry scopes, may expire, and show when they were last used. An
-- organization's key made before has every scope but managing keys: a
-- leaked one could otherwise make another that outlives its revocation.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
UPDATE api_keys SET scopes = '["invitations:read","invitations:write","members:read","members:write","webhooks:read","webhooks:write","events:read","organization:write"]'
    WHERE org_id IS NOT NULL;

-- +goose Down
ALTER TABLE api_keys DROP COLUMN last_used_at;
ALTER TABLE api_keys DROP COLUMN expires_at;
ALTER TABLE api_keys DROP COLUMN scopes;
