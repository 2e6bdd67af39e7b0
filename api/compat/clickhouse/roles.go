package clickhouse

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/invitd/invitd/invite"
)

// ClickHouse names a person's role twice: the deprecated `role`, an enum of
// admin and developer, and `assignedRoles`, roles with ids. invitd gives a
// person one of the org's roles; it answers that role in assignedRoles and
// its nearest legacy name in role.

// Legacy role names, the document's enum.
const (
	legacyAdmin     = "admin"
	legacyDeveloper = "developer"
)

// Role types of AssignedRole.
const (
	roleSystem = "system"
	roleCustom = "custom"
)

// AssignedRole is ClickHouse's role with an id.
type AssignedRole struct {
	RoleID   string `json:"roleId"`
	RoleName string `json:"roleName"`
	RoleType string `json:"roleType"`
}

// roleNamespace makes role ids: UUIDv5 names under it are stable across
// restarts and nodes, so a client may keep an id it has read.
var roleNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://invitd.dev/compat/clickhouse/roles"))

// systemRoles are invitd's predefined roles; any other role of an org is
// the org's own.
var systemRoles = invite.DefaultSettings().Roles

// roleID is a role's id: the same in every org for a predefined role, so
// that it can be written down once, and per org for the org's own roles.
func roleID(org invite.OrgID, name string) string {
	if slices.Contains(systemRoles, name) {
		return uuid.NewSHA1(roleNamespace, []byte("system:"+name)).String()
	}
	return uuid.NewSHA1(roleNamespace, []byte("custom:"+org.UUID()+":"+name)).String()
}

func assignedRole(org invite.OrgID, name string) AssignedRole {
	typ := roleCustom
	if slices.Contains(systemRoles, name) {
		typ = roleSystem
	}
	return AssignedRole{RoleID: roleID(org, name), RoleName: name, RoleType: typ}
}

// assignedRoles is the one role invitd gives a person, as a list.
func assignedRoles(org invite.OrgID, name string) []AssignedRole {
	return []AssignedRole{assignedRole(org, name)}
}

// legacyRole is an invitd role in the document's enum: owner and admin
// manage the org and read as admin; every other role reads as developer.
func legacyRole(r string) string {
	if r == "owner" || r == "admin" {
		return legacyAdmin
	}
	return legacyDeveloper
}

// fromLegacy is the role of o a legacy name asks for: admin is admin;
// developer is the org's default role when that does not manage the org
// (member, by default), else member.
func fromLegacy(o *invite.Organization, r string) (string, error) {
	switch legacyName(r) {
	case legacyAdmin:
		return "admin", nil
	case legacyDeveloper:
		if d := o.Settings.DefaultRole; d != "" && legacyRole(d) == legacyDeveloper {
			return d, nil
		}
		return "member", nil
	}
	return "", fmt.Errorf("role must be admin or developer; for invitd's other roles give assignedRoleIds")
}

func legacyName(r string) string { return strings.ToLower(strings.TrimSpace(r)) }

// roleRequest is what a create or update says about the role.
type roleRequest struct {
	Role            *string   // legacy name
	AssignedRoleIDs *[]string // ids of the org's roles
}

func (q roleRequest) hasIDs() bool { return q.AssignedRoleIDs != nil && len(*q.AssignedRoleIDs) > 0 }

func (q roleRequest) empty() bool { return (q.Role == nil || *q.Role == "") && !q.hasIDs() }

// rolesOf is the org as resolve needs it: role ids need its roles, and
// developer its default role, so admin alone costs no read.
func (h *handler) rolesOf(r *http.Request, org invite.OrgID, q roleRequest) (*invite.Organization, error) {
	if !q.hasIDs() && (q.Role == nil || legacyName(*q.Role) != legacyDeveloper) {
		return &invite.Organization{ID: org}, nil
	}
	return h.svc.GetOrg(r.Context(), org)
}

// resolve turns a request into one of o's roles. current is the person's
// role now ("" on create): a legacy name it already reads as keeps it, so
// that an owner sent back as admin stays owner. It returns "" when the
// request names no role.
func (q roleRequest) resolve(o *invite.Organization, current string, emptyIDs bool) (string, error) {
	var byID string
	if q.AssignedRoleIDs != nil {
		ids := *q.AssignedRoleIDs
		if len(ids) == 0 && !emptyIDs {
			return "", fmt.Errorf("assignedRoleIds must name one role: invitd gives a member exactly one")
		}
		known := map[string]string{}
		for _, name := range o.Settings.Roles {
			known[roleID(o.ID, name)] = name
		}
		for _, raw := range ids {
			id, err := uuid.Parse(strings.TrimSpace(raw))
			name, ok := known[id.String()]
			if err != nil || !ok {
				return "", fmt.Errorf("assignedRoleIds: %q is not a role of this organization; its roles are %s", raw, roleList(o))
			}
			if byID != "" && byID != name {
				return "", fmt.Errorf("assignedRoleIds names %s and %s: invitd gives a person one role", byID, name)
			}
			byID = name
		}
	}
	if q.Role == nil || *q.Role == "" {
		return byID, nil
	}
	legacy := legacyName(*q.Role)
	if byID != "" {
		if legacyRole(byID) != legacy {
			return "", fmt.Errorf("role %q does not match assignedRoleIds, which name %s (role %s)", *q.Role, byID, legacyRole(byID))
		}
		return byID, nil
	}
	if current != "" && legacyRole(current) == legacy {
		return current, nil
	}
	return fromLegacy(o, legacy)
}

// roleList names o's roles with their ids, for error messages.
func roleList(o *invite.Organization) string {
	parts := make([]string, len(o.Settings.Roles))
	for i, name := range o.Settings.Roles {
		parts[i] = name + " (" + roleID(o.ID, name) + ")"
	}
	return strings.Join(parts, ", ")
}
