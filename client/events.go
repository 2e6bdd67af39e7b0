package client

import (
	"context"
	"iter"
	"net/url"
	"strconv"
	"strings"
)

// Events walks org's event log, oldest first, from f.After to the newest
// event there is now; to follow the log, keep the last event's cursor
// (EventsPage) and ask again later.
func (c *Client) Events(ctx context.Context, org string, f ListEvents) iter.Seq2[*Event, error] {
	return c.events(ctx, path("/v1/organizations/%s/events", org), f)
}

// EventsPage reads one page of org's event log and the cursor to ask with
// next; the cursor is never empty, an empty page means nothing newer yet.
func (c *Client) EventsPage(ctx context.Context, org string, f ListEvents) ([]*Event, string, error) {
	return c.eventsPage(ctx, path("/v1/organizations/%s/events", org), f)
}

// GetEvent reads one event.
func (c *Client) GetEvent(ctx context.Context, org, id string) (*Event, error) {
	r, _ := c.newRequest("GET", path("/v1/organizations/%s/events/%s", org, id), nil)
	var e Event
	return &e, c.do(ctx, r, &e)
}

func (c *Client) eventsPage(ctx context.Context, p string, f ListEvents) ([]*Event, string, error) {
	q := url.Values{}
	if len(f.Types) > 0 {
		q.Set("type", strings.Join(f.Types, ","))
	}
	if f.After != "" {
		q.Set("after", f.After)
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	r, _ := c.newRequest("GET", p, nil)
	r.query = q
	var out struct {
		Data       []*Event `json:"data"`
		NextCursor string   `json:"next_cursor"`
	}
	err := c.do(ctx, r, &out)
	return out.Data, out.NextCursor, err
}

// events walks an event list: its cursor is "after", and it ends at the
// first empty page.
func (c *Client) events(ctx context.Context, p string, f ListEvents) iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		for {
			page, next, err := c.eventsPage(ctx, p, f)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, e := range page {
				if !yield(e, nil) {
					return
				}
			}
			if len(page) == 0 || next == "" || next == f.After {
				return
			}
			f.After = next
		}
	}
}
