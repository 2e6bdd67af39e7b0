package api_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestAddressInvitations(t *testing.T) {
	e := newEnv(t)
	a, keyA := e.org("A")
	b, _ := e.org("B")
	for _, org := range []string{a, b} {
		e.call("POST", "/v1/organizations/"+org+"/invitations", adminKey, map[string]any{"email": "bob@example.com", "metadata": map[string]any{"from": org}}).want(t, 201)
		e.call("POST", "/v1/organizations/"+org+"/invitations", adminKey, map[string]any{"email": "eve@example.com"}).want(t, 201)
	}
	l := e.call("GET", "/v1/invitations?email=Bob@Example.com&state=pending&limit=1", adminKey, nil).want(t, 200).json(t)
	first := l["data"].([]any)[0].(map[string]any)
	if first["organization_id"] != b || first["email"] != "bob@example.com" {
		t.Fatalf("newest first: %v", first)
	}
	next := e.call("GET", "/v1/invitations?email=bob@example.com&state=pending&limit=1&cursor="+l["next_cursor"].(string), adminKey, nil).want(t, 200).json(t)
	if d := next["data"].([]any); len(d) != 1 || d[0].(map[string]any)["organization_id"] != a || next["next_cursor"] != nil {
		t.Fatalf("second page: %v", next)
	}
	if r := e.call("GET", "/v1/invitations?email=bob@example.com", keyA, nil).want(t, http.StatusForbidden); !strings.Contains(r.str(t, "detail"), "admin key") {
		t.Fatalf("an organization's key: %s", r.Body)
	}
	e.call("GET", "/v1/invitations", adminKey, nil).want(t, 422)
	e.call("GET", "/v1/invitations?email=not-an-address", adminKey, nil).want(t, 422)
}

func TestMemberMetadata(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("A")
	base := "/v1/organizations/" + org
	inv := e.call("POST", base+"/invitations", key, map[string]any{"email": "m@example.com", "metadata": map[string]any{"plan": "pro"}}).want(t, 201).str(t, "id")
	res := e.call("POST", base+"/invitations/"+inv+"/accept", key, map[string]any{"email": "m@example.com"}).want(t, 200).json(t)
	m := res["member"].(map[string]any)
	if m["invitation_id"] != inv || m["metadata"].(map[string]any)["plan"] != "pro" {
		t.Fatalf("member after accept: %v", m)
	}
	path := base + "/members/" + m["id"].(string)
	got := e.call("PATCH", path, key, map[string]any{"metadata": map[string]any{"plan": "team", "seats": 5}}).want(t, 200).json(t)
	if md := got["metadata"].(map[string]any); md["plan"] != "team" || md["seats"] != 5.0 {
		t.Fatalf("patched: %v", got)
	}
	e.call("PATCH", path, key, map[string]any{"metadata": []int{1}}).want(t, 422)
	e.call("PATCH", path, key, map[string]any{"metadata": map[string]any{"big": strings.Repeat("x", 5000)}}).want(t, 422)
	if md := e.call("GET", path, key, nil).want(t, 200).json(t)["metadata"].(map[string]any); md["plan"] != "team" {
		t.Fatalf("a refused patch changed the metadata: %v", md)
	}
}
