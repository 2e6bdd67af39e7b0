-- +goose Up
CREATE TABLE organizations (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    settings   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    org_id      TEXT REFERENCES organizations(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX api_keys_org ON api_keys(org_id);

CREATE TABLE members (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (org_id, email)
);
CREATE INDEX members_org_created ON members(org_id, created_at, id);

CREATE TABLE invitations (
    number       INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    role         TEXT NOT NULL,
    permissions  TEXT NOT NULL,
    inviter_id   TEXT NOT NULL,
    inviter_name TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    error        TEXT NOT NULL,
    metadata     TEXT NOT NULL,
    locale       TEXT NOT NULL,
    send_count   INTEGER NOT NULL,
    last_sent_at INTEGER,
    token_hash   BLOB NOT NULL UNIQUE
);
-- At most one pending invitation per (org, email).
CREATE UNIQUE INDEX invitations_one_pending ON invitations(org_id, email) WHERE state = 'pending';
CREATE INDEX invitations_org_created ON invitations(org_id, created_at, number);
CREATE INDEX invitations_org_updated ON invitations(org_id, updated_at, number);
CREATE INDEX invitations_org_email ON invitations(org_id, email);

CREATE TABLE idempotency_keys (
    scope         TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  BLOB NOT NULL,
    invitation_id TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE outbox (
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
CREATE INDEX outbox_run ON outbox(run_at);
CREATE INDEX outbox_invitation ON outbox(invitation_id);

-- +goose Down
DROP TABLE outbox;
DROP TABLE idempotency_keys;
DROP TABLE invitations;
DROP TABLE members;
DROP TABLE api_keys;
DROP TABLE organizations;
