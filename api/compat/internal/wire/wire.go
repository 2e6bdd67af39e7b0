// Package wire holds the request plumbing the compatibility surfaces share:
// bounded JSON bodies, number and id parsing and logging of internal errors. Each
// surface keeps its own error shape; this package only says what went wrong.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/internal/input"
	"github.com/invitd/invitd/invite"
)

// MaxBody is the largest request body any surface reads.
const MaxBody = 1 << 20

// Problem is a request the surface refuses before calling the core.
type Problem struct {
	Status  int // 400, 408, 413 or 415
	Message string
}

func (p *Problem) Error() string { return p.Message }

// BadRequest is a 400 Problem.
func BadRequest(format string, args ...any) *Problem {
	return &Problem{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// DecodeJSON reads one JSON object from r's body, at most MaxBody bytes, into
// dst. An empty body is reported as empty (the caller decides whether that is
// allowed: allowEmpty leaves dst untouched). A body must be sent as JSON
// (else 415), be valid UTF-8 and give no key twice (see input.CheckJSON).
// Unknown fields are ignored, as a vendor's clients may send more than a
// surface uses.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any, allowEmpty bool) *Problem {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var (
			mbe *http.MaxBytesError
			ne  net.Error
		)
		switch {
		case errors.As(err, &mbe):
			return tooLarge()
		case errors.As(err, &ne) && ne.Timeout():
			return &Problem{Status: http.StatusRequestTimeout, Message: "the request body did not arrive in time"}
		}
		return BadRequest("the request body could not be read")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if allowEmpty {
			return nil
		}
		return BadRequest("the request body is empty; a JSON object is required")
	}
	if !input.JSONMediaType(r.Header.Get("Content-Type")) {
		return &Problem{Status: http.StatusUnsupportedMediaType, Message: "the request body must be sent as Content-Type: application/json"}
	}
	var (
		se  *json.SyntaxError
		ute *json.UnmarshalTypeError
		dk  *input.DuplicateKeyError
	)
	err = input.CheckJSON(data)
	switch {
	case errors.As(err, &dk), errors.Is(err, input.ErrNotUTF8), errors.Is(err, input.ErrNUL), errors.Is(err, input.ErrTooDeep):
		return BadRequest("%s", err.Error())
	case err != nil:
		return BadRequest("the request body is not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	err = dec.Decode(dst)
	switch {
	case err == nil:
		if _, terr := dec.Token(); terr != io.EOF {
			return BadRequest("the request body must hold exactly one JSON object")
		}
		return nil
	case errors.As(err, &ute):
		if ute.Field == "" {
			return BadRequest("the request body must be a JSON object")
		}
		return BadRequest("field %q must be %s", ute.Field, jsonKind(ute.Type))
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("the request body is not valid JSON")
	}
	return BadRequest("the request body is not valid JSON")
}

func tooLarge() *Problem {
	return &Problem{Status: http.StatusRequestEntityTooLarge, Message: "the request body is larger than 1 MiB"}
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(jsonKind(t.Elem()), "a "), "an ") + "s"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "of another type"
}

// Int reads an optional integer query parameter: absent or empty gives def.
// Integral decimal forms such as "2.0" are accepted, since some vendors type
// these parameters as numbers. The value must lie in [lo, hi].
func Int(q string, name string, def, lo, hi int) (int, *Problem) {
	q = strings.TrimSpace(q)
	if q == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(q, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(q, 64)
		if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > 1e15 {
			return 0, BadRequest("%s must be an integer", name)
		}
		n = int64(f)
	}
	if n < int64(lo) || n > int64(hi) {
		return 0, BadRequest("%s must be between %d and %d", name, lo, hi)
	}
	return int(n), nil
}

// Time formats a timestamp as the seeds show them: RFC 3339 in UTC, seconds.
func Time(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// TimePtr is Time for an optional timestamp; nil stays nil (JSON null).
func TimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := Time(*t)
	return &s
}

// Statuses maps the core's error kinds to a surface's HTTP statuses.
type Statuses map[invite.Kind]int

// CoreStatuses are the statuses most surfaces use; a rule broken by the
// input is a 400.
var CoreStatuses = Statuses{
	invite.KindBadRequest:      http.StatusBadRequest,
	invite.KindInvalid:         http.StatusBadRequest,
	invite.KindUnauthorized:    http.StatusUnauthorized,
	invite.KindForbidden:       http.StatusForbidden,
	invite.KindNotFound:        http.StatusNotFound,
	invite.KindConflict:        http.StatusConflict,
	invite.KindTooManyRequests: http.StatusTooManyRequests,
	invite.KindUnavailable:     http.StatusServiceUnavailable,
}

// CoreError answers a core error through fail, the surface's own error
// writer: the kind picks the status from statuses, a 429 or 503 gets Retry-After,
// and anything unexpected is logged and answered 500 "internal error".
func CoreError(w http.ResponseWriter, r *http.Request, surface string, err error, statuses Statuses,
	fail func(kind invite.Kind, status int, msg string)) {
	kind := invite.ErrorKind(err)
	status, ok := statuses[kind]
	if !ok {
		LogInternal(r, surface, err)
		fail(invite.KindInternal, http.StatusInternalServerError, "internal error")
		return
	}
	var e *invite.Error
	if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && errors.As(err, &e) && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	if d := invite.LimitOf(err); d != nil && status == http.StatusTooManyRequests {
		// draft-ietf-httpapi-ratelimit-headers: the limit and where the caller stands.
		w.Header().Set("RateLimit-Policy", d.Policy.PolicyHeader())
		w.Header().Set("RateLimit", d.Header())
	}
	fail(kind, status, invite.ErrorMessage(err))
}

// LogInternal records an error the caller is answered generically about.
func LogInternal(r *http.Request, surface string, err error) {
	slog.ErrorContext(r.Context(), "compat: internal error", "surface", surface,
		"method", r.Method, "path", r.URL.Path, "err", err)
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// Allow answers whether r's method is one of methods; if not, it sets the
// Allow header and the caller answers 405 in its own shape. HEAD counts as GET.
func Allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	return false
}

// StrictUUID parses s as a UUID written in its canonical form, 36
// characters with hyphens (in either case); ok is false for anything else,
// including the 32-digit, braced and urn:uuid: forms uuid.Parse takes.
func StrictUUID(s string) (id uuid.UUID, ok bool) {
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return uuid.UUID{}, false
	}
	return id, true
}

// PathUUID reads r's path value name with StrictUUID, returning the raw
// value too for the caller's message.
func PathUUID(r *http.Request, name string) (id uuid.UUID, raw string, ok bool) {
	raw = r.PathValue(name)
	id, ok = StrictUUID(raw)
	return id, raw, ok
}
