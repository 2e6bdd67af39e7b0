-- Every change appends to an event log, which webhooks deliver; the outbox
-- becomes generic (a job names its kind, its arguments and, for work that
-- must run once, a key); an invitation shows where its mail stands.
-- SQLite cannot drop a column with a constraint, so the outbox is built
-- anew, going on from its counter.

-- +goose Up
ALTER TABLE invitations ADD COLUMN mail_state TEXT NOT NULL DEFAULT 'none';
ALTER TABLE invitations ADD COLUMN mail_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE invitations ADD COLUMN mail_error TEXT NOT NULL DEFAULT '';
ALTER TABLE invitations ADD COLUMN mail_next_at INTEGER;
ALTER TABLE invitations ADD COLUMN mail_sent_at INTEGER;
-- From the weakest claim to the strongest: each step overrides the one before.
UPDATE invitations SET mail_state = 'sent', mail_sent_at = last_sent_at WHERE send_count > 0;
UPDATE invitations SET mail_state = 'queued', mail_sent_at = NULL
    WHERE id IN (SELECT invitation_id FROM outbox WHERE kind = 'send_invitation');
UPDATE invitations SET mail_state = 'failed', mail_error = error, mail_sent_at = NULL WHERE state = 'error';

CREATE TABLE outbox_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    key          TEXT,
    org_id       TEXT, -- no foreign key: DeleteOrg deletes the org's jobs itself
    args         TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    run_at       INTEGER NOT NULL,
    locked_by    TEXT NOT NULL DEFAULT '',
    locked_until INTEGER,
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
);
INSERT INTO outbox_new (id, kind, key, org_id, args, attempts, run_at, locked_by, locked_until, last_error, created_at)
    SELECT o.id, o.kind, NULL, i.org_id,
        json_object('invitation_id', o.invitation_id,
            'token', coalesce(CASE WHEN json_valid(o.payload) THEN json_extract(o.payload, '$.token') END, '')),
        o.attempts, o.run_at, o.locked_by, o.locked_until, o.last_error, o.created_at
    FROM outbox o LEFT JOIN invitations i ON i.id = o.invitation_id;
DELETE FROM sqlite_sequence WHERE name = 'outbox_new';
UPDATE sqlite_sequence SET name = 'outbox_new' WHERE name = 'outbox';
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
-- Jobs without a key (most mail) stay out of the key's index.
CREATE UNIQUE INDEX outbox_key ON outbox(key) WHERE key IS NOT NULL;
CREATE INDEX outbox_claim ON outbox(kind, run_at);
-- Every pending invitation gets the job that records its expiry.
INSERT INTO outbox (kind, key, org_id, args, run_at, created_at)
    SELECT 'expire_invitation', 'expire:' || id, org_id, json_object('invitation_id', id), expires_at,
        CAST(strftime('%s', 'now') AS INTEGER) * 1000000
    FROM invitations WHERE state = 'pending' ORDER BY expires_at;

-- seq is the log's order: one writer commits at a time, so it is commit order.
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    org_id     TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    type       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    request_id TEXT NOT NULL DEFAULT '',
    data       TEXT NOT NULL
);
CREATE INDEX events_org ON events(org_id, seq);
CREATE INDEX events_subject ON events(org_id, subject, seq);

CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,
    description     TEXT NOT NULL,
    enabled         INTEGER NOT NULL,
    secret          TEXT NOT NULL,
    previous_secret TEXT NOT NULL DEFAULT '',
    previous_until  INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX webhooks_org ON webhooks(org_id, created_at, id);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id      TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    org_id          TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    status_code     INTEGER NOT NULL DEFAULT 0,
    duration        INTEGER NOT NULL DEFAULT 0, -- microseconds
    error           TEXT NOT NULL DEFAULT '',
    attempted_at    INTEGER,
    next_attempt_at INTEGER,
    created_at      INTEGER NOT NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_list ON webhook_deliveries(webhook_id, id);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE events;

-- Only mail jobs existed before; the others are dropped.
CREATE TABLE outbox_old (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL,
    invitation_id TEXT NOT NULL,
    payload       TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    run_at        INTEGER NOT NULL,
    locked_by     TEXT NOT NULL DEFAULT '',
    locked_until  INTEGER,
    last_error    TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL
);
INSERT INTO outbox_old (id, kind, invitation_id, payload, attempts, run_at, locked_by, locked_until, last_error, created_at)
    SELECT id, kind, coalesce(json_extract(args, '$.invitation_id'), ''),
        json_object('token', coalesce(json_extract(args, '$.token'), '')),
        attempts, run_at, locked_by, locked_until, last_error, created_at
    FROM outbox WHERE kind = 'send_invitation';
DELETE FROM sqlite_sequence WHERE name = 'outbox_old';
UPDATE sqlite_sequence SET name = 'outbox_old' WHERE name = 'outbox';
DROP TABLE outbox;
ALTER TABLE outbox_old RENAME TO outbox;
CREATE INDEX outbox_run ON outbox(run_at);

ALTER TABLE invitations DROP COLUMN mail_sent_at;
ALTER TABLE invitations DROP COLUMN mail_next_at;
ALTER TABLE invitations DROP COLUMN mail_error;
ALTER TABLE invitations DROP COLUMN mail_attempts;
ALTER TABLE invitations DROP COLUMN mail_state;
