package compattest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/invitd/invitd/internal/input"
)

// Request answers one request with h, without a listener, as a fuzz target
// sends many: target is a path with its raw query, a non-nil body is sent
// as JSON, and set adjusts the request. ok is false for a target no client
// can send (a space or control character in it) or that the server refuses
// before any surface (see input.CheckRequest).
func Request(h http.Handler, method, target string, body []byte, set func(*http.Request)) (_ *Response, ok bool) {
	if strings.ContainsFunc(target, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, false
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, false
	}
	r := httptest.NewRequest(method, "http://invitd.test/", strings.NewReader(string(body)))
	r.URL, r.RequestURI = u, target
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if set != nil {
		set(r)
	}
	if input.CheckRequest(r) != nil {
		return nil, false
	}
	w := httptest.NewRecorder()
	RequestID(h).ServeHTTP(w, r)
	return &Response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}, true
}

// Ambiguous tells a JSON body that input.CheckJSON refuses for what it
// holds (a key given twice, invalid UTF-8, a NUL), not for its syntax:
// every surface answers it 400.
func Ambiguous(body []byte) bool {
	err := input.CheckJSON(body)
	var dk *input.DuplicateKeyError
	return errors.As(err, &dk) || errors.Is(err, input.ErrNotUTF8) || errors.Is(err, input.ErrNUL)
}
