-- Accept tokens now carry their invitation's id, which finds the row; the
-- hash needs no index of its own, and each insert writes one index fewer.
-- Links mailed before keep working: legacy_tokens finds their invitations.

-- +goose Up
ALTER TABLE invitations DROP CONSTRAINT invitations_token_hash;
CREATE TABLE legacy_tokens (
    token_hash    bytea PRIMARY KEY,
    invitation_id uuid NOT NULL REFERENCES invitations(id) ON DELETE CASCADE
);
INSERT INTO legacy_tokens SELECT token_hash, id FROM invitations;

-- +goose Down
DROP TABLE legacy_tokens;
ALTER TABLE invitations ADD CONSTRAINT invitations_token_hash UNIQUE (token_hash);
