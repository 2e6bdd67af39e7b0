package clickhouse

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/invitd/invitd/api/compat/internal/wire"
	"github.com/invitd/invitd/invite"
)

// Member is ClickHouse's organization member.
type Member struct {
	UserID        string         `json:"userId"`
	Name          string         `json:"name"`
	Email         string         `json:"email"`
	Role          string         `json:"role"`
	JoinedAt      string         `json:"joinedAt"`
	AssignedRoles []AssignedRole `json:"assignedRoles"`
}

func toMember(m *invite.Member) Member {
	return Member{UserID: m.ID.String(), Name: m.Name, Email: m.Email, Role: legacyRole(m.Role),
		JoinedAt: wire.Time(m.CreatedAt), AssignedRoles: assignedRoles(m.OrgID, m.Role)}
}

func (h *handler) members(w http.ResponseWriter, r *http.Request) {
	org, r, entered := h.enter(w, r, http.MethodGet)
	if !entered {
		return
	}
	// ClickHouse does not page this list: read the core's pages to the end.
	out := []Member{}
	p := invite.MemberParams{Limit: invite.MaxLimit}
	for {
		page, err := h.svc.ListMembers(r.Context(), org, p)
		if err != nil {
			coreError(w, r, err)
			return
		}
		for _, m := range page.Items {
			out = append(out, toMember(m))
		}
		if page.NextCursor == "" {
			break
		}
		p.Cursor = page.NextCursor
	}
	ok(w, out)
}

type memberPatchBody struct {
	Role            *string   `json:"role"`
	AssignedRoleIDs *[]string `json:"assignedRoleIds"`
}

func (h *handler) member(w http.ResponseWriter, r *http.Request) {
	org, r, entered := h.enter(w, r, http.MethodGet, http.MethodPatch, http.MethodDelete)
	if !entered {
		return
	}
	id, _, valid := wire.PathUUID(r, "userId")
	if !valid {
		fail(w, http.StatusBadRequest, "userId must be a UUID")
		return
	}
	switch r.Method {
	case http.MethodDelete:
		if err := h.svc.DeleteMember(r.Context(), org, id); err != nil {
			coreError(w, r, err)
			return
		}
		ok(w, nil)
	case http.MethodPatch:
		h.updateMember(w, r, org, id)
	default:
		m, err := h.svc.GetMember(r.Context(), org, id)
		if err != nil {
			coreError(w, r, err)
			return
		}
		ok(w, toMember(m))
	}
}

func (h *handler) updateMember(w http.ResponseWriter, r *http.Request, org invite.OrgID, id uuid.UUID) {
	var b memberPatchBody
	if p := wire.DecodeJSON(w, r, &b, false); p != nil {
		problem(w, p)
		return
	}
	var patch invite.MemberPatch
	q := roleRequest{Role: b.Role, AssignedRoleIDs: b.AssignedRoleIDs}
	if b.AssignedRoleIDs != nil || (b.Role != nil && *b.Role != "") {
		// The role asked for depends on the org's roles and on the
		// member's role now (a legacy name it already reads as keeps it).
		o, err := h.rolesOf(r, org, q)
		if err != nil {
			coreError(w, r, err)
			return
		}
		m, err := h.svc.GetMember(r.Context(), org, id)
		if err != nil {
			coreError(w, r, err)
			return
		}
		role, err := q.resolve(o, m.Role, false)
		if err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		// The role it has already is no change to ask of the core, and
		// so none to race with a concurrent one.
		if role != m.Role {
			patch.Role = &role
		}
	}
	m, err := h.svc.UpdateMember(r.Context(), org, id, patch)
	if err != nil {
		coreError(w, r, err)
		return
	}
	ok(w, toMember(m))
}
