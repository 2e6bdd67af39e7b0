package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// Keys made over the API carry the scopes asked for and an expiry; a key
// refused for a scope is told which; the list shows when a key was used.
func TestKeyScopesOverHTTP(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("Acme")
	keys := "/v1/organizations/" + org + "/api_keys"

	// The harness's key has the default scopes: it cannot make keys.
	r := e.call("POST", keys, key, map[string]any{"name": "more"}).want(t, http.StatusForbidden)
	if !strings.Contains(string(r.Body), `lacks the scope \"keys:write\"`) {
		t.Errorf("403 body %s", r.Body)
	}
	e.call("POST", keys, adminKey, map[string]any{"name": "x", "scopes": []string{"invitations:drop"}}).want(t, http.StatusUnprocessableEntity)
	e.call("POST", keys, adminKey, map[string]any{"name": "x", "expires_at": time.Now().Add(-time.Minute).Format(time.RFC3339)}).want(t, http.StatusUnprocessableEntity)

	at := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	k := e.call("POST", keys, adminKey, map[string]any{"name": "reader", "scopes": []string{"invitations:read"}, "expires_at": at.Format(time.RFC3339)}).
		want(t, http.StatusCreated).json(t)
	if s, _ := k["scopes"].([]any); len(s) != 1 || s[0] != "invitations:read" || k["expires_at"] != at.Format(time.RFC3339) {
		t.Fatalf("new key %v", k)
	}
	reader := k["key"].(string)
	e.call("GET", "/v1/organizations/"+org+"/invitations", reader, nil).want(t, http.StatusOK)
	r = e.call("POST", "/v1/organizations/"+org+"/invitations", reader, map[string]any{"email": "a@example.com"}).want(t, http.StatusForbidden)
	if !strings.Contains(string(r.Body), `invitations:write`) {
		t.Errorf("403 body %s", r.Body)
	}
	list := e.call("GET", keys, adminKey, nil).want(t, http.StatusOK).json(t)
	for _, item := range list["data"].([]any) {
		v := item.(map[string]any)
		if v["id"] == k["id"] && v["last_used_at"] == nil {
			t.Errorf("a used key shows no last_used_at: %v", v)
		}
		if _, ok := v["scopes"]; !ok {
			t.Errorf("a listed key shows no scopes: %v", v)
		}
	}
}
