package clickhouse_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/api/compat/internal/compattest"
	"github.com/invitd/invitd/invite"
)

// The document's member, field → JSON type.
var memberFields = compattest.Fields{
	"userId":        "uuid",
	"name":          "string",
	"email":         "email",
	"role":          "string",
	"joinedAt":      "date-time",
	"assignedRoles": "array",
}

func mpath(org string, rest ...string) string {
	return "/v1/organizations/" + org + "/members" + strings.Join(rest, "")
}

func member(t *testing.T, r *compattest.Response) map[string]any {
	t.Helper()
	v := result(t, r)
	compattest.CheckFields(t, "member", v, memberFields)
	return v.(map[string]any)
}

// members returns the member list by email.
func members(t *testing.T, r *compattest.Response) map[string]map[string]any {
	t.Helper()
	v, ok := result(t, r).([]any)
	if !ok {
		t.Fatalf("result is not an array: %s", r.Body)
	}
	out := map[string]map[string]any{}
	for _, x := range v {
		compattest.CheckFields(t, "member", x, memberFields)
		m := x.(map[string]any)
		out[m["email"].(string)] = m
	}
	if len(out) != len(v) {
		t.Errorf("an email is listed twice: %s", r.Body)
	}
	return out
}

// join makes email a member with role through the core's accept path.
func join(t *testing.T, env *compattest.Env, org invite.OrgID, email, name, role string) *invite.Member {
	t.Helper()
	inv := env.Invite(t, org, invite.CreateInvitation{Email: email, Role: role})
	_, m, err := env.Svc.AcceptInvitation(compattest.System, org, invite.InvitationRef{ID: inv.ID}, invite.Accept{Email: email, Name: name})
	if err != nil {
		t.Fatalf("accept %s: %v", email, err)
	}
	return m
}

// findMember is the Terraform client's lookup: the member list scanned for
// the configured address, compared exactly.
func findMember(t *testing.T, c *client, org, email string) map[string]any {
	t.Helper()
	return members(t, c.do(http.MethodGet, mpath(org), nil))[email]
}

// The ClickHouse Terraform provider's invitation resource: a create that
// answers 409 and a read that answers 404 look the address up in the member
// list; a delete that answers 404 is done.
func TestTerraformFlow(t *testing.T) {
	env, c := setup(t, nil)
	org := env.Org.ID.UUID()
	const email = "tf.user@example.com"

	// Create, with role ids as the provider sends them.
	inv := invitation(t, c.do(http.MethodPost, path(org), map[string]any{"email": email, "assignedRoleIds": []string{adminRoleID}}))
	wantRoles(t, inv, "admin", "admin", adminRoleID)
	stateID := inv["id"].(string)
	// A second resource for the address: 409, and no member to adopt yet.
	wantError(t, c.do(http.MethodPost, path(org), map[string]any{"email": email, "assignedRoleIds": []string{adminRoleID}}), http.StatusConflict)
	if m := findMember(t, c, org, email); m != nil {
		t.Fatalf("a member before the accept: %v", m)
	}
	// Refresh while pending.
	if got := invitation(t, c.do(http.MethodGet, path(org, "/", stateID), nil)); got["expireAt"] != inv["expireAt"] {
		t.Errorf("read %v, created %v", got, inv)
	}

	// The invitee accepts through invitd's own path.
	if _, _, err := env.Svc.AcceptInvitation(compattest.System, env.Org.ID, invite.InvitationRef{ID: uuid.MustParse(stateID)},
		invite.Accept{Email: email, Name: "Tf User"}); err != nil {
		t.Fatal(err)
	}

	// Refresh: the invitation is gone, the address is a member.
	wantError(t, c.do(http.MethodGet, path(org, "/", stateID), nil), http.StatusNotFound)
	m := findMember(t, c, org, email)
	if m == nil {
		t.Fatal("the accepted address is not in the member list")
	}
	if m["name"] != "Tf User" {
		t.Errorf("member %v", m)
	}
	wantRoles(t, m, "admin", "admin", adminRoleID)
	userID := m["userId"].(string)
	if got := member(t, c.do(http.MethodGet, mpath(org, "/", userID), nil)); got["email"] != email || got["joinedAt"] != m["joinedAt"] {
		t.Errorf("get %v, listed %v", got, m)
	}
	// Another resource for the member's address: 409, adopted as the member.
	wantError(t, c.do(http.MethodPost, path(org), map[string]any{"email": email, "role": "admin"}), http.StatusConflict)
	if m := findMember(t, c, org, email); m == nil || m["userId"] != userID {
		t.Fatalf("after the 409 the list shows %v", m)
	}

	// Destroy: both resources delete an invitation by their id (the
	// adopted one by the member's id); 404 means done.
	wantError(t, c.do(http.MethodDelete, path(org, "/", stateID), nil), http.StatusNotFound)
	wantError(t, c.do(http.MethodDelete, path(org, "/", userID), nil), http.StatusNotFound)
	if findMember(t, c, org, email) == nil {
		t.Error("deleting the consumed invitation removed the member")
	}
	// Removing the member: 200, then 404.
	r := c.do(http.MethodDelete, mpath(org, "/", userID), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	compattest.CheckFields(t, "delete", r.Object(t), compattest.Fields{"status": "integer", "requestId": "uuid"})
	wantError(t, c.do(http.MethodDelete, mpath(org, "/", userID), nil), http.StatusNotFound)
	wantError(t, c.do(http.MethodGet, mpath(org, "/", userID), nil), http.StatusNotFound)
	if m := findMember(t, c, org, email); m != nil {
		t.Errorf("member after the delete: %v", m)
	}
	// The address may be invited again.
	invitation(t, c.do(http.MethodPost, path(org), map[string]any{"email": email, "assignedRoleIds": []string{adminRoleID}}))
}

func TestMembers(t *testing.T) {
	clock := compattest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	env, c := setup(t, clock)
	org := env.Org.ID.UUID()
	const total = 230 // more than one page of the core's list
	for i := range total {
		join(t, env, env.Org.ID, fmt.Sprintf("m%03d@example.com", i), "", "member")
		clock.Add(time.Second)
	}
	owner := join(t, env, env.Org.ID, "owner@example.com", "Olga Owner", "owner")
	res := join(t, env, env.Org.ID, "res@example.com", "Rita", "restricted")

	r := c.do(http.MethodGet, mpath(org), nil)
	v := result(t, r).([]any)
	if len(v) != total+2 {
		t.Fatalf("%d members listed, want %d", len(v), total+2)
	}
	// In the order they joined, each once.
	for i, x := range v[:total] {
		if want := fmt.Sprintf("m%03d@example.com", i); x.(map[string]any)["email"] != want {
			t.Fatalf("member %d is %v, want %s", i, x, want)
		}
	}
	ms := members(t, r)
	o := ms["owner@example.com"]
	if o["userId"] != owner.ID.String() || o["name"] != "Olga Owner" || o["joinedAt"] != owner.CreatedAt.UTC().Format(time.RFC3339) {
		t.Errorf("owner %v, core %+v", o, owner)
	}
	wantRoles(t, o, "admin", "owner", ownerRoleID)
	wantRoles(t, ms["res@example.com"], "developer", "restricted", restrictedRoleID)
	wantRoles(t, ms["m000@example.com"], "developer", "member", memberRoleID)
	if ms["m000@example.com"]["name"] != "" {
		t.Errorf("a member without a name: %v", ms["m000@example.com"])
	}

	get := func(id uuid.UUID) *invite.Member {
		t.Helper()
		m, err := env.Svc.GetMember(compattest.System, env.Org.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	patch := func(id uuid.UUID, body any) map[string]any {
		t.Helper()
		return member(t, c.do(http.MethodPatch, mpath(org, "/", id.String()), body))
	}

	// A legacy role the member already reads as keeps its role: an owner
	// sent back as admin stays owner, restricted sent back as developer
	// stays restricted.
	wantRoles(t, patch(owner.ID, map[string]any{"role": "admin"}), "admin", "owner", ownerRoleID)
	wantRoles(t, patch(res.ID, map[string]any{"role": "developer"}), "developer", "restricted", restrictedRoleID)
	if get(owner.ID).Role != "owner" || get(res.ID).Role != "restricted" {
		t.Errorf("roles changed: %s %s", get(owner.ID).Role, get(res.ID).Role)
	}
	// Another legacy role changes it.
	wantRoles(t, patch(res.ID, map[string]any{"role": "admin"}), "admin", "admin", adminRoleID)
	wantRoles(t, patch(res.ID, map[string]any{"role": "developer"}), "developer", "member", memberRoleID)
	// assignedRoleIds names the exact role, alone or with the role it reads as.
	wantRoles(t, patch(res.ID, map[string]any{"assignedRoleIds": []string{restrictedRoleID}}), "developer", "restricted", restrictedRoleID)
	wantRoles(t, patch(res.ID, map[string]any{"role": "admin", "assignedRoleIds": []string{ownerRoleID, strings.ToUpper(ownerRoleID)}}), "admin", "owner", ownerRoleID)
	if got := get(res.ID); got.Role != "owner" || got.Name != "Rita" || got.Email != "res@example.com" {
		t.Errorf("after the patches %+v", got)
	}
	// Nothing to change: the member as it is; a name is not the document's to change.
	wantRoles(t, patch(res.ID, map[string]any{}), "admin", "owner", ownerRoleID)
	if got := patch(res.ID, map[string]any{"name": "Other"}); got["name"] != "Rita" {
		t.Errorf("name patched: %v", got)
	}

	for _, tt := range []struct {
		name   string
		body   any
		status int
	}{
		{"empty body", nil, http.StatusBadRequest},
		{"not JSON", `{"role":`, http.StatusBadRequest},
		{"array body", `[]`, http.StatusBadRequest},
		{"role outside the enum", `{"role":"member"}`, http.StatusBadRequest},
		{"role number", `{"role":1}`, http.StatusBadRequest},
		{"ids not an array", `{"assignedRoleIds":"` + adminRoleID + `"}`, http.StatusBadRequest},
		{"ids of numbers", `{"assignedRoleIds":[1]}`, http.StatusBadRequest},
		{"no ids", `{"assignedRoleIds":[]}`, http.StatusBadRequest},
		{"unknown id", `{"assignedRoleIds":["` + uuid.NewString() + `"]}`, http.StatusBadRequest},
		{"id not a UUID", `{"assignedRoleIds":["admin"]}`, http.StatusBadRequest},
		{"two roles", `{"assignedRoleIds":["` + adminRoleID + `","` + memberRoleID + `"]}`, http.StatusBadRequest},
		{"role and ids disagree", `{"role":"developer","assignedRoleIds":["` + adminRoleID + `"]}`, http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			msg := wantError(t, c.do(http.MethodPatch, mpath(org, "/", res.ID.String()), tt.body), tt.status)
			if strings.Contains(tt.name, "id") && tt.name != "id not a UUID" && !strings.Contains(msg, "assignedRoleIds") {
				t.Errorf("message %q does not name assignedRoleIds", msg)
			}
		})
	}
	if got := get(res.ID); got.Role != "owner" {
		t.Errorf("a refused patch changed the role to %s", got.Role)
	}
	// An unknown id names the org's roles and their ids.
	msg := wantError(t, c.do(http.MethodPatch, mpath(org, "/", res.ID.String()), map[string]any{"assignedRoleIds": []string{uuid.NewString()}}), http.StatusBadRequest)
	if !strings.Contains(msg, "restricted ("+restrictedRoleID+")") {
		t.Errorf("message %q", msg)
	}

	// Ids.
	for _, m := range []string{http.MethodGet, http.MethodPatch, http.MethodDelete} {
		wantError(t, c.do(m, mpath(org, "/not-a-uuid"), `{}`), http.StatusBadRequest)
		wantError(t, c.do(m, mpath(org, "/", strings.ReplaceAll(owner.ID.String(), "-", "")), `{}`), http.StatusBadRequest)
		wantError(t, c.do(m, mpath(org, "/", uuid.NewString()), `{}`), http.StatusNotFound)
		wantError(t, c.do(m, mpath("not-a-uuid", "/", owner.ID.String()), `{}`), http.StatusBadRequest)
		wantError(t, c.do(m, mpath(uuid.NewString(), "/", owner.ID.String()), `{}`), http.StatusNotFound)
	}
	wantError(t, c.do(http.MethodGet, mpath("not-a-uuid"), nil), http.StatusBadRequest)
	r = c.do(http.MethodPost, mpath(org), `{}`)
	wantError(t, r, http.StatusMethodNotAllowed)
	if r.Header.Get("Allow") != "GET" {
		t.Errorf("Allow %q", r.Header.Get("Allow"))
	}
	r = c.do(http.MethodPut, mpath(org, "/", owner.ID.String()), `{}`)
	wantError(t, r, http.StatusMethodNotAllowed)
	if r.Header.Get("Allow") != "GET, PATCH, DELETE" {
		t.Errorf("Allow %q", r.Header.Get("Allow"))
	}
}

func TestMembersAuth(t *testing.T) {
	env, c := setup(t, nil)
	ctx := compattest.System
	org := env.Org.ID.UUID()
	m := join(t, env, env.Org.ID, "a@example.com", "A", "member")
	other := env.NewOrg(t, "Other")
	otherKey, err := env.Svc.CreateKey(ctx, &other.ID, invite.KeyInput{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	for _, cc := range []*client{{t: t, base: c.base, noAuth: true}, c.as(env.Key.ID, "wrong")} {
		for _, method := range []string{http.MethodGet, http.MethodPatch, http.MethodDelete} {
			r := cc.do(method, mpath(org, "/", m.ID.String()), map[string]any{"role": "admin"})
			wantError(t, r, http.StatusUnauthorized)
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
			}
		}
		wantError(t, cc.do(http.MethodGet, mpath(org), nil), http.StatusUnauthorized)
	}
	// Another org's key does not see this org or its members.
	oc := c.as(otherKey.ID, otherKey.Secret)
	wantError(t, oc.do(http.MethodGet, mpath(org), nil), http.StatusNotFound)
	for _, method := range []string{http.MethodGet, http.MethodPatch, http.MethodDelete} {
		wantError(t, oc.do(method, mpath(org, "/", m.ID.String()), map[string]any{"role": "admin"}), http.StatusNotFound)
		wantError(t, oc.do(method, mpath(other.ID.UUID(), "/", m.ID.String()), map[string]any{"role": "admin"}), http.StatusNotFound)
	}
	if ms := members(t, oc.do(http.MethodGet, mpath(other.ID.UUID()), nil)); len(ms) != 0 {
		t.Errorf("other org lists %v", ms)
	}
	if got, err := env.Svc.GetMember(ctx, env.Org.ID, m.ID); err != nil || got.Role != "member" {
		t.Errorf("member after refused requests: %+v %v", got, err)
	}
	// An admin key manages the members of any org.
	ac := c.as(env.Admin.ID, env.Admin.Secret)
	if ms := members(t, ac.do(http.MethodGet, mpath(org), nil)); len(ms) != 1 {
		t.Errorf("admin lists %v", ms)
	}
	wantRoles(t, member(t, ac.do(http.MethodPatch, mpath(org, "/", m.ID.String()), map[string]any{"role": "admin"})), "admin", "admin", adminRoleID)
}

// An org with roles of its own: they are custom roles, with ids of that
// org, and read as developer unless they are admin or owner.
func TestCustomRoles(t *testing.T) {
	env, c := setup(t, nil)
	roles, def := []string{"owner", "viewer", "editor"}, "viewer"
	o, err := env.Svc.CreateOrg(compattest.System, "Custom", &invite.SettingsPatch{Roles: &roles, DefaultRole: &def})
	if err != nil {
		t.Fatal(err)
	}
	o2, err := env.Svc.CreateOrg(compattest.System, "Custom too", &invite.SettingsPatch{Roles: &roles, DefaultRole: &def})
	if err != nil {
		t.Fatal(err)
	}
	ac := c.as(env.Admin.ID, env.Admin.Secret)
	org := o.ID.UUID()

	viewer := invitation(t, ac.do(http.MethodPost, path(org), map[string]any{"email": "v@example.com"}))
	wantRoles(t, viewer, "developer", "viewer", "")
	viewerID := viewer["assignedRoles"].([]any)[0].(map[string]any)["roleId"].(string)
	viewer2 := invitation(t, ac.do(http.MethodPost, path(o2.ID.UUID()), map[string]any{"email": "v@example.com"}))
	if id2 := viewer2["assignedRoles"].([]any)[0].(map[string]any)["roleId"]; id2 == viewerID {
		t.Errorf("two orgs' own roles share the id %s", viewerID)
	}
	// The org's own role ids are taken; the predefined ones of roles it does
	// not have are not.
	msg := wantError(t, ac.do(http.MethodPost, path(org), map[string]any{"email": "e@example.com", "assignedRoleIds": []string{memberRoleID}}), http.StatusBadRequest)
	if !strings.Contains(msg, "owner ("+ownerRoleID+")") || !strings.Contains(msg, "viewer ("+viewerID+")") {
		t.Errorf("message %q", msg)
	}
	wantError(t, ac.do(http.MethodPost, path(org), map[string]any{"email": "e@example.com", "assignedRoleIds": []string{viewer2["assignedRoles"].([]any)[0].(map[string]any)["roleId"].(string)}}), http.StatusBadRequest)
	// developer asks for the org's default role, which does not manage it.
	dev := invitation(t, ac.do(http.MethodPost, path(org), map[string]any{"email": "e@example.com", "role": "developer"}))
	wantRoles(t, dev, "developer", "viewer", "")
	inv := invitation(t, ac.do(http.MethodPost, path(org), map[string]any{"email": "o@example.com", "assignedRoleIds": []string{ownerRoleID}}))
	wantRoles(t, inv, "admin", "owner", ownerRoleID)

	m := join(t, env, o.ID, "ed@example.com", "Ed", "editor")
	ms := members(t, ac.do(http.MethodGet, mpath(org), nil))
	wantRoles(t, ms["ed@example.com"], "developer", "editor", "")
	wantRoles(t, member(t, ac.do(http.MethodPatch, mpath(org, "/", m.ID.String()), map[string]any{"assignedRoleIds": []string{viewerID}})), "developer", "viewer", "")
	// An owner sent developer gets the default role too.
	own := join(t, env, o.ID, "own@example.com", "Own", "owner")
	wantRoles(t, member(t, ac.do(http.MethodPatch, mpath(org, "/", own.ID.String()), map[string]any{"role": "developer"})), "developer", "viewer", "")

	// In an org whose default role manages it, developer asks for invitd's
	// member role, which this org has not.
	mroles, mdef := []string{"owner", "viewer"}, "owner"
	o3, err := env.Svc.CreateOrg(compattest.System, "Owners", &invite.SettingsPatch{Roles: &mroles, DefaultRole: &mdef})
	if err != nil {
		t.Fatal(err)
	}
	msg = wantError(t, ac.do(http.MethodPost, path(o3.ID.UUID()), map[string]any{"email": "e@example.com", "role": "developer"}), http.StatusBadRequest)
	if !strings.Contains(msg, "member") {
		t.Errorf("message %q", msg)
	}
}

// A create's role: the legacy name or the ids, agreeing when both are given.
func TestCreateRoles(t *testing.T) {
	env, c := setup(t, nil)
	org := env.Org.ID.UUID()
	for i, tt := range []struct {
		body         map[string]any
		legacy, name string
		id           string
	}{
		{map[string]any{"role": "developer"}, "developer", "member", memberRoleID},
		{map[string]any{"role": ""}, "developer", "member", memberRoleID},
		{map[string]any{"assignedRoleIds": []string{}}, "developer", "member", memberRoleID},
		{map[string]any{"assignedRoleIds": []string{adminRoleID}}, "admin", "admin", adminRoleID},
		{map[string]any{"assignedRoleIds": []string{" " + ownerRoleID + " "}, "role": "admin"}, "admin", "owner", ownerRoleID},
		{map[string]any{"assignedRoleIds": []string{restrictedRoleID}, "role": "developer"}, "developer", "restricted", restrictedRoleID},
	} {
		tt.body["email"] = fmt.Sprintf("u%d@example.com", i)
		inv := invitation(t, c.do(http.MethodPost, path(org), tt.body))
		wantRoles(t, inv, tt.legacy, tt.name, tt.id)
		got, err := env.Svc.GetInvitation(compattest.System, env.Org.ID, invite.InvitationRef{ID: uuid.MustParse(inv["id"].(string))})
		if err != nil || got.Role != tt.name {
			t.Errorf("%v: stored %+v %v", tt.body, got, err)
		}
	}
	for _, body := range []string{
		`{"email":"x@example.com","assignedRoleIds":["` + adminRoleID + `","` + memberRoleID + `"]}`,
		`{"email":"x@example.com","assignedRoleIds":["` + uuid.NewString() + `"]}`,
		`{"email":"x@example.com","assignedRoleIds":[""]}`,
		`{"email":"x@example.com","assignedRoleIds":{}}`,
		`{"email":"x@example.com","role":"admin","assignedRoleIds":["` + restrictedRoleID + `"]}`,
		`{"email":"x@example.com","role":"developer","assignedRoleIds":["` + ownerRoleID + `"]}`,
	} {
		wantError(t, c.do(http.MethodPost, path(org), body), http.StatusBadRequest)
	}
	if items := invitations(t, c.do(http.MethodGet, path(org), nil)); len(items) != 6 {
		t.Errorf("%d invitations after refused creates", len(items))
	}
}
