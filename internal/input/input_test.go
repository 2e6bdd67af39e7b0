package input

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestCheckJSON(t *testing.T) {
	for _, c := range []struct {
		body string
		want string // "" for accepted; else a part of the error
	}{
		{`{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}`, ""},
		{`{"a":"é\u00e9\ud83d\ude00"}`, ""},
		{`{"A":1,"a":2}`, ""}, // keys differ; the surfaces' structs decide what they mean
		{`[1,"x",null,{"k":[]}]`, ""},
		{`"just a string"`, ""},
		{`{"a":1} trailing`, ""}, // the caller's decoder refuses what follows
		{`{"a":1,"a":2}`, `"a"`},
		{`{"a":1,"\u0061":2}`, `"a"`},
		{`{"x":{"y":{"z":1,"z":2}}}`, `"x.y.z"`},
		{`{"l":[{"k":1},{"k":2,"k":3}]}`, `"l[1].k"`},
		{`[{"k":1,"k":1}]`, `"[0].k"`},
		{"{\"a\":\"\xff\"}", "UTF-8"},
		{"{\"\xc3\":1}", "UTF-8"},
		{`{"a":"\ud800"}`, "UTF-8"},
		{`{"a":"\udc00\ud800"}`, "UTF-8"},
		{`{"a":"\ud800\u0041"}`, "UTF-8"},
		{`{"a":"\ud800x"}`, "UTF-8"},
		{`{"a":"x\u0000"}`, "NUL"},
		{`{"\u0000":1}`, "NUL"},
		{`{"a":"\\u0000"}`, ""}, // an escaped backslash, then text
		{`{"a":`, "unexpected EOF"},
		{``, "unexpected EOF"},
		{`{"a" 1}`, "invalid character"},
	} {
		err := CheckJSON([]byte(c.body))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v, want accepted", c.body, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: %v, want an error with %s", c.body, err, c.want)
		}
	}
	var dk *DuplicateKeyError
	if err := CheckJSON([]byte(`{"a":1,"a":1}`)); !errors.As(err, &dk) || dk.Key != "a" {
		t.Errorf("duplicate key: %#v", err)
	}
	var se *json.SyntaxError
	if err := CheckJSON([]byte(`{]`)); !errors.As(err, &se) {
		t.Errorf("syntax error: %#v", err)
	}
	if err := CheckJSON([]byte(`[`)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated: %#v", err)
	}
	// Nesting as deep as encoding/json takes is walked; deeper is refused
	// at once, however long the body.
	deep := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if err := CheckJSON([]byte(deep)); err != nil {
		t.Errorf("deep nesting: %v", err)
	}
	if err := CheckJSON([]byte(strings.Repeat("[", 1<<20))); !errors.Is(err, ErrTooDeep) {
		t.Errorf("too deep: %v", err)
	}
}

func TestJSONMediaType(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json": true, "application/json; charset=utf-8": true, "Application/JSON": true,
		"application/merge-patch+json": true, "application/problem+json;x=y": true,
		"": false, "text/plain": false, "text/plain; charset=utf-8": false, "application/x-www-form-urlencoded": false,
		"multipart/form-data; boundary=x": false, "application/jsonx": false, "json": false, "application/json; =": false,
	} {
		if got := JSONMediaType(ct); got != want {
			t.Errorf("JSONMediaType(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestCheckRequest(t *testing.T) {
	for _, c := range []struct {
		target string
		header map[string]string
		want   string
	}{
		{"/v1/x?a=1&b=%C3%A9&c=", nil, ""},
		{"/v1/%C3%A9", map[string]string{"X-Note": "é", "Authorization": "Bearer \xff", "X-Jicoo-Api-Key": "\xff"}, ""},
		{"/v1/%00", nil, "path"},
		{"/v1/%ff", nil, "path"},
		{"/v1/x?a=%00", nil, "query parameter a"},
		{"/v1/x?a%ff=1", nil, "query parameter"},
		{"/v1/x?cursor=%%%", nil, "query string"},
		{"/v1/x?a=1;b=2", nil, "query string"},
		{"/v1/x", map[string]string{"Idempotency-Key": "\xff"}, "Idempotency-Key"},
	} {
		r := httptest.NewRequest("GET", "http://invitd.test"+c.target, nil)
		for k, v := range c.header {
			r.Header[http.CanonicalHeaderKey(k)] = []string{v}
		}
		err := CheckRequest(r)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want accepted", c.target, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s %v: %v, want an error about %s", c.target, c.header, err, c.want)
		}
	}
}

// What CheckJSON lets through decodes as encoding/json reads it, with no
// U+FFFD put in place of anything, and comes out of an encoding the same.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, `{"x":[{"k":"\ud83d\ude00"},{"k":"\ud800"}]}`,
		"{\"a\":\"\xff\"}", `{"a":"\u0000"}`, `[[[]]]`, `{"a":"\\u0000","b":"\\"}`, `{"a":{"b":1},"a":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if err := Unmarshal(data, &v); err != nil {
			return
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%q decoded to %#v, which does not encode: %v", data, v, err)
		}
		var w any
		if err := Unmarshal(again, &w); err != nil || !reflect.DeepEqual(v, w) {
			t.Fatalf("%q decoded to %#v; its encoding %q to %#v, %v", data, v, again, w, err)
		}
		if strings.Contains(string(again), "\ufffd") && !strings.Contains(string(data), "\ufffd") && !strings.Contains(strings.ToLower(string(data)), `\ufffd`) {
			t.Fatalf("%q was accepted with a replacement character in it: %q", data, again)
		}
	})
}
