package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/invitd/invitd/invite"
)

type bulkAnswer struct {
	Results []struct {
		Index      int            `json:"index"`
		Email      string         `json:"email"`
		Status     string         `json:"status"`
		Invitation map[string]any `json:"invitation"`
		Error      *struct {
			Status int    `json:"status"`
			Detail string `json:"detail"`
		} `json:"error"`
	} `json:"results"`
	Created, Skipped, Errors int
	DryRun                   bool `json:"dry_run"`
}

func (r *resp) bulk(t *testing.T) bulkAnswer {
	t.Helper()
	var b bulkAnswer
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatalf("bulk answer: %v: %s", err, r.Body)
	}
	return b
}

func TestBulkCreate(t *testing.T) {
	e := newEnv(t)
	org, key := e.orgKey(&invite.SettingsPatch{BlockedEmailDomains: &[]string{"blocked.example"}})
	path := "/v1/organizations/" + org + "/invitations/bulk"
	count := func() int {
		t.Helper()
		return len(e.call("GET", "/v1/organizations/"+org+"/invitations?limit=100", key, nil).want(t, 200).json(t)["data"].([]any))
	}

	t.Run("CSV", func(t *testing.T) {
		csv := "email,role,permissions,metadata\n" +
			"a@example.com,admin,billing;members,\"{\"\"team\"\": \"\"red\"\"}\"\n" +
			"b@blocked.example,,,\n" +
			"A@Example.com,,,\n" +
			"c@example.com,,,not json\n"
		dry := e.call("POST", path+"?dry_run=true", key, csv, "Content-Type", "text/csv; charset=utf-8").want(t, 200).bulk(t)
		if !dry.DryRun || dry.Created != 1 || dry.Skipped != 1 || dry.Errors != 2 || count() != 0 {
			t.Fatalf("dry run: %+v, %d invitations stored", dry, count())
		}
		b := e.call("POST", path, key, csv, "Content-Type", "text/csv").want(t, 200).bulk(t)
		statuses := []string{}
		for _, r := range b.Results {
			statuses = append(statuses, r.Status)
		}
		if strings.Join(statuses, ",") != "created,error,skipped,error" || b.DryRun {
			t.Fatalf("results %v: %+v", statuses, b)
		}
		inv := b.Results[0].Invitation
		if inv["role"] != "admin" || fmt.Sprint(inv["permissions"]) != "[billing members]" || fmt.Sprint(inv["metadata"]) != "map[team:red]" {
			t.Fatalf("row 0 made %v", inv)
		}
		if r := b.Results[1]; r.Error.Status != 422 || !strings.Contains(r.Error.Detail, "blocked_email_domains") {
			t.Fatalf("blocked row: %+v", r.Error)
		}
		if r := b.Results[2]; r.Email != "a@example.com" || !strings.Contains(r.Error.Detail, "repeats row 0") {
			t.Fatalf("repeated row: %+v %+v", r, r.Error)
		}
		if r := b.Results[3]; !strings.Contains(r.Error.Detail, "line 5: metadata is not JSON") {
			t.Fatalf("bad metadata row: %+v", r.Error)
		}
		if count() != 1 {
			t.Fatalf("%d invitations stored, want 1", count())
		}
	})

	t.Run("JSON with Idempotency-Key", func(t *testing.T) {
		body := map[string]any{"invitations": []map[string]any{
			{"email": "j1@example.com", "send_email": false},
			{"email": "j2@example.com", "role": "nobody"},
		}}
		first := e.call("POST", path, key, body, "Idempotency-Key", "bulk-1").want(t, 200).bulk(t)
		again := e.call("POST", path, key, body, "Idempotency-Key", "bulk-1").want(t, 200).bulk(t)
		if first.Created != 1 || first.Errors != 1 || again.Results[0].Invitation["id"] != first.Results[0].Invitation["id"] {
			t.Fatalf("first %+v, again %+v", first, again)
		}
		// A row made without mail gives its link once, as a single create does.
		link, _ := first.Results[0].Invitation["accept_url"].(string)
		token, ok := strings.CutPrefix(link, "http://invitd.test/i/")
		if !ok {
			t.Fatalf("accept_url of a row without mail: %q", link)
		}
		if got := e.call("GET", "/v1/invitations/"+token, "", nil).want(t, 200).json(t); got["email"] != "j1@example.com" {
			t.Fatalf("the row's link opens %v", got)
		}
		if again.Results[0].Invitation["accept_url"] != nil {
			t.Fatalf("a replay gave the link again: %v", again.Results[0].Invitation)
		}
		body["invitations"] = body["invitations"].([]map[string]any)[:1]
		e.call("POST", path, key, body, "Idempotency-Key", "bulk-1").want(t, 422)
		dry := e.call("POST", path, key, map[string]any{"dry_run": true, "invitations": []map[string]any{{"email": "j3@example.com"}}}).want(t, 200).bulk(t)
		if !dry.DryRun || dry.Created != 1 {
			t.Fatalf("JSON dry run: %+v", dry)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		for _, c := range []struct {
			body, ct string
			status   int
			detail   string
		}{
			{"email\na@example.com\n", "text/plain", 415, "text/csv"},
			{`{"invitations": [{"email": "x@example.com", "colour": "red"}]}`, "application/json", 422, "body.invitations[0].colour"},
			{`{"invitations": [{"email": 5}]}`, "application/json", 422, "body.invitations[0].email"},
			{`{"invitations": [], "invitations": []}`, "application/json", 400, "more than once"},
			{`{"invitations": [`, "application/json", 400, "unexpected EOF"},
			{`{}`, "application/json", 422, "invitations"},
			{`{"invitations": []}`, "application/json", 422, "at least one row"},
			{"email,colour\nx@example.com,red\n", "text/csv", 422, "unknown column"},
			{"email\n" + strings.Repeat("x@example.com\n", invite.MaxBulkRows+1), "text/csv", 422, "at most 1000 rows"},
			{strings.Repeat("x", 1<<20+1), "text/csv", 413, ""},
		} {
			r := e.call("POST", path, key, c.body, "Content-Type", c.ct).want(t, c.status)
			if !strings.Contains(string(r.Body), c.detail) {
				t.Errorf("%s %.40q: %s, want %q", c.ct, c.body, r.Body, c.detail)
			}
		}
		// A key without invitations:write may not.
		ro := e.call("POST", "/v1/organizations/"+org+"/api_keys", adminKey, map[string]any{"name": "ro", "scopes": []string{"invitations:read"}}).want(t, 201).str(t, "key")
		e.call("POST", path, ro, map[string]any{"invitations": []map[string]any{{"email": "r@example.com"}}}).want(t, http.StatusForbidden)
	})
}
