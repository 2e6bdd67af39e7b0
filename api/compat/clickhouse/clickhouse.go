// Package clickhouse serves the ClickHouse Cloud compatibility surface: the
// organization invitation and member endpoints of the ClickHouse Cloud API,
// so that a ClickHouse Cloud client works against invitd by changing its
// base URL.
package clickhouse

import (
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/api/compat/internal/wire"
	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/ratelimit"
)

const surface = "clickhouse"

// listChunk is how many invitations one store query reads while building
// the (unpaginated) list.
const listChunk = 500

// requestPolicy is ClickHouse's documented limit: 10 requests per 10
// seconds per key, counted on each node.
var requestPolicy = ratelimit.Policy{Name: "clickhouse", Quota: 10, Window: 10 * time.Second, Sliding: true}

type handler struct {
	svc *invite.Service
}

// New returns the surface's handler; paths are relative to its mount point.
func New(svc *invite.Service) http.Handler {
	h := &handler{svc: svc}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/organizations/{organizationId}/invitations", h.invitations)
	mux.HandleFunc("/v1/organizations/{organizationId}/invitations/{invitationId}", h.invitation)
	mux.HandleFunc("/v1/organizations/{organizationId}/members", h.members)
	mux.HandleFunc("/v1/organizations/{organizationId}/members/{userId}", h.member)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	})
	return requestID(mux)
}

// ---- wire types

// Invitation is ClickHouse's organization invitation.
type Invitation struct {
	Role          string         `json:"role"`
	ID            string         `json:"id"`
	Email         string         `json:"email"`
	CreatedAt     string         `json:"createdAt"`
	ExpireAt      string         `json:"expireAt"`
	AssignedRoles []AssignedRole `json:"assignedRoles"`
}

type success struct {
	Status    int    `json:"status"`
	RequestID string `json:"requestId"`
	Result    any    `json:"result,omitempty"`
}

type errorBody struct {
	Status    int    `json:"status"`
	Error     string `json:"error"`
	RequestID string `json:"requestId"`
}

func toInvitation(inv *invite.Invitation) Invitation {
	return Invitation{Role: legacyRole(inv.Role), ID: inv.ID.String(), Email: inv.Email,
		CreatedAt: wire.Time(inv.CreatedAt), ExpireAt: wire.Time(inv.ExpiresAt),
		AssignedRoles: assignedRoles(inv.OrgID, inv.Role)}
}

// ---- request ids and errors

// requestID gives every request a UUID, echoed in the body and in
// X-Request-Id: the request's own id when it is one, a new one otherwise
// (and then the events it causes record that one).
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := invite.RequestIDFrom(r.Context())
		if _, ok := wire.StrictUUID(id); !ok {
			id = uuid.NewString()
			r = r.WithContext(invite.WithRequestID(r.Context(), id))
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r)
	})
}

func rid(w http.ResponseWriter) string { return w.Header().Get("X-Request-Id") }

func ok(w http.ResponseWriter, result any) {
	wire.WriteJSON(w, http.StatusOK, success{Status: http.StatusOK, RequestID: rid(w), Result: result})
}

func fail(w http.ResponseWriter, status int, msg string) {
	wire.WriteJSON(w, status, errorBody{Status: status, Error: msg, RequestID: rid(w)})
}

func problem(w http.ResponseWriter, p *wire.Problem) { fail(w, p.Status, p.Message) }

// WriteError answers, in ClickHouse's shape (with a UUID request id, as
// requestID gives), a request the server refused before the surface read it.
func WriteError(w http.ResponseWriter, _ *http.Request, status int, msg string) {
	if _, ok := wire.StrictUUID(rid(w)); !ok {
		w.Header().Set("X-Request-Id", uuid.NewString())
	}
	fail(w, status, msg)
}

func coreError(w http.ResponseWriter, r *http.Request, err error) {
	wire.CoreError(w, r, surface, err, wire.CoreStatuses, func(kind invite.Kind, status int, msg string) {
		if kind == invite.KindUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="invitd"`)
		}
		fail(w, status, msg)
	})
}

// ---- auth and ids

// auth checks HTTP Basic (key id, key secret) and that the key may manage
// the path's organization; otherwise it answers and returns false.
func (h *handler) auth(w http.ResponseWriter, r *http.Request) (invite.OrgID, *http.Request, bool) {
	id, secret, hasBasic := r.BasicAuth()
	if !hasBasic || id == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="invitd"`)
		fail(w, http.StatusUnauthorized, "HTTP Basic authentication with an API key id and secret is required")
		return invite.OrgID{}, r, false
	}
	p, err := h.svc.AuthenticateKey(r.Context(), id, secret)
	if err == nil {
		err = h.svc.Admit(r.Context(), p, &requestPolicy)
	}
	if err != nil {
		coreError(w, r, err)
		return invite.OrgID{}, r, false
	}
	raw := r.PathValue("organizationId")
	org, err := invite.ParseOrgID(raw)
	if err != nil {
		fail(w, http.StatusBadRequest, "organizationId must be a UUID")
		return invite.OrgID{}, r, false
	}
	// The core decides what the key may do with the organization.
	return org, r.WithContext(invite.WithPrincipal(r.Context(), p)), true
}

// enter opens every handler: the method must be one of methods (else 405)
// and the caller authenticated (see auth); otherwise it answers and
// returns false.
func (h *handler) enter(w http.ResponseWriter, r *http.Request, methods ...string) (invite.OrgID, *http.Request, bool) {
	if !wire.Allow(w, r, methods...) {
		fail(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here")
		return invite.OrgID{}, r, false
	}
	return h.auth(w, r)
}

// open reports whether ClickHouse shows the invitation: only pending ones.
// A deleted (cancelled) one is gone; an accepted one is a member.
func open(inv *invite.Invitation) bool { return inv.State == invite.StatePending }

// ---- handlers

func (h *handler) invitations(w http.ResponseWriter, r *http.Request) {
	org, r, entered := h.enter(w, r, http.MethodGet, http.MethodPost)
	if !entered {
		return
	}
	if r.Method == http.MethodPost {
		h.create(w, r, org)
		return
	}
	if _, err := h.svc.GetOrg(r.Context(), org); err != nil {
		coreError(w, r, err)
		return
	}
	out := []Invitation{}
	f := invite.InvitationFilter{Org: org, States: []invite.State{invite.StatePending},
		Sort: invite.SortCreatedAt, Limit: listChunk}
	for {
		items, err := h.svc.FindInvitations(r.Context(), f)
		if err != nil {
			coreError(w, r, err)
			return
		}
		for _, inv := range items {
			if open(inv) {
				out = append(out, toInvitation(inv))
			}
		}
		if len(items) < listChunk {
			break
		}
		pos := invite.PositionOf(items[len(items)-1], invite.SortCreatedAt)
		f.After = &pos
	}
	ok(w, out)
}

type createBody struct {
	Email           *string   `json:"email"`
	Role            *string   `json:"role"`
	AssignedRoleIDs *[]string `json:"assignedRoleIds"`
}

func (h *handler) create(w http.ResponseWriter, r *http.Request, org invite.OrgID) {
	var b createBody
	if p := wire.DecodeJSON(w, r, &b, false); p != nil {
		problem(w, p)
		return
	}
	if b.Email == nil || strings.TrimSpace(*b.Email) == "" {
		fail(w, http.StatusBadRequest, "email is required")
		return
	}
	c := invite.CreateInvitation{Email: *b.Email}
	q := roleRequest{Role: b.Role, AssignedRoleIDs: b.AssignedRoleIDs}
	if !q.empty() {
		o, err := h.rolesOf(r, org, q)
		if err != nil {
			coreError(w, r, err)
			return
		}
		if c.Role, err = q.resolve(o, "", true); err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	res, err := h.svc.CreateInvitation(r.Context(), org, c)
	if err != nil {
		coreError(w, r, err)
		return
	}
	ok(w, toInvitation(res.Invitation))
}

func (h *handler) invitation(w http.ResponseWriter, r *http.Request) {
	org, r, entered := h.enter(w, r, http.MethodGet, http.MethodDelete)
	if !entered {
		return
	}
	id, _, valid := wire.PathUUID(r, "invitationId")
	if !valid {
		fail(w, http.StatusBadRequest, "invitationId must be a UUID")
		return
	}
	ref := invite.InvitationRef{ID: id}
	inv, err := h.svc.GetInvitation(r.Context(), org, ref)
	if err == nil && !open(inv) {
		err = invite.NotFound("invitation %s not found", id)
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
		ok(w, nil)
		return
	}
	ok(w, toInvitation(inv))
}
