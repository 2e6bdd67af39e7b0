package postgres

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/invitd/invitd/invite"
)

// ---- events
//
// Transactions on several nodes commit in any order, so seq alone does not
// order the log as readers can see it: an event can take a lower seq than
// one already read and commit after it. The log is read in (tx, seq) order
// instead, tx being the writing transaction's id, and only up to the oldest
// transaction still running: every transaction that can still commit has an
// id at or above the reading snapshot's xmin, so nothing can appear later
// before a position handed out.

const eventCols = "seq, tx::text::bigint, id, org_id, type, subject, created_at, actor, request_id, data"

func scanEvent(row scanner) (*invite.Event, error) {
	var e invite.Event
	var org pgtype.UUID
	var actor, data string
	if err := row.Scan(&e.Position.Seq, &e.Position.Tx, &e.ID, &org, &e.Type, &e.Subject, &e.CreatedAt,
		&actor, &e.RequestID, &data); err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(actor), &e.Actor); err != nil {
		return nil, err
	}
	e.OrgID = org.Bytes
	e.CreatedAt = utc(e.CreatedAt)
	e.Data = json.RawMessage(data)
	return &e, nil
}

// AppendEvents holds one insert of all the events, sent with the next
// statement or the COMMIT; by then each event has its Position.
func (t *tx) AppendEvents(ctx context.Context, events []*invite.Event) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	ids, types, subjects, actors, rids, data := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n)
	orgs, created := make([]pgtype.UUID, n), make([]time.Time, n)
	for i, e := range events {
		ids[i], orgs[i], types[i], subjects[i], created[i] = e.ID, orgUUID(e.OrgID), e.Type, e.Subject, e.CreatedAt
		actors[i], rids[i], data[i] = jsonText(e.Actor), e.RequestID, string(e.Data)
		if len(e.Data) == 0 {
			data[i] = "{}"
		}
	}
	// unnest yields the rows in array order, which the identity follows.
	t.ahead = append(t.ahead, ahead{
		q: `INSERT INTO events (id, org_id, type, subject, created_at, actor, request_id, data)
			SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[], $8::text[])
			RETURNING seq, tx::text::bigint`,
		args: []any{ids, orgs, types, subjects, created, actors, rids, data},
		read: func(br pgx.BatchResults) error {
			rows, err := br.Query()
			if err != nil {
				return mapErr(err)
			}
			defer rows.Close()
			for i := 0; rows.Next(); i++ {
				var p invite.EventPosition
				if err := rows.Scan(&p.Seq, &p.Tx); err != nil {
					return err
				}
				if i < n {
					events[i].Position = p
				}
			}
			return mapErr(rows.Err())
		},
	})
	return nil
}

// horizon is the lowest transaction id that may still commit an event into
// this database, as of the reading transaction's snapshot: the least of the
// snapshot's transactions in progress, less those known to run in another
// database (a transaction never spans two), or else the snapshot's xmax,
// which every later transaction is at or above. An event below it can never
// be preceded by one that commits later. A transaction in progress whose
// database cannot be told (it has ended since, or its session is hidden
// from this role) counts, which only delays the log. The subquery depends
// on nothing of the row and runs once per statement.
const horizon = `coalesce(
	(SELECT min(x) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
	 WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a
		WHERE a.backend_xid IS NOT NULL AND a.datname IS DISTINCT FROM current_database()
		AND a.backend_xid::text = (x::text::numeric % 4294967296)::text)),
	pg_snapshot_xmax(pg_current_snapshot()))`

// eventListQuery is the statement ListEvents runs for f.
func eventListQuery(f invite.EventFilter) (string, []any) {
	var w where
	w.add("org_id = ?", orgUUID(f.Org))
	w.add("(tx, seq) > (?::text::xid8, ?)", strconv.FormatInt(f.After.Tx, 10), f.After.Seq)
	w.add("tx < " + horizon)
	if len(f.Types) > 0 || len(f.Prefixes) > 0 {
		// ^@ is starts_with: a prefix is no LIKE pattern, whose _ would match any character.
		w.add("(type = ANY(?) OR type ^@ ANY(?))", nonNil(f.Types), nonNil(f.Prefixes))
	}
	if f.Subject != "" {
		w.add("subject = ?", f.Subject)
	}
	// events.tx, not tx, which would name the bigint output column and
	// sort instead of reading the index in order.
	q := "SELECT " + eventCols + " FROM events WHERE " + w.sql() + " ORDER BY events.tx, events.seq" + w.page(f.Limit, 0)
	return q, w.args
}

func (t *tx) ListEvents(ctx context.Context, f invite.EventFilter) ([]*invite.Event, error) {
	q, args := eventListQuery(f)
	return queryAll(ctx, t, scanEvent, q, args...)
}

func (t *tx) GetEvent(ctx context.Context, org invite.OrgID, id string) (*invite.Event, error) {
	return scanEvent(t.queryRow(ctx, "SELECT "+eventCols+" FROM events WHERE id = $1 AND org_id = $2", id, orgUUID(org)))
}

func (t *tx) GetEventsByID(ctx context.Context, ids []string) ([]*invite.Event, error) {
	return queryAll(ctx, t, scanEvent, "SELECT "+eventCols+" FROM events WHERE id = ANY($1)", nonNil(ids))
}

// DeleteEventsBefore deletes from the oldest end of the log by seq, below
// the first event not created before t, so that no index on created_at is
// needed: both scans of the seq index stop there. An array, not IN, so that
// the delete finds its rows by the index too.
func (t *tx) DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	var lim any
	if limit >= 0 {
		lim = limit
	}
	n, err := t.exec(ctx, `DELETE FROM events WHERE seq = ANY(ARRAY(
		SELECT seq FROM events WHERE created_at < $1
			AND seq < coalesce((SELECT min(seq) FROM events WHERE created_at >= $1), 9223372036854775807)
		ORDER BY seq LIMIT $2::bigint))`, before, lim)
	return int(n), err
}

// ---- webhooks

const webhookCols = "id, org_id, url, events, description, enabled, secret, previous_secret, previous_until, created_at, updated_at"

func scanWebhook(row scanner) (*invite.Webhook, error) {
	var w invite.Webhook
	var org pgtype.UUID
	var events string
	if err := row.Scan(&w.ID, &org, &w.URL, &events, &w.Description, &w.Enabled, &w.Secret, &w.PreviousSecret,
		&w.PreviousUntil, &w.CreatedAt, &w.UpdatedAt); err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, err
	}
	w.OrgID = org.Bytes
	w.Events = nonNil(w.Events)
	w.PreviousUntil = utcPtr(w.PreviousUntil)
	w.CreatedAt, w.UpdatedAt = utc(w.CreatedAt), utc(w.UpdatedAt)
	return &w, nil
}

func (t *tx) CreateWebhook(ctx context.Context, w *invite.Webhook) error {
	_, err := t.exec(ctx, "INSERT INTO webhooks ("+webhookCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
		w.ID, orgUUID(w.OrgID), w.URL, jsonText(nonNil(w.Events)), w.Description, w.Enabled, w.Secret, w.PreviousSecret,
		w.PreviousUntil, w.CreatedAt, w.UpdatedAt)
	return err
}

func (t *tx) GetWebhook(ctx context.Context, org invite.OrgID, id string) (*invite.Webhook, error) {
	return scanWebhook(t.queryRow(ctx, "SELECT "+webhookCols+" FROM webhooks WHERE id = $1 AND org_id = $2", id, orgUUID(org)))
}

func (t *tx) GetWebhooksByID(ctx context.Context, ids []string) ([]*invite.Webhook, error) {
	return queryAll(ctx, t, scanWebhook, "SELECT "+webhookCols+" FROM webhooks WHERE id = ANY($1)", nonNil(ids))
}

// webhookListQuery is the statement ListWebhooks runs.
func webhookListQuery(org invite.OrgID) (string, []any) {
	return "SELECT " + webhookCols + " FROM webhooks WHERE org_id = $1 ORDER BY created_at, id", []any{orgUUID(org)}
}

func (t *tx) ListWebhooks(ctx context.Context, org invite.OrgID) ([]*invite.Webhook, error) {
	q, args := webhookListQuery(org)
	return queryAll(ctx, t, scanWebhook, q, args...)
}

func (t *tx) ListAllWebhooks(ctx context.Context) ([]*invite.Webhook, error) {
	return queryAll(ctx, t, scanWebhook, "SELECT "+webhookCols+" FROM webhooks")
}

func (t *tx) UpdateWebhook(ctx context.Context, w *invite.Webhook) error {
	return t.execOne(ctx, `UPDATE webhooks SET url = $1, events = $2, description = $3, enabled = $4, secret = $5,
		previous_secret = $6, previous_until = $7, updated_at = $8 WHERE id = $9 AND org_id = $10`,
		w.URL, jsonText(nonNil(w.Events)), w.Description, w.Enabled, w.Secret, w.PreviousSecret, w.PreviousUntil,
		w.UpdatedAt, w.ID, orgUUID(w.OrgID))
}

func (t *tx) DeleteWebhook(ctx context.Context, org invite.OrgID, id string) error {
	return t.execOne(ctx, "DELETE FROM webhooks WHERE id = $1 AND org_id = $2", id, orgUUID(org))
}

// ---- deliveries

const deliveryCols = "id, webhook_id, org_id, event_id, event_type, state, attempts, status_code, duration, error, attempted_at, next_attempt_at, created_at"

func scanDelivery(row scanner) (*invite.Delivery, error) {
	var d invite.Delivery
	var org pgtype.UUID
	var state string
	var us int64
	if err := row.Scan(&d.ID, &d.WebhookID, &org, &d.EventID, &d.EventType, &state, &d.Attempts, &d.StatusCode, &us,
		&d.Error, &d.AttemptedAt, &d.NextAttemptAt, &d.CreatedAt); err != nil {
		return nil, notFound(err)
	}
	d.OrgID = org.Bytes
	d.State = invite.DeliveryState(state)
	d.Duration = time.Duration(us) * time.Microsecond
	d.AttemptedAt, d.NextAttemptAt, d.CreatedAt = utcPtr(d.AttemptedAt), utcPtr(d.NextAttemptAt), utc(d.CreatedAt)
	return &d, nil
}

// CreateDelivery holds its insert, like EnqueueJob; d.ID is set when it is
// sent.
func (t *tx) CreateDelivery(ctx context.Context, d *invite.Delivery) error {
	t.ahead = append(t.ahead, ahead{
		q: `INSERT INTO webhook_deliveries (webhook_id, org_id, event_id, event_type, state, attempts, status_code, duration,
			error, attempted_at, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		args: []any{d.WebhookID, orgUUID(d.OrgID), d.EventID, d.EventType, string(d.State), d.Attempts, d.StatusCode,
			d.Duration.Microseconds(), d.Error, d.AttemptedAt, d.NextAttemptAt, d.CreatedAt},
		read: func(br pgx.BatchResults) error { return mapErr(br.QueryRow().Scan(&d.ID)) },
	})
	return nil
}

func (t *tx) GetDelivery(ctx context.Context, webhookID, eventID string) (*invite.Delivery, error) {
	return scanDelivery(t.queryRow(ctx, "SELECT "+deliveryCols+" FROM webhook_deliveries WHERE webhook_id = $1 AND event_id = $2",
		webhookID, eventID))
}

func (t *tx) UpdateDelivery(ctx context.Context, d *invite.Delivery) error {
	return t.execOne(ctx, `UPDATE webhook_deliveries SET state = $1, attempts = $2, status_code = $3, duration = $4, error = $5,
		attempted_at = $6, next_attempt_at = $7 WHERE webhook_id = $8 AND event_id = $9`,
		string(d.State), d.Attempts, d.StatusCode, d.Duration.Microseconds(), d.Error, d.AttemptedAt, d.NextAttemptAt,
		d.WebhookID, d.EventID)
}

// deliveryListQuery is the statement ListDeliveries runs.
func deliveryListQuery(webhookID string, before int64, limit int) (string, []any) {
	var w where
	w.add("webhook_id = ?", webhookID)
	if before != 0 {
		w.add("id < ?", before)
	}
	q := "SELECT " + deliveryCols + " FROM webhook_deliveries WHERE " + w.sql() + " ORDER BY id DESC" + w.page(limit, 0)
	return q, w.args
}

func (t *tx) ListDeliveries(ctx context.Context, webhookID string, before int64, limit int) ([]*invite.Delivery, error) {
	q, args := deliveryListQuery(webhookID, before, limit)
	return queryAll(ctx, t, scanDelivery, q, args...)
}
