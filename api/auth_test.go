package api_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/invitd/invitd/internal/testnode"
	"github.com/invitd/invitd/server"
)

// When the database cannot be read, a key cannot be checked: the answer is
// 503 with Retry-After, not a 401 that would have the client throw a good
// key away. A bad key is still a 401 while the database answers.
func TestAKeyThatCannotBeCheckedIs503(t *testing.T) {
	for name, configure := range map[string]func(*testing.T, *server.Config){
		"sqlite":   func(*testing.T, *server.Config) {},
		"postgres": func(t *testing.T, cfg *server.Config) { cfg.DB, cfg.Secret = testnode.PostgresDB(t), testnode.Secret },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnvWith(t, false, func(cfg *server.Config) { configure(t, cfg) })
			org, key := e.org("Acme")
			path := "/v1/organizations/" + org + "/invitations"
			e.call("GET", path, key, nil).want(t, http.StatusOK)
			e.call("GET", path, "invitd_0123456789abcdef_nottherightsecret", nil).want(t, http.StatusUnauthorized)
			// Ids no key can have are the caller's mistake, refused before
			// the store (PostgreSQL refuses a NUL byte), never a 503.
			e.call("GET", path, "", nil, "Authorization", "Basic ADoA").want(t, http.StatusUnauthorized)
			e.call("GET", path, "invitd_\xff_x", nil).want(t, http.StatusUnauthorized)
			e.call("GET", path, "", nil, "Authorization", "Basic "+basic("invitd_ABCDEF0123456789_x")).want(t, http.StatusUnauthorized)

			e.srv.Close() // the database goes away under the running server
			r := e.call("GET", path, key, nil)
			r.want(t, http.StatusServiceUnavailable)
			if r.Header.Get("Retry-After") == "" || r.Header.Get("WWW-Authenticate") != "" {
				t.Errorf("headers %v, want Retry-After and no WWW-Authenticate", r.Header)
			}
			// The same with HTTP Basic.
			r = e.call("GET", path, "", nil, "Authorization", "Basic "+basic(key))
			r.want(t, http.StatusServiceUnavailable)
		})
	}
}

// basic is key (invitd_<id>_<secret>) as HTTP Basic credentials.
func basic(key string) string {
	id, secret, _ := strings.Cut(strings.TrimPrefix(key, "invitd_"), "_")
	return base64.StdEncoding.EncodeToString([]byte(id + ":" + secret))
}

// Every authenticated answer may carry a secret (a new key, a webhook's
// secret) or a link: none is cached, refusals included.
func TestAuthenticatedAnswersAreNotCached(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("Acme")
	for what, r := range map[string]*resp{
		"a new key":     e.call("POST", "/v1/organizations/"+org+"/api_keys", key, map[string]any{"name": "k2"}),
		"a new webhook": e.call("POST", "/v1/organizations/"+org+"/webhooks", key, map[string]any{"url": "https://hooks.example.com/x"}),
		"a list":        e.call("GET", "/v1/organizations/"+org+"/invitations", key, nil),
		"a refusal":     e.call("GET", "/v1/organizations/"+org+"/invitations", "invitd_0123456789abcdef_wrong", nil),
	} {
		if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s (%d): Cache-Control %q, Referrer-Policy %q", what, r.Status, r.Header.Get("Cache-Control"), r.Header.Get("Referrer-Policy"))
		}
	}
}
