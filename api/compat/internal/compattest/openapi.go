package compattest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/oklog/ulid/v2"

	"github.com/invitd/invitd/api/compat/internal/wire"
)

// Spec is a vendor's OpenAPI document that a surface's answers are checked
// against, made strict: an object schema that lists properties admits no
// others (see LoadSpec).
type Spec struct {
	doc       *openapi3.T
	router    routers.Router
	errStatus int // SpecOptions.ErrorStatus
	opts      []openapi3.SchemaValidationOption
}

// SpecOptions adjusts a Spec.
type SpecOptions struct {
	// Extra adds properties to schemas of the document before it is made
	// strict, for fields a surface answers beyond the document (each is to
	// be written down in the surface's doc). Key: a JSON pointer to a
	// schema, such as "/components/schemas/Error"; value: a JSON object of
	// property name → schema.
	Extra map[string]string
	// ErrorStatus is the documented error status (such as 400) whose schema
	// checks an answer that the document gives no schema for: a status the
	// operation does not list, a status listed without a body, or a path or
	// method that is no operation. The operation's own schema for it is
	// used, else that of the first operation (by path, then method) that
	// has one. Zero: such answers fail the test.
	ErrorStatus int
}

// LoadSpec reads the OpenAPI document at path, checks that it is valid,
// and serves its paths under prefix (the surface's mount point, such as
// "/compat/upsun"), whatever the host.
//
// kin-openapi admits properties a schema does not list unless the schema
// says additionalProperties: false. Vendor documents rarely say it, so
// LoadSpec sets it on every object schema that lists properties and says
// nothing of others, in the schemas of responses: a field outside the
// document fails the check. Request schemas are left as written.
func LoadSpec(t testing.TB, path, prefix string, o SpecOptions) *Spec {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read spec: %v", err)
	}
	if len(o.Extra) > 0 {
		if raw, err = extend(raw, o.Extra); err != nil {
			t.Fatalf("spec %s: %v", path, err)
		}
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("load spec %s: %v", path, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("spec %s is not valid: %v", path, err)
	}
	doc.Servers = openapi3.Servers{{URL: prefix}}
	s := &Spec{doc: doc, opts: []openapi3.SchemaValidationOption{
		openapi3.EnableFormatValidation(),
		openapi3.WithStringFormatValidators(formats),
		openapi3.SetSchemaErrorMessageCustomizer(brief),
	}}
	seen := map[*openapi3.Schema]bool{}
	for _, op := range s.operations() {
		for _, rr := range op.Responses.Map() {
			if rr.Value == nil {
				continue
			}
			for _, mt := range rr.Value.Content {
				if mt.Schema != nil {
					closeSchema(mt.Schema.Value, seen)
				}
			}
		}
	}
	if s.router, err = gorillamux.NewRouter(doc); err != nil {
		t.Fatalf("route spec %s: %v", path, err)
	}
	if s.errStatus = o.ErrorStatus; s.errStatus != 0 {
		if schema, _ := s.schemaOf(nil); schema == nil {
			t.Fatalf("spec %s documents no %d with a schema", path, s.errStatus)
		}
	}
	return s
}

// Cached returns a loader of the document at path (see LoadSpec) that
// reads and checks it once, for all the tests of a package; a load that
// failed its test is tried again by the next.
func Cached(path, prefix string, o SpecOptions) func(testing.TB) *Spec {
	var (
		mu   sync.Mutex
		spec *Spec
	)
	return func(t testing.TB) *Spec {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if spec == nil {
			spec = LoadSpec(t, path, prefix, o)
		}
		return spec
	}
}

// formats checks the string formats the vendor documents use; kin-openapi
// knows date and date-time itself.
var formats = map[string]openapi3.StringFormatValidator{
	"uuid": openapi3.NewCallbackValidator(func(v string) error {
		if _, ok := wire.StrictUUID(v); !ok {
			return fmt.Errorf("not a UUID")
		}
		return nil
	}),
	"ulid": openapi3.NewCallbackValidator(func(v string) error {
		if _, err := ulid.ParseStrict(v); err != nil {
			return fmt.Errorf("not a ULID")
		}
		return nil
	}),
	"email": openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail),
}

// brief says where a value fails and why, without the schema and value
// that kin-openapi prints by default (the body is printed once anyway).
func brief(err *openapi3.SchemaError) string {
	return fmt.Sprintf("at /%s: %s", strings.Join(err.JSONPointer(), "/"), err.Reason)
}

// Check fails the test unless the answer r to req is one the document
// allows: a documented status, its headers, and a body of its content type
// that validates against its schema (strict, see LoadSpec). An answer the
// document has no schema for is checked as SpecOptions.ErrorStatus says.
func (s *Spec) Check(t testing.TB, req *http.Request, r *Response) {
	t.Helper()
	if err := s.check(req, r); err != nil {
		t.Errorf("%s %s answered %d, which the vendor document does not allow: %v\n%s", req.Method, req.URL.RequestURI(), r.Status, err, r.Body)
	}
}

// CheckRequest tells whether the document allows req (with body, nil for
// none) as a client request: its path, parameters and their encodings, and
// its body. Security is not checked.
func (s *Spec) CheckRequest(req *http.Request, body []byte) error {
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return err
	}
	req = req.Clone(req.Context())
	req.Body = nil
	if body != nil {
		req.Body = http.NoBody
		if len(body) > 0 {
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
	}
	return openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{
			AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions: s.opts,
		},
	})
}

// Do sends a request as Do does and checks its answer with Check.
func (s *Spec) Do(t testing.TB, method, url string, body any, set func(*http.Request)) *Response {
	t.Helper()
	var sent *http.Request
	r := Do(t, method, url, body, func(req *http.Request) {
		if set != nil {
			set(req)
		}
		sent = req
	})
	s.Check(t, sent, r)
	return r
}

func (s *Spec) check(req *http.Request, r *Response) error {
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return s.checkFallback(nil, r, fmt.Sprintf("no operation for %s %s (%v)", req.Method, req.URL.Path, err))
	}
	rr := route.Operation.Responses.Status(r.Status)
	if rr == nil {
		rr = route.Operation.Responses.Default()
	}
	if rr == nil {
		return s.checkFallback(route.Operation, r, fmt.Sprintf("status %d is not documented", r.Status))
	}
	if rr.Value == nil || len(rr.Value.Content) == 0 {
		if len(r.Body) == 0 {
			return nil
		}
		return s.checkFallback(route.Operation, r, fmt.Sprintf("status %d is documented without a body", r.Status))
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.Status,
		Header:                 r.Header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus:   true,
			MultiError:              true,
			SchemaValidationOptions: s.opts,
		},
	}
	in.Options.WithCustomSchemaErrorFunc(brief)
	in.SetBodyBytes(r.Body)
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// checkFallback checks an answer the document gives no schema for against
// the ErrorStatus schema of op (or of the document when op has none).
func (s *Spec) checkFallback(op *openapi3.Operation, r *Response, why string) error {
	if s.errStatus == 0 || r.Status < 400 {
		return fmt.Errorf("%s", why)
	}
	schema, ct := s.schemaOf(op)
	if got, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); got != ct {
		return fmt.Errorf("%s; checked as %d: Content-Type %q, want %s", why, s.errStatus, r.Header.Get("Content-Type"), ct)
	}
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		return fmt.Errorf("%s; checked as %d: body is not JSON: %v", why, s.errStatus, err)
	}
	opts := append([]openapi3.SchemaValidationOption{openapi3.VisitAsResponse(), openapi3.MultiErrors()}, s.opts...)
	if err := schema.Value.VisitJSON(v, opts...); err != nil {
		return fmt.Errorf("%s; checked as %d: %v", why, s.errStatus, err)
	}
	return nil
}

// operations lists the document's operations by path, then method.
func (s *Spec) operations() []*openapi3.Operation {
	var out []*openapi3.Operation
	paths := s.doc.Paths.InMatchingOrder()
	slices.Sort(paths)
	for _, p := range paths {
		ops := s.doc.Paths.Value(p).Operations()
		methods := make([]string, 0, len(ops))
		for m := range ops {
			methods = append(methods, m)
		}
		slices.Sort(methods)
		for _, m := range methods {
			out = append(out, ops[m])
		}
	}
	return out
}

// schemaOf is the schema and content type of the ErrorStatus answer of op,
// else of the first operation that documents one.
func (s *Spec) schemaOf(op *openapi3.Operation) (*openapi3.SchemaRef, string) {
	for _, o := range append([]*openapi3.Operation{op}, s.operations()...) {
		if o == nil {
			continue
		}
		rr := o.Responses.Status(s.errStatus)
		if rr == nil || rr.Value == nil {
			continue
		}
		cts := make([]string, 0, len(rr.Value.Content))
		for ct := range rr.Value.Content {
			cts = append(cts, ct)
		}
		slices.Sort(cts)
		for _, ct := range cts {
			if mt := rr.Value.Content[ct]; mt.Schema != nil && mt.Schema.Value != nil {
				return mt.Schema, ct
			}
		}
	}
	return nil, ""
}

// closeSchema sets additionalProperties: false on every object schema under
// sc that lists properties and does not speak of others.
func closeSchema(sc *openapi3.Schema, seen map[*openapi3.Schema]bool) {
	if sc == nil || seen[sc] {
		return
	}
	seen[sc] = true
	if len(sc.Properties) > 0 && sc.AdditionalProperties.Has == nil && sc.AdditionalProperties.Schema == nil {
		no := false
		sc.AdditionalProperties.Has = &no
	}
	// Members of a composition are left open: each would refuse the
	// properties of the others.
	for _, p := range sc.Properties {
		if p != nil {
			closeSchema(p.Value, seen)
		}
	}
	if sc.Items != nil {
		closeSchema(sc.Items.Value, seen)
	}
	if sc.AdditionalProperties.Schema != nil {
		closeSchema(sc.AdditionalProperties.Schema.Value, seen)
	}
}

// extend adds extra's properties to the schemas its JSON pointers name.
func extend(raw []byte, extra map[string]string) ([]byte, error) {
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	for ptr, props := range extra {
		var add map[string]any
		if err := json.Unmarshal([]byte(props), &add); err != nil {
			return nil, fmt.Errorf("extra properties for %s: %v", ptr, err)
		}
		node := doc
		for _, tok := range strings.Split(strings.TrimPrefix(strings.TrimPrefix(ptr, "#"), "/"), "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			m, ok := node.(map[string]any)
			if !ok || m[tok] == nil {
				return nil, fmt.Errorf("no schema at %s", ptr)
			}
			node = m[tok]
		}
		schema, ok := node.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s is not a schema", ptr)
		}
		have, _ := schema["properties"].(map[string]any)
		if have == nil {
			have = map[string]any{}
			schema["properties"] = have
		}
		for k, v := range add {
			if _, dup := have[k]; dup {
				return nil, fmt.Errorf("%s already has %q", ptr, k)
			}
			have[k] = v
		}
	}
	return json.Marshal(doc)
}
