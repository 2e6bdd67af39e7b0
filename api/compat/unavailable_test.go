package compat_test

import (
	"net/http"
	"testing"
)

// When the database cannot be read, a key cannot be checked: each surface
// answers 503 with Retry-After in its own error shape (checked against the
// vendor's document where there is one), not a 401 that would have the
// client throw a good key away.
func TestAKeyThatCannotBeCheckedIs503OnEverySurface(t *testing.T) {
	s := setup(t)
	if err := s.env.Svc.Store().Close(); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]func() (int, http.Header, []byte){
		"jicoo": func() (int, http.Header, []byte) {
			r := s.jicooDo(http.MethodGet, "/v1/organization_invitations", nil)
			return r.Status, r.Header, r.Body
		},
		"clickhouse": func() (int, http.Header, []byte) {
			r := s.chDo(http.MethodGet, "", nil)
			return r.Status, r.Header, r.Body
		},
		"upsun": func() (int, http.Header, []byte) {
			r := s.upsunDo(http.MethodGet, "", nil)
			return r.Status, r.Header, r.Body
		},
	} {
		status, h, body := r()
		if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
			t.Errorf("%s: %d, Retry-After %q, want 503 with Retry-After: %s", name, status, h.Get("Retry-After"), body)
		}
	}
}
