-- +goose Up
-- An organization's keys, and the admin keys, are listed in (created_at, id)
-- order; an index on org_id alone leaves every list to be sorted.
DROP INDEX api_keys_org;
CREATE INDEX api_keys_org ON api_keys(org_id, created_at, id);

-- +goose Down
DROP INDEX api_keys_org;
CREATE INDEX api_keys_org ON api_keys(org_id);
