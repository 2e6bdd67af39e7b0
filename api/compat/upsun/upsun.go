// Package upsun serves the Upsun (formerly Platform.sh) compatibility
// surface: the organization invitation endpoints of the Upsun API, so that
// an Upsun client works against invitd by changing its base URL.
package upsun

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/invitd/invitd/api/compat/internal/wire"
	"github.com/invitd/invitd/invite"
)

const surface = "upsun"

// Page sizes for page[size].
const (
	DefaultPageSize = 100
	MaxPageSize     = 100
)

// Upsun's invitation states.
const (
	StatePending    = "pending"
	StateProcessing = "processing"
	StateAccepted   = "accepted"
	StateCancelled  = "cancelled"
	StateError      = "error"
)

// States is Upsun's state enum, in its order.
var States = []string{StatePending, StateProcessing, StateAccepted, StateCancelled, StateError}

// nativeStates maps an Upsun state onto the invitd states shown as it. A
// declined or expired invitation is finished without being accepted, and
// reads as cancelled; invitd never shows processing (acceptance is one
// transaction).
var nativeStates = map[string][]invite.State{
	StatePending:    {invite.StatePending},
	StateProcessing: nil,
	StateAccepted:   {invite.StateAccepted},
	StateCancelled:  {invite.StateCancelled, invite.StateDeclined, invite.StateExpired},
	StateError:      {invite.StateError},
}

// State shows a native state as Upsun's.
func State(s invite.State) string {
	switch s {
	case invite.StatePending:
		return StatePending
	case invite.StateAccepted:
		return StateAccepted
	case invite.StateError:
		return StateError
	}
	return StateCancelled
}

type handler struct {
	svc *invite.Service
}

// New returns the surface's handler; paths are relative to its mount point.
func New(svc *invite.Service) http.Handler {
	h := &handler{svc: svc}
	mux := http.NewServeMux()
	mux.HandleFunc("/organizations/{organization_id}/invitations", h.invitations)
	mux.HandleFunc("/organizations/{organization_id}/invitations/{invitation_id}", h.invitation)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	})
	return mux
}

// ---- wire types

// Owner is the inviter.
type Owner struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
}

// OwnerNamespace is the namespace of the UUIDs (version 5) given as
// owner.id to inviters whose id is not a UUID, and to organizations.
var OwnerNamespace = uuid.MustParse("4d826614-8297-4c17-84fb-93b71da07ba1")

// OwnerOf is the owner Upsun shows for an invitation of the organization
// named orgName: its inviter, with the inviter's id when that is a UUID and
// a UUID made from it otherwise, and its name (else its id); with no
// inviter id, the organization, which sent it, under the inviter's name
// (else orgName).
func OwnerOf(inv *invite.Invitation, orgName string) Owner {
	if id := inv.Inviter.ID; id != "" {
		u, err := uuid.Parse(id)
		if err != nil {
			u = uuid.NewSHA1(OwnerNamespace, []byte("inviter:"+id))
		}
		name := inv.Inviter.Name
		if name == "" {
			name = id
		}
		return Owner{ID: u.String(), DisplayName: name}
	}
	o := Owner{ID: uuid.NewSHA1(OwnerNamespace, []byte("organization:"+inv.OrgID.String())).String(), DisplayName: inv.Inviter.Name}
	if o.DisplayName == "" {
		o.DisplayName = orgName
	}
	return o
}

// Permissions is Upsun's permission enum, in its order.
var Permissions = []string{"admin", "billing", "plans", "members", "project:create", "projects:list"}

// Invitation is Upsun's organization invitation.
type Invitation struct {
	ID             string   `json:"id"`
	State          string   `json:"state"`
	OrganizationID string   `json:"organization_id"`
	Email          string   `json:"email"`
	Owner          Owner    `json:"owner"`
	CreatedAt      string   `json:"created_at"`
	UpdatedAt      string   `json:"updated_at"`
	FinishedAt     *string  `json:"finished_at"`
	Permissions    []string `json:"permissions"`
}

// toInvitation shows inv, an invitation of the organization named
// orgName. Permissions outside Upsun's enum (an organization may define
// its own) are left out: Upsun's clients know no others.
func toInvitation(inv *invite.Invitation, orgName string) Invitation {
	perms := []string{}
	for _, p := range inv.Permissions {
		if slices.Contains(Permissions, p) {
			perms = append(perms, p)
		}
	}
	return Invitation{
		ID: inv.ID.String(), State: State(inv.State), OrganizationID: inv.OrgID.String(),
		Email: inv.Email, Owner: OwnerOf(inv, orgName),
		CreatedAt: wire.Time(inv.CreatedAt), UpdatedAt: wire.Time(inv.UpdatedAt),
		FinishedAt: wire.TimePtr(inv.FinishedAt), Permissions: perms,
	}
}

// errorBody is Upsun's error: error is what its document requires, the
// others what its PHP client reads. error and message say the same.
type errorBody struct {
	Error   string         `json:"error"`
	Status  string         `json:"status"`
	Code    int            `json:"code"`
	Message string         `json:"message"`
	Title   string         `json:"title"`
	Detail  map[string]any `json:"detail"`
}

// ---- errors

func fail(w http.ResponseWriter, code int, msg string) {
	wire.WriteJSON(w, code, errorBody{Error: msg, Status: "error", Code: code, Message: msg,
		Title: http.StatusText(code), Detail: map[string]any{}})
}

func problem(w http.ResponseWriter, p *wire.Problem) { fail(w, p.Status, p.Message) }

// WriteError answers, in Upsun's shape, a request the server refused
// before the surface read it.
func WriteError(w http.ResponseWriter, _ *http.Request, status int, msg string) { fail(w, status, msg) }

func coreError(w http.ResponseWriter, r *http.Request, err error) {
	wire.CoreError(w, r, surface, err, wire.CoreStatuses, func(kind invite.Kind, status int, msg string) {
		if kind == invite.KindUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="invitd"`)
		}
		fail(w, status, msg)
	})
}

// ---- auth

func (h *handler) auth(w http.ResponseWriter, r *http.Request) (invite.OrgID, *http.Request, bool) {
	scheme, token, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="invitd"`)
		fail(w, http.StatusUnauthorized, "an Authorization: Bearer <API key> header is required")
		return invite.OrgID{}, r, false
	}
	p, err := h.svc.Authenticate(r.Context(), token)
	if err == nil {
		err = h.svc.Admit(r.Context(), p, nil)
	}
	if err != nil {
		coreError(w, r, err)
		return invite.OrgID{}, r, false
	}
	org, err := invite.ParseOrgID(r.PathValue("organization_id"))
	if err != nil {
		fail(w, http.StatusBadRequest, "organization_id must be a ULID")
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

// ---- list

func (h *handler) list(w http.ResponseWriter, r *http.Request, org invite.OrgID) {
	lq, p := parseList(r.URL.Query(), org)
	if p != nil {
		problem(w, p)
		return
	}
	o, err := h.svc.GetOrg(r.Context(), org)
	if err != nil {
		coreError(w, r, err)
		return
	}
	if lq.none {
		wire.WriteJSON(w, http.StatusOK, []Invitation{})
		return
	}
	items, prevPos, nextPos, err := h.page(r, lq)
	if err != nil {
		coreError(w, r, err)
		return
	}
	var links []string
	if nextPos != nil {
		links = append(links, "<"+pageURL(r, "page[after]", invite.EncodeCursor(lq.sortName, *nextPos))+`>; rel="next"`)
	}
	if prevPos != nil {
		links = append(links, "<"+pageURL(r, "page[before]", invite.EncodeCursor(lq.sortName, *prevPos))+`>; rel="prev"`)
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	out := make([]Invitation, 0, len(items))
	for _, inv := range items {
		out = append(out, toInvitation(inv, o.Name))
	}
	wire.WriteJSON(w, http.StatusOK, out)
}

// page reads one page and the positions of its next and previous links
// (nil when there is nothing on that side).
func (h *handler) page(r *http.Request, lq *listQuery) (items []*invite.Invitation, prev, next *invite.Position, err error) {
	ctx := r.Context()
	f := lq.filter
	f.Limit = lq.size + 1
	f.After, f.Before = lq.after, lq.before
	got, err := h.svc.FindInvitations(ctx, f)
	if err != nil {
		return nil, nil, nil, err
	}
	more := len(got) > lq.size
	if more && lq.before != nil {
		got = got[len(got)-lq.size:]
	} else if more {
		got = got[:lq.size]
	}
	// The edge positions of this page; on an empty page, the cursor itself.
	first, last := lq.after, lq.before
	if len(got) > 0 {
		p0 := invite.PositionOf(got[0], f.Sort)
		pn := invite.PositionOf(got[len(got)-1], f.Sort)
		first, last = &p0, &pn
	}
	if lq.before != nil {
		if more {
			prev = first
		}
		if last != nil {
			if next, err = h.beyond(ctx, lq.filter, last, false); err != nil {
				return nil, nil, nil, err
			}
		}
	} else {
		if more {
			next = last
		}
		if first != nil {
			if prev, err = h.beyond(ctx, lq.filter, first, true); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	return got, prev, next, nil
}

// beyond returns pos when some invitation lies before it (or after it), else nil.
func (h *handler) beyond(ctx context.Context, f invite.InvitationFilter, pos *invite.Position, before bool) (*invite.Position, error) {
	f.Limit = 1
	if before {
		f.Before = pos
	} else {
		f.After = pos
	}
	got, err := h.svc.FindInvitations(ctx, f)
	if err != nil || len(got) == 0 {
		return nil, err
	}
	return pos, nil
}

// pageURL is the request's own absolute URL with the page cursor replaced.
func pageURL(r *http.Request, param, cursor string) string {
	q := r.URL.Query()
	q.Del("page[after]")
	q.Del("page[before]")
	q.Set(param, cursor)
	path := r.URL.Path
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
		path = u.EscapedPath() // the path before any prefix was stripped
	}
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path + "?" + q.Encode()
}

// ---- handlers

func (h *handler) invitations(w http.ResponseWriter, r *http.Request) {
	org, r, ok := h.enter(w, r, http.MethodGet, http.MethodPost)
	if !ok {
		return
	}
	if r.Method == http.MethodPost {
		h.create(w, r, org)
		return
	}
	h.list(w, r, org)
}

type createBody struct {
	Email       *string   `json:"email"`
	Permissions *[]string `json:"permissions"`
	Force       *bool     `json:"force"`
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
	if b.Permissions == nil {
		fail(w, http.StatusBadRequest, "permissions is required")
		return
	}
	for _, p := range *b.Permissions {
		if !slices.Contains(Permissions, p) {
			fail(w, http.StatusBadRequest, fmt.Sprintf("permission %q is not one of %s", p, strings.Join(Permissions, ", ")))
			return
		}
	}
	// The invitee sees the inviter, and an API key is no person: Upsun's
	// body names none, so the invitation has none, and its owner is the
	// organization.
	c := invite.CreateInvitation{Email: *b.Email, Permissions: *b.Permissions}
	if b.Force != nil {
		c.Force = *b.Force
	}
	// The organization names the owner in the answer, as in the list.
	o, err := h.svc.GetOrg(r.Context(), org)
	if err != nil {
		coreError(w, r, err)
		return
	}
	res, err := h.svc.CreateInvitation(r.Context(), org, c)
	if err != nil {
		coreError(w, r, err)
		return
	}
	wire.WriteJSON(w, http.StatusCreated, toInvitation(res.Invitation, o.Name))
}

func (h *handler) invitation(w http.ResponseWriter, r *http.Request) {
	org, r, ok := h.enter(w, r, http.MethodDelete)
	if !ok {
		return
	}
	// Upsun's document types invitation_id as any string: one that is no
	// invitation's id names none.
	id, raw, valid := wire.PathUUID(r, "invitation_id")
	if !valid {
		fail(w, http.StatusNotFound, "no such invitation: "+raw)
		return
	}
	if _, err := h.svc.CancelInvitation(r.Context(), org, invite.InvitationRef{ID: id}); err != nil {
		coreError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
