// Package compattest sets up what the compatibility surfaces' tests share: a
// Service over a real SQLite store, an organization with a key, a surface
// served over loopback HTTP under its mount prefix with the server's request
// ids, checks of JSON field types against a seed's field table, and checks
// of the events a request caused.
package compattest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/invitd/invitd/api/compat/internal/wire"
	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/store/sqlite"
)

// Clock is a settable clock for invite.Config.Now.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// System is a context for calling the Service as background work does; it
// may do anything.
var System = invite.WithPrincipal(context.Background(), invite.System)

// ConfiguredAdminKey is the admin key the Service is configured with, as
// the server's AdminKey is: a bearer credential that is no stored key.
const ConfiguredAdminKey = "configured-admin-key-for-the-compat-tests"

// Env is one test's world.
type Env struct {
	Svc   *invite.Service
	Org   *invite.Organization
	Key   *invite.NewKey // an org key of Org
	Admin *invite.NewKey // an admin key
	Clock *Clock         // nil unless asked for
	path  string         // the database file
}

// Break makes the database fail every statement on tables, as a failing
// database would, while keys are still checked: it renames them from
// another connection.
func (e *Env) Break(t testing.TB, tables ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, table := range tables {
		if _, err := db.Exec("ALTER TABLE " + table + " RENAME TO " + table + "_broken"); err != nil {
			t.Fatalf("break %s: %v", table, err)
		}
	}
}

// New opens a SQLite store in t.TempDir(), a Service over it configured
// with ConfiguredAdminKey, and an organization with an org key and an
// admin key. clock may be nil. Requests are not limited per key (a
// surface's tests make more than ClickHouse's 10 in 10 s); see NewLimited.
func New(t testing.TB, clock *Clock) *Env {
	t.Helper()
	return newEnv(t, clock, invite.Config{NoRequestLimits: true})
}

// NewLimited is New with the per-key request limits on: each key's bucket
// holds burst requests and refills at rate a second.
func NewLimited(t testing.TB, clock *Clock, rate float64, burst int) *Env {
	t.Helper()
	return newEnv(t, clock, invite.Config{RequestsPerSecond: rate, RequestBurst: burst})
}

func newEnv(t testing.TB, clock *Clock, cfg invite.Config) *Env {
	t.Helper()
	ctx := System
	path := filepath.Join(t.TempDir(), "invitd.db")
	st, err := sqlite.Open(ctx, path, "")
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	cfg.AdminKey = ConfiguredAdminKey
	if clock != nil {
		cfg.Now = clock.Now
	}
	svc, err := invite.NewService(st, cfg)
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
	e := &Env{Svc: svc, Clock: clock, path: path}
	e.Org = e.NewOrg(t, "Acme")
	if e.Key, err = svc.CreateKey(ctx, &e.Org.ID, invite.KeyInput{Name: "test"}); err != nil {
		t.Fatalf("create key: %v", err)
	}
	if e.Admin, err = svc.CreateKey(ctx, nil, invite.KeyInput{Name: "admin"}); err != nil {
		t.Fatalf("create admin key: %v", err)
	}
	return e
}

// NewOrg makes another organization.
func (e *Env) NewOrg(t testing.TB, name string) *invite.Organization {
	t.Helper()
	o, err := e.Svc.CreateOrg(System, name, nil)
	if err != nil {
		t.Fatalf("create org: %v", err)
	}
	return o
}

// Invite creates an invitation through the core, without mail.
func (e *Env) Invite(t testing.TB, org invite.OrgID, c invite.CreateInvitation) *invite.Invitation {
	t.Helper()
	c.NoEmail = true
	res, err := e.Svc.CreateInvitation(System, org, c)
	if err != nil {
		t.Fatalf("create invitation %s: %v", c.Email, err)
	}
	return res.Invitation
}

// Serve mounts h under prefix (as the server does, with http.StripPrefix)
// on a loopback test server and returns the URL of prefix. Every request
// gets an id as the server's middleware gives it (RequestID).
func Serve(t testing.TB, prefix string, h http.Handler) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
	srv := httptest.NewServer(RequestID(mux))
	t.Cleanup(srv.Close)
	return srv.URL + prefix
}

// RequestID does what the server's middleware does with request ids: it
// keeps the client's X-Request-Id when short and printable, else makes one,
// answers it as X-Request-Id and puts it in the request's context.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !invite.RequestIDUsable(id) {
			id = invite.NewRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(invite.WithRequestID(r.Context(), id)))
	})
}

// KeyActor is how events name the org key Key.
func (e *Env) KeyActor() invite.Actor {
	return invite.Actor{Type: invite.ActorAPIKey, ID: e.Key.ID, Name: e.Key.Name}
}

// AdminActor is how events name the admin key Admin.
func (e *Env) AdminActor() invite.Actor {
	return invite.Actor{Type: invite.ActorAdminKey, ID: e.Admin.ID, Name: e.Admin.Name}
}

// KeyCase is a key a test acts with, and how events name it.
type KeyCase struct {
	Name  string
	Key   *invite.NewKey
	Actor invite.Actor
}

// Keys are the org key Key and the admin key Admin, for a test that runs
// once with each.
func (e *Env) Keys() []KeyCase {
	return []KeyCase{{"org key", e.Key, e.KeyActor()}, {"admin key", e.Admin, e.AdminActor()}}
}

// EventsAfter lists org's events after cursor ("" for all), oldest first,
// and the cursor after the last of them.
func (e *Env) EventsAfter(t testing.TB, org invite.OrgID, cursor string) ([]*invite.Event, string) {
	t.Helper()
	var out []*invite.Event
	for {
		p, err := e.Svc.ListEvents(System, org, invite.EventParams{After: cursor, Limit: 100})
		if err != nil {
			t.Fatalf("list events: %v", err)
		}
		out = append(out, p.Items...)
		cursor = p.NextCursor
		if len(p.Items) == 0 {
			return out, cursor
		}
	}
}

// Tail is the cursor after org's last event so far: the events listed
// after it are those caused since.
func (e *Env) Tail(t testing.TB, org invite.OrgID) string {
	t.Helper()
	_, c := e.EventsAfter(t, org, "")
	return c
}

// Want is an event a request is to cause: its type and the id of the
// object it is about (its subject and its data's id).
type Want struct {
	Type string
	ID   string
}

// CheckEvents asserts that org's events after cursor are exactly want, in
// order, each by actor, with requestID, about its object (subject and
// data.id) in org (data.organization_id). It returns the cursor after them.
func (e *Env) CheckEvents(t testing.TB, org invite.OrgID, cursor string, actor invite.Actor, requestID string, want ...Want) string {
	t.Helper()
	evs, next := e.EventsAfter(t, org, cursor)
	var got, wantTypes []string
	for _, ev := range evs {
		got = append(got, ev.Type)
	}
	for _, w := range want {
		wantTypes = append(wantTypes, w.Type)
	}
	if strings.Join(got, ",") != strings.Join(wantTypes, ",") {
		t.Errorf("events %v, want %v", got, wantTypes)
		return next
	}
	if requestID == "" {
		t.Errorf("no request id to compare the events with")
	}
	for i, ev := range evs {
		w := want[i]
		if ev.Actor != actor {
			t.Errorf("%s: actor %+v, want %+v", ev.Type, ev.Actor, actor)
		}
		if ev.RequestID != requestID {
			t.Errorf("%s: request_id %q, want %q", ev.Type, ev.RequestID, requestID)
		}
		if ev.OrgID != org || ev.Subject != w.ID {
			t.Errorf("%s: in %s about %s, want %s about %s", ev.Type, ev.OrgID, ev.Subject, org, w.ID)
		}
		var data struct {
			ID    string `json:"id"`
			OrgID string `json:"organization_id"`
		}
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			t.Errorf("%s: data %s: %v", ev.Type, ev.Data, err)
		} else if data.ID != w.ID || data.OrgID != org.String() {
			t.Errorf("%s: data.id %q, data.organization_id %q; want %s, %s", ev.Type, data.ID, data.OrgID, w.ID, org)
		}
	}
	return next
}

// Response is a finished HTTP exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on error.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
}

// Object decodes the body as a JSON object.
func (r *Response) Object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// Do sends a request. body may be nil, a string or []byte (sent as is), or
// anything else (sent as JSON). set adjusts the request before it goes.
func Do(t testing.TB, method, url string, body any, set func(*http.Request)) *Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if set != nil {
		set(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Fields is a seed's field table: field name → JSON type. Types are
// string, integer, number, boolean, object, array, null, or a string format
// (date-time, uuid, ulid, email); "a|b" allows either.
type Fields map[string]string

// CheckFields asserts that obj has exactly the fields of want, each of its type.
func CheckFields(t testing.TB, what string, obj any, want Fields) {
	t.Helper()
	m, ok := obj.(map[string]any)
	if !ok {
		t.Errorf("%s: %T is not a JSON object", what, obj)
		return
	}
	var extra []string
	for k := range m {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("%s: fields not in the seed: %v (object %v)", what, extra, m)
	}
	for k, typ := range want {
		v, ok := m[k]
		if !ok {
			t.Errorf("%s: field %q is missing (object %v)", what, k, m)
			continue
		}
		if !HasType(v, typ) {
			t.Errorf("%s: field %q = %#v is not %s", what, k, v, typ)
		}
	}
}

// HasType tells whether a decoded JSON value is of typ (see Fields).
func HasType(v any, typ string) bool {
	for _, one := range strings.Split(typ, "|") {
		if hasType(v, one) {
			return true
		}
	}
	return false
}

func hasType(v any, typ string) bool {
	s, isString := v.(string)
	switch typ {
	case "null":
		return v == nil
	case "string":
		return isString
	case "integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f)
	case "number":
		_, ok := v.(float64)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "date-time":
		_, err := time.Parse(time.RFC3339, s)
		return isString && err == nil
	case "uuid":
		_, ok := wire.StrictUUID(s)
		return isString && ok
	case "ulid":
		_, err := ulid.ParseStrict(s)
		return isString && len(s) == ulid.EncodedSize && err == nil
	case "email":
		return isString && strings.Count(s, "@") == 1 && s == strings.ToLower(s)
	}
	panic("compattest: unknown type " + typ)
}
