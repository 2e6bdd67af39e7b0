// Package input holds the checks every surface applies to what a client
// sends before any of it reaches the core: text is valid UTF-8 without NUL
// (PostgreSQL refuses both in text, and would fail the request as its own
// error, while SQLite would store them), a query string decodes, and a JSON
// body is labelled as JSON, is valid UTF-8 and gives no key twice.
package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Text tells whether s can be stored as text by every backend: valid UTF-8
// with no NUL.
func Text(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// CredentialHeaders carry API keys. They are left to the surfaces, which
// refuse a credential that is not text as they refuse any bad key: 401.
var CredentialHeaders = []string{"Authorization", "X-Jicoo-Api-Key"}

// CheckRequest checks r's path, query string and headers (but the
// CredentialHeaders): a NUL or invalid UTF-8 in any of them, or a query
// string that does not decode, is an error saying which. The body is the
// reader's to check.
func CheckRequest(r *http.Request) error {
	if !Text(r.URL.Path) {
		return errors.New("the path holds a NUL byte or is not valid UTF-8")
	}
	// r.URL.Query drops what it cannot decode: "?cursor=%%%" would read as
	// no cursor, and list the first page.
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return fmt.Errorf("the query string cannot be read: %v", err)
	}
	for k, vs := range q {
		if !Text(k) {
			return fmt.Errorf("the query parameter %q holds a NUL byte or is not valid UTF-8", k)
		}
		for _, v := range vs {
			if !Text(v) {
				return fmt.Errorf("the query parameter %s holds a NUL byte or is not valid UTF-8", k)
			}
		}
	}
	for name, vs := range r.Header {
		if slices.Contains(CredentialHeaders, name) {
			continue
		}
		for _, v := range vs {
			if !Text(v) {
				return fmt.Errorf("the header %s holds a NUL byte or is not valid UTF-8", name)
			}
		}
	}
	return nil
}

// JSONMediaType tells whether a Content-Type says JSON: application/json or
// a type ending in +json, with any parameters. A body sent as anything else
// is refused, so that a cross-site form (text/plain, form encodings), which
// a browser sends with the credentials it remembers, never gets through.
func JSONMediaType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// ErrNotUTF8 is a JSON body that is not valid UTF-8, or a string in it that
// escapes half of a UTF-16 surrogate pair: encoding/json would read either
// as U+FFFD.
var ErrNotUTF8 = errors.New("the JSON body is not valid UTF-8")

// ErrNUL is a JSON string that holds \u0000, which no text column takes.
var ErrNUL = errors.New(`a string in the JSON body holds a NUL character (\u0000)`)

// MaxDepth is the deepest nesting of a JSON body, encoding/json's own
// limit: checked first, so that walking a body deeper costs nothing more.
const MaxDepth = 10000

// ErrTooDeep is a JSON body nested deeper than MaxDepth.
var ErrTooDeep = fmt.Errorf("the JSON body nests deeper than %d", MaxDepth)

// DuplicateKeyError is a JSON object that gives a key twice; encoding/json
// would keep the last.
type DuplicateKeyError struct {
	Key string // the key's path from the top, e.g. inviter.name
}

func (e *DuplicateKeyError) Error() string {
	return fmt.Sprintf("the JSON body gives the key %q more than once", e.Key)
}

// CheckJSON checks the first JSON value in data: valid UTF-8, no NUL in a
// string, no object with a key twice. Syntax errors are encoding/json's
// (*json.SyntaxError, io.ErrUnexpectedEOF); what follows the value is left
// to the caller's decoder.
func CheckJSON(data []byte) error {
	if !utf8.Valid(data) {
		return ErrNotUTF8
	}
	if err := checkKeys(data); err != nil {
		return err
	}
	return checkEscapes(data)
}

// Unmarshal is json.Unmarshal after CheckJSON.
func Unmarshal(data []byte, v any) error {
	if err := CheckJSON(data); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// checkKeys walks the first value's tokens, keeping for each open object the
// keys seen so far. It holds its own stack, so a deep nesting costs memory
// in proportion, not a goroutine's stack.
func checkKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		keys    map[string]bool // nil for an array
		wantKey bool            // in an object: a key comes next
		key     string          // in an object: the key of the value being read
		n       int             // in an array: the values read so far
	}
	var stack []*frame
	// path names the value being read in stack[:depth], built only for an
	// error, as building it for every value would cost the depth each time.
	path := func(depth int) string {
		var b strings.Builder
		for _, f := range stack[:depth] {
			if f.keys == nil {
				b.WriteString("[" + strconv.Itoa(f.n) + "]")
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		}
		return b.String()
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
		closed := false
		if n := len(stack); n > 0 {
			f := stack[n-1]
			switch {
			case f.keys != nil && f.wantKey && tok == json.Delim('}'), f.keys == nil && tok == json.Delim(']'):
				stack, closed = stack[:n-1], true
			case f.keys != nil && f.wantKey:
				k, _ := tok.(string)
				f.key = k
				if f.keys[k] {
					return &DuplicateKeyError{Key: path(n)}
				}
				f.keys[k], f.wantKey = true, false
				continue
			}
		}
		if !closed {
			if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') && len(stack) >= MaxDepth {
				return ErrTooDeep
			}
			switch tok {
			case json.Delim('{'):
				stack = append(stack, &frame{keys: map[string]bool{}, wantKey: true})
				continue
			case json.Delim('['):
				stack = append(stack, &frame{})
				continue
			}
		}
		// A value ended: a scalar, or an object or array just closed.
		if len(stack) == 0 {
			return nil
		}
		if f := stack[len(stack)-1]; f.keys != nil {
			f.wantKey = true
		} else {
			f.n++
		}
	}
}

// checkEscapes scans the string literals of data, which is valid JSON as far
// as checkKeys read it, for \u escapes that are NUL or half of a surrogate
// pair.
func checkEscapes(data []byte) error {
	in := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !in {
			in = c == '"'
			continue
		}
		switch c {
		case '"':
			in = false
		case '\\':
			i++
			if i >= len(data) || data[i] != 'u' {
				continue
			}
			r, ok := hex4(data, i+1)
			if !ok {
				return nil // a syntax error, the decoder's to report
			}
			i += 4
			switch {
			case r == 0:
				return ErrNUL
			case utf16.IsSurrogate(r):
				// A high half must be followed by a low one.
				if r >= 0xdc00 || i+2 >= len(data) || data[i+1] != '\\' || data[i+2] != 'u' {
					return ErrNotUTF8
				}
				lo, ok := hex4(data, i+3)
				if !ok || lo < 0xdc00 || lo > 0xdfff {
					return ErrNotUTF8
				}
				i += 6
			}
		}
	}
	return nil
}

func hex4(data []byte, at int) (rune, bool) {
	if at+4 > len(data) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(data[at:at+4]), 16, 32)
	return rune(n), err == nil
}
