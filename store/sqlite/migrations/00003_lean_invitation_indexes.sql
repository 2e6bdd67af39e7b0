-- Accept tokens now carry their invitation's id, so token_hash needs no
-- index; and one unique index on (org_id, email, pending) both finds an
-- address's invitations and allows one pending invitation per address (the
-- key is 0 for a pending row and NULL, never equal, for the others). Every
-- index an insert touches at a random place costs a page written per insert.
-- SQLite cannot drop a column constraint, so the table is built anew.
-- Links mailed before keep working: legacy_tokens finds their invitations.

-- +goose Up
CREATE TABLE invitations_new (
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
    token_hash   BLOB NOT NULL
);
INSERT INTO invitations_new SELECT number, id, org_id, email, role, permissions, inviter_id, inviter_name, state,
    created_at, updated_at, expires_at, finished_at, error, metadata, locale, send_count, last_sent_at, token_hash
    FROM invitations;
-- Numbers are never reused: the new table goes on from the old one's counter.
DELETE FROM sqlite_sequence WHERE name = 'invitations_new';
UPDATE sqlite_sequence SET name = 'invitations_new' WHERE name = 'invitations';
DROP TABLE invitations;
ALTER TABLE invitations_new RENAME TO invitations;
CREATE UNIQUE INDEX invitations_email ON invitations(org_id, email, (CASE WHEN state = 'pending' THEN 0 END));
CREATE INDEX invitations_org_created ON invitations(org_id, created_at, number);
CREATE INDEX invitations_org_updated ON invitations(org_id, updated_at, number);
CREATE TABLE legacy_tokens (
    token_hash    BLOB PRIMARY KEY,
    invitation_id TEXT NOT NULL REFERENCES invitations(id) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO legacy_tokens SELECT token_hash, id FROM invitations;

-- +goose Down
DROP TABLE legacy_tokens;
CREATE TABLE invitations_old (
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
INSERT INTO invitations_old SELECT * FROM invitations;
DELETE FROM sqlite_sequence WHERE name = 'invitations_old';
UPDATE sqlite_sequence SET name = 'invitations_old' WHERE name = 'invitations';
DROP TABLE invitations;
ALTER TABLE invitations_old RENAME TO invitations;
CREATE UNIQUE INDEX invitations_one_pending ON invitations(org_id, email) WHERE state = 'pending';
CREATE INDEX invitations_org_created ON invitations(org_id, created_at, number);
CREATE INDEX invitations_org_updated ON invitations(org_id, updated_at, number);
CREATE INDEX invitations_org_email ON invitations(org_id, email);
