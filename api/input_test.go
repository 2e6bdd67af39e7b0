package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// The native API's refusals of bad input are problems its OpenAPI document
// allows (each call checks the answer against it), and name what is wrong.
func TestBadInputIsAProblemOfTheDocument(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("Acme")
	path := "/v1/organizations/" + org + "/invitations"
	for _, c := range []struct {
		name, method, path string
		body               any
		headers            []string
		want               int
		says               string
	}{
		{"a key twice", "POST", path, `{"email":"a@example.com","email":"b@example.com"}`, nil, 400, `the key "email"`},
		{"a nested key twice", "POST", path, `{"email":"a@example.com","metadata":{"k":1,"k":2}}`, nil, 400, `"metadata.k"`},
		{"invalid UTF-8", "POST", path, "{\"email\":\"a\xff@example.com\"}", nil, 400, "UTF-8"},
		{"a lone surrogate", "POST", path, `{"email":"a@example.com","inviter":{"name":"\udbff"}}`, nil, 400, "UTF-8"},
		{"a NUL", "POST", path, `{"email":"a@example.com","locale":"\u0000"}`, nil, 400, "NUL"},
		{"text/plain", "POST", path, `{"email":"a@example.com"}`, []string{"Content-Type", "text/plain"}, 415, ""},
		{"a form", "PATCH", "/v1/organizations/" + org, `{"name":"x"}`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "application/json"},
		{"a malformed query", "GET", path + "?cursor=%%%", nil, nil, 400, "query string"},
		{"a NUL in a query value", "GET", path + "?role=%00", nil, nil, 400, "role"},
		{"invalid UTF-8 in a header", "POST", path, `{"email":"a@example.com"}`, []string{"Idempotency-Key", "\xff"}, 400, "Idempotency-Key"},
		{"invalid UTF-8 in a token path", "GET", "/v1/invitations/%ff", nil, nil, 400, "path"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.call(c.method, c.path, key, c.body, c.headers...).want(t, c.want)
			if !strings.Contains(strings.ReplaceAll(string(r.Body), `\"`, `"`), c.says) {
				t.Errorf("the problem does not name %s: %s", c.says, r.Body)
			}
			if strings.HasPrefix(c.path, "/v1/invitations/") && r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("a refusal about a token is cacheable: %v", r.Header)
			}
		})
	}
	if r := e.call("GET", path, key, nil).want(t, http.StatusOK); strings.Contains(string(r.Body), "@example.com") {
		t.Errorf("a refused create made an invitation: %s", r.Body)
	}
}
