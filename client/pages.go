package client

import (
	"context"
	"iter"
	"net/url"
)

// walk yields every item of a keyset-paged list, fetching the next page
// when the last is used up; it stops at the first error, which it yields.
func walk[T any](ctx context.Context, c *Client, path string, q url.Values, limit int) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		cursor := ""
		for {
			var p page[T]
			r, _ := c.newRequest("GET", path, nil)
			r.query = pageQuery(cloneValues(q), limit, cursor)
			if err := c.do(ctx, r, &p); err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, item := range p.Data {
				if !yield(item, nil) {
					return
				}
			}
			if p.NextCursor == nil || *p.NextCursor == "" || len(p.Data) == 0 {
				return
			}
			cursor = *p.NextCursor
		}
	}
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}
