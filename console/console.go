// Package console serves the admin console under /console/: server-rendered
// pages over the core, for an organization's owners and admins and for
// operators. Every page works without script; assets are embedded and the
// CSP allows nothing else.
//
// A session is a row of the database (any node serves it) found by the
// hash of an HttpOnly cookie's token; the caller is derived from what
// signed in on every request. Every form carries a token derived from the
// session's (from a double-submit cookie before sign-in), and the
// browser's Sec-Fetch-Site / Origin headers are checked as well
// (net/http.CrossOriginProtection).
package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/invitd/invitd/internal/input"
	"github.com/invitd/invitd/internal/pagehead"
	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/ratelimit"
)

//go:embed templates
var files embed.FS

// The cookies: the session's, and the double-submit token of the sign-in
// forms, shown before there is a session.
const (
	SessionCookie = "invitd_console"
	signInCookie  = "invitd_console_csrf"
)

// maxForm bounds a form; an upload (the CSV) may be as large as a bulk create.
const (
	maxForm   = 64 << 10
	maxUpload = invite.MaxBulkBytes + 64<<10
)

var (
	css = func() string {
		b, err := files.ReadFile("templates/style.css")
		if err != nil {
			panic(err)
		}
		return string(b)
	}()
	cspHeader = func() string {
		sum := sha256.Sum256([]byte(css))
		return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
			"'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
	}()
	pages = parsePages()
)

// parsePages parses each page with the layout around it.
func parsePages() map[string]*template.Template {
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html"))
	out := map[string]*template.Template{}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		out[name] = template.Must(template.Must(layout.Clone()).ParseFS(files, n))
	}
	return out
}

var funcs = template.FuncMap{
	"join": strings.Join,
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		case *time.Time:
			if v == nil {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		return ""
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"has": func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	},
}

// Options configure the console.
type Options struct {
	Log *slog.Logger
	// BasePath is the public address's path (INVITD_BASE_URL), when a proxy
	// serves invitd below one and strips it.
	BasePath string
	// Secure marks the cookies Secure: the public address is https.
	Secure bool
}

type handler struct {
	svc    *invite.Service
	log    *slog.Logger
	base   string // the console as the browser sees it: BasePath + "/console"
	secure bool
	// signIns bounds sign-in attempts per client address on this node, on
	// top of the core's bound of links per address across nodes.
	signIns *ratelimit.Limiter
}

// New returns the handler for /console/, to be mounted at "/console/" on
// the root mux.
func New(svc *invite.Service, opts Options) http.Handler {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{svc: svc, log: log.With("component", "console"), secure: opts.Secure,
		base:    strings.TrimRight(opts.BasePath, "/") + "/console",
		signIns: ratelimit.New()}
	mux := http.NewServeMux()
	h.routes(mux)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, nil, http.StatusForbidden, "The form came from another site, so it was not sent.")
	}))
	return pagehead.Wrap(cspHeader, cop.Handler(mux))
}

// signInPolicy bounds sign-in attempts per client address per node: 30 at
// once, then one a second. Behind a proxy every browser has the proxy's
// address, so the bound is loose; the links one address is mailed are
// bounded in the core, and keys are too long to guess.
var signInPolicy = ratelimit.Bucket("console-sign-in", 1, 30)

// view is what every page's template sees.
type view struct {
	Title  string
	Nav    string // the section the page belongs to
	Base   string // the console's path
	CSS    template.CSS
	Caller *invite.ConsoleCaller
	// Org is the organization the page is about; OrgBase its pages' path.
	Org     *invite.Organization
	OrgBase string
	CSRF    string
	Flash   string
	Error   string
	Status  int
	Data    any
}

// Admin tells a caller that sees every organization.
func (v *view) Admin() bool { return v.Caller != nil && v.Caller.IsAdmin() }

func (h *handler) render(w http.ResponseWriter, r *http.Request, name string, v *view) {
	t := pages[name]
	if t == nil {
		panic("console: no page " + name)
	}
	v.Base, v.CSS = h.base, template.CSS(css)
	if v.Status == 0 {
		v.Status = http.StatusOK
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout.html", v); err != nil {
		h.log.ErrorContext(r.Context(), "render console page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(v.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(b.String()))
	}
}

// fail writes the error page with status and message.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, v *view, status int, msg string) {
	if v == nil {
		v = &view{}
	}
	v.Title, v.Status, v.Error = http.StatusText(status), status, msg
	h.render(w, r, "error", v)
}

// failErr writes the page for an error of the core.
func (h *handler) failErr(w http.ResponseWriter, r *http.Request, v *view, err error) {
	kind := invite.ErrorKind(err)
	if kind == invite.KindInternal || kind == invite.KindUnavailable {
		if r.Context().Err() == nil {
			h.log.ErrorContext(r.Context(), "console", "err", err, "route", r.Pattern) // not the path: it may hold a link
		}
		h.fail(w, r, v, kind.HTTPStatus(), "Something went wrong on our side; try again.")
		return
	}
	if kind == invite.KindUnauthorized {
		h.signInPage(w, r, http.StatusUnauthorized, invite.ErrorMessage(err), "")
		return
	}
	h.fail(w, r, v, kind.HTTPStatus(), invite.ErrorMessage(err))
}

// formToken is the form token of a session: derived from its cookie's
// token, so that nothing more is stored and any node checks it.
func formToken(session string) string {
	m := hmac.New(sha256.New, []byte(session))
	m.Write([]byte("invitd console form v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// parseForm reads a POST's form, bounded, refusing what the store could
// not hold; false with the error page written.
func (h *handler) parseForm(w http.ResponseWriter, r *http.Request) bool {
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
		err = r.ParseMultipartForm(maxUpload)
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		err = r.ParseForm()
	}
	if err != nil {
		status := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			status = http.StatusRequestEntityTooLarge
		}
		h.fail(w, r, nil, status, "The form could not be read: "+err.Error())
		return false
	}
	for k, vs := range r.PostForm {
		for _, v := range vs {
			if !input.Text(k) || !input.Text(v) {
				h.fail(w, r, nil, http.StatusBadRequest, "The form holds text that cannot be stored (a NUL byte or invalid UTF-8).")
				return false
			}
		}
	}
	return true
}

// checkToken compares the form's token with want in constant time.
func checkToken(r *http.Request, want string) bool {
	got := r.PostForm.Get("csrf")
	return want != "" && len(got) == len(want) && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// signInToken returns the browser's sign-in form token, setting its cookie
// when it has none.
func (h *handler) signInToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(signInCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	h.setCookie(w, signInCookie, v, int((24 * time.Hour).Seconds()))
	return v
}

func (h *handler) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: h.base + "/", HttpOnly: true,
		Secure: h.secure, SameSite: http.SameSiteLaxMode, MaxAge: maxAge})
}

// session is the request's caller, or nil with the sign-in page written.
func (h *handler) session(w http.ResponseWriter, r *http.Request) (*invite.ConsoleCaller, string) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		h.toSignIn(w, r)
		return nil, ""
	}
	cc, err := h.svc.Session(r.Context(), c.Value)
	if err != nil {
		if invite.ErrorKind(err) == invite.KindUnauthorized {
			h.setCookie(w, SessionCookie, "", -1)
			h.toSignIn(w, r)
			return nil, ""
		}
		h.failErr(w, r, nil, err)
		return nil, ""
	}
	return cc, c.Value
}

// toSignIn sends a browser without a session to sign in: a page view by a
// redirect, a form post by the sign-in page itself (its post is lost).
func (h *handler) toSignIn(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		http.Redirect(w, r, h.base+"/signin", http.StatusSeeOther)
		return
	}
	h.signInPage(w, r, http.StatusUnauthorized, "Your session has ended; sign in again.", "")
}

// clientAddr is the request's remote address without its port, for the
// per-client bound of sign-in attempts.
func clientAddr(r *http.Request) string {
	a := r.RemoteAddr
	if i := strings.LastIndexByte(a, ':'); i > 0 {
		a = a[:i]
	}
	return strings.Trim(a, "[]")
}
