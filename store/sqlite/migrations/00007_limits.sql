-- Each invitation mail queued is noted, so that the mails to one address in
-- the last day can be counted in the transaction that would queue another.
-- The event-retention job removes notes older than the longest window.

-- +goose Up
CREATE TABLE invitation_mails (
    org_id    TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email     TEXT NOT NULL,
    queued_at INTEGER NOT NULL
);
CREATE INDEX invitation_mails_address ON invitation_mails(org_id, email, queued_at);
CREATE INDEX invitation_mails_queued ON invitation_mails(queued_at);

-- +goose Down
DROP TABLE invitation_mails;
