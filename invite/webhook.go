package invite

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// Webhook is an endpoint that receives an organization's events.
type Webhook struct {
	ID          string // wh_<ULID>
	OrgID       OrgID
	URL         string
	Events      []string // types, "prefix.*" patterns or "*"
	Description string
	Enabled     bool
	Secret      string // whsec_...; signs every delivery
	// PreviousSecret also signs until PreviousUntil, after a rotation.
	PreviousSecret string
	PreviousUntil  *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Secrets are the secrets that sign a delivery at now.
func (w *Webhook) Secrets(now time.Time) []string {
	s := []string{w.Secret}
	if w.PreviousSecret != "" && w.PreviousUntil != nil && now.Before(*w.PreviousUntil) {
		s = append(s, w.PreviousSecret)
	}
	return s
}

// DeliveryState is where one event's delivery to one endpoint stands.
type DeliveryState string

// The delivery states.
const (
	DeliveryPending   DeliveryState = "pending"
	DeliverySucceeded DeliveryState = "succeeded"
	DeliveryRetrying  DeliveryState = "retrying"
	DeliveryFailed    DeliveryState = "failed"
)

// Delivery is one event's delivery to one endpoint, with its last attempt.
type Delivery struct {
	ID            int64 // assigned by the store; newest is highest
	WebhookID     string
	OrgID         OrgID
	EventID       string
	EventType     string
	State         DeliveryState
	Attempts      int
	StatusCode    int // of the last attempt; 0 when there was no answer
	Duration      time.Duration
	Error         string
	AttemptedAt   *time.Time
	NextAttemptAt *time.Time
	CreatedAt     time.Time
}

// MailState is where an invitation's mail stands.
type MailState string

// The mail states.
const (
	MailNone     MailState = "none"
	MailQueued   MailState = "queued"
	MailSent     MailState = "sent"
	MailRetrying MailState = "retrying"
	MailFailed   MailState = "failed"
)

// MailDelivery is the state of an invitation's latest mail.
type MailDelivery struct {
	State         MailState
	Attempts      int
	LastError     string
	NextAttemptAt *time.Time
	SentAt        *time.Time
}

// WebhookInput is what a caller sets on an endpoint; nil fields stay as
// they are on an update (on a create: events all, enabled true).
type WebhookInput struct {
	URL         *string
	Events      *[]string
	Description *string
	Enabled     *bool
}

// Webhook limits.
const (
	MaxWebhookURLLen = 2048
	MaxWebhooks      = 20 // per organization
	// SecretOverlap is how long a rotated-out secret still signs.
	SecretOverlap = 24 * time.Hour
)

// NewWebhookSecret makes a signing secret: whsec_ and 32 random bytes in base64.
func NewWebhookSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func checkURLSyntax(_ context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Invalid("url must be an absolute http or https URL")
	}
	return nil
}

// apply checks in and sets it on w.
func (s *Service) applyWebhook(ctx context.Context, w *Webhook, in WebhookInput) error {
	if in.URL != nil {
		raw := strings.TrimSpace(*in.URL)
		if len(raw) > MaxWebhookURLLen {
			return Invalid("url is longer than %d characters", MaxWebhookURLLen)
		}
		if err := checkURLSyntax(ctx, raw); err != nil {
			return err
		}
		if err := s.checkURL(ctx, raw); err != nil {
			return err
		}
		w.URL = raw
	}
	if in.Events != nil {
		ev := make([]string, 0, len(*in.Events))
		for _, e := range *in.Events {
			if e = strings.TrimSpace(e); e != "" {
				ev = append(ev, e)
			}
		}
		if len(ev) == 0 {
			ev = []string{"*"}
		}
		if _, err := ParseEventSelector(ev); err != nil {
			return err
		}
		w.Events = ev
	}
	if in.Description != nil {
		d := strings.TrimSpace(*in.Description)
		if err := CheckText("description", d, 1000); err != nil {
			return err
		}
		w.Description = d
	}
	if in.Enabled != nil {
		w.Enabled = *in.Enabled
	}
	return nil
}

// CreateWebhook adds an endpoint to org. The answer carries its secret,
// which is not shown again.
func (s *Service) CreateWebhook(ctx context.Context, org OrgID, in WebhookInput) (*Webhook, error) {
	if err := authorize(ctx, org, ScopeWebhooksWrite); err != nil {
		return nil, err
	}
	if in.URL == nil {
		return nil, Invalid("url is required")
	}
	w := &Webhook{ID: "wh_" + ulid.Make().String(), OrgID: org, Events: []string{"*"}, Enabled: true, Secret: NewWebhookSecret()}
	if err := s.applyWebhook(ctx, w, in); err != nil {
		return nil, err
	}
	err := s.write(ctx, func(c *change) error {
		if _, err := s.getOrg(ctx, c.tx, org); err != nil {
			return err
		}
		list, err := c.tx.ListWebhooks(ctx, org)
		if err != nil {
			return err
		}
		if len(list) >= MaxWebhooks {
			return Conflict("the organization has reached its limit of %d webhook endpoints", MaxWebhooks)
		}
		w.CreatedAt, w.UpdatedAt = c.now, c.now
		return c.tx.CreateWebhook(ctx, s.sealed(w))
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

func (s *Service) getWebhook(ctx context.Context, tx Tx, org OrgID, id string) (*Webhook, error) {
	w, err := tx.GetWebhook(ctx, org, id)
	if errors.Is(err, ErrNotFound) {
		return nil, NotFound("webhook endpoint %q not found", id)
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.unseal(w); err != nil {
		return nil, err
	}
	return w, nil
}

// GetWebhook returns one of org's endpoints.
func (s *Service) GetWebhook(ctx context.Context, org OrgID, id string) (*Webhook, error) {
	if err := authorize(ctx, org, ScopeWebhooksRead); err != nil {
		return nil, err
	}
	var w *Webhook
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		w, err = s.getWebhook(ctx, tx, org, id)
		return err
	})
	return w, err
}

// ListWebhooks lists org's endpoints, oldest first.
func (s *Service) ListWebhooks(ctx context.Context, org OrgID) ([]*Webhook, error) {
	if err := authorize(ctx, org, ScopeWebhooksRead); err != nil {
		return nil, err
	}
	var list []*Webhook
	err := s.store.Read(ctx, func(tx Tx) error {
		if _, err := s.getOrg(ctx, tx, org); err != nil {
			return err
		}
		var err error
		if list, err = tx.ListWebhooks(ctx, org); err != nil {
			return err
		}
		for _, w := range list {
			if _, err := s.unseal(w); err != nil {
				return err
			}
		}
		return nil
	})
	return list, err
}

// UpdateWebhook changes an endpoint.
func (s *Service) UpdateWebhook(ctx context.Context, org OrgID, id string, in WebhookInput) (*Webhook, error) {
	if err := authorize(ctx, org, ScopeWebhooksWrite); err != nil {
		return nil, err
	}
	// The URL check resolves the host: done before the transaction, so that
	// a slow resolver holds no write.
	var checked Webhook
	if err := s.applyWebhook(ctx, &checked, in); err != nil {
		return nil, err
	}
	return s.changeWebhook(ctx, org, id, func(c *change, w *Webhook) error {
		if in.URL != nil {
			w.URL = checked.URL
		}
		if in.Events != nil {
			w.Events = checked.Events
		}
		if in.Description != nil {
			w.Description = checked.Description
		}
		if in.Enabled != nil {
			w.Enabled = checked.Enabled
		}
		return nil
	})
}

// RotateWebhookSecret gives an endpoint a new secret; the old one also
// signs for SecretOverlap, so that a receiver can switch without a gap.
func (s *Service) RotateWebhookSecret(ctx context.Context, org OrgID, id string) (*Webhook, error) {
	return s.changeWebhook(ctx, org, id, func(c *change, w *Webhook) error {
		until := c.now.Add(SecretOverlap)
		w.PreviousSecret, w.PreviousUntil, w.Secret = w.Secret, &until, NewWebhookSecret()
		return nil
	})
}

func (s *Service) changeWebhook(ctx context.Context, org OrgID, id string, fn func(*change, *Webhook) error) (*Webhook, error) {
	if err := authorize(ctx, org, ScopeWebhooksWrite); err != nil {
		return nil, err
	}
	var w *Webhook
	err := s.write(ctx, func(c *change) error {
		var err error
		if w, err = s.getWebhook(ctx, c.tx, org, id); err != nil {
			return err
		}
		if err := fn(c, w); err != nil {
			return err
		}
		w.UpdatedAt = c.now
		return c.tx.UpdateWebhook(ctx, s.sealed(w))
	})
	return w, err
}

// DeleteWebhook removes an endpoint and its deliveries; its queued
// deliveries find it gone and are dropped.
func (s *Service) DeleteWebhook(ctx context.Context, org OrgID, id string) error {
	if err := authorize(ctx, org, ScopeWebhooksWrite); err != nil {
		return err
	}
	return s.write(ctx, func(c *change) error {
		if _, err := s.getWebhook(ctx, c.tx, org, id); err != nil {
			return err
		}
		return c.tx.DeleteWebhook(ctx, org, id)
	})
}

// ListDeliveries pages through an endpoint's deliveries, newest first.
func (s *Service) ListDeliveries(ctx context.Context, org OrgID, id string, limit int, cur string) (*Page[*Delivery], error) {
	if err := authorize(ctx, org, ScopeWebhooksRead); err != nil {
		return nil, err
	}
	n, err := CheckLimit(limit)
	if err != nil {
		return nil, err
	}
	var before int64
	if cur != "" {
		c, err := decodeCursor(cur)
		if err != nil || c.Sort != "deliveries" || c.Number <= 0 {
			return nil, Invalid("cursor is not valid for this list")
		}
		before = c.Number
	}
	var items []*Delivery
	err = s.store.Read(ctx, func(tx Tx) error {
		if _, err := s.getWebhook(ctx, tx, org, id); err != nil {
			return err
		}
		var err error
		items, err = tx.ListDeliveries(ctx, id, before, n+1)
		return err
	})
	if err != nil {
		return nil, err
	}
	page := &Page[*Delivery]{Items: items}
	if len(items) > n {
		page.Items = items[:n]
		b, _ := json.Marshal(cursor{Sort: "deliveries", Number: items[n-1].ID})
		page.NextCursor = base64.RawURLEncoding.EncodeToString(b)
	}
	return page, nil
}

// RetryDelivery sends an event to an endpoint again now, whatever became of
// its earlier attempts.
func (s *Service) RetryDelivery(ctx context.Context, org OrgID, id, eventID string) (*Delivery, error) {
	if err := authorize(ctx, org, ScopeWebhooksWrite); err != nil {
		return nil, err
	}
	var d *Delivery
	err := s.write(ctx, func(c *change) error {
		w, err := s.getWebhook(ctx, c.tx, org, id)
		if err != nil {
			return err
		}
		if !w.Enabled {
			return Conflict("webhook endpoint %q is disabled; enable it to send it events again", id)
		}
		d, err = c.tx.GetDelivery(ctx, id, eventID)
		if errors.Is(err, ErrNotFound) {
			return NotFound("no delivery of event %q to this endpoint", eventID)
		}
		if err != nil {
			return err
		}
		d.State, d.NextAttemptAt = DeliveryPending, &c.now
		if err := c.tx.UpdateDelivery(ctx, d); err != nil {
			return err
		}
		return c.enqueue(deliveryJob(w, eventID, c.now))
	})
	return d, err
}

// TestWebhook sends a webhook.test event to one endpoint, enabled or not.
func (s *Service) TestWebhook(ctx context.Context, org OrgID, id string) (*Event, error) {
	if err := authorize(ctx, org, ScopeWebhooksWrite); err != nil {
		return nil, err
	}
	var e *Event
	err := s.write(ctx, func(c *change) error {
		w, err := s.getWebhook(ctx, c.tx, org, id)
		if err != nil {
			return err
		}
		e = c.emit(org, EventWebhookTest, w.ID, ViewWebhook(w))
		e.only = w.ID
		return nil
	})
	return e, err
}

// Outgoing is what a webhook_delivery job sends: the event, to the endpoint.
type Outgoing struct {
	Webhook *Webhook
	Event   *Event
}

// loadDeliveries sets what each webhook_delivery job of jobs sends as its
// Loaded (*Outgoing), read in the claim's transaction: one read for the
// claim, not one an attempt. A job whose endpoint or event is gone gets
// none: there is nothing left to send.
func (s *Service) loadDeliveries(c *change, jobs []*Job) error {
	args := make(map[int64]DeliveryArgs, len(jobs))
	var hookIDs, eventIDs []string
	for _, j := range jobs {
		if j.Kind != JobWebhookDelivery {
			continue
		}
		a, ok := deliveryArgs(j)
		if !ok {
			continue // a damaged job: nothing to send
		}
		args[j.ID] = a
		hookIDs, eventIDs = append(hookIDs, a.WebhookID), append(eventIDs, a.EventID)
	}
	if len(args) == 0 {
		return nil
	}
	hooks, err := c.tx.GetWebhooksByID(c.ctx, hookIDs)
	if err != nil {
		return err
	}
	events, err := c.tx.GetEventsByID(c.ctx, eventIDs)
	if err != nil {
		return err
	}
	hookByID := make(map[string]*Webhook, len(hooks))
	for _, w := range hooks {
		if _, err := s.unseal(w); err != nil {
			return err
		}
		hookByID[w.ID] = w
	}
	eventByID := make(map[string]*Event, len(events))
	for _, e := range events {
		eventByID[e.ID] = e
	}
	for _, j := range jobs {
		a, ok := args[j.ID]
		if !ok {
			continue
		}
		w, e := hookByID[a.WebhookID], eventByID[a.EventID]
		// Ids are unique across organizations; the job's is checked all the same.
		if j.OrgID == nil || w == nil || e == nil || w.OrgID != *j.OrgID || e.OrgID != *j.OrgID {
			continue
		}
		j.Loaded = &Outgoing{Webhook: w, Event: e}
	}
	return nil
}

// sealed is w as the store keeps it: its signing secrets sealed under the
// server secret, so that a copy of the database signs nothing.
func (s *Service) sealed(w *Webhook) *Webhook {
	c := *w
	c.Secret, c.PreviousSecret = s.secret.seal(w.Secret, w.ID), s.secret.seal(w.PreviousSecret, w.ID)
	return &c
}

// unseal opens, in place, the secrets of w as the store keeps them, telling
// whether both were sealed under the current server secret.
func (s *Service) unseal(w *Webhook) (current bool, err error) {
	var cur, prev bool
	if w.Secret, cur, err = s.secret.open(w.Secret, w.ID); err != nil {
		return false, fmt.Errorf("webhook endpoint %s: %w", w.ID, err)
	}
	if w.PreviousSecret, prev, err = s.secret.open(w.PreviousSecret, w.ID); err != nil {
		return false, fmt.Errorf("webhook endpoint %s: %w", w.ID, err)
	}
	return cur && prev, nil
}

// SealWebhookSecrets checks, at start, that every stored signing secret
// opens under the configured secrets, and seals again under the current one
// those that are not: stored in the clear by an earlier version, or sealed
// under the previous secret before a rotation. Once it has run on a node
// with the new secret, the previous one may be dropped.
func (s *Service) SealWebhookSecrets(ctx context.Context) (int, error) {
	if err := requireAdmin(ctx); err != nil {
		return 0, err
	}
	n := 0
	err := s.write(ctx, func(c *change) error {
		n = 0
		list, err := c.tx.ListAllWebhooks(c.ctx)
		if err != nil {
			return err
		}
		for _, w := range list {
			current, err := s.unseal(w)
			if err != nil {
				return err
			}
			if current {
				continue
			}
			if err := c.tx.UpdateWebhook(c.ctx, s.sealed(w)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
