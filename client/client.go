package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls one invitd server's native API with one key. It is safe for
// concurrent use.
type Client struct {
	base       string
	key        string
	http       *http.Client
	userAgent  string
	maxRetries int
	maxWait    time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends requests with hc instead of http.DefaultClient.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithRetries sets how many times a request is tried again after a 429, a
// 5xx or (when repeating it is safe) a failed connection; default 3, 0 for
// none.
func WithRetries(n int) Option { return func(c *Client) { c.maxRetries = max(0, n) } }

// WithMaxRetryWait sets the longest wait before a retry; a Retry-After
// asking for longer ends the call with its error instead. Default 30s.
func WithMaxRetryWait(d time.Duration) Option { return func(c *Client) { c.maxWait = d } }

// WithUserAgent sets the User-Agent of every request.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the server at baseURL (such as
// https://invite.example.com, or with the path a proxy serves it under)
// that authenticates with key, an admin or organization API key.
func New(baseURL, key string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(baseURL, "/"), key: key, http: http.DefaultClient,
		userAgent: "invitd-go-client", maxRetries: 3, maxWait: 30 * time.Second}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Error is a problem the server answered (RFC 9457), or one of a retry
// that could not wait.
type Error struct {
	Status int           `json:"status"`
	Title  string        `json:"title"`
	Detail string        `json:"detail"`
	Type   string        `json:"type,omitempty"`
	Errors []ErrorDetail `json:"errors,omitempty"`
	// RetryAfter is the server's Retry-After, when it gave one.
	RetryAfter time.Duration `json:"-"`
}

// ErrorDetail names one part of a request that was wrong.
type ErrorDetail struct {
	Message  string `json:"message"`
	Location string `json:"location,omitempty"`
	Value    any    `json:"value,omitempty"`
}

func (e *Error) Error() string {
	s := fmt.Sprintf("invitd: %d %s", e.Status, e.Title)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	for _, d := range e.Errors {
		s += "; " + d.Message
		if d.Location != "" {
			s += " (" + d.Location + ")"
		}
	}
	return s
}

// IsNotFound tells an error whose status is 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// request is one call: its body is kept as bytes so that a retry sends it
// again.
type request struct {
	method, path string
	query        url.Values
	body         []byte
	contentType  string
	header       http.Header
	// idempotent: sending it twice does what sending it once does (GET,
	// DELETE, PATCH, or a create with an Idempotency-Key), so a connection
	// that failed after the request went out may be retried.
	idempotent bool
}

func (c *Client) newRequest(method, path string, body any) (*request, error) {
	r := &request{method: method, path: path, header: http.Header{},
		idempotent: method == http.MethodGet || method == http.MethodDelete || method == http.MethodPatch}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r.body, r.contentType = b, "application/json"
	}
	return r, nil
}

// withIdempotencyKey sets key, or a new random one, so that retries of a
// create make it once.
func (r *request) withIdempotencyKey(key string) *request {
	if key == "" {
		key = "invitd-go-" + rand.Text()
	}
	r.header.Set("Idempotency-Key", key)
	r.idempotent = true
	return r
}

// do sends r, retrying as the options say, and decodes a success into out
// (when not nil).
func (c *Client) do(ctx context.Context, r *request, out any) error {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, r.method, u, bytes.NewReader(r.body))
		if err != nil {
			return err
		}
		if r.body == nil {
			req.Body, req.ContentLength = http.NoBody, 0
		}
		for k, v := range r.header {
			req.Header[k] = v
		}
		if r.contentType != "" {
			req.Header.Set("Content-Type", r.contentType)
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", c.userAgent)
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		res, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil || !r.idempotent || attempt >= c.maxRetries {
				return err
			}
			if werr := c.wait(ctx, attempt, 0); werr != nil {
				return err
			}
			continue
		}
		err = decode(res, out)
		var apiErr *Error
		if errors.As(err, &apiErr) && retryable(apiErr.Status, r.idempotent) && attempt < c.maxRetries {
			if apiErr.RetryAfter > c.maxWait {
				return err
			}
			if werr := c.wait(ctx, attempt, apiErr.RetryAfter); werr != nil {
				return werr
			}
			continue
		}
		return err
	}
}

// retryable: a 429 and a 503 were refused before anything was written; any
// other 5xx may have written, so it is tried again only when that is safe.
func retryable(status int, idempotent bool) bool {
	switch {
	case status == http.StatusTooManyRequests, status == http.StatusServiceUnavailable:
		return true
	case status >= 500:
		return idempotent
	}
	return false
}

// wait sleeps before retry attempt+1: the server's Retry-After when given,
// else a growing, jittered backoff from 200 ms.
func (c *Client) wait(ctx context.Context, attempt int, after time.Duration) error {
	d := after
	if d <= 0 {
		base := 200 * time.Millisecond * time.Duration(math.Pow(2, float64(attempt)))
		d = min(base/2+time.Duration(mathrand.Int64N(int64(base))), c.maxWait)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// decode reads a success into out, or a problem into an *Error.
func decode(res *http.Response, out any) error {
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 32<<20))
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		e := &Error{Status: res.StatusCode}
		_ = json.Unmarshal(b, e)
		e.Status = res.StatusCode
		if e.Title == "" {
			e.Title = http.StatusText(res.StatusCode)
		}
		e.RetryAfter = parseRetryAfter(res.Header.Get("Retry-After"), time.Now())
		return e
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("invitd: reading the answer to %s %s: %w", res.Request.Method, res.Request.URL.Path, err)
	}
	return nil
}

// parseRetryAfter reads seconds or an HTTP date; 0 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now))
	}
	return 0
}

func path(format string, ids ...string) string {
	esc := make([]any, len(ids))
	for i, id := range ids {
		esc[i] = url.PathEscape(id)
	}
	return fmt.Sprintf(format, esc...)
}

// pageQuery is the query of a keyset page.
func pageQuery(q url.Values, limit int, cursor string) url.Values {
	if q == nil {
		q = url.Values{}
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return q
}
