package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/invitd/invitd/internal/input"
	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/server"
)

// The native API's bodies and queries, as a client may send them: no input
// is a 5xx, every error is a problem, an input that is ambiguous or not text
// is a 400, and what is taken comes back as it was read. The server, over
// SQLite, is made once per target; each input is one request to its handler.

type fuzzNode struct {
	h      http.Handler
	svc    *invite.Service
	org    string
	member string
	token  string // a pending invitation's, for the invitee's accept
}

func newFuzzNode(f *testing.F) *fuzzNode {
	ctx := invite.WithPrincipal(context.Background(), invite.System)
	// The fuzzer sends as fast as it can, and to the same addresses again:
	// no limit may answer 429 in place of the refusal looked for.
	srv, err := server.Open(ctx, server.Config{DB: "sqlite:" + filepath.Join(f.TempDir(), "invitd.db"), AdminKey: adminKey,
		KeyRate: 1e9, KeyBurst: invite.MaxLimitSetting})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	n := &fuzzNode{h: srv.Handler(), svc: srv.Service}
	o, err := srv.Service.CreateOrg(ctx, "Fuzz", &invite.SettingsPatch{
		MaxMailsPerRecipientPerDay: new(invite.NoLimit), MaxInvitationsPerHour: new(invite.NoLimit)})
	if err != nil {
		f.Fatal(err)
	}
	n.org = o.ID.String()
	inv, err := srv.Service.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: "member@example.com", NoEmail: true})
	if err != nil {
		f.Fatal(err)
	}
	_, m, err := srv.Service.AcceptInvitation(ctx, o.ID, invite.InvitationRef{ID: inv.Invitation.ID}, invite.Accept{Email: "member@example.com"})
	if err != nil {
		f.Fatal(err)
	}
	n.member = m.ID.String()
	pending, err := srv.Service.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: "pending@example.com", NoEmail: true})
	if err != nil {
		f.Fatal(err)
	}
	n.token = pending.Token
	return n
}

// serve answers one request; target is a path with its raw query.
func (n *fuzzNode) serve(method, target string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://invitd.test/", strings.NewReader(string(body)))
	u, _ := url.ParseRequestURI(target)
	r.URL, r.RequestURI = u, target
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Authorization", "Bearer "+adminKey)
	w := httptest.NewRecorder()
	n.h.ServeHTTP(w, r)
	return w
}

// checkAnswer fails on a 5xx, and on an error that is not a problem of its status.
func checkAnswer(t *testing.T, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("%s: %d %s", what, w.Code, w.Body)
	}
	if w.Code < 400 {
		return
	}
	var p struct{ Status int }
	if !strings.HasPrefix(w.Header().Get("Content-Type"), "application/problem+json") ||
		json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Status != w.Code {
		t.Fatalf("%s: %d answered without a problem of its status: %q %s", what, w.Code, w.Header().Get("Content-Type"), w.Body)
	}
}

// refusedAsAmbiguous tells a body the strict reading refuses for what it
// holds, not for its syntax.
func refusedAsAmbiguous(body []byte) bool {
	err := input.CheckJSON(body)
	var dk *input.DuplicateKeyError
	return errors.As(err, &dk) || errors.Is(err, input.ErrNotUTF8) || errors.Is(err, input.ErrNUL)
}

// nativeBodyOps are the operations that read a JSON body, by the fuzzer's
// choice of op.
var nativeBodyOps = []struct{ method, path string }{
	{"POST", "/v1/organizations/{org}/invitations"},
	{"PATCH", "/v1/organizations/{org}"},
	{"PATCH", "/v1/organizations/{org}/members/{member}"},
	{"POST", "/v1/organizations"},
	{"POST", "/v1/organizations/{org}/api_keys"},
	{"POST", "/v1/invitations/{token}/accept"},
}

func FuzzNativeBodies(f *testing.F) {
	n := newFuzzNode(f)
	for _, s := range []struct {
		op   uint8
		body string
	}{
		{0, `{"email":"a@example.com","send_email":false}`},
		{0, `{"email":"b@example.com","role":"admin","permissions":["x"],"metadata":{"k":[1,{"a":null}]},"inviter":{"id":"u1","name":"Ann"},"send_email":false}`},
		{0, `{"email":"a@example.com","email":"c@example.com"}`},
		{0, "{\"email\":\"d\xff@example.com\"}"},
		{0, `{"email":"e@example.com","metadata":{"a":"\u0000"}}`},
		{1, `{"name":"Renamed","settings":{"invitation_ttl":7200}}`},
		{2, `{"name":"M","role":"admin"}`},
		{2, `{"name":"M","name":"N"}`},
		{3, `{"name":"Other"}`},
		{4, `{"name":"k"}`},
		{5, `{"name":"Invitee"}`},
		{5, `{"name":"\ud800"}`},
	} {
		f.Add(s.op, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		o := nativeBodyOps[int(op)%len(nativeBodyOps)]
		path := strings.NewReplacer("{org}", n.org, "{member}", n.member, "{token}", n.token).Replace(o.path)
		w := n.serve(o.method, path, body)
		what := o.method + " " + o.path + " " + string(body)
		checkAnswer(t, what, w)
		if refusedAsAmbiguous(body) && w.Code != http.StatusBadRequest {
			t.Fatalf("%s: %d, want 400: %s", what, w.Code, w.Body)
		}
		if w.Code >= 300 {
			return
		}
		var got map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatalf("%s: the answer is no JSON object: %v %s", what, err, w.Body)
		}
		if op := int(op) % len(nativeBodyOps); op == 0 {
			// The invitation made is the one asked for.
			var sent struct{ Email, Role string }
			if err := json.Unmarshal(body, &sent); err != nil {
				t.Fatalf("%s was taken, but does not decode: %v", what, err)
			}
			email, err := invite.NormalizeEmail(sent.Email)
			if err != nil || got["email"] != email || (sent.Role != "" && got["role"] != sent.Role) {
				t.Fatalf("%s: made %v (the address normalizes to %q, %v)", what, got, email, err)
			}
		}
	})
}

// nativeLists are the lists a query is fuzzed on, by the fuzzer's choice.
var nativeLists = []string{
	"/v1/organizations/{org}/invitations", "/v1/organizations/{org}/members",
	"/v1/organizations", "/v1/organizations/{org}/events", "/v1/organizations/{org}/webhooks",
}

func FuzzNativeListQuery(f *testing.F) {
	n := newFuzzNode(f)
	for _, s := range []struct {
		list  uint8
		query string
	}{
		{0, "state=pending&sort=-updated_at&limit=2"}, {0, "role=member&email=member%40example.com"},
		{0, "cursor=%%%"}, {0, "role=%00"}, {0, "role=%ff"}, {0, "limit=0"}, {0, "limit=1&limit=2"},
		{1, "limit=1&cursor=x"}, {2, "limit=100"}, {3, "type=invitation.*&after="}, {4, "a;b"},
	} {
		f.Add(s.list, s.query)
	}
	f.Fuzz(func(t *testing.T, list uint8, query string) {
		target := strings.ReplaceAll(nativeLists[int(list)%len(nativeLists)], "{org}", n.org) + "?" + query
		// What a client can send: the request line holds no space or control.
		if strings.ContainsFunc(query, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return
		}
		if _, err := url.ParseRequestURI(target); err != nil {
			return
		}
		w := n.serve("GET", target, nil)
		checkAnswer(t, target, w)
		q, err := url.ParseQuery(query)
		notText := err != nil
		for k, vs := range q {
			for _, v := range append(vs, k) {
				notText = notText || !input.Text(v)
			}
		}
		if notText && w.Code != http.StatusBadRequest {
			t.Fatalf("%s: %d, want 400: %s", target, w.Code, w.Body)
		}
		if w.Code != http.StatusOK {
			return
		}
		var page struct {
			Data       []json.RawMessage `json:"data"`
			NextCursor *string           `json:"next_cursor"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil || page.Data == nil || len(page.Data) > invite.MaxLimit {
			t.Fatalf("%s: not a page: %v %s", target, err, w.Body)
		}
	})
}
