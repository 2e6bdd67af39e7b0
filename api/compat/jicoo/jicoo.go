// Package jicoo serves the Jicoo compatibility surface: the organization
// invitation, organization user and organization team endpoints of Jicoo's
// API, so that a Jicoo client works against invitd by changing its base URL.
package jicoo

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/invitd/invitd/api/compat/internal/wire"
	"github.com/invitd/invitd/invite"
)

// APIKeyHeader carries the key.
const APIKeyHeader = "X-Jicoo-Api-Key"

// Paging defaults and limits for page and perPage.
const (
	DefaultPerPage = 20
	MaxPerPage     = 100
	maxPage        = 1<<31 - 1
)

// Roles is Jicoo's role enum, in its order.
var Roles = []string{"owner", "admin", "member", "restricted"}

const surface = "jicoo"

type handler struct {
	svc *invite.Service
}

// New returns the surface's handler; paths are relative to its mount point.
func New(svc *invite.Service) http.Handler {
	h := &handler{svc: svc}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/organization_invitations", h.invitations)
	mux.HandleFunc("/v1/organization_invitations/{id}", h.invitation)
	mux.HandleFunc("/v1/organization_users", h.users)
	mux.HandleFunc("/v1/organization_users/{userId}", h.user)
	mux.HandleFunc("/v1/organization_team", h.team)
	mux.HandleFunc("/v1/organization_teams/{teamId}", h.team)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.URL.Path)
	})
	return mux
}

// ---- wire types

// Invitation is Jicoo's OrganizationInvitation: exactly the seed's fields.
type Invitation struct {
	ID        int64  `json:"id"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

// User is an organization user (an invitd member).
type User struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

// Team is the organization itself.
type Team struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

type envelope struct {
	Data any `json:"data"`
}

type errorBody struct {
	Errors errorDetail `json:"errors"`
}

type errorDetail struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// role shows an invitd role in Jicoo's enum; a custom org role outside it
// reads as member.
func role(r string) string {
	if slices.Contains(Roles, r) {
		return r
	}
	return "member"
}

func toInvitation(inv *invite.Invitation) Invitation {
	return Invitation{ID: inv.Number, Email: inv.Email, Role: role(inv.Role),
		CreatedAt: wire.Time(inv.CreatedAt), UpdatedAt: wire.Time(inv.UpdatedAt)}
}

func toUser(m *invite.Member) User {
	return User{ID: m.ID.String(), Name: m.Name, Email: m.Email, Role: role(m.Role),
		CreatedAt: wire.Time(m.CreatedAt), UpdatedAt: wire.Time(m.UpdatedAt)}
}

// ---- errors

func fail(w http.ResponseWriter, status int, code, msg string) {
	wire.WriteJSON(w, status, errorBody{Errors: errorDetail{Status: status, Code: code, Message: msg}})
}

func problem(w http.ResponseWriter, p *wire.Problem) {
	code := "bad_request"
	switch p.Status {
	case http.StatusRequestEntityTooLarge:
		code = "payload_too_large"
	case http.StatusRequestTimeout:
		code = "request_timeout"
	case http.StatusUnsupportedMediaType:
		code = "unsupported_media_type"
	}
	fail(w, p.Status, code, p.Message)
}

// WriteError answers, in Jicoo's shape, a request the server refused
// before the surface read it.
func WriteError(w http.ResponseWriter, _ *http.Request, status int, msg string) {
	problem(w, &wire.Problem{Status: status, Message: msg})
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	fail(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here")
}

// enter opens every handler: the method must be one of methods (else 405)
// and the caller authenticated (see auth); otherwise it answers and
// returns false.
func (h *handler) enter(w http.ResponseWriter, r *http.Request, methods ...string) (invite.OrgID, *http.Request, bool) {
	if !wire.Allow(w, r, methods...) {
		methodNotAllowed(w, r)
		return invite.OrgID{}, r, false
	}
	return h.auth(w, r)
}

// statuses are Jicoo's: a rule broken by the input is a 422, and so is a
// conflict, since Jicoo documents no 409.
var statuses = wire.Statuses{
	invite.KindBadRequest:      http.StatusBadRequest,
	invite.KindInvalid:         http.StatusUnprocessableEntity,
	invite.KindConflict:        http.StatusUnprocessableEntity,
	invite.KindUnauthorized:    http.StatusUnauthorized,
	invite.KindForbidden:       http.StatusForbidden,
	invite.KindNotFound:        http.StatusNotFound,
	invite.KindTooManyRequests: http.StatusTooManyRequests,
	invite.KindUnavailable:     http.StatusServiceUnavailable,
}

// codes name each kind in Jicoo's error body.
var codes = map[invite.Kind]string{
	invite.KindBadRequest: "bad_request", invite.KindInvalid: "unprocessable_entity", invite.KindConflict: "conflict",
	invite.KindUnauthorized: "unauthorized", invite.KindForbidden: "forbidden", invite.KindNotFound: "not_found",
	invite.KindTooManyRequests: "too_many_requests", invite.KindUnavailable: "service_unavailable", invite.KindInternal: "internal_error",
}

func coreError(w http.ResponseWriter, r *http.Request, err error) {
	wire.CoreError(w, r, surface, err, statuses, func(kind invite.Kind, status int, msg string) {
		fail(w, status, codes[kind], msg)
	})
}

// ---- auth

// auth returns the organization of the request's key, or answers and returns false.
func (h *handler) auth(w http.ResponseWriter, r *http.Request) (invite.OrgID, *http.Request, bool) {
	key := strings.TrimSpace(r.Header.Get(APIKeyHeader))
	if key == "" {
		fail(w, http.StatusUnauthorized, "unauthorized", "the "+APIKeyHeader+" header is required")
		return invite.OrgID{}, r, false
	}
	p, err := h.svc.Authenticate(r.Context(), key)
	if err == nil {
		err = h.svc.Admit(r.Context(), p, nil)
	}
	if err != nil {
		coreError(w, r, err)
		return invite.OrgID{}, r, false
	}
	if p.Org == nil {
		fail(w, http.StatusForbidden, "forbidden", "this endpoint needs an organization's API key; an admin key has no organization")
		return invite.OrgID{}, r, false
	}
	// The core decides what the key may do with the organization.
	return *p.Org, r.WithContext(invite.WithPrincipal(r.Context(), p)), true
}

// paging reads page and perPage; empty values (as in Jicoo's own sample) are defaults.
func paging(r *http.Request) (offset, limit int, p *wire.Problem) {
	q := r.URL.Query()
	page, p := wire.Int(q.Get("page"), "page", 1, 1, maxPage)
	if p != nil {
		return 0, 0, p
	}
	limit, p = wire.Int(q.Get("perPage"), "perPage", DefaultPerPage, 1, MaxPerPage)
	if p != nil {
		return 0, 0, p
	}
	return (page - 1) * limit, limit, nil
}

// ---- invitations

// Only pending invitations are shown: Jicoo's invitation has no state, a
// deleted (cancelled) one is gone, and an accepted one is an organization user.
func (h *handler) invitations(w http.ResponseWriter, r *http.Request) {
	org, r, ok := h.enter(w, r, http.MethodGet, http.MethodPost)
	if !ok {
		return
	}
	if r.Method == http.MethodPost {
		h.create(w, r, org)
		return
	}
	offset, limit, p := paging(r)
	if p != nil {
		problem(w, p)
		return
	}
	f := invite.InvitationFilter{Org: org, States: []invite.State{invite.StatePending},
		Sort: invite.SortCreatedAt, Offset: offset, Limit: limit}
	if e := strings.TrimSpace(r.URL.Query().Get("email")); e != "" {
		email, err := invite.NormalizeEmail(e)
		if err != nil {
			coreError(w, r, err)
			return
		}
		f.Email = email
	}
	items, err := h.svc.FindInvitations(r.Context(), f)
	if err != nil {
		coreError(w, r, err)
		return
	}
	out := make([]Invitation, 0, len(items))
	for _, inv := range items {
		out = append(out, toInvitation(inv))
	}
	wire.WriteJSON(w, http.StatusOK, envelope{Data: out})
}

type createBody struct {
	Email *string `json:"email"`
	Role  *string `json:"role"`
}

func (h *handler) create(w http.ResponseWriter, r *http.Request, org invite.OrgID) {
	var b createBody
	if p := wire.DecodeJSON(w, r, &b, true); p != nil {
		problem(w, p)
		return
	}
	if b.Email == nil || strings.TrimSpace(*b.Email) == "" {
		fail(w, http.StatusBadRequest, "bad_request", "email is required")
		return
	}
	c := invite.CreateInvitation{Email: *b.Email}
	if b.Role != nil && *b.Role != "" {
		if !slices.Contains(Roles, *b.Role) {
			fail(w, http.StatusBadRequest, "bad_request", "role must be one of "+strings.Join(Roles, ", "))
			return
		}
		c.Role = *b.Role
	}
	res, err := h.svc.CreateInvitation(r.Context(), org, c)
	if err != nil {
		coreError(w, r, err)
		return
	}
	wire.WriteJSON(w, http.StatusCreated, envelope{Data: toInvitation(res.Invitation)})
}

func (h *handler) invitation(w http.ResponseWriter, r *http.Request) {
	org, r, ok := h.enter(w, r, http.MethodGet, http.MethodDelete)
	if !ok {
		return
	}
	raw := r.PathValue("id")
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n <= 0 {
		fail(w, http.StatusBadRequest, "bad_request", "the invitation id must be a positive integer")
		return
	}
	ref := invite.InvitationRef{Number: n}
	inv, err := h.svc.GetInvitation(r.Context(), org, ref)
	if err == nil && inv.State != invite.StatePending {
		err = invite.NotFound("invitation %d not found", n)
	}
	if err != nil {
		coreError(w, r, err)
		return
	}
	if r.Method == http.MethodDelete {
		if _, err := h.svc.CancelInvitation(r.Context(), org, ref); err != nil {
			coreError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	wire.WriteJSON(w, http.StatusOK, envelope{Data: toInvitation(inv)})
}

// ---- organization users

func (h *handler) users(w http.ResponseWriter, r *http.Request) {
	org, r, ok := h.enter(w, r, http.MethodGet)
	if !ok {
		return
	}
	offset, limit, p := paging(r)
	if p != nil {
		problem(w, p)
		return
	}
	page, err := h.svc.ListMembers(r.Context(), org, invite.MemberParams{
		Email: strings.TrimSpace(r.URL.Query().Get("email")), Limit: limit, Offset: offset})
	if err != nil {
		coreError(w, r, err)
		return
	}
	out := make([]User, 0, len(page.Items))
	for _, m := range page.Items {
		out = append(out, toUser(m))
	}
	wire.WriteJSON(w, http.StatusOK, envelope{Data: out})
}

type userPatch struct {
	Role *string `json:"role"`
}

func (h *handler) user(w http.ResponseWriter, r *http.Request) {
	org, r, ok := h.enter(w, r, http.MethodGet, http.MethodPatch, http.MethodDelete)
	if !ok {
		return
	}
	id, _, valid := wire.PathUUID(r, "userId")
	if !valid {
		fail(w, http.StatusBadRequest, "bad_request", "the user id must be a UUID")
		return
	}
	var (
		m   *invite.Member
		err error
	)
	switch r.Method {
	case http.MethodDelete:
		if err := h.svc.DeleteMember(r.Context(), org, id); err != nil {
			coreError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodPatch:
		var b userPatch
		if p := wire.DecodeJSON(w, r, &b, true); p != nil {
			problem(w, p)
			return
		}
		var patch invite.MemberPatch
		if b.Role != nil {
			if !slices.Contains(Roles, *b.Role) {
				fail(w, http.StatusBadRequest, "bad_request", "role must be one of "+strings.Join(Roles, ", "))
				return
			}
			patch.Role = b.Role
		}
		m, err = h.svc.UpdateMember(r.Context(), org, id, patch)
	default:
		m, err = h.svc.GetMember(r.Context(), org, id)
	}
	if err != nil {
		coreError(w, r, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, envelope{Data: toUser(m)})
}

// ---- organization team

func (h *handler) team(w http.ResponseWriter, r *http.Request) {
	org, r, ok := h.enter(w, r, http.MethodGet)
	if !ok {
		return
	}
	if raw := r.PathValue("teamId"); raw != "" {
		id, err := invite.ParseOrgID(raw)
		if err != nil || id != org {
			fail(w, http.StatusNotFound, "not_found", "team "+raw+" not found")
			return
		}
	}
	o, err := h.svc.GetOrg(r.Context(), org)
	if err != nil {
		coreError(w, r, err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, envelope{Data: Team{ID: o.ID.String(), Name: o.Name,
		CreatedAt: wire.Time(o.CreatedAt), UpdatedAt: wire.Time(o.UpdatedAt)}})
}
