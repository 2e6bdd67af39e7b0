package invite

import (
	"errors"
	"fmt"
	"time"

	"github.com/invitd/invitd/ratelimit"
)

// Kind classifies an error so every surface can map it to its own status.
type Kind int

const (
	KindInternal        Kind = iota
	KindInvalid              // the request is well formed but a value breaks a rule (422)
	KindBadRequest           // the request itself is malformed (400)
	KindUnauthorized         // no valid credential (401)
	KindForbidden            // a credential that may not do this (403)
	KindNotFound             // no such resource, or not this caller's (404)
	KindConflict             // the resource's state forbids the change (409)
	KindTooManyRequests      // try again later (429)
	KindUnavailable          // something invitd depends on failed for now; try again (503)
)

// HTTPStatus is the status the native API answers a kind of error with;
// 500 for KindInternal.
func (k Kind) HTTPStatus() int {
	switch k {
	case KindInvalid:
		return 422
	case KindBadRequest:
		return 400
	case KindUnauthorized:
		return 401
	case KindForbidden:
		return 403
	case KindNotFound:
		return 404
	case KindConflict:
		return 409
	case KindTooManyRequests:
		return 429
	case KindUnavailable:
		return 503
	}
	return 500
}

// Error is the one error type the core returns for anything a caller did.
type Error struct {
	Kind    Kind
	Message string
	// RetryAfter is set with KindTooManyRequests and KindUnavailable.
	RetryAfter time.Duration
	// Limit, with KindTooManyRequests, is the limit the request ran into,
	// for the RateLimit-Policy and RateLimit fields.
	Limit *ratelimit.Decision
	// Cause, when set, is the failure behind the error, for the log; the
	// caller sees Message only.
	Cause error
}

func (e *Error) Error() string { return e.Message }

// Unwrap gives the cause to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Cause }

func errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a KindInvalid error.
func Invalid(format string, args ...any) error { return errorf(KindInvalid, format, args...) }

// NotFound returns a KindNotFound error.
func NotFound(format string, args ...any) error { return errorf(KindNotFound, format, args...) }

// Conflict returns a KindConflict error.
func Conflict(format string, args ...any) error { return errorf(KindConflict, format, args...) }

// BadRequest returns a KindBadRequest error.
func BadRequest(format string, args ...any) error { return errorf(KindBadRequest, format, args...) }

// Unauthorized returns a KindUnauthorized error.
func Unauthorized(format string, args ...any) error {
	return errorf(KindUnauthorized, format, args...)
}

// Unavailable returns a KindUnavailable error: the caller may try again after retry.
func Unavailable(retry time.Duration, format string, args ...any) error {
	e := errorf(KindUnavailable, format, args...)
	e.RetryAfter = retry
	return e
}

// ErrorKind returns the Kind of err, KindInternal for errors from outside the core.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// ErrorMessage returns the message of a core error, or a generic text that
// leaks nothing for any other error.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// Store errors a backend returns for constraint violations; the service turns
// them into messages for the caller.
var (
	// ErrDuplicatePending: a pending invitation exists for this (org, email).
	ErrDuplicatePending = errors.New("store: duplicate pending invitation")
	// ErrDuplicateMember: a member with this email exists in the org.
	ErrDuplicateMember = errors.New("store: duplicate member")
	// ErrDuplicateIdempotencyKey: the key was stored by a concurrent request.
	ErrDuplicateIdempotencyKey = errors.New("store: duplicate idempotency key")
	// ErrNotFound: no row.
	ErrNotFound = errors.New("store: not found")
)
