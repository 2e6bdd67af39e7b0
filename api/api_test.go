package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

func TestWalkCreateListGetAccept(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("Acme")
	base := "/v1/organizations/" + org

	created := e.call("POST", base+"/invitations", key, map[string]any{
		"email": "  Bob@Example.COM ", "role": "admin", "permissions": []string{"billing", "members"},
		"inviter": map[string]any{"id": "u_1", "name": "Alice"}, "metadata": map[string]any{"team": "blue"}, "locale": "ja",
	}).want(t, 201).json(t)
	id := created["id"].(string)
	if created["email"] != "bob@example.com" || created["state"] != "pending" || created["role"] != "admin" {
		t.Fatalf("created: %v", created)
	}
	if created["metadata"].(map[string]any)["team"] != "blue" || created["inviter"].(map[string]any)["name"] != "Alice" {
		t.Fatalf("metadata or inviter lost: %v", created)
	}
	if _, ok := created["accept_url"]; ok {
		t.Fatal("accept_url must only be returned when no mail is sent")
	}

	list := e.call("GET", base+"/invitations?state=pending&email=BOB@example.com", key, nil).want(t, 200).json(t)
	if data := list["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != id || list["next_cursor"] != nil {
		t.Fatalf("list: %v", list)
	}
	got := e.call("GET", base+"/invitations/"+id, key, nil).want(t, 200).json(t)
	if got["number"].(float64) != created["number"].(float64) {
		t.Fatalf("get: %v", got)
	}
	// The same invitation by its number.
	e.call("GET", fmt.Sprintf("%s/invitations/%d", base, int64(got["number"].(float64))), key, nil).want(t, 200)

	e.call("POST", base+"/invitations/"+id+"/accept", key, map[string]any{"email": "eve@example.com"}).want(t, 422)
	acc := e.call("POST", base+"/invitations/"+id+"/accept", key, map[string]any{"email": "bob@example.com", "name": "Bob"}).want(t, 200).json(t)
	if acc["invitation"].(map[string]any)["state"] != "accepted" || acc["invitation"].(map[string]any)["finished_at"] == nil {
		t.Fatalf("accept: %v", acc)
	}
	memberID := acc["member"].(map[string]any)["id"].(string)
	m := e.call("GET", base+"/members/"+memberID, key, nil).want(t, 200).json(t)
	if m["email"] != "bob@example.com" || m["role"] != "admin" || m["name"] != "Bob" || len(m["permissions"].([]any)) != 2 {
		t.Fatalf("member: %v", m)
	}
	members := e.call("GET", base+"/members", key, nil).want(t, 200).json(t)
	if len(members["data"].([]any)) != 1 {
		t.Fatalf("members: %v", members)
	}
	// A second accept, and a new invitation to the member, are conflicts.
	e.call("POST", base+"/invitations/"+id+"/accept", key, map[string]any{"email": "bob@example.com"}).want(t, 409)
	r := e.call("POST", base+"/invitations", key, map[string]any{"email": "bob@example.com"}).want(t, 409)
	if !strings.Contains(r.str(t, "detail"), "already a member") {
		t.Fatalf("detail: %s", r.Body)
	}
	// Member updates are checked against the org's roles.
	e.call("PATCH", base+"/members/"+memberID, key, map[string]any{"role": "wizard"}).want(t, 422)
	e.call("PATCH", base+"/members/"+memberID, key, map[string]any{"role": "owner"}).want(t, 200)
	e.call("DELETE", base+"/members/"+memberID, key, nil).want(t, 204)
	e.call("GET", base+"/members/"+memberID, key, nil).want(t, 404)
}

func TestStateMovesOverHTTP(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("Acme")
	base := "/v1/organizations/" + org + "/invitations"
	id := e.call("POST", base, key, map[string]any{"email": "a@example.com"}).want(t, 201).str(t, "id")

	r := e.call("POST", base+"/"+id+"/resend", key, nil).want(t, 429)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	if e.call("DELETE", base+"/"+id, key, nil).want(t, 200).str(t, "state") != "cancelled" {
		t.Fatal("DELETE did not cancel")
	}
	for _, a := range []string{"cancel", "decline", "resend"} {
		r := e.call("POST", base+"/"+id+"/"+a, key, nil).want(t, 409)
		if !strings.Contains(r.str(t, "detail"), "cancelled") {
			t.Fatalf("%s: detail does not name the state: %s", a, r.Body)
		}
	}
	// The record stays and is listed under its state.
	l := e.call("GET", base+"?state=cancelled", key, nil).want(t, 200).json(t)
	if len(l["data"].([]any)) != 1 {
		t.Fatalf("cancelled list: %v", l)
	}
	id2 := e.call("POST", base, key, map[string]any{"email": "a@example.com"}).want(t, 201).str(t, "id")
	if e.call("POST", base+"/"+id2+"/decline", key, nil).want(t, 200).str(t, "state") != "declined" {
		t.Fatal("decline")
	}
}

func TestInviteeTokenEndpoints(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("Acme")
	base := "/v1/organizations/" + org + "/invitations"
	link := e.call("POST", base, key, map[string]any{"email": "t@example.com", "role": "member", "send_email": false}).want(t, 201).str(t, "accept_url")
	token, ok := strings.CutPrefix(link, "http://invitd.test/i/")
	if !ok || len(token) < 40 {
		t.Fatalf("accept_url %q", link)
	}
	v := e.call("GET", "/v1/invitations/"+token, "", nil).want(t, 200).json(t)
	if v["organization"].(map[string]any)["name"] != "Acme" || v["state"] != "pending" || v["email"] != "t@example.com" {
		t.Fatalf("token view: %v", v)
	}
	e.call("GET", "/v1/invitations/not-a-token", "", nil).want(t, 404)
	a := e.call("POST", "/v1/invitations/"+token+"/accept", "", map[string]any{"name": "Tess"}).want(t, 200).json(t)
	if a["state"] != "accepted" || a["member_id"] == "" {
		t.Fatalf("accept: %v", a)
	}
	e.call("POST", "/v1/invitations/"+token+"/accept", "", map[string]any{"name": "Tess"}).want(t, 409)
	e.call("POST", "/v1/invitations/"+token+"/decline", "", nil).want(t, 409)

	link = e.call("POST", base, key, map[string]any{"email": "u@example.com", "send_email": false}).want(t, 201).str(t, "accept_url")
	token = strings.TrimPrefix(link, "http://invitd.test/i/")
	e.call("POST", "/v1/invitations/"+token+"/accept", "", map[string]any{"name": "U\nV"}).want(t, 422)
	e.call("POST", "/v1/invitations/"+token+"/decline", "", nil).want(t, 200)
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	orgA, keyA := e.org("A")
	orgB, keyB := e.org("B")
	e.call("GET", "/v1/organizations/"+orgA+"/invitations", "", nil).want(t, 401)
	e.call("GET", "/v1/organizations/"+orgA+"/invitations", "invitd_nope_nope", nil).want(t, 401)
	e.call("GET", "/v1/organizations/"+orgA+"/invitations", keyA+"x", nil).want(t, 401)
	e.call("GET", "/v1/organizations/"+orgA+"/invitations", "", nil, "Authorization", "Basic Zm9vOmJhcg==").want(t, 401)

	id := e.call("POST", "/v1/organizations/"+orgA+"/invitations", keyA, map[string]any{"email": "a@example.com"}).want(t, 201).str(t, "id")
	// Org B's key sees nothing of org A: 404, never 403.
	for _, p := range []string{"", "/invitations", "/invitations/" + id, "/members", "/api_keys"} {
		e.call("GET", "/v1/organizations/"+orgA+p, keyB, nil).want(t, 404)
	}
	e.call("POST", "/v1/organizations/"+orgA+"/invitations/"+id+"/cancel", keyB, nil).want(t, 404)
	e.call("GET", "/v1/organizations/"+orgB+"/invitations/"+id, keyB, nil).want(t, 404)
	// Org keys cannot manage organizations.
	e.call("POST", "/v1/organizations", keyA, map[string]any{"name": "C"}).want(t, 403)
	e.call("GET", "/v1/organizations", keyA, nil).want(t, 403)

	// HTTP Basic with the key's id and secret.
	k := e.call("POST", "/v1/organizations/"+orgA+"/api_keys", adminKey, map[string]any{"name": "basic"}).want(t, 201).json(t)
	req, _ := http.NewRequest("GET", e.url+"/v1/organizations/"+orgA+"/invitations", nil)
	req.SetBasicAuth(k["id"].(string), k["secret"].(string))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("basic auth: %v %v", res.StatusCode, err)
	}
	res.Body.Close()
	if k["key"] != "invitd_"+k["id"].(string)+"_"+k["secret"].(string) {
		t.Fatalf("key shape: %v", k)
	}
	// Listing never shows a secret; revoking stops the key at once.
	keys := e.call("GET", "/v1/organizations/"+orgA+"/api_keys", adminKey, nil).want(t, 200)
	if strings.Contains(string(keys.Body), k["secret"].(string)) {
		t.Fatal("a key list shows a secret")
	}
	e.call("DELETE", "/v1/organizations/"+orgA+"/api_keys/"+k["id"].(string), adminKey, nil).want(t, 204)
	e.call("GET", "/v1/organizations/"+orgA, k["key"].(string), nil).want(t, 401)
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("Acme")
	base := "/v1/organizations/" + org + "/invitations"
	for _, c := range []struct {
		body   any
		status int
		detail string
	}{
		{map[string]any{"email": "no-at-sign"}, 422, "exactly one @"},
		{map[string]any{"email": "a@b@example.com"}, 422, "exactly one @"},
		{map[string]any{"email": "Bob <bob@example.com>"}, 422, "whitespace"},
		{map[string]any{"email": "bob@example.com\r\nBcc: eve@example.com"}, 422, "control"},
		{map[string]any{"email": strings.Repeat("a", 250) + "@example.com"}, 422, ""},
		{map[string]any{"email": "a@example.com", "role": "wizard"}, 422, "role \"wizard\""},
		{map[string]any{"email": "a@example.com", "permissions": []string{"root"}}, 422, "permission \"root\""},
		{map[string]any{"email": "a@example.com", "expires_in": 60}, 422, ""},
		{map[string]any{"email": "a@example.com", "expires_in": 31 * 86400}, 422, ""},
		{map[string]any{"email": "a@example.com", "inviter": map[string]any{"name": "A\nB"}}, 422, "inviter.name"},
		{map[string]any{"email": "a@example.com", "locale": "not a locale"}, 422, "locale"},
		{map[string]any{"email": 42}, 422, ""},
		{`{"email": "a@example.com"`, 400, ""},
	} {
		r := e.call("POST", base, key, c.body).want(t, c.status)
		if !strings.Contains(r.str(t, "detail"), c.detail) {
			t.Errorf("%v: answer %s does not say %q", c.body, r.Body, c.detail)
		}
	}
	// Nothing was written by any of them.
	if l := e.call("GET", base, key, nil).want(t, 200).json(t); len(l["data"].([]any)) != 0 {
		t.Fatalf("a refused create left a row: %v", l)
	}
	big := `{"email":"a@example.com","metadata":{"x":"` + strings.Repeat("x", 1<<20) + `"}}`
	e.call("POST", base, key, big).want(t, 413)
	e.call("POST", base, key, `{"email":"a@example.com"}`, "Content-Type", "text/plain").want(t, 415)
	e.call("POST", base, key, map[string]any{"email": "a@example.com", "metadata": map[string]any{"x": strings.Repeat("x", 5000)}}).want(t, 422)
	for _, q := range []string{"limit=0", "limit=101", "state=bogus", "sort=email", "cursor=garbage", "email=not-an-email"} {
		e.call("GET", base+"?"+q, key, nil).want(t, 422)
	}
	e.call("GET", base+"/not-an-id", key, nil).want(t, 404)
	e.call("GET", "/v1/organizations/not-an-org/invitations", key, nil).want(t, 404)
	e.call("POST", "/v1/organizations", adminKey, map[string]any{"name": ""}).want(t, 422)
	e.call("PATCH", "/v1/organizations/"+org, key, map[string]any{"settings": map[string]any{"invitation_ttl": 10}}).want(t, 422)

	e.call("POST", base, key, map[string]any{"email": "dup@example.com"}).want(t, 201)
	e.call("POST", base, key, map[string]any{"email": "DUP@example.com "}).want(t, 409)
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("Acme")
	base := "/v1/organizations/" + org + "/invitations"
	body := map[string]any{"email": "i@example.com", "role": "member"}
	first := e.call("POST", base, key, body, "Idempotency-Key", "abc").want(t, 201).str(t, "id")

	var wg sync.WaitGroup
	ids := make([]string, 10)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = e.call("POST", base, key, body, "Idempotency-Key", "abc").want(t, 201).str(t, "id")
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != first {
			t.Fatalf("replay gave %s, first was %s", id, first)
		}
	}
	r := e.call("POST", base, key, map[string]any{"email": "i@example.com", "role": "admin"}, "Idempotency-Key", "abc").want(t, 422)
	if !strings.Contains(r.str(t, "detail"), "Idempotency-Key") {
		t.Fatalf("detail: %s", r.Body)
	}
	// Without the key the same body is a duplicate.
	e.call("POST", base, key, body).want(t, 409)
}

func TestPagingAndSort(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("Acme")
	base := "/v1/organizations/" + org + "/invitations"
	for i := range 45 {
		role := "member"
		if i%3 == 0 {
			role = "admin"
		}
		e.call("POST", base, key, map[string]any{"email": fmt.Sprintf("p%02d@example.com", i), "role": role}).want(t, 201)
	}
	walk := func(query string) []string {
		var emails []string
		cursor := ""
		for pages := 0; ; pages++ {
			q := query
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			l := e.call("GET", base+"?"+q, key, nil).want(t, 200).json(t)
			for _, it := range l["data"].([]any) {
				emails = append(emails, it.(map[string]any)["email"].(string))
			}
			if l["next_cursor"] == nil {
				return emails
			}
			cursor = l["next_cursor"].(string)
			if pages > 50 {
				t.Fatal("paging does not end")
			}
		}
	}
	asc := walk("sort=created_at&limit=20")
	if len(asc) != 45 || asc[0] != "p00@example.com" || asc[44] != "p44@example.com" {
		t.Fatalf("ascending walk: %d %v", len(asc), asc)
	}
	desc := walk("limit=7")
	if len(desc) != 45 || desc[0] != "p44@example.com" || desc[44] != "p00@example.com" {
		t.Fatalf("default (newest first) walk: %d %v", len(desc), desc)
	}
	if admins := walk("role=admin&limit=4"); len(admins) != 15 {
		t.Fatalf("role filter: %d", len(admins))
	}
	// A cursor is bound to its sort.
	c := e.call("GET", base+"?limit=1&sort=updated_at", key, nil).want(t, 200).str(t, "next_cursor")
	e.call("GET", base+"?sort=created_at&cursor="+url.QueryEscape(c), key, nil).want(t, 422)
}

func TestOperationalEndpoints(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json"} {
		if r := e.call("GET", p, "", nil); r.Status != 200 {
			t.Fatalf("%s: %d", p, r.Status)
		}
	}
	e.call("GET", "/v1/organizations", "", nil)
	m := e.call("GET", "/metrics", "", nil)
	if !strings.Contains(string(m.Body), `invitd_http_requests_total{route="GET /v1/organizations",status="401"} 1`) {
		t.Fatalf("request metrics missing:\n%s", m.Body)
	}
	spec := e.call("GET", "/openapi.json", "", nil)
	if strings.Contains(string(spec.Body), "$schema") || !strings.Contains(string(spec.Body), `"/v1/organizations/{org_id}/invitations"`) {
		t.Fatal("openapi.json is not the native API's document")
	}
}
