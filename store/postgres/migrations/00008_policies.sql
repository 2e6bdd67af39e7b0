-- An invitation may name where its invitee goes after answering, and
-- remembers its one reminder; a member keeps the metadata and the id of the
-- invitation that made it. Invitations are also found by address across
-- organizations, and the reminder sweep reads, organization by organization,
-- the pending ones not yet reminded in the order their mail went out. A bulk create's answer is kept
-- with its Idempotency-Key, to be given again.

-- +goose Up
ALTER TABLE invitations ADD COLUMN redirect_url text NOT NULL DEFAULT '';
ALTER TABLE invitations ADD COLUMN reminded_at timestamptz;
ALTER TABLE members ADD COLUMN metadata json NOT NULL DEFAULT '{}';
ALTER TABLE members ADD COLUMN invitation_id uuid;
ALTER TABLE idempotency_keys ADD COLUMN answer bytea;
CREATE INDEX invitations_address ON invitations(email, created_at, number);
CREATE INDEX invitations_reminder_due ON invitations(org_id, last_sent_at, number) WHERE state = 'pending' AND reminded_at IS NULL;

-- +goose Down
DROP INDEX invitations_reminder_due;
DROP INDEX invitations_address;
ALTER TABLE idempotency_keys DROP COLUMN answer;
ALTER TABLE members DROP COLUMN invitation_id;
ALTER TABLE members DROP COLUMN metadata;
ALTER TABLE invitations DROP COLUMN reminded_at;
ALTER TABLE invitations DROP COLUMN redirect_url;
