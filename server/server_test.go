package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/server"
)

const adminKey = "server-test-admin-key-0123456789abcdef"

type client struct {
	t   *testing.T
	url string
}

func (c *client) do(method, path string, body any, auth func(*http.Request)) (int, []byte) {
	c.t.Helper()
	status, _, out := c.doH(method, path, body, auth)
	return status, out
}

// doH is do that also returns the answer's headers.
func (c *client) doH(method, path string, body any, auth func(*http.Request)) (int, http.Header, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.url+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	auth(req)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, out
}

// One invitation, created through any surface, is the same invitation on
// every other, and each create is recorded with the request id the
// server's middleware answered.
func TestEverySurfaceIsMountedOnOneCore(t *testing.T) {
	ctx := invite.WithPrincipal(context.Background(), invite.System)
	srv, err := server.Open(ctx, server.Config{DB: "sqlite:" + filepath.Join(t.TempDir(), "x.db"), AdminKey: adminKey})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	c := &client{t: t, url: ts.URL}

	o, err := srv.Service.CreateOrg(ctx, "Acme", nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := srv.Service.CreateKey(ctx, &o.ID, invite.KeyInput{Name: "all surfaces"})
	if err != nil {
		t.Fatal(err)
	}
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+k.Token) }
	jicoo := func(r *http.Request) { r.Header.Set("X-Jicoo-Api-Key", k.Token) }
	basic := func(r *http.Request) { r.SetBasicAuth(k.ID, k.Secret) }

	creates := []struct {
		surface, path string
		body          any
		auth          func(*http.Request)
		want          int
	}{
		{"native", "/v1/organizations/" + o.ID.String() + "/invitations", map[string]any{"email": "native@example.com"}, bearer, 201},
		{"jicoo", "/compat/jicoo/v1/organization_invitations", map[string]any{"email": "jicoo@example.com", "role": "member"}, jicoo, 201},
		{"clickhouse", "/compat/clickhouse/v1/organizations/" + o.ID.UUID() + "/invitations", map[string]any{"email": "clickhouse@example.com", "role": "developer"}, basic, 200},
		{"upsun", "/compat/upsun/organizations/" + o.ID.String() + "/invitations", map[string]any{"email": "upsun@example.com", "permissions": []string{"billing"}}, bearer, 201},
	}
	var requestIDs []string
	for _, cr := range creates {
		sent := "req-" + cr.surface
		status, h, body := c.doH("POST", cr.path, cr.body, func(r *http.Request) { cr.auth(r); r.Header.Set("X-Request-Id", sent) })
		if status != cr.want {
			t.Fatalf("%s create: %d %s", cr.surface, status, body)
		}
		rid := h.Get("X-Request-Id")
		// ClickHouse's ids are UUIDs: it answers one of its own for another.
		if rid == "" || (cr.surface != "clickhouse" && rid != sent) || (cr.surface == "clickhouse" && uuid.Validate(rid) != nil) {
			t.Errorf("%s create sent X-Request-Id %q, answered %q", cr.surface, sent, rid)
		}
		requestIDs = append(requestIDs, rid)
	}
	evs, err := srv.Service.ListEvents(ctx, o.ID, invite.EventParams{Types: []string{invite.EventInvitationCreated}})
	if err != nil {
		t.Fatal(err)
	}
	keyActor := invite.Actor{Type: invite.ActorAPIKey, ID: k.ID, Name: "all surfaces"}
	if len(evs.Items) != len(creates) {
		t.Fatalf("%d invitation.created events, want %d", len(evs.Items), len(creates))
	}
	for i, ev := range evs.Items {
		if ev.Actor != keyActor || ev.RequestID != requestIDs[i] {
			t.Errorf("%s create recorded by %+v in %q, want %+v in %q", creates[i].surface, ev.Actor, ev.RequestID, keyActor, requestIDs[i])
		}
	}
	reads := []struct {
		surface, path string
		auth          func(*http.Request)
	}{
		{"native", "/v1/organizations/" + o.ID.String() + "/invitations?limit=100", bearer},
		{"jicoo", "/compat/jicoo/v1/organization_invitations?perPage=100", jicoo},
		{"clickhouse", "/compat/clickhouse/v1/organizations/" + o.ID.String() + "/invitations", basic},
		{"upsun", "/compat/upsun/organizations/" + o.ID.String() + "/invitations", bearer},
	}
	for _, rd := range reads {
		status, body := c.do("GET", rd.path, nil, rd.auth)
		if status != 200 {
			t.Fatalf("%s list: %d %s", rd.surface, status, body)
		}
		for _, cr := range creates {
			if !strings.Contains(string(body), cr.surface+"@example.com") {
				t.Errorf("%s does not list the invitation made through %s: %s", rd.surface, cr.surface, body)
			}
		}
	}
	// An admin key may name any org; one that does not exist is 404, not an empty list.
	admin := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+adminKey) }
	if status, body := c.do("GET", "/compat/upsun/organizations/"+invite.NewOrgID().String()+"/invitations", nil, admin); status != 404 {
		t.Errorf("upsun list of an unknown org: %d %s", status, body)
	}
	if status, body := c.do("GET", "/v1/organizations/"+invite.NewOrgID().String()+"/invitations", nil, admin); status != 404 {
		t.Errorf("native list of an unknown org: %d %s", status, body)
	}
	n, err := srv.Service.CountInvitations(ctx, invite.InvitationFilter{Org: o.ID})
	if err != nil || n != len(creates) {
		t.Fatalf("the core holds %d invitations, want %d (%v)", n, len(creates), err)
	}
}

// Without its database: /readyz answers 503, /healthz still 200, and the API
// a 500 that leaks nothing.
func TestReadyzSaysWhenTheDatabaseIsGone(t *testing.T) {
	srv, err := server.Open(context.Background(), server.Config{DB: "sqlite:" + filepath.Join(t.TempDir(), "x.db"), AdminKey: adminKey})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	c := &client{t: t, url: ts.URL}
	none := func(*http.Request) {}
	if status, _ := c.do("GET", "/readyz", nil, none); status != 200 {
		t.Fatalf("readyz with the database up: %d", status)
	}
	srv.Close()
	if status, body := c.do("GET", "/readyz", nil, none); status != 503 || !strings.Contains(string(body), "database") {
		t.Fatalf("readyz with the database closed: %d %s", status, body)
	}
	if status, _ := c.do("GET", "/healthz", nil, none); status != 200 {
		t.Fatalf("healthz: %d", status)
	}
	// A request that needs the database is a 500 that names no cause.
	admin := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+adminKey) }
	status, body := c.do("GET", "/v1/organizations", nil, admin)
	if status != 500 || !strings.Contains(string(body), `"detail":"internal error"`) || strings.Contains(string(body), "closed") {
		t.Fatalf("a store failure answered %d %s", status, body)
	}
}
