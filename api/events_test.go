package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// events lists a page of the log and returns its events and cursor.
func (e *env) events(path, key, query string) ([]map[string]any, string) {
	e.t.Helper()
	l := e.call("GET", path+"?"+query, key, nil).want(e.t, 200).json(e.t)
	var out []map[string]any
	for _, it := range l["data"].([]any) {
		out = append(out, it.(map[string]any))
	}
	c, ok := l["next_cursor"].(string)
	if !ok || c == "" {
		e.t.Fatalf("next_cursor is not a cursor: %v", l)
	}
	return out, c
}

func types(evs []map[string]any) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev["type"].(string))
	}
	return out
}

// emails is the invitee of each invitation event.
func emails(evs []map[string]any) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev["data"].(map[string]any)["email"].(string))
	}
	return out
}

// keyID is the id part of a key invitd_<id>_<secret>.
func keyID(key string) string { return strings.Split(key, "_")[1] }

func TestEventLogPaging(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("Acme")
	path := "/v1/organizations/" + org + "/events"
	for i := range 5 {
		e.call("POST", "/v1/organizations/"+org+"/invitations", key, map[string]any{"email": fmt.Sprintf("p%d@example.com", i)}).want(t, 201)
	}
	all, _ := e.events(path, key, "")
	if got := strings.Join(types(all), " "); got != "api_key.created"+strings.Repeat(" invitation.created", 5) {
		t.Fatalf("the log, oldest first: %s", got)
	}

	var seen []string
	cursor := ""
	for range 2 {
		evs, next := e.events(path, key, "type=invitation.created&limit=2&after="+url.QueryEscape(cursor))
		if len(evs) != 2 {
			t.Fatalf("page after %q: %d events", cursor, len(evs))
		}
		seen, cursor = append(seen, emails(evs)...), next
	}
	evs, next := e.events(path, key, "type=invitation.created&limit=2&after="+url.QueryEscape(cursor))
	if len(evs) != 1 {
		t.Fatalf("last page: %v", evs)
	}
	seen, cursor = append(seen, emails(evs)...), next
	if got := strings.Join(seen, " "); got != "p0@example.com p1@example.com p2@example.com p3@example.com p4@example.com" {
		t.Fatalf("walk: %s", got)
	}
	// At the end of the log a page is empty and keeps the cursor, so a
	// consumer polls with it and sees only what happens next.
	evs, next = e.events(path, key, "type=invitation.created&after="+url.QueryEscape(cursor))
	if len(evs) != 0 || next != cursor {
		t.Fatalf("empty page: %v, cursor %q, want %q", evs, next, cursor)
	}
	e.call("POST", "/v1/organizations/"+org+"/invitations", key, map[string]any{"email": "late@example.com"}).want(t, 201)
	evs, next = e.events(path, key, "type=invitation.created&after="+url.QueryEscape(cursor))
	if got := emails(evs); len(got) != 1 || got[0] != "late@example.com" || next == cursor {
		t.Fatalf("poll after a new invitation: %v, cursor moved: %v", got, next != cursor)
	}

	for _, q := range []string{"limit=0", "limit=101", "after=garbage", "after=" + url.QueryEscape(cursor[:len(cursor)-2])} {
		e.call("GET", path+"?"+q, key, nil).want(t, 422)
	}
	// A cursor of another list is not one of this log.
	inv := "/v1/organizations/" + org + "/invitations"
	c := e.call("GET", inv+"?limit=1", key, nil).want(t, 200).str(t, "next_cursor")
	e.call("GET", path+"?after="+url.QueryEscape(c), key, nil).want(t, 422)
}

func TestEventTypeFilters(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("Acme")
	base := "/v1/organizations/" + org
	id := e.call("POST", base+"/invitations", key, map[string]any{"email": "a@example.com"}).want(t, 201).str(t, "id")
	e.call("POST", base+"/invitations/"+id+"/cancel", key, nil).want(t, 200)
	e.call("PATCH", base, key, map[string]any{"name": "Acme Inc"}).want(t, 200)

	for q, want := range map[string]string{
		"":                          "api_key.created invitation.created invitation.cancelled organization.updated",
		"type=invitation.cancelled": "invitation.cancelled",
		"type=invitation.*":         "invitation.created invitation.cancelled",
		"type=api_key.created,organization.updated":                     "api_key.created organization.updated",
		"type=" + url.QueryEscape("organization.updated, invitation.*"): "invitation.created invitation.cancelled organization.updated",
		"type=*":              "api_key.created invitation.created invitation.cancelled organization.updated",
		"type=member.created": "",
	} {
		evs, _ := e.events(base+"/events", key, q)
		if got := strings.Join(types(evs), " "); got != want {
			t.Errorf("%s: %q, want %q", q, got, want)
		}
	}
	for _, typ := range []string{"invitation.bogus", "nothing.*", "invitation.created,bogus", "invitation"} {
		r := e.call("GET", base+"/events?type="+url.QueryEscape(typ), key, nil).want(t, 422)
		if !strings.Contains(r.str(t, "detail"), "bogus") && !strings.Contains(r.str(t, "detail"), "match") && !strings.Contains(r.str(t, "detail"), "unknown") {
			t.Errorf("%s: detail does not say what is wrong: %s", typ, r.Body)
		}
	}
}

func TestInvitationEvents(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("Acme")
	other, otherKey := e.org("Other")
	base := "/v1/organizations/" + org + "/invitations"
	a := e.call("POST", base, key, map[string]any{"email": "a@example.com"}).want(t, 201).json(t)
	b := e.call("POST", base, key, map[string]any{"email": "b@example.com"}).want(t, 201).str(t, "id")
	e.call("POST", base+"/"+a["id"].(string)+"/cancel", key, nil).want(t, 200)
	e.call("POST", base+"/"+b+"/decline", key, nil).want(t, 200)

	evs, cursor := e.events(base+"/"+a["id"].(string)+"/events", key, "")
	if got := strings.Join(types(evs), " "); got != "invitation.created invitation.cancelled" {
		t.Fatalf("a's events: %s", got)
	}
	for _, ev := range evs {
		if ev["data"].(map[string]any)["id"] != a["id"] {
			t.Fatalf("an event of another invitation: %v", ev)
		}
	}
	if evs[1]["data"].(map[string]any)["state"] != "cancelled" {
		t.Fatalf("data is not the invitation after the change: %v", evs[1])
	}
	// By number, with the same filters and cursors as the log.
	byNumber := fmt.Sprintf("%s/%d/events", base, int64(a["number"].(float64)))
	if evs, _ := e.events(byNumber, key, "type=invitation.cancelled"); len(evs) != 1 {
		t.Fatalf("by number, filtered: %v", evs)
	}
	if evs, next := e.events(byNumber, key, "after="+url.QueryEscape(cursor)); len(evs) != 0 || next != cursor {
		t.Fatalf("after the last: %v %q", evs, next)
	}
	e.call("GET", base+"/"+a["id"].(string)+"/events?type=bogus", key, nil).want(t, 422)
	// Another organization's invitation, or none, is not found.
	e.call("GET", base+"/"+a["id"].(string)+"/events", otherKey, nil).want(t, 404)
	e.call("GET", "/v1/organizations/"+other+"/invitations/"+a["id"].(string)+"/events", otherKey, nil).want(t, 404)
	e.call("GET", base+"/00000000-0000-0000-0000-000000000000/events", key, nil).want(t, 404)
	e.call("GET", base+"/not-an-id/events", key, nil).want(t, 404)
}

func TestGetEvent(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("Acme")
	other, otherKey := e.org("Other")
	e.call("POST", "/v1/organizations/"+org+"/invitations", key, map[string]any{"email": "a@example.com"}).want(t, 201)
	evs, _ := e.events("/v1/organizations/"+org+"/events", key, "type=invitation.created")
	id := evs[0]["id"].(string)
	if !strings.HasPrefix(id, "evt_") {
		t.Fatalf("event id %q", id)
	}
	got := e.call("GET", "/v1/organizations/"+org+"/events/"+id, key, nil).want(t, 200)
	if g := got.json(t); g["id"] != id || g["type"] != "invitation.created" || g["organization_id"] != org ||
		g["data"].(map[string]any)["email"] != "a@example.com" {
		t.Fatalf("get: %s", got.Body)
	}
	e.call("GET", "/v1/organizations/"+org+"/events/"+id, adminKey, nil).want(t, 200)
	// Not found for another organization's key, nor under another organization.
	e.call("GET", "/v1/organizations/"+org+"/events/"+id, otherKey, nil).want(t, 404)
	e.call("GET", "/v1/organizations/"+other+"/events/"+id, otherKey, nil).want(t, 404)
	e.call("GET", "/v1/organizations/"+other+"/events/"+id, adminKey, nil).want(t, 404)
	e.call("GET", "/v1/organizations/"+org+"/events/evt_01JZZZZZZZZZZZZZZZZZZZZZZZ", key, nil).want(t, 404)
	e.call("GET", "/v1/organizations/"+org+"/events", otherKey, nil).want(t, 404)
	e.call("GET", "/v1/organizations/"+org+"/events", "", nil).want(t, 401)
}

// Each event names who made the change and the request that made it.
func TestEventActorAndRequestID(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("Acme")
	base := "/v1/organizations/" + org
	r := e.call("POST", base+"/invitations", key, map[string]any{"email": "a@example.com", "send_email": false},
		"X-Request-Id", "req-abc-123").want(t, 201)
	if r.Header.Get("X-Request-Id") != "req-abc-123" {
		t.Fatalf("X-Request-Id answered %q", r.Header.Get("X-Request-Id"))
	}
	token := strings.TrimPrefix(r.str(t, "accept_url"), "http://invitd.test/i/")
	invID := r.str(t, "id")
	e.call("POST", "/v1/invitations/"+token+"/accept", "", map[string]any{"name": "Ann"}, "X-Request-Id", "req-accept").want(t, 200)
	// A request id with a space in it is replaced by one of invitd's,
	// which the event records.
	r = e.call("PATCH", base, adminKey, map[string]any{"name": "Acme Inc"}, "X-Request-Id", "bad id").want(t, 200)
	generated := r.Header.Get("X-Request-Id")
	if generated == "" || generated == "bad id" {
		t.Fatalf("X-Request-Id answered %q", generated)
	}

	evs, _ := e.events(base+"/events", key, "")
	want := []struct{ typ, actor, id, name, rid string }{
		{"api_key.created", "admin_key", "admin", "", ""},
		{"invitation.created", "api_key", keyID(key), "k", "req-abc-123"},
		{"invitation.accepted", "invitee", invID, "a@example.com", "req-accept"},
		{"member.created", "invitee", invID, "a@example.com", "req-accept"},
		{"organization.updated", "admin_key", "admin", "", generated},
	}
	if len(evs) != len(want) {
		t.Fatalf("events: %v", types(evs))
	}
	byType := map[string]map[string]any{}
	for _, ev := range evs {
		byType[ev["type"].(string)] = ev
	}
	for i, w := range want {
		ev := byType[w.typ]
		if ev == nil {
			t.Fatalf("no %s event: %v", w.typ, types(evs))
		}
		a := ev["actor"].(map[string]any)
		if a["type"] != w.actor || a["id"] != w.id || (w.name != "" && a["name"] != w.name) {
			t.Errorf("event %d: %v, actor %v; want %+v", i, ev["type"], a, w)
		}
		rid, _ := ev["request_id"].(string)
		if w.rid != "" && rid != w.rid {
			t.Errorf("event %d (%s): request_id %q, want %q", i, w.typ, rid, w.rid)
		}
		if rid == "" {
			t.Errorf("event %d (%s) made by a request has no request_id", i, w.typ)
		}
	}
}
