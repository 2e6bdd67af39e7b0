package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/invitd/invitd/server"
)

const adminKey = "test-admin-key-0123456789abcdefghijklmnop"

// env is a real invitd over loopback HTTP on a real SQLite file; every
// response it sees is checked against the served OpenAPI document.
type env struct {
	t      *testing.T
	url    string
	srv    *server.Server
	router routers.Router
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, false, nil)
}

// newEnvWith is newEnv with configure applied to the server's Config; with
// jobs the server runs its job runner too (mail, webhook deliveries), as
// invitd serve does.
func newEnvWith(t *testing.T, jobs bool, configure func(*server.Config)) *env {
	t.Helper()
	ctx := context.Background()
	cfg := server.Config{
		DB: "sqlite:" + filepath.Join(t.TempDir(), "invitd.db"), AdminKey: adminKey, BaseURL: "http://invitd.test",
	}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := server.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv}
	if jobs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		sctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- srv.Serve(sctx, ln) }()
		t.Cleanup(func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
			srv.Close()
		})
		e.url = "http://" + ln.Addr().String()
	} else {
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(func() { ts.Close(); srv.Close() })
		e.url = ts.URL
	}

	res, err := http.Get(e.url + "/openapi-3.0.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("openapi document does not load: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("openapi document is not valid: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: e.url}}
	if e.router, err = gorillamux.NewRouter(doc); err != nil {
		t.Fatal(err)
	}
	return e
}

type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

func (r *resp) str(t *testing.T, field string) string {
	t.Helper()
	s, _ := r.json(t)[field].(string)
	return s
}

// call sends a request with a bearer key ("" for none) and a JSON body (nil
// for none; a string or []byte is sent as is), then checks the answer
// against the OpenAPI document.
func (e *env) call(method, path, key string, body any, headers ...string) *resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out := &resp{Status: res.StatusCode, Header: res.Header}
	out.Body, _ = io.ReadAll(res.Body)
	e.checkSpec(req, out)
	return out
}

func (e *env) checkSpec(req *http.Request, r *resp) {
	e.t.Helper()
	route, params, err := e.router.FindRoute(req)
	if err != nil {
		return // not a native API path
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.Status,
		Header:                 r.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(r.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		e.t.Errorf("%s %s answered %d, which the OpenAPI document does not allow: %v\n%s", req.Method, req.URL.Path, r.Status, err, r.Body)
	}
}

// want fails unless r has the status; for errors it also checks the problem shape.
func (r *resp) want(t *testing.T, status int) *resp {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if status >= 400 {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("error Content-Type %q, want application/problem+json", ct)
		}
		m := r.json(t)
		if int(m["status"].(float64)) != status || m["title"] == "" || m["detail"] == "" {
			t.Errorf("problem lacks status/title/detail: %s", r.Body)
		}
	}
	return r
}

// org makes an organization and a key for it.
func (e *env) org(name string) (id, key string) {
	e.t.Helper()
	id = e.call("POST", "/v1/organizations", adminKey, map[string]any{"name": name}).want(e.t, 201).str(e.t, "id")
	key = e.call("POST", "/v1/organizations/"+id+"/api_keys", adminKey, map[string]any{"name": "k"}).want(e.t, 201).str(e.t, "key")
	return id, key
}
