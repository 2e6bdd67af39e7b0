package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invitd/invitd/internal/testnode"
	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/server"
)

// inputCase is one request that is to be refused before the core acts on it.
type inputCase struct {
	name         string
	method, path string
	header       map[string]string // set as given, bytes and all
	body         string
	want         int
	shape        string // native, jicoo, clickhouse, upsun or web: whose error body
	says         string // the answer names this, when set
}

// Text a store cannot hold (a NUL byte, invalid UTF-8), a query string that
// does not decode, a JSON body that is ambiguous or mislabelled: each is
// refused on every surface with a 4xx in the surface's shape, on both
// backends, and nothing is written nor logged as an error. Credentials are
// refused as credentials: 401.
func TestBadInputIsRefusedOnEverySurface(t *testing.T) {
	for name, db := range map[string]func(*testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "x.db") },
		"postgres": func(t *testing.T) string { return testnode.PostgresDB(t) },
	} {
		t.Run(name, func(t *testing.T) { testBadInput(t, db(t)) })
	}
}

func testBadInput(t *testing.T, dsn string) {
	ctx := invite.WithPrincipal(context.Background(), invite.System)
	logs := &testnode.Buffer{}
	srv, err := server.Open(ctx, server.Config{DB: dsn, AdminKey: adminKey, Secret: testnode.Secret,
		Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	o, err := srv.Service.CreateOrg(ctx, "Acme", nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := srv.Service.CreateKey(ctx, &o.ID, invite.KeyInput{Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	created, err := srv.Service.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: "someone@example.com", NoEmail: true})
	if err != nil {
		t.Fatal(err)
	}
	token := created.Token

	bearer := "Bearer " + k.Token
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(k.ID+":"+k.Secret))
	asJSON := func(auth string, more ...string) map[string]string {
		h := map[string]string{"Authorization": auth, "Content-Type": "application/json"}
		for i := 0; i+1 < len(more); i += 2 {
			h[more[i]] = more[i+1]
		}
		return h
	}
	jicooKey := func(key string, more ...string) map[string]string {
		h := map[string]string{"X-Jicoo-Api-Key": key, "Content-Type": "application/json"}
		for i := 0; i+1 < len(more); i += 2 {
			h[more[i]] = more[i+1]
		}
		return h
	}
	native := "/v1/organizations/" + o.ID.String() + "/invitations"
	jicoo := "/compat/jicoo/v1/organization_invitations"
	ch := "/compat/clickhouse/v1/organizations/" + o.ID.UUID() + "/invitations"
	upsun := "/compat/upsun/organizations/" + o.ID.String() + "/invitations"
	nativeBody := `{"email":"new@example.com","send_email":false}`
	jicooBody := `{"email":"new@example.com"}`
	chBody := `{"email":"new@example.com"}`
	upsunBody := `{"email":"new@example.com","permissions":["billing"]}`

	cases := []inputCase{
		// Credentials that are no key's: 401, before the store.
		{"native basic NUL credentials", "GET", native, map[string]string{"Authorization": "Basic ADoA"}, "", 401, "native", ""},
		{"native bearer invalid UTF-8", "GET", native, map[string]string{"Authorization": "Bearer invitd_\xff_x"}, "", 401, "native", ""},
		{"native bearer NUL in the secret", "GET", native, map[string]string{"Authorization": "Basic " +
			base64.StdEncoding.EncodeToString([]byte(k.ID+":\x00"))}, "", 401, "native", ""},
		{"clickhouse basic NUL credentials", "GET", ch, map[string]string{"Authorization": "Basic ADoA"}, "", 401, "clickhouse", ""},
		{"jicoo key invalid UTF-8", "GET", jicoo, map[string]string{"X-Jicoo-Api-Key": "invitd_\xff_x"}, "", 401, "jicoo", ""},
		{"upsun bearer invalid UTF-8", "GET", upsun, map[string]string{"Authorization": "Bearer invitd_\xff_x"}, "", 401, "upsun", ""},

		// Other headers.
		{"native Idempotency-Key invalid UTF-8", "POST", native, asJSON(bearer, "Idempotency-Key", "\xff"), nativeBody, 400, "native", "Idempotency-Key"},
		{"native Idempotency-Key invalid UTF-8, no key", "POST", native, map[string]string{"Idempotency-Key": "\xff"}, nativeBody, 400, "native", ""},
		{"jicoo header invalid UTF-8", "POST", jicoo, jicooKey(k.Token, "X-Note", "\xfe"), jicooBody, 400, "jicoo", "X-Note"},
		{"clickhouse header invalid UTF-8", "POST", ch, asJSON(basic, "X-Note", "a\xffb"), chBody, 400, "clickhouse", "X-Note"},
		{"upsun header invalid UTF-8", "POST", upsun, asJSON(bearer, "X-Note", "\xc3"), upsunBody, 400, "upsun", "X-Note"},

		// Path segments.
		{"native path NUL", "GET", native + "/%00", asJSON(bearer), "", 400, "native", ""},
		{"native path invalid UTF-8", "POST", native + "/%ff/cancel", asJSON(bearer), "", 400, "native", ""},
		{"jicoo path NUL", "DELETE", jicoo + "/1%00", jicooKey(k.Token), "", 400, "jicoo", ""},
		{"clickhouse path invalid UTF-8", "DELETE", ch + "/%ff", asJSON(basic), "", 400, "clickhouse", ""},
		{"upsun path NUL", "DELETE", upsun + "/%00", asJSON(bearer), "", 400, "upsun", ""},
		{"invitee API path invalid UTF-8", "POST", "/v1/invitations/%ff/decline", nil, "", 400, "native", ""},
		{"invitee page path NUL", "GET", "/i/%00", nil, "", 400, "web", ""},

		// Query values.
		{"native role NUL", "GET", native + "?role=%00", asJSON(bearer), "", 400, "native", "role"},
		{"native role invalid UTF-8", "GET", native + "?role=%ff", asJSON(bearer), "", 400, "native", "role"},
		{"native cursor malformed", "GET", native + "?cursor=%%%", asJSON(bearer), "", 400, "native", ""},
		{"native malformed query on a create", "POST", native + "?x=%zz", asJSON(bearer), nativeBody, 400, "native", ""},
		{"jicoo email NUL", "GET", jicoo + "?email=a%00@example.com", jicooKey(k.Token), "", 400, "jicoo", "email"},
		{"jicoo users email invalid UTF-8", "GET", "/compat/jicoo/v1/organization_users?email=%ff", jicooKey(k.Token), "", 400, "jicoo", "email"},
		{"jicoo page malformed", "GET", jicoo + "?page=%%%", jicooKey(k.Token), "", 400, "jicoo", ""},
		{"clickhouse query malformed", "GET", ch + "?x=%%%", asJSON(basic), "", 400, "clickhouse", ""},
		{"upsun page[after] malformed", "GET", upsun + "?page[after]=%%%", asJSON(bearer), "", 400, "upsun", ""},
		{"upsun filter invalid UTF-8", "GET", upsun + "?filter[state]=%ff", asJSON(bearer), "", 400, "upsun", "filter[state]"},
		{"upsun parameter name NUL", "GET", upsun + "?a%00=1", asJSON(bearer), "", 400, "upsun", ""},
		{"invitee page query invalid UTF-8", "GET", "/i/" + token + "?done=%ff", nil, "", 400, "web", ""},

		// Bodies: invalid UTF-8 and NUL inside JSON strings.
		{"native body invalid UTF-8", "POST", native, asJSON(bearer), `{"email":"new@example.com","send_email":false,"inviter":{"name":"` + "\xff" + `"}}`, 400, "native", "UTF-8"},
		{"native body lone surrogate", "POST", native, asJSON(bearer), `{"email":"new@example.com","send_email":false,"inviter":{"name":"\ud800"}}`, 400, "native", "UTF-8"},
		{"native body NUL in metadata", "POST", native, asJSON(bearer), `{"email":"new@example.com","send_email":false,"metadata":{"a":"\u0000"}}`, 400, "native", "NUL"},
		{"jicoo body invalid UTF-8", "POST", jicoo, jicooKey(k.Token), `{"email":"new` + "\xff" + `@example.com"}`, 400, "jicoo", "UTF-8"},
		{"clickhouse body NUL", "POST", ch, asJSON(basic), `{"email":"new@example.com","role":"\u0000"}`, 400, "clickhouse", "NUL"},
		{"upsun body lone surrogate", "POST", upsun, asJSON(bearer), `{"email":"new@example.com","permissions":["\udc00"]}`, 400, "upsun", "UTF-8"},
		{"invitee accept API body invalid UTF-8", "POST", "/v1/invitations/" + token + "/accept", map[string]string{"Content-Type": "application/json"}, `{"name":"` + "\xff" + `"}`, 400, "native", "UTF-8"},
		{"invitee accept form invalid UTF-8", "POST", "/i/" + token + "/accept", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "name=%FF&csrf=x", 400, "web", ""},
		{"invitee accept form NUL", "POST", "/i/" + token + "/accept", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "name=a%00&csrf=x", 400, "web", ""},

		// Bodies: a key given twice.
		{"native duplicate key", "POST", native, asJSON(bearer), `{"email":"a@example.com","email":"b@example.com","send_email":false}`, 400, "native", `"email"`},
		{"native nested duplicate key", "POST", native, asJSON(bearer), `{"email":"a@example.com","send_email":false,"inviter":{"name":"A","name":"B"}}`, 400, "native", "inviter.name"},
		{"jicoo duplicate key", "POST", jicoo, jicooKey(k.Token), `{"email":"a@example.com","role":"member","role":"owner"}`, 400, "jicoo", `"role"`},
		{"clickhouse duplicate key", "POST", ch, asJSON(basic), `{"email":"a@example.com","email":"b@example.com"}`, 400, "clickhouse", `"email"`},
		{"upsun duplicate key", "POST", upsun, asJSON(bearer), `{"email":"a@example.com","permissions":[],"permissions":["admin"]}`, 400, "upsun", `"permissions"`},

		// Bodies: a JSON Content-Type is required.
		{"native text/plain", "POST", native, map[string]string{"Authorization": bearer, "Content-Type": "text/plain"}, nativeBody, 415, "native", ""},
		{"native no Content-Type", "POST", native, map[string]string{"Authorization": bearer}, nativeBody, 415, "native", ""},
		{"jicoo text/plain", "POST", jicoo, map[string]string{"X-Jicoo-Api-Key": k.Token, "Content-Type": "text/plain"}, jicooBody, 415, "jicoo", ""},
		{"jicoo form", "POST", jicoo, map[string]string{"X-Jicoo-Api-Key": k.Token, "Content-Type": "application/x-www-form-urlencoded"}, jicooBody, 415, "jicoo", ""},
		{"clickhouse text/plain", "POST", ch, map[string]string{"Authorization": basic, "Content-Type": "text/plain"}, chBody, 415, "clickhouse", ""},
		{"clickhouse no Content-Type", "POST", ch, map[string]string{"Authorization": basic}, chBody, 415, "clickhouse", ""},
		{"upsun text/plain", "POST", upsun, map[string]string{"Authorization": bearer, "Content-Type": "text/plain;charset=utf-8"}, upsunBody, 415, "upsun", ""},
	}
	// On PostgreSQL the event log shows an event once every transaction
	// that began before it has ended, in any database of the server: wait
	// for the setup's two events, so that one shown late is not taken for a
	// write by a refused request.
	before := written(t, srv, o.ID)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(before, `"api_key.created","invitation.created"`) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		before = written(t, srv, o.ID)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, h, body := send(t, ts.URL, c)
			if status != c.want {
				t.Fatalf("%s %q: %d, want %d: %s", c.method, c.path, status, c.want, body)
			}
			checkShape(t, c, h, body)
			if c.says != "" && !strings.Contains(strings.ReplaceAll(string(body), `\"`, `"`), c.says) {
				t.Errorf("the answer does not name %s: %s", c.says, body)
			}
		})
	}
	if after := written(t, srv, o.ID); after != before {
		t.Errorf("the refused requests wrote: %s, then %s", before, after)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("refused requests were logged as errors:\n%s", logs)
	}

	// The same requests, well formed, are taken: the refusals are for what
	// was wrong, not for the route.
	for _, c := range []inputCase{
		{"native create", "POST", native, asJSON(bearer, "Idempotency-Key", "ok-key"), nativeBody, 201, "", ""},
		{"native +json", "POST", native, map[string]string{"Authorization": bearer, "Content-Type": "application/merge-patch+json"}, `{"email":"new2@example.com","send_email":false}`, 201, "", ""},
		{"jicoo create with charset", "POST", jicoo, jicooKey(k.Token, "Content-Type", "application/json; charset=utf-8"), `{"email":"new3@example.com"}`, 201, "", ""},
		{"jicoo create, empty body, no Content-Type", "POST", jicoo, map[string]string{"X-Jicoo-Api-Key": k.Token}, "", 400, "jicoo", "email is required"},
		{"clickhouse create", "POST", ch, asJSON(basic), `{"email":"new4@example.com"}`, 200, "", ""},
		{"upsun create", "POST", upsun, asJSON(bearer), `{"email":"new5@example.com","permissions":["billing"]}`, 201, "", ""},
		{"native list", "GET", native + "?role=member&email=new%40example.com", asJSON(bearer), "", 200, "", ""},
		{"upsun list", "GET", upsun + "?filter[state]=pending&page[size]=2", asJSON(bearer), "", 200, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if status, _, body := send(t, ts.URL, c); status != c.want {
				t.Fatalf("%s %q: %d, want %d: %s", c.method, c.path, status, c.want, body)
			}
		})
	}
}

// written sums up what the org holds: its events and its invitations.
func written(t *testing.T, srv *server.Server, org invite.OrgID) string {
	t.Helper()
	ctx := invite.WithPrincipal(context.Background(), invite.System)
	evs, err := srv.Service.ListEvents(ctx, org, invite.EventParams{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	invs, err := srv.Service.FindInvitations(ctx, invite.InvitationFilter{Org: org, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	// The event types, so that a change names what wrote it.
	types := make([]string, len(evs.Items))
	for i, e := range evs.Items {
		types[i] = e.Type
	}
	b, _ := json.Marshal(map[string]any{"events": types, "invitations": len(invs)})
	return string(b)
}

func send(t *testing.T, base string, c inputCase) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if c.body != "" {
		rd = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, base+c.path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, body
}

// checkShape checks that an error answer is in its surface's shape.
func checkShape(t *testing.T, c inputCase, h http.Header, body []byte) {
	t.Helper()
	ct := h.Get("Content-Type")
	if c.shape == "web" {
		if !strings.HasPrefix(ct, "text/html") {
			t.Errorf("Content-Type %q, want an HTML page", ct)
		}
		return
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, body)
	}
	var status any
	switch c.shape {
	case "native":
		if !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("Content-Type %q, want application/problem+json", ct)
		}
		status = m["status"]
	case "jicoo":
		e, _ := m["errors"].(map[string]any)
		if e["code"] == nil || e["message"] == nil {
			t.Errorf("not Jicoo's error shape: %s", body)
		}
		status = e["status"]
	case "clickhouse":
		if m["error"] == nil || m["requestId"] == nil {
			t.Errorf("not ClickHouse's error shape: %s", body)
		}
		status = m["status"]
	case "upsun":
		if m["error"] == nil || m["status"] != "error" {
			t.Errorf("not Upsun's error shape: %s", body)
		}
		status = m["code"]
	}
	if status != float64(c.want) {
		t.Errorf("status in the body %v, want %d: %s", status, c.want, body)
	}
}
