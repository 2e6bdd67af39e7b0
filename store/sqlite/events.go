package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"time"

	"github.com/invitd/invitd/invite"
)

// ---- events

const eventCols = "seq, id, org_id, type, subject, created_at, actor, request_id, data"

func scanEvent(row interface{ Scan(...any) error }) (*invite.Event, error) {
	var e invite.Event
	var actor, data string
	var created int64
	if err := row.Scan(&e.Position.Seq, &e.ID, &e.OrgID, &e.Type, &e.Subject, &created, &actor, &e.RequestID, &data); err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(actor), &e.Actor); err != nil {
		return nil, err
	}
	e.CreatedAt, e.Data = fromMicros(created), json.RawMessage(data)
	return &e, nil
}

func (t *tx) AppendEvents(ctx context.Context, events []*invite.Event) error {
	for _, e := range events {
		data := string(e.Data)
		if data == "" {
			data = "{}"
		}
		_, err := t.exec(ctx, "INSERT INTO events (id, org_id, type, subject, created_at, actor, request_id, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			e.ID, e.OrgID, e.Type, e.Subject, micros(e.CreatedAt), jsonText(e.Actor), e.RequestID, data)
		if err != nil {
			return err
		}
	}
	return nil
}

// eventListQuery is the statement ListEvents runs for f. It reads in seq
// order: one writer commits at a time, so an event that commits later
// always has a higher seq, and a cursor skips nothing.
func eventListQuery(f invite.EventFilter) (string, []any) {
	var w where
	w.add("org_id = ?", f.Org)
	w.add("seq > ?", f.After.Seq)
	// A prefix is compared with substr, not LIKE: '_' in "api_key." is a
	// LIKE wildcard. (json_each has a column "type" of its own.)
	switch {
	case len(f.Types) > 0 && len(f.Prefixes) > 0:
		w.add("(type IN (SELECT value FROM json_each(?)) OR EXISTS (SELECT 1 FROM json_each(?) p WHERE substr(events.type, 1, length(p.value)) = p.value))",
			jsonText(f.Types), jsonText(f.Prefixes))
	case len(f.Types) > 0:
		w.add("type IN (SELECT value FROM json_each(?))", jsonText(f.Types))
	case len(f.Prefixes) > 0:
		w.add("EXISTS (SELECT 1 FROM json_each(?) p WHERE substr(events.type, 1, length(p.value)) = p.value)", jsonText(f.Prefixes))
	}
	if f.Subject != "" {
		w.add("subject = ?", f.Subject)
	}
	q := "SELECT " + eventCols + " FROM events WHERE " + w.sql() + " ORDER BY seq" + limitSQL(f.Limit, 0)
	return q, w.args
}

func (t *tx) ListEvents(ctx context.Context, f invite.EventFilter) ([]*invite.Event, error) {
	q, args := eventListQuery(f)
	return queryAll(ctx, t, scanEvent, q, args...)
}

func (t *tx) GetEvent(ctx context.Context, org invite.OrgID, id string) (*invite.Event, error) {
	return scanEvent(t.queryRow(ctx, "SELECT "+eventCols+" FROM events WHERE id = ? AND org_id = ?", id, org))
}

func (t *tx) GetEventsByID(ctx context.Context, ids []string) ([]*invite.Event, error) {
	return queryAll(ctx, t, scanEvent, "SELECT "+eventCols+" FROM events WHERE id IN (SELECT value FROM json_each(?))", jsonText(ids))
}

// DeleteEventsBefore looks only at the oldest limit events by seq, which
// are the oldest by time too (seq is commit order), so that it needs no
// index by time and reads no more than it may delete.
func (t *tx) DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	r, err := t.exec(ctx, `DELETE FROM events WHERE seq IN (SELECT seq FROM (SELECT seq, created_at FROM events ORDER BY seq`+limitSQL(limit, 0)+`)
		WHERE created_at < ?)`, micros(before))
	if err != nil {
		return 0, err
	}
	n, err := r.RowsAffected()
	return int(n), err
}

// ---- webhooks

const webhookCols = "id, org_id, url, events, description, enabled, secret, previous_secret, previous_until, created_at, updated_at"

func scanWebhook(row interface{ Scan(...any) error }) (*invite.Webhook, error) {
	var w invite.Webhook
	var events string
	var created, updated int64
	var until sql.NullInt64
	err := row.Scan(&w.ID, &w.OrgID, &w.URL, &events, &w.Description, &w.Enabled, &w.Secret, &w.PreviousSecret, &until, &created, &updated)
	if err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, err
	}
	w.PreviousUntil, w.CreatedAt, w.UpdatedAt = fromMicrosPtr(until), fromMicros(created), fromMicros(updated)
	return &w, nil
}

func (t *tx) CreateWebhook(ctx context.Context, w *invite.Webhook) error {
	t.cache.forget()
	_, err := t.exec(ctx, "INSERT INTO webhooks ("+webhookCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		w.ID, w.OrgID, w.URL, jsonText(nonNil(w.Events)), w.Description, w.Enabled, w.Secret, w.PreviousSecret,
		microsPtr(w.PreviousUntil), micros(w.CreatedAt), micros(w.UpdatedAt))
	return err
}

func (t *tx) GetWebhook(ctx context.Context, org invite.OrgID, id string) (*invite.Webhook, error) {
	return scanWebhook(t.queryRow(ctx, "SELECT "+webhookCols+" FROM webhooks WHERE org_id = ? AND id = ?", org, id))
}

func (t *tx) GetWebhooksByID(ctx context.Context, ids []string) ([]*invite.Webhook, error) {
	return queryAll(ctx, t, scanWebhook, "SELECT "+webhookCols+" FROM webhooks WHERE id IN (SELECT value FROM json_each(?))", jsonText(ids))
}

// webhookListQuery is the statement ListWebhooks runs.
func webhookListQuery(org invite.OrgID) (string, []any) {
	return "SELECT " + webhookCols + " FROM webhooks WHERE org_id = ? ORDER BY created_at, id", []any{org}
}

func (t *tx) ListWebhooks(ctx context.Context, org invite.OrgID) ([]*invite.Webhook, error) {
	read := func() ([]*invite.Webhook, error) {
		q, args := webhookListQuery(org)
		return queryAll(ctx, t, scanWebhook, q, args...)
	}
	c := t.cache
	if c == nil {
		return read()
	}
	if err := c.check(ctx, t); err != nil {
		return nil, err
	}
	list, ok := c.hooks[org]
	if !ok {
		var err error
		if list, err = read(); err != nil {
			return nil, err
		}
		c.hooks[org] = list
	}
	return cloneWebhooks(list), nil
}

func (t *tx) ListAllWebhooks(ctx context.Context) ([]*invite.Webhook, error) {
	return queryAll(ctx, t, scanWebhook, "SELECT "+webhookCols+" FROM webhooks")
}

func cloneWebhooks(list []*invite.Webhook) []*invite.Webhook {
	out := make([]*invite.Webhook, len(list))
	for i, w := range list {
		c := *w
		c.Events = slices.Clone(w.Events)
		out[i] = &c
	}
	return out
}

func (t *tx) UpdateWebhook(ctx context.Context, w *invite.Webhook) error {
	t.cache.forget()
	return t.execOne(ctx, `UPDATE webhooks SET url = ?, events = ?, description = ?, enabled = ?, secret = ?, previous_secret = ?,
		previous_until = ?, updated_at = ? WHERE org_id = ? AND id = ?`,
		w.URL, jsonText(nonNil(w.Events)), w.Description, w.Enabled, w.Secret, w.PreviousSecret, microsPtr(w.PreviousUntil),
		micros(w.UpdatedAt), w.OrgID, w.ID)
}

func (t *tx) DeleteWebhook(ctx context.Context, org invite.OrgID, id string) error {
	t.cache.forget()
	return t.execOne(ctx, "DELETE FROM webhooks WHERE org_id = ? AND id = ?", org, id)
}

// ---- deliveries

const deliveryCols = "id, webhook_id, org_id, event_id, event_type, state, attempts, status_code, duration, error, attempted_at, next_attempt_at, created_at"

func scanDelivery(row interface{ Scan(...any) error }) (*invite.Delivery, error) {
	var d invite.Delivery
	var state string
	var duration, created int64
	var attempted, next sql.NullInt64
	err := row.Scan(&d.ID, &d.WebhookID, &d.OrgID, &d.EventID, &d.EventType, &state, &d.Attempts, &d.StatusCode, &duration,
		&d.Error, &attempted, &next, &created)
	if err != nil {
		return nil, notFound(err)
	}
	d.State, d.Duration = invite.DeliveryState(state), time.Duration(duration)*time.Microsecond
	d.AttemptedAt, d.NextAttemptAt, d.CreatedAt = fromMicrosPtr(attempted), fromMicrosPtr(next), fromMicros(created)
	return &d, nil
}

func (t *tx) CreateDelivery(ctx context.Context, d *invite.Delivery) error {
	r, err := t.exec(ctx, `INSERT INTO webhook_deliveries (webhook_id, org_id, event_id, event_type, state, attempts, status_code,
		duration, error, attempted_at, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.WebhookID, d.OrgID, d.EventID, d.EventType, string(d.State), d.Attempts, d.StatusCode, d.Duration.Microseconds(),
		d.Error, microsPtr(d.AttemptedAt), microsPtr(d.NextAttemptAt), micros(d.CreatedAt))
	if err != nil {
		return err
	}
	d.ID, err = r.LastInsertId()
	return err
}

func (t *tx) GetDelivery(ctx context.Context, webhookID, eventID string) (*invite.Delivery, error) {
	return scanDelivery(t.queryRow(ctx, "SELECT "+deliveryCols+" FROM webhook_deliveries WHERE webhook_id = ? AND event_id = ?", webhookID, eventID))
}

func (t *tx) UpdateDelivery(ctx context.Context, d *invite.Delivery) error {
	return t.execOne(ctx, `UPDATE webhook_deliveries SET state = ?, attempts = ?, status_code = ?, duration = ?, error = ?,
		attempted_at = ?, next_attempt_at = ? WHERE webhook_id = ? AND event_id = ?`,
		string(d.State), d.Attempts, d.StatusCode, d.Duration.Microseconds(), d.Error, microsPtr(d.AttemptedAt),
		microsPtr(d.NextAttemptAt), d.WebhookID, d.EventID)
}

// deliveryListQuery is the statement ListDeliveries runs.
func deliveryListQuery(webhookID string, before int64, limit int) (string, []any) {
	if before != 0 {
		return "SELECT " + deliveryCols + " FROM webhook_deliveries WHERE webhook_id = ? AND id < ? ORDER BY id DESC" +
			limitSQL(limit, 0), []any{webhookID, before}
	}
	return "SELECT " + deliveryCols + " FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC" +
		limitSQL(limit, 0), []any{webhookID}
}

func (t *tx) ListDeliveries(ctx context.Context, webhookID string, before int64, limit int) ([]*invite.Delivery, error) {
	q, args := deliveryListQuery(webhookID, before, limit)
	return queryAll(ctx, t, scanDelivery, q, args...)
}
