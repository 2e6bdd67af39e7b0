package invite

import (
	"context"
	"slices"
	"time"
)

// change is one write transaction of the Service, the only way anything
// changes: the rows it writes, the events it appends and the jobs it
// enqueues commit together. Its clock is read once; every rule in it uses
// now.
type change struct {
	ctx       context.Context
	tx        Tx
	now       time.Time
	actor     Actor
	requestID string
	events    []*Event
	kinds     []string // of the jobs enqueued: the runner is woken for them after the commit
}

// emit appends an event about subject with data, the object as the API
// shows it after the change.
func (c *change) emit(org OrgID, typ, subject string, data any) *Event {
	e := &Event{ID: newEventID(), Type: typ, OrgID: org, Subject: subject, CreatedAt: c.now,
		Actor: c.actor, RequestID: c.requestID, Data: marshal(data)}
	c.events = append(c.events, e)
	return e
}

// enqueue adds a job that runs after the commit.
func (c *change) enqueue(j *Job) error {
	if j.RunAt.IsZero() {
		j.RunAt = c.now
	}
	j.CreatedAt = c.now
	if !slices.Contains(c.kinds, j.Kind) {
		c.kinds = append(c.kinds, j.Kind)
	}
	return c.tx.EnqueueJob(c.ctx, j)
}

// write runs fn as one change on behalf of ctx's caller. fn may run more
// than once (a store may retry a transaction), each time on a fresh change.
func (s *Service) write(ctx context.Context, fn func(*change) error) error {
	actor := PrincipalFrom(ctx).Actor()
	rid := RequestIDFrom(ctx)
	var wake []string
	err := s.store.Write(ctx, func(tx Tx) error {
		c := &change{ctx: ctx, tx: tx, now: s.Now(), actor: actor, requestID: rid}
		if err := fn(c); err != nil {
			return err
		}
		if err := s.publish(c); err != nil {
			return err
		}
		wake = c.kinds
		return nil
	})
	if err == nil {
		for _, k := range wake {
			s.wake(k)
		}
	}
	return err
}

// publish appends c's events to the log and enqueues a delivery for each
// enabled endpoint that wants one, in c's transaction.
func (s *Service) publish(c *change) error {
	if len(c.events) == 0 {
		return nil
	}
	if err := c.tx.AppendEvents(c.ctx, c.events); err != nil {
		return err
	}
	hooks := map[OrgID][]*Webhook{}
	for _, e := range c.events {
		list, seen := hooks[e.OrgID]
		if !seen {
			var err error
			if list, err = c.tx.ListWebhooks(c.ctx, e.OrgID); err != nil {
				return err
			}
			hooks[e.OrgID] = list
		}
		for _, w := range list {
			if !wants(w, e) {
				continue
			}
			if err := s.queueDelivery(c, w, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// wants tells whether endpoint w receives event e.
func wants(w *Webhook, e *Event) bool {
	if e.only != "" {
		return e.only == w.ID
	}
	if !w.Enabled {
		return false
	}
	sel, err := ParseEventSelector(w.Events)
	return err == nil && sel.Matches(e.Type)
}

// queueDelivery records a pending delivery of e to w and its job.
func (s *Service) queueDelivery(c *change, w *Webhook, e *Event) error {
	d := &Delivery{WebhookID: w.ID, OrgID: w.OrgID, EventID: e.ID, EventType: e.Type, State: DeliveryPending,
		NextAttemptAt: &c.now, CreatedAt: c.now}
	if err := c.tx.CreateDelivery(c.ctx, d); err != nil {
		return err
	}
	return c.enqueue(deliveryJob(w, e.ID, c.now))
}

func deliveryJob(w *Webhook, eventID string, at time.Time) *Job {
	org := w.OrgID
	return &Job{Kind: JobWebhookDelivery, Key: "webhook:" + w.ID + ":" + eventID, OrgID: &org,
		Args: marshal(DeliveryArgs{WebhookID: w.ID, EventID: eventID}), RunAt: at}
}

// purgeBatch is how many rows a purge removes in one transaction.
const purgeBatch = 1000

// purge runs del, which removes up to purgeBatch rows, a change at a time
// until one removes fewer, so that no write waits long behind a purge; it
// says how many rows went.
func (s *Service) purge(ctx context.Context, del func(*change) (int, error)) (int, error) {
	total := 0
	for {
		var n int
		err := s.write(ctx, func(c *change) error {
			var err error
			n, err = del(c)
			return err
		})
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
}
