// Package api serves the native JSON API under /v1, with its OpenAPI document.
package api

import (
	"cmp"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/invitd/invitd/internal/input"
	"github.com/invitd/invitd/invite"
)

// Version is the API version shown in the OpenAPI document.
const Version = "1.0.0"

type handlers struct {
	svc     *invite.Service
	log     *slog.Logger
	baseURL string
}

// Options configure the API.
type Options struct {
	Log     *slog.Logger
	BaseURL string // public URL for accept links
}

var bearer = []map[string][]string{{"bearer": {}}, {"basic": {}}}

// Register adds the native API and /openapi.json to mux.
func Register(mux *http.ServeMux, svc *invite.Service, opts Options) huma.API {
	cfg := huma.DefaultConfig("invitd", Version)
	cfg.CreateHooks = nil // no $schema fields in bodies
	cfg.DocsPath = ""     // huma's docs page loads assets from other hosts; /docs is ours
	cfg.SchemasPath = ""
	cfg.Info.Description = "Organization invitations: invite by email with a role and permissions, accept or decline, list, resend and cancel."
	// Bodies are read strictly (see input.CheckJSON): a key given twice,
	// invalid UTF-8 or a NUL in a string is a 400, not the last key or
	// U+FFFD, nor an error of the store.
	strict := huma.Format{Marshal: huma.DefaultJSONFormat.Marshal, Unmarshal: input.Unmarshal}
	cfg.Formats = map[string]huma.Format{"application/json": strict, "json": strict}
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "An API key: invitd_<id>_<secret>."},
		"basic":  {Type: "http", Scheme: "basic", Description: "An API key's id as user name and its secret as password."},
	}
	// The core's views are named FooView; the document names them Foo.
	cfg.Components.Schemas = huma.NewMapRegistry("#/components/schemas/", func(t reflect.Type, hint string) string {
		return strings.TrimSuffix(huma.DefaultSchemaNamer(t, hint), "View")
	})
	cfg.Components.Schemas.RegisterTypeAlias(reflect.TypeFor[invite.Object](), reflect.TypeFor[map[string]any]())
	api := humago.New(mux, cfg)
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	h := &handlers{svc: svc, log: opts.Log, baseURL: strings.TrimRight(opts.BaseURL, "/")}
	api.UseMiddleware(requireJSON(api), h.authenticate(api))
	h.registerOrgs(api)
	h.registerKeys(api)
	h.registerInvitations(api)
	h.registerBulk(api)
	h.registerMembers(api)
	h.registerInvitee(api)
	h.registerEvents(api)
	h.registerWebhooks(api)
	mux.Handle("GET /docs", referenceHandler(api))
	return api
}

// requireJSON refuses a body that is not labelled as JSON (or, where the
// operation takes one, CSV) with 415 before the key is checked: huma would
// read a body with no Content-Type as JSON, and a browser sends one
// cross-site, with the Basic credentials it remembers, without asking
// first (text/csv is not a type it sends so). The refusal may be on a path
// that holds a token: it is not cached and sends no referrer.
func requireJSON(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		if rb := ctx.Operation().RequestBody; rb != nil {
			r, _ := humago.Unwrap(ctx)
			ct := ctx.Header("Content-Type")
			csv := rb.Content["text/csv"] != nil
			if r.ContentLength != 0 && !input.JSONMediaType(ct) && !(csv && mediaType(ct) == "text/csv") {
				ctx.SetHeader("Cache-Control", "no-store")
				ctx.SetHeader("Referrer-Policy", "no-referrer")
				msg := "the request body must be sent as Content-Type: application/json"
				if csv {
					msg += " or text/csv"
				}
				_ = huma.WriteErr(api, ctx, http.StatusUnsupportedMediaType, msg)
				return
			}
		}
		next(ctx)
	}
}

func mediaType(contentType string) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt
}

// authenticate checks the key of every operation that declares security.
func (h *handlers) authenticate(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		if len(ctx.Operation().Security) == 0 {
			next(ctx)
			return
		}
		// An authenticated answer is the caller's alone, and may carry a
		// secret or a link (a key, a webhook secret, accept_url): no cache
		// keeps it, and no link followed from it says where it came from.
		ctx.SetHeader("Cache-Control", "no-store")
		ctx.SetHeader("Referrer-Policy", "no-referrer")
		p, err := h.principal(ctx)
		if invite.ErrorKind(err) == invite.KindUnavailable {
			h.log.Error("checking an API key failed", "err", cmp.Or(errors.Unwrap(err), err))
			ctx.SetHeader("Retry-After", retryAfter(err))
			_ = huma.WriteErr(api, ctx, http.StatusServiceUnavailable, invite.ErrorMessage(err))
			return
		}
		if err != nil {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="invitd"`)
			_ = huma.WriteErr(api, ctx, http.StatusUnauthorized, invite.ErrorMessage(err))
			return
		}
		if err := h.svc.Admit(ctx.Context(), p, nil); err != nil {
			for k, v := range limitHeaders(err) {
				ctx.SetHeader(k, v[0])
			}
			_ = huma.WriteErr(api, ctx, http.StatusTooManyRequests, invite.ErrorMessage(err))
			return
		}
		next(huma.WithContext(ctx, invite.WithPrincipal(ctx.Context(), p)))
	}
}

func (h *handlers) principal(ctx huma.Context) (*invite.Principal, error) {
	auth := ctx.Header("Authorization")
	scheme, cred, _ := strings.Cut(auth, " ")
	switch strings.ToLower(scheme) {
	case "bearer":
		return h.svc.Authenticate(ctx.Context(), strings.TrimSpace(cred))
	case "basic":
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", auth)
		if id, secret, ok := r.BasicAuth(); ok {
			return h.svc.AuthenticateKey(ctx.Context(), id, secret)
		}
	}
	return nil, invite.Unauthorized("send an API key as Authorization: Bearer <key>")
}

// WriteError answers a request refused before the API read it (the server's
// checks of what a client sends) as the API answers its own errors: an RFC
// 9457 problem. It may be about a path that holds a token: it is not cached
// and sends no referrer, as the API's answers there.
func WriteError(w http.ResponseWriter, _ *http.Request, status int, msg string) {
	b, _ := json.Marshal(huma.ErrorModel{Title: http.StatusText(status), Status: status, Detail: msg})
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// orgFor parses an org id from the path; the core decides whether the
// caller may manage it.
func orgFor(raw string) (invite.OrgID, error) {
	id, err := invite.ParseOrgID(raw)
	return id, problem(err)
}

// problem turns a core error into an RFC 9457 answer; anything unexpected is
// a 500 that says nothing of its cause (the server logs it).
func problem(err error) error {
	if err == nil {
		return nil
	}
	status := invite.ErrorKind(err).HTTPStatus()
	if status == http.StatusInternalServerError {
		slog.Error("internal error", "err", err)
		return huma.Error500InternalServerError("internal error")
	}
	e := huma.NewError(status, invite.ErrorMessage(err))
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		return huma.ErrorWithHeaders(e, limitHeaders(err))
	}
	return e
}

// limitHeaders are the fields of a 429 or 503: Retry-After, and for a
// limit the RateLimit-Policy and RateLimit fields of
// draft-ietf-httpapi-ratelimit-headers.
func limitHeaders(err error) http.Header {
	h := http.Header{"Retry-After": {retryAfter(err)}}
	if d := invite.LimitOf(err); d != nil {
		h.Set("RateLimit-Policy", d.Policy.PolicyHeader())
		h.Set("RateLimit", d.Header())
	}
	return h
}

// retryAfter is the Retry-After of a core error that says when to try
// again: whole seconds, at least one.
func retryAfter(err error) string {
	var ie *invite.Error
	secs := 1
	if errors.As(err, &ie) {
		secs = max(int(ie.RetryAfter.Seconds()+0.999), 1)
	}
	return strconv.Itoa(secs)
}

// op fills the parts every operation shares.
func op(method, path, id, summary, tag string, status int, secured bool) huma.Operation {
	o := huma.Operation{
		OperationID: id, Method: method, Path: path, Summary: summary, Tags: []string{tag},
		DefaultStatus: status, MaxBodyBytes: 1 << 20,
	}
	o.Errors = []int{http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusInternalServerError}
	if secured {
		o.Security = bearer
		o.Errors = append(o.Errors, http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests, http.StatusServiceUnavailable)
	}
	if method != http.MethodGet {
		o.Errors = append(o.Errors, http.StatusConflict)
	}
	if method == http.MethodPost || method == http.MethodPatch {
		o.Errors = append(o.Errors, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
	}
	return o
}
