package invite

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// EventParams are the event log's list parameters.
type EventParams struct {
	// Types: event types and "prefix.*" patterns, any of which matches.
	Types []string
	After string // a cursor from an earlier page; "" for the start of the log
	Limit int    // 1..100; 0 means 20
}

// EventPage is one page of the log. NextCursor is never empty: a consumer
// keeps polling with the last one it got.
type EventPage struct {
	Items      []*Event
	NextCursor string
}

// EncodeEventCursor makes the opaque cursor for position p.
func EncodeEventCursor(p EventPosition) string {
	b, _ := json.Marshal(cursor{Sort: "events", Tx: p.Tx, Number: p.Seq})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeEventCursor(s string) (EventPosition, error) {
	if s == "" {
		return EventPosition{}, nil
	}
	c, err := decodeCursor(s)
	if err != nil || c.Sort != "events" {
		return EventPosition{}, Invalid("after is not a cursor of this log")
	}
	return EventPosition{Tx: c.Tx, Seq: c.Number}, nil
}

// ListEvents pages through org's events, oldest first.
func (s *Service) ListEvents(ctx context.Context, org OrgID, p EventParams) (*EventPage, error) {
	return s.listEvents(ctx, org, p, func(Tx) (string, error) { return "", nil })
}

// InvitationEvents pages through one invitation's history, oldest first.
func (s *Service) InvitationEvents(ctx context.Context, org OrgID, ref InvitationRef, p EventParams) (*EventPage, error) {
	return s.listEvents(ctx, org, p, func(tx Tx) (string, error) {
		inv, err := s.getInvitation(ctx, tx, org, ref, false)
		if err != nil {
			return "", err
		}
		return inv.ID.String(), nil
	})
}

// listEvents lists org's events; subject names the object they must be about ("" for all).
func (s *Service) listEvents(ctx context.Context, org OrgID, p EventParams, subject func(Tx) (string, error)) (*EventPage, error) {
	if err := authorize(ctx, org, ScopeEventsRead); err != nil {
		return nil, err
	}
	sel, err := ParseEventSelector(splitList(p.Types))
	if err != nil {
		return nil, err
	}
	f := EventFilter{Org: org, Types: sel.Types, Prefixes: sel.Prefixes}
	if f.After, err = decodeEventCursor(p.After); err != nil {
		return nil, err
	}
	if f.Limit, err = CheckLimit(p.Limit); err != nil {
		return nil, err
	}
	var items []*Event
	err = s.store.Read(ctx, func(tx Tx) error {
		if _, err := s.getOrg(ctx, tx, org); err != nil {
			return err
		}
		var err error
		if f.Subject, err = subject(tx); err != nil {
			return err
		}
		items, err = tx.ListEvents(ctx, f)
		return err
	})
	if err != nil {
		return nil, err
	}
	last := f.After
	if len(items) > 0 {
		last = items[len(items)-1].Position
	}
	return &EventPage{Items: items, NextCursor: EncodeEventCursor(last)}, nil
}

// splitList splits comma-separated items, as a query parameter may carry them.
func splitList(items []string) []string {
	var out []string
	for _, it := range items {
		out = append(out, strings.Split(it, ",")...)
	}
	return out
}

// GetEvent returns one of org's events.
func (s *Service) GetEvent(ctx context.Context, org OrgID, id string) (*Event, error) {
	if err := authorize(ctx, org, ScopeEventsRead); err != nil {
		return nil, err
	}
	var e *Event
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		e, err = tx.GetEvent(ctx, org, id)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return nil, NotFound("event %q not found", id)
	}
	return e, err
}

// PurgeEvents removes the events created before t, a batch per
// transaction so that no write waits long behind it, and says how many.
func (s *Service) PurgeEvents(ctx context.Context, before time.Time) (int, error) {
	if err := requireAdmin(ctx); err != nil {
		return 0, err
	}
	return s.purge(ctx, func(c *change) (int, error) { return c.tx.DeleteEventsBefore(c.ctx, before, purgeBatch) })
}
