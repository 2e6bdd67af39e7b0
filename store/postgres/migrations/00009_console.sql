-- The console's sessions and sign-in links. A session is found by the hash
-- of its cookie's token; it is an API key's, the configured admin key's
-- (whose hash it keeps, so that a changed key ends it) or a member's, and
-- ends with its key or member. A sign-in link is found by its id; the link
-- itself is derived from the id and the server's secret, so nothing that
-- opens it is stored. Members are found by address across organizations
-- for a sign-in.

-- +goose Up
CREATE TABLE console_sessions (
    id_hash      bytea PRIMARY KEY,
    kind         text NOT NULL,
    key_id       text REFERENCES api_keys(id) ON DELETE CASCADE,
    admin_hash   bytea,
    org_id       uuid REFERENCES organizations(id) ON DELETE CASCADE,
    member_id    uuid REFERENCES members(id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_seen ON console_sessions(last_seen_at);

CREATE TABLE console_links (
    id         text PRIMARY KEY,
    org_id     uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    member_id  uuid NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    email      text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX console_links_address ON console_links(email, created_at);
CREATE INDEX console_links_expiry ON console_links(expires_at);
CREATE INDEX members_email ON members(email);

-- +goose Down
DROP INDEX members_email;
DROP TABLE console_links;
DROP TABLE console_sessions;
