// Package web serves the invitee's pages under /i/: the invitation with
// Accept and Decline forms, and a clear page for every way a link can end.
//
// The pages are plain HTML forms with embedded CSS and no script. Forms are
// protected against cross-site requests twice, with nothing kept in memory
// so any node can serve any link: a double-submit cookie (a random value in
// a cookie and in a hidden field, compared on POST) and the browser's
// Sec-Fetch-Site / Origin headers (net/http.CrossOriginProtection).
package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/invitd/invitd/internal/input"
	"github.com/invitd/invitd/internal/pagehead"
	"github.com/invitd/invitd/invite"
)

//go:embed templates
var files embed.FS

var (
	pageTmpl = template.Must(template.ParseFS(files, "templates/page.html"))
	css      = func() string {
		b, err := files.ReadFile("templates/style.css")
		if err != nil {
			panic(err)
		}
		return string(b)
	}()
	cspHeader = csp("", "", "")
)

// csp is the pages' policy. brandCSS, when set, is a second style block,
// allowed by its hash like the first: it is derived from the organization's
// validated colour alone, so no nonce (and no inline style attribute) is
// needed. logoOrigin is the one origin images may come from; formAction an
// extra form-action origin.
func csp(brandCSS, logoOrigin, formAction string) string {
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	b := "default-src 'none'; style-src " + hash(css)
	if brandCSS != "" {
		b += " " + hash(brandCSS)
	}
	if logoOrigin != "" {
		b += "; img-src " + logoOrigin
	}
	b += "; form-action 'self'"
	if formAction != "" {
		b += " " + formAction
	}
	return b + "; base-uri 'none'; frame-ancestors 'none'"
}

// brandCSS sets the accent (header, buttons, links) to the organization's
// colour, in light and dark schemes alike; "" without one.
func brandCSS(color string) string {
	if !brandColor(color) {
		return ""
	}
	return ":root{--accent:" + color + "}"
}

// brandColor tells a #rrggbb colour, the only shape put into CSS.
func brandColor(c string) bool {
	if len(c) != 7 || c[0] != '#' {
		return false
	}
	for _, r := range c[1:] {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}

// CookieName is the double-submit cookie.
const CookieName = "invitd_csrf"

// maxForm bounds a POST body.
const maxForm = 16 << 10

type handler struct {
	svc *invite.Service
	log *slog.Logger
	// pages is where the pages are as the browser sees them: the public
	// address's path (behind a proxy that strips it) and /i/.
	pages string
}

// Options configure the pages.
type Options struct {
	Log *slog.Logger
	// BasePath is the path of the public address (INVITD_BASE_URL), such as
	// /invites when a proxy serves invitd there and strips it: the pages'
	// forms, redirects and cookie carry it. "" for none.
	BasePath string
}

// New returns the handler for /i/{token} pages. It serves full paths, for
// mounting at "/i/" on the root mux.
func New(svc *invite.Service, opts Options) http.Handler {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{svc: svc, log: log.With("component", "web"), pages: strings.TrimRight(opts.BasePath, "/") + "/i/"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /i/{token}", h.show)
	mux.HandleFunc("POST /i/{token}/accept", h.accept)
	mux.HandleFunc("POST /i/{token}/decline", h.decline)
	mux.HandleFunc("GET /i/{token}/{action}", h.back)
	mux.HandleFunc("/", h.notFound)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(h.forbidden))
	return headers(cop.Handler(mux))
}

// WriteError answers, with a page, a request for /i/ that the server
// refused before the pages read it: its address or headers hold what no
// browser following a link sends.
func WriteError(w http.ResponseWriter, r *http.Request, status int, _ string) {
	h := &handler{log: slog.New(slog.DiscardHandler)}
	headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.simple(w, r, langFromRequest(r), "badlink", status, false)
	})).ServeHTTP(w, r)
}

// headers sets what every page needs, with the pages' strict CSP.
func headers(next http.Handler) http.Handler { return pagehead.Wrap(cspHeader, next) }

// validCSRF tells a string shaped like a form token (256 bits, base64url).
func validCSRF(s string) bool {
	if len(s) != 43 {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// page is what the template shows.
type page struct {
	Kind    string // invite, accepted, already, declineddone, declined, expired, cancelled, error, notfound, forbidden, badform, internal
	Lang    string
	Status  int
	Title   string
	Message string
	Good    bool
	CSS     template.CSS

	// Branding, on every page of an invitation.
	BrandCSS   template.CSS
	LogoURL    string
	logoOrigin string
	// Branded: the organization gives its own display name, so the
	// product's name is not shown.
	Branded bool

	Org, Inviter, Email, Role string
	Permissions               []string
	Expires, ExpiresISO       string
	AcceptURL, DeclineURL     string
	CSRF                      string
	Name                      string
	Error                     string
	BackURL                   string
	ContinueURL               string // the organization's default redirect after an answer

	// FormAction is an extra origin for the CSP's form-action: the
	// invitation's own redirect, which Chromium checks against form-action
	// when following the 303 after a submit.
	FormAction string
}

// T is the text for key in the page's language.
func (p *page) T(key string, args ...any) string { return catalog[p.Lang].get(key, args...) }

func (h *handler) render(w http.ResponseWriter, r *http.Request, p *page) {
	if catalog[p.Lang] == nil {
		p.Lang = "en"
	}
	p.CSS = template.CSS(css)
	var b strings.Builder
	if err := pageTmpl.Execute(&b, p); err != nil {
		h.log.ErrorContext(r.Context(), "render page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if p.FormAction != "" || p.BrandCSS != "" || p.logoOrigin != "" {
		w.Header().Set("Content-Security-Policy", csp(string(p.BrandCSS), p.logoOrigin, p.FormAction))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", p.Lang)
	w.WriteHeader(p.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(b.String()))
	}
}

// simple renders a page with a title and one message.
func (h *handler) simple(w http.ResponseWriter, r *http.Request, lang, kind string, status int, good bool, args ...any) {
	msgs := catalog[lang]
	if msgs == nil {
		lang, msgs = "en", catalog["en"]
	}
	h.render(w, r, &page{Kind: kind, Lang: lang, Status: status, Good: good,
		Title: msgs.get(kind + "_title"), Message: msgs.get(kind+"_body", args...)})
}

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.simple(w, r, langFromRequest(r), "notfound", http.StatusNotFound, false)
}

func (h *handler) internal(w http.ResponseWriter, r *http.Request, lang string, err error) {
	if r.Context().Err() != nil {
		h.log.DebugContext(r.Context(), "invitation page: the browser went away", "err", err, "path", redactPath(r.URL.Path))
	} else {
		h.log.ErrorContext(r.Context(), "invitation page", "err", err, "path", redactPath(r.URL.Path))
	}
	h.simple(w, r, lang, "internal", http.StatusInternalServerError, false)
}

func (h *handler) forbidden(w http.ResponseWriter, r *http.Request) {
	lang := langFromRequest(r)
	msgs := catalog[lang]
	p := &page{Kind: "forbidden", Lang: lang, Status: http.StatusForbidden,
		Title: msgs.get("forbidden_title"), Message: msgs.get("forbidden_body")}
	if tok := tokenFromPath(r.URL.Path); tok != "" {
		p.BackURL = h.pages + tok
	}
	h.render(w, r, p)
}

// tokenFromPath finds the token in /i/{token}[/...], for pages rendered
// outside the mux.
func tokenFromPath(p string) string {
	rest, ok := strings.CutPrefix(p, "/i/")
	if !ok {
		return ""
	}
	tok, _, _ := strings.Cut(rest, "/")
	if !invite.TokenShaped(tok) {
		return ""
	}
	return tok
}

// redactPath keeps a token out of the logs.
func redactPath(p string) string {
	if tok := tokenFromPath(p); tok != "" {
		return strings.Replace(p, tok, tok[:6]+"…", 1)
	}
	return p
}

// back answers a GET of a form's address (a reload after a failed POST,
// or a copied address) with the invitation itself.
func (h *handler) back(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	if a := r.PathValue("action"); !invite.TokenShaped(tok) || (a != "accept" && a != "decline") {
		h.notFound(w, r)
		return
	}
	http.Redirect(w, r, h.pages+tok, http.StatusSeeOther)
}

// view loads the invitation; nil with the error page written when it cannot.
func (h *handler) view(w http.ResponseWriter, r *http.Request, token string) *invite.TokenView {
	if !invite.TokenShaped(token) {
		h.notFound(w, r)
		return nil
	}
	v, err := h.svc.GetByToken(r.Context(), token)
	if invite.ErrorKind(err) == invite.KindNotFound {
		h.notFound(w, r)
		return nil
	}
	if err != nil {
		h.internal(w, r, langFromRequest(r), err)
		return nil
	}
	return v
}

func (h *handler) show(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	v := h.view(w, r, token)
	if v == nil {
		return
	}
	h.showState(w, r, token, v, r.URL.Query().Get("done"), 0, "", "")
}

// showState writes the page for the invitation's current state. done is the
// action this browser just completed; status, when set, overrides the state's
// own; name and formErr refill the form.
func (h *handler) showState(w http.ResponseWriter, r *http.Request, token string, v *invite.TokenView, done string, status int, name, formErr string) {
	inv, org := v.Invitation, v.Organization
	lang := pickLang(r, inv.Locale, org.Settings.Locale)
	msgs := catalog[lang]
	orgName := org.DisplayName()
	brand := func(p *page) *page {
		p.BrandCSS = template.CSS(brandCSS(org.Settings.BrandColor))
		p.Branded = org.Settings.DisplayName != ""
		if o := httpsOrigin(org.Settings.LogoURL); o != "" {
			p.LogoURL, p.logoOrigin = org.Settings.LogoURL, o
		}
		return p
	}
	simple := func(kind string, status int, good bool, args ...any) {
		h.render(w, r, brand(&page{Kind: kind, Lang: lang, Status: status, Good: good, Org: orgName,
			Title: msgs.get(kind + "_title"), Message: msgs.get(kind+"_body", args...)}))
	}
	pick := func(def int) int {
		if status != 0 {
			return status
		}
		return def
	}
	switch inv.State {
	case invite.StatePending:
		p := &page{Kind: "invite", Lang: lang, Status: pick(http.StatusOK),
			Title: msgs.get("invite_title", orgName), Org: orgName, Inviter: inv.Inviter.Name,
			Email: inv.Email, Role: inv.Role, Permissions: inv.Permissions,
			Expires: formatTime(lang, inv.ExpiresAt, h.svc.Now()), ExpiresISO: inv.ExpiresAt.UTC().Format(time.RFC3339),
			AcceptURL: h.pages + token + "/accept", DeclineURL: h.pages + token + "/decline",
			CSRF: csrfToken(w, r, h.pages), Name: name, Error: formErr, FormAction: redirectOrigin(inv.RedirectURL)}
		h.render(w, r, brand(p))
	case invite.StateAccepted:
		if done == "accepted" {
			h.result(w, r, v, brand, lang, "accepted", pick(http.StatusOK), orgName, inv.Role)
			return
		}
		simple("already", pick(http.StatusOK), true, orgName)
	case invite.StateDeclined:
		if done == "declined" {
			h.result(w, r, v, brand, lang, "declineddone", pick(http.StatusOK), orgName)
			return
		}
		simple("declined", pick(http.StatusGone), false, orgName)
	case invite.StateExpired:
		simple("expired", pick(http.StatusGone), false, orgName, formatTime(lang, inv.ExpiresAt, time.Time{}))
	case invite.StateCancelled:
		simple("cancelled", pick(http.StatusGone), false, orgName)
	default:
		simple("error", pick(http.StatusGone), false, orgName)
	}
}

// result is the page after this browser's answer, with a Continue link to
// the organization's default redirect when it has one.
func (h *handler) result(w http.ResponseWriter, r *http.Request, v *invite.TokenView, brand func(*page) *page, lang, kind string, status int, args ...any) {
	msgs := catalog[lang]
	p := &page{Kind: kind, Lang: lang, Status: status, Good: true, Org: v.Organization.DisplayName(),
		Title: msgs.get(kind + "_title"), Message: msgs.get(kind+"_body", args...)}
	if target, own := invite.RedirectAfter(v.Invitation, v.Organization); target != "" && !own {
		p.ContinueURL = target
	}
	h.render(w, r, brand(p))
}

// httpsOrigin is the https://host of a logo URL, "" for anything else.
func httpsOrigin(raw string) string {
	if o := redirectOrigin(raw); strings.HasPrefix(o, "https://") {
		return o
	}
	return ""
}

// redirectOrigin is the scheme://host of a redirect URL, "" when none.
func redirectOrigin(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// checkCSRF compares the cookie with the form field; on a mismatch it writes
// the forbidden page.
func (h *handler) checkCSRF(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		status := http.StatusBadRequest
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			status = http.StatusRequestTimeout // the form stalled (see the server's body deadline)
		}
		h.simple(w, r, langFromRequest(r), "badform", status, false)
		return false
	}
	// A name the store cannot hold is the form's fault, not a failure.
	for k, vs := range r.PostForm {
		if !input.Text(k) || slices.ContainsFunc(vs, func(v string) bool { return !input.Text(v) }) {
			h.simple(w, r, langFromRequest(r), "badform", http.StatusBadRequest, false)
			return false
		}
	}
	c, err := r.Cookie(CookieName)
	field := r.PostForm.Get("csrf")
	if err != nil || !validCSRF(c.Value) || subtle.ConstantTimeCompare([]byte(c.Value), []byte(field)) != 1 {
		h.forbidden(w, r)
		return false
	}
	return true
}

func (h *handler) accept(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if !invite.TokenShaped(token) {
		h.notFound(w, r)
		return
	}
	if !h.checkCSRF(w, r) {
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	if name == "" {
		v := h.view(w, r, token)
		if v == nil {
			return
		}
		lang := pickLang(r, v.Invitation.Locale, v.Organization.Settings.Locale)
		h.showState(w, r, token, v, "", http.StatusUnprocessableEntity, name, catalog[lang].get("name_required"))
		return
	}
	ctx, cancel := actionContext(r)
	defer cancel()
	v, err := h.svc.AcceptByToken(ctx, token, name)
	h.after(w, r, token, "accepted", name, v, err)
}

func (h *handler) decline(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if !invite.TokenShaped(token) {
		h.notFound(w, r)
		return
	}
	if !h.checkCSRF(w, r) {
		return
	}
	ctx, cancel := actionContext(r)
	defer cancel()
	v, err := h.svc.DeclineByToken(ctx, token)
	h.after(w, r, token, "declined", "", v, err)
}

// actionContext lets an accept or decline finish when the browser drops the
// request, as it does with the first of two quick clicks: the invitee acted,
// and the outcome must not depend on when the connection closed.
func actionContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), 15*time.Second)
}

// after answers a form: on success a redirect to the result page (so a
// reload does not post again); otherwise the page for the state the
// invitation is in now, e.g. already accepted after a double submit.
// When the invitation names its own redirect_url the invitee goes straight
// there, the app that sent them having asked for it.
func (h *handler) after(w http.ResponseWriter, r *http.Request, token, done, name string, tv *invite.TokenView, err error) {
	if err == nil {
		if tv != nil && tv.Invitation != nil && tv.Organization != nil {
			if target, own := invite.RedirectAfter(tv.Invitation, tv.Organization); own && target != "" {
				http.Redirect(w, r, target, http.StatusSeeOther)
				return
			}
		}
		http.Redirect(w, r, h.pages+token+"?done="+done, http.StatusSeeOther)
		return
	}
	kind := invite.ErrorKind(err)
	switch kind {
	case invite.KindNotFound:
		h.notFound(w, r)
		return
	case invite.KindConflict, invite.KindInvalid:
	default:
		h.internal(w, r, langFromRequest(r), err)
		return
	}
	v := h.view(w, r, token)
	if v == nil {
		return
	}
	status := 0
	switch {
	case v.Invitation.State == invite.StatePending && kind == invite.KindInvalid:
		status = http.StatusUnprocessableEntity
	case v.Invitation.State == invite.StatePending, v.Invitation.State == invite.StateAccepted, v.Invitation.State == invite.StateDeclined:
		status = http.StatusConflict
	}
	// The core's message says why (the domain policy, the seats); the
	// language's lead-in frames it, the message itself is English.
	msg := invite.ErrorMessage(err)
	if v.Invitation.State == invite.StatePending {
		lang := pickLang(r, v.Invitation.Locale, v.Organization.Settings.Locale)
		msg = catalog[lang].get("refused", msg)
	}
	h.showState(w, r, token, v, "", status, name, msg)
}

// csrfToken returns this browser's form token, setting the cookie when it
// has none yet. The value is random per browser, not per process, so any
// node checks it. path is the cookie's: the pages' as the browser sees it.
func csrfToken(w http.ResponseWriter, r *http.Request, path string) string {
	if c, err := r.Cookie(CookieName); err == nil && validCSRF(c.Value) {
		return c.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: v, Path: path, HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"),
		MaxAge: int((24 * time.Hour).Seconds()),
	})
	return v
}

// formatTime writes t in UTC for lang, with how far off it is from now when
// now is set.
func formatTime(lang string, t, now time.Time) string {
	layout := map[string]string{"en": "2 January 2006, 15:04 MST", "ja": "2006年1月2日 15:04 (MST)"}[lang]
	if layout == "" {
		layout = "2 January 2006, 15:04 MST"
	}
	s := t.UTC().Format(layout)
	if !now.IsZero() && t.After(now) {
		s += " " + catalog[lang].get("in", relative(lang, t.Sub(now)))
	}
	return s
}

func relative(lang string, d time.Duration) string {
	m := catalog[lang]
	// Rounded to the nearest unit: a 7-day invitation made a second ago
	// is "in 7 days", not "in 6 days".
	round := func(unit time.Duration) int { return int((d + unit/2) / unit) }
	switch {
	case d >= 47*time.Hour+30*time.Minute:
		return m.get("days", round(24*time.Hour))
	case d >= 2*time.Hour-30*time.Second:
		return m.get("hours", round(time.Hour))
	default:
		return m.get("minutes", max(1, round(time.Minute)))
	}
}

// messages is one language's texts, with fmt verbs for their arguments.
type messages map[string]string

func (m messages) get(key string, args ...any) string {
	s, ok := m[key]
	if !ok {
		s, ok = catalog["en"][key]
	}
	if !ok {
		return key
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// pickLang chooses the page's language: the invitation's locale, the
// organization's, then the browser's, then English.
func pickLang(r *http.Request, locales ...string) string {
	for _, l := range locales {
		lang, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(l)), "-")
		if catalog[lang] != nil {
			return lang
		}
	}
	return langFromRequest(r)
}

// langFromRequest reads the first supported language of Accept-Language.
func langFromRequest(r *http.Request) string {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(part, ";")
		lang, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if catalog[lang] != nil {
			return lang
		}
	}
	return "en"
}
