package wire

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// The compatibility surfaces' body reader: it never panics, refuses with
// a 4xx only, and what it takes decodes as the same value again once
// encoded.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"email":"a@example.com","permissions":["x"],"force":true}`, `{"email":1}`, `{"a":1,"a":2}`,
		"{\"email\":\"\xff\"}", `{"email":"\ud800"}`, `{"email":"\u0000"}`, `[]`, `{}{}`, ``, `null`} {
		f.Add(s, "application/json")
	}
	f.Add(`{}`, "text/plain")
	f.Add(`{}`, "application/x+json; charset=utf-8")
	type body struct {
		Email *string         `json:"email"`
		Perms *[]string       `json:"permissions"`
		Force *bool           `json:"force"`
		Extra json.RawMessage `json:"extra"`
		Map   map[string]any  `json:"map"`
	}
	f.Fuzz(func(t *testing.T, in, contentType string) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(in))
		r.Header.Set("Content-Type", contentType)
		var b body
		if p := DecodeJSON(httptest.NewRecorder(), r, &b, true); p != nil {
			if p.Status < 400 || p.Status > 499 || p.Message == "" {
				t.Fatalf("%q refused as %+v", in, p)
			}
			return
		}
		out, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("%q decoded to %+v, which does not encode: %v", in, b, err)
		}
		r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(out)))
		r.Header.Set("Content-Type", "application/json")
		var again body
		if p := DecodeJSON(httptest.NewRecorder(), r, &again, true); p != nil || !reflect.DeepEqual(normal(t, b), normal(t, again)) {
			t.Fatalf("%q decoded to %+v; its encoding %s to %+v, %v", in, b, out, again, p)
		}
	})
}

// normal is v as encoding/json writes it, for comparing values that hold
// raw JSON.
func normal(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var x any
	_ = json.Unmarshal(b, &x)
	b, _ = json.Marshal(x)
	return string(b)
}
