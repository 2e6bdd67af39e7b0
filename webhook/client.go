package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// DefaultTimeout bounds one delivery when NewClient is given no timeout.
const DefaultTimeout = 10 * time.Second

// MaxBody is how much of a receiver's answer is kept. The answer is only
// shown to the user to explain a failure; reading more would let one
// receiver make the server hold or download as much as it likes.
const MaxBody = 64 << 10

// userAgent names the sender to receivers, unless the caller sets its own.
const userAgent = "invitd-webhooks/1"

// Client delivers webhook messages over HTTP, each connection dialed
// through a Guard. It is safe for concurrent use; connections are kept and
// reused across deliveries to the same receiver.
type Client struct {
	timeout time.Duration
	hc      *http.Client
}

// Result is what one delivery attempt came to.
type Result struct {
	// Status is the HTTP status code of the answer, or 0 when Err is set.
	// A redirect is not followed: a 3xx is an answer like any other
	// non-2xx.
	Status int
	// Duration is the time from the start of Post to its end, the answer
	// body read included.
	Duration time.Duration
	// Body is the start of the answer body, at most MaxBody bytes.
	Body []byte
	// Truncated tells that the answer body was longer than Body.
	Truncated bool
	// Err is set when no complete answer came: a refused URL or address
	// (errors.As finds *RefusedError), a connection failure, or the
	// timeout. An error status is not an Err.
	Err error
}

// NewClient returns a Client that dials through g (nil means the zero
// Guard: no special network allowed) and gives each delivery timeout
// (DefaultTimeout when 0) for the whole exchange: connecting, sending, and
// reading the answer. Proxies from the environment are not used: a proxy
// would make the connections the Guard checks, and HTTP_PROXY is not
// something a receiver's URL should depend on.
func NewClient(g *Guard, timeout time.Duration) *Client {
	if g == nil {
		g = &Guard{}
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	t := &http.Transport{
		Proxy:       nil,
		DialContext: g.DialContext,
		// A custom DialContext turns HTTP/2 off unless asked for.
		ForceAttemptHTTP2: true,
		// Deliveries go to many receivers, a few at a time to each
		// endpoint; several endpoints may share a host (one receiving
		// service, a path each), so one host may keep as many.
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: 100,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: timeout,
		// Bound what a receiver can make us hold; the body is bounded
		// in Post. Without compression MaxBody counts bytes received,
		// and a small gzip answer cannot unpack into a large one.
		MaxResponseHeaderBytes: 64 << 10,
		DisableCompression:     true,
	}
	return &Client{
		timeout: timeout,
		hc: &http.Client{
			Transport: t,
			// A redirect could lead anywhere, and the receiver's
			// answer is all a delivery needs.
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
}

// Post sends body to rawURL with the given headers (usually those from
// Headers) and Content-Type: application/json, and reports the answer.
// Cancelling ctx ends the delivery too; the Client's timeout applies on top.
func (c *Client) Post(ctx context.Context, rawURL string, header http.Header, body []byte) Result {
	start := time.Now()
	res := c.post(ctx, rawURL, header, body)
	res.Duration = time.Since(start)
	return res
}

func (c *Client) post(parent context.Context, rawURL string, header http.Header, body []byte) Result {
	// The URL's shape is checked here; its addresses are checked as they
	// are dialed, so the host is resolved only once.
	if _, err := checkShape(rawURL); err != nil {
		return Result{Err: err}
	}
	ctx, cancel := context.WithTimeout(parent, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return Result{Err: err}
	}
	if header != nil {
		req.Header = header.Clone()
	}
	req.Header.Set("Content-Type", "application/json")
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", userAgent)
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return Result{Err: c.failure(parent, ctx, err)}
	}
	defer resp.Body.Close()
	// One byte past MaxBody tells a body of exactly MaxBody from a
	// longer one. A short body is read to its end, which lets the
	// connection be reused.
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return Result{Err: fmt.Errorf("status %d, then reading the answer: %w", resp.StatusCode, c.failure(parent, ctx, err))}
	}
	res := Result{Status: resp.StatusCode, Body: b}
	if len(b) > MaxBody {
		res.Body, res.Truncated = b[:MaxBody], true
	}
	return res
}

// failure turns an error of the exchange into Result.Err: without the
// url.Error wrapper, which repeats the URL (the caller has it, and its query
// may hold a token), and naming the timeout when it is what ended the
// exchange.
func (c *Client) failure(parent, ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
		return fmt.Errorf("webhook: no complete answer within %s: %w", c.timeout, err)
	}
	return err
}

// CloseIdleConnections closes the connections kept for reuse, for a
// shutdown or a test that checks for leaks.
func (c *Client) CloseIdleConnections() {
	c.hc.CloseIdleConnections()
}
