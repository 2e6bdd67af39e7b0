-- +goose Up
CREATE TABLE organizations (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    settings   jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id          text PRIMARY KEY,
    org_id      uuid REFERENCES organizations(id) ON DELETE CASCADE,
    name        text NOT NULL,
    secret_hash bytea NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX api_keys_org ON api_keys(org_id, created_at, id);

CREATE TABLE members (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email       text NOT NULL,
    name        text NOT NULL,
    role        text NOT NULL,
    permissions text[] NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT members_org_email UNIQUE (org_id, email)
);
CREATE INDEX members_org_created ON members(org_id, created_at, id);

CREATE TABLE invitations (
    number       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           uuid NOT NULL CONSTRAINT invitations_id UNIQUE,
    org_id       uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email        text NOT NULL,
    role         text NOT NULL,
    permissions  text[] NOT NULL,
    inviter_id   text NOT NULL,
    inviter_name text NOT NULL,
    state        text NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    error        text NOT NULL,
    metadata     json NOT NULL,
    locale       text NOT NULL,
    send_count   integer NOT NULL,
    last_sent_at timestamptz,
    token_hash   bytea NOT NULL CONSTRAINT invitations_token_hash UNIQUE
);
-- At most one pending invitation per (org, email).
CREATE UNIQUE INDEX invitations_one_pending ON invitations(org_id, email) WHERE state = 'pending';
CREATE INDEX invitations_org_created ON invitations(org_id, created_at, number);
CREATE INDEX invitations_org_updated ON invitations(org_id, updated_at, number);
CREATE INDEX invitations_org_email ON invitations(org_id, email);

CREATE TABLE idempotency_keys (
    scope         text NOT NULL,
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    invitation_id uuid NOT NULL,
    created_at    timestamptz NOT NULL,
    CONSTRAINT idempotency_keys_scope_key PRIMARY KEY (scope, key)
);

CREATE TABLE outbox (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL,
    invitation_id uuid NOT NULL,
    payload       text NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,
    run_at        timestamptz NOT NULL,
    locked_by     text NOT NULL DEFAULT '',
    locked_until  timestamptz,
    last_error    text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL
);
CREATE INDEX outbox_run ON outbox(run_at, id);
CREATE INDEX outbox_invitation ON outbox(invitation_id);

-- +goose Down
DROP TABLE outbox;
DROP TABLE idempotency_keys;
DROP TABLE invitations;
DROP TABLE members;
DROP TABLE api_keys;
DROP TABLE organizations;
