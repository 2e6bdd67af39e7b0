package wire

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	type body struct {
		Email *string   `json:"email"`
		Perms *[]string `json:"permissions"`
		Force *bool     `json:"force"`
	}
	for _, tt := range []struct {
		in         string
		allowEmpty bool
		status     int
		msg        string
	}{
		{`{"email":"a@example.com","extra":1}`, false, 0, ""},
		{`{"email":"a@example.com","email":"b@example.com"}`, false, 400, `the key "email" more than once`},
		{`{"email":"a","permissions":["x"],"force":true,"extra":{"k":1,"k":2}}`, false, 400, `"extra.k"`},
		{"{\"email\":\"a\xffb\"}", false, 400, "UTF-8"},
		{`{"email":"\udc00"}`, false, 400, "UTF-8"},
		{`{"email":"a\u0000"}`, false, 400, "NUL"},
		{``, true, 0, ""},
		{``, false, 400, "empty"},
		{`   `, false, 400, "empty"},
		{`{"email":1}`, false, 400, `field "email" must be a string`},
		{`{"permissions":"x"}`, false, 400, `field "permissions" must be an array of strings`},
		{`{"force":"yes"}`, false, 400, `field "force" must be a boolean`},
		{`[1]`, false, 400, "must be a JSON object"},
		{`{"email":"a"`, false, 400, "not valid JSON"},
		{`{"email":"a"}{}`, false, 400, "exactly one JSON object"},
		{`{"email":"` + strings.Repeat("a", MaxBody) + `"}`, false, 413, "1 MiB"},
		{`{}` + strings.Repeat(" ", MaxBody), false, 413, "1 MiB"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.in))
		r.Header.Set("Content-Type", "application/json")
		var b body
		p := DecodeJSON(httptest.NewRecorder(), r, &b, tt.allowEmpty)
		switch {
		case tt.status == 0 && p != nil:
			t.Errorf("%.40q: %v", tt.in, p)
		case tt.status != 0 && (p == nil || p.Status != tt.status || !strings.Contains(p.Message, tt.msg)):
			t.Errorf("%.40q: got %+v, want %d %q", tt.in, p, tt.status, tt.msg)
		}
	}
}

// A body needs a JSON Content-Type, so that a cross-site form (which a
// browser sends with remembered credentials) is refused; an empty body
// needs none.
func TestDecodeJSONContentType(t *testing.T) {
	for _, tt := range []struct {
		contentType, body string
		status            int
	}{
		{"application/json", `{}`, 0},
		{"application/json; charset=utf-8", `{}`, 0},
		{"application/vnd.api+json", `{}`, 0},
		{"text/plain", `{}`, 415},
		{"text/plain; charset=utf-8", `{}`, 415},
		{"application/x-www-form-urlencoded", `{}`, 415},
		{"multipart/form-data; boundary=x", `{}`, 415},
		{"", `{}`, 415},
		{"", ``, 0},
		{"text/plain", ``, 0},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
		if tt.contentType != "" {
			r.Header.Set("Content-Type", tt.contentType)
		}
		var v struct{}
		p := DecodeJSON(httptest.NewRecorder(), r, &v, true)
		if (p == nil && tt.status != 0) || (p != nil && p.Status != tt.status) {
			t.Errorf("%q with %q: %v, want %d", tt.contentType, tt.body, p, tt.status)
		}
	}
}

func TestInt(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"", 20, true}, {" ", 20, true}, {"1", 1, true}, {"100", 100, true}, {"2.0", 2, true}, {"1e2", 100, true},
		{"0", 0, false}, {"101", 0, false}, {"-1", 0, false}, {"1.5", 0, false}, {"x", 0, false},
		{"NaN", 0, false}, {"Inf", 0, false}, {"99999999999999999999", 0, false}, {"0x10", 0, false},
	} {
		got, p := Int(tt.in, "n", 20, 1, 100)
		if (p == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("Int(%q) = %d, %v; want %d, ok %v", tt.in, got, p, tt.want, tt.ok)
		}
	}
}

func TestStrictUUID(t *testing.T) {
	const id = "0190d4a8-8f3c-7b1e-9a2d-3c4e5f607182"
	for _, s := range []string{id, strings.ToUpper(id)} {
		if got, ok := StrictUUID(s); !ok || got.String() != id {
			t.Errorf("StrictUUID(%q) = %s, %v; want %s", s, got, ok, id)
		}
	}
	for _, s := range []string{"", "12", strings.ReplaceAll(id, "-", ""), "{" + id + "}", "urn:uuid:" + id, id[:35], id + "0"} {
		if _, ok := StrictUUID(s); ok {
			t.Errorf("StrictUUID(%q) took it", s)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/x/"+id, nil)
	r.SetPathValue("id", id)
	if got, raw, ok := PathUUID(r, "id"); !ok || got.String() != id || raw != id {
		t.Errorf("PathUUID = %s, %q, %v", got, raw, ok)
	}
}
