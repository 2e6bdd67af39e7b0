-- Every change appends events to a log, which webhooks deliver; the outbox
-- holds jobs of any kind; an invitation keeps the state of its latest mail.

-- +goose Up
-- A constant default fills the existing rows without rewriting the table;
-- only those with something to say are updated.
ALTER TABLE invitations
    ADD COLUMN mail_state    text NOT NULL DEFAULT 'none',
    ADD COLUMN mail_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN mail_error    text NOT NULL DEFAULT '',
    ADD COLUMN mail_next_at  timestamptz,
    ADD COLUMN mail_sent_at  timestamptz;
-- last_sent_at was written when a mail was queued: it is the time of the
-- mail sent only once no job for it waits.
UPDATE invitations i SET mail_state = m.state, mail_sent_at = CASE WHEN m.state = 'sent' THEN i.last_sent_at END
FROM (SELECT id, CASE
        WHEN state = 'error' THEN 'failed'
        WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.invitation_id = v.id AND o.kind = 'send_invitation') THEN 'queued'
        WHEN send_count > 0 THEN 'sent'
        ELSE 'none' END AS state
    FROM invitations v) m
WHERE m.id = i.id AND m.state <> 'none';

ALTER TABLE outbox
    ADD COLUMN key    text,
    ADD COLUMN org_id uuid,
    ADD COLUMN args   text;
UPDATE outbox o SET args = json_build_object('invitation_id', o.invitation_id::text,
        'token', coalesce(o.payload::json->>'token', ''))::text,
    org_id = (SELECT i.org_id FROM invitations i WHERE i.id = o.invitation_id);
ALTER TABLE outbox
    ALTER COLUMN args SET NOT NULL,
    DROP COLUMN invitation_id,
    DROP COLUMN payload;
DROP INDEX outbox_run;
CREATE INDEX outbox_claim ON outbox(kind, run_at);
CREATE UNIQUE INDEX outbox_key ON outbox(key) WHERE key IS NOT NULL;
INSERT INTO outbox (kind, key, org_id, args, run_at, created_at)
SELECT 'expire_invitation', 'expire:' || id, org_id, json_build_object('invitation_id', id::text)::text, expires_at, now()
FROM invitations WHERE state = 'pending';

-- tx is the writing transaction's id: the log is read in (tx, seq) order,
-- up to the oldest transaction still open, so that an event committed late
-- never lands behind a position a reader has passed.
CREATE TABLE events (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    id         text NOT NULL CONSTRAINT events_id UNIQUE,
    org_id     uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    type       text NOT NULL,
    subject    text NOT NULL,
    created_at timestamptz NOT NULL,
    actor      text NOT NULL,
    request_id text NOT NULL DEFAULT '',
    data       text NOT NULL
);
CREATE INDEX events_org_log ON events(org_id, tx, seq);
CREATE INDEX events_org_subject ON events(org_id, subject, tx, seq);

CREATE TABLE webhooks (
    id              text PRIMARY KEY,
    org_id          uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    url             text NOT NULL,
    events          text NOT NULL,
    description     text NOT NULL DEFAULT '',
    enabled         boolean NOT NULL,
    secret          text NOT NULL,
    previous_secret text NOT NULL DEFAULT '',
    previous_until  timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX webhooks_org ON webhooks(org_id, created_at, id);

-- org_id has no foreign key: the endpoint's cascade removes the rows.
CREATE TABLE webhook_deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id      text NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    org_id          uuid NOT NULL,
    event_id        text NOT NULL,
    event_type      text NOT NULL,
    state           text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    status_code     integer NOT NULL DEFAULT 0,
    duration        bigint NOT NULL DEFAULT 0,
    error           text NOT NULL DEFAULT '',
    attempted_at    timestamptz,
    next_attempt_at timestamptz,
    created_at      timestamptz NOT NULL,
    CONSTRAINT webhook_deliveries_webhook_event UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(webhook_id, id);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE events;

-- Only mail jobs existed before; the others cannot be kept.
DELETE FROM outbox WHERE kind <> 'send_invitation' OR args::json->>'invitation_id' IS NULL;
DROP INDEX outbox_key;
DROP INDEX outbox_claim;
ALTER TABLE outbox
    ADD COLUMN invitation_id uuid,
    ADD COLUMN payload       text;
UPDATE outbox SET invitation_id = (args::json->>'invitation_id')::uuid,
    payload = json_build_object('token', coalesce(args::json->>'token', ''))::text;
ALTER TABLE outbox
    ALTER COLUMN invitation_id SET NOT NULL,
    ALTER COLUMN payload SET NOT NULL,
    DROP COLUMN key,
    DROP COLUMN org_id,
    DROP COLUMN args;
CREATE INDEX outbox_run ON outbox(run_at, id);

ALTER TABLE invitations
    DROP COLUMN mail_state,
    DROP COLUMN mail_attempts,
    DROP COLUMN mail_error,
    DROP COLUMN mail_next_at,
    DROP COLUMN mail_sent_at;
