package compat_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/invitd/invitd/api/compat/clickhouse"
	"github.com/invitd/invitd/api/compat/internal/compattest"
	"github.com/invitd/invitd/api/compat/jicoo"
	"github.com/invitd/invitd/api/compat/upsun"
	"github.com/invitd/invitd/invite"
)

// The three seeds' invitation fields, field → JSON type.
var (
	jicooFields = compattest.Fields{"id": "integer", "email": "email", "role": "string", "createdAt": "date-time", "updatedAt": "date-time"}
	chFields    = compattest.Fields{"role": "string", "id": "uuid", "email": "email", "createdAt": "date-time", "expireAt": "date-time", "assignedRoles": "array"}
	upsunFields = compattest.Fields{"id": "uuid", "state": "string", "organization_id": "ulid", "email": "email", "owner": "object",
		"created_at": "date-time", "updated_at": "date-time", "finished_at": "date-time|null", "permissions": "array"}
)

// surfaces talks to all three surfaces of one service, as one client each.
type surfaces struct {
	t                *testing.T
	env              *compattest.Env
	jicoo, ch, upsun string
}

func setup(t *testing.T) *surfaces {
	env := compattest.New(t, nil)
	return &surfaces{t: t, env: env,
		jicoo: compattest.Serve(t, "/compat/jicoo", jicoo.New(env.Svc)),
		ch:    compattest.Serve(t, "/compat/clickhouse", clickhouse.New(env.Svc)),
		upsun: compattest.Serve(t, "/compat/upsun", upsun.New(env.Svc)),
	}
}

func (s *surfaces) jicooDo(method, path string, body any) *compattest.Response {
	return compattest.Do(s.t, method, s.jicoo+path, body, func(r *http.Request) { r.Header.Set(jicoo.APIKeyHeader, s.env.Key.Token) })
}

// chDo and upsunDo check every answer against the vendor's own document.
func (s *surfaces) chDo(method, path string, body any) *compattest.Response {
	return compattest.ClickHouseSpec(s.t).Do(s.t, method, s.ch+"/v1/organizations/"+s.env.Org.ID.UUID()+"/invitations"+path, body,
		func(r *http.Request) { r.SetBasicAuth(s.env.Key.ID, s.env.Key.Secret) })
}

func (s *surfaces) upsunDo(method, path string, body any) *compattest.Response {
	return compattest.UpsunSpec(s.t).Do(s.t, method, s.upsun+"/organizations/"+s.env.Org.ID.String()+"/invitations"+path, body,
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+s.env.Key.Token) })
}

func status(t *testing.T, r *compattest.Response, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d: %s", r.Status, want, r.Body)
	}
}

// jicooList returns Jicoo's view of the open invitations by email.
func (s *surfaces) jicooList() map[string]map[string]any {
	r := s.jicooDo(http.MethodGet, "/v1/organization_invitations?perPage=100", nil)
	status(s.t, r, http.StatusOK)
	var body struct{ Data []map[string]any }
	r.JSON(s.t, &body)
	out := map[string]map[string]any{}
	for _, it := range body.Data {
		compattest.CheckFields(s.t, "jicoo", it, jicooFields)
		out[it["email"].(string)] = it
	}
	return out
}

func (s *surfaces) chList() map[string]map[string]any {
	r := s.chDo(http.MethodGet, "", nil)
	status(s.t, r, http.StatusOK)
	var body struct{ Result []map[string]any }
	r.JSON(s.t, &body)
	out := map[string]map[string]any{}
	for _, it := range body.Result {
		compattest.CheckFields(s.t, "clickhouse", it, chFields)
		out[it["email"].(string)] = it
	}
	return out
}

func (s *surfaces) upsunList(state string) map[string]map[string]any {
	r := s.upsunDo(http.MethodGet, "?filter[state]="+state, nil)
	status(s.t, r, http.StatusOK)
	var arr []map[string]any
	r.JSON(s.t, &arr)
	out := map[string]map[string]any{}
	for _, it := range arr {
		compattest.CheckFields(s.t, "upsun", it, upsunFields)
		out[it["email"].(string)] = it
	}
	return out
}

func TestCreateOnEachReadOnEvery(t *testing.T) {
	s := setup(t)
	ctx := compattest.System

	r := s.jicooDo(http.MethodPost, "/v1/organization_invitations", map[string]any{"email": "J@Example.com", "role": "admin"})
	status(t, r, http.StatusCreated)
	var jc struct{ Data map[string]any }
	r.JSON(t, &jc)

	r = s.chDo(http.MethodPost, "", map[string]any{"email": "C@Example.com", "role": "developer"})
	status(t, r, http.StatusOK)
	var cc struct{ Result map[string]any }
	r.JSON(t, &cc)

	r = s.upsunDo(http.MethodPost, "", map[string]any{"email": "U@Example.com", "permissions": []string{"members", "projects:list"}})
	status(t, r, http.StatusCreated)
	uc := r.Object(t)

	// The core's view of each.
	jInv, err := s.env.Svc.GetInvitation(ctx, s.env.Org.ID, invite.InvitationRef{Number: int64(jc.Data["id"].(float64))})
	if err != nil {
		t.Fatal(err)
	}
	cInv, err := s.env.Svc.GetInvitation(ctx, s.env.Org.ID, invite.InvitationRef{ID: uuid.MustParse(cc.Result["id"].(string))})
	if err != nil {
		t.Fatal(err)
	}
	uInv, err := s.env.Svc.GetInvitation(ctx, s.env.Org.ID, invite.InvitationRef{ID: uuid.MustParse(uc["id"].(string))})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		inv   *invite.Invitation
		email string
		role  string
		perms string
	}{
		{jInv, "j@example.com", "admin", "[]"},
		{cInv, "c@example.com", "member", "[]"},
		{uInv, "u@example.com", "member", "[members projects:list]"},
	} {
		if c.inv.Email != c.email || c.inv.Role != c.role || fmt.Sprint(c.inv.Permissions) != c.perms || c.inv.State != invite.StatePending || c.inv.SendCount != 1 {
			t.Errorf("core sees %+v, want %s %s %s", c.inv, c.email, c.role, c.perms)
		}
	}

	// Every surface sees all three, with the same facts.
	js, cs, us := s.jicooList(), s.chList(), s.upsunList("pending")
	for _, inv := range []*invite.Invitation{jInv, cInv, uInv} {
		j, c, u := js[inv.Email], cs[inv.Email], us[inv.Email]
		if j == nil || c == nil || u == nil {
			t.Fatalf("%s: jicoo %v clickhouse %v upsun %v", inv.Email, j, c, u)
		}
		if int64(j["id"].(float64)) != inv.Number || c["id"] != inv.ID.String() || u["id"] != inv.ID.String() {
			t.Errorf("%s: ids %v %v %v, core %d %s", inv.Email, j["id"], c["id"], u["id"], inv.Number, inv.ID)
		}
		if j["createdAt"] != c["createdAt"] || c["createdAt"] != u["created_at"] || j["updatedAt"] != u["updated_at"] {
			t.Errorf("%s: times differ: %v %v %v", inv.Email, j, c, u)
		}
		if u["organization_id"] != s.env.Org.ID.String() || u["state"] != "pending" || u["finished_at"] != nil {
			t.Errorf("%s: upsun %v", inv.Email, u)
		}
		// Roles as each vendor names them.
		wantJ, wantC := inv.Role, map[string]string{"admin": "admin", "member": "developer"}[inv.Role]
		if j["role"] != wantJ || c["role"] != wantC {
			t.Errorf("%s: roles jicoo %v clickhouse %v, core %s", inv.Email, j["role"], c["role"], inv.Role)
		}
		// And one by one where the surface has a single read.
		r := s.jicooDo(http.MethodGet, fmt.Sprintf("/v1/organization_invitations/%d", inv.Number), nil)
		status(t, r, http.StatusOK)
		r = s.chDo(http.MethodGet, "/"+inv.ID.String(), nil)
		status(t, r, http.StatusOK)
	}

	// Cancel through each surface; every other one sees it gone.
	status(t, s.jicooDo(http.MethodDelete, fmt.Sprintf("/v1/organization_invitations/%d", uInv.Number), nil), http.StatusNoContent)
	status(t, s.chDo(http.MethodDelete, "/"+jInv.ID.String(), nil), http.StatusOK)
	status(t, s.upsunDo(http.MethodDelete, "/"+cInv.ID.String(), nil), http.StatusNoContent)
	if n := len(s.jicooList()) + len(s.chList()) + len(s.upsunList("pending")); n != 0 {
		t.Errorf("%d invitations still open after cancelling all", n)
	}
	gone := s.upsunList("cancelled")
	for _, inv := range []*invite.Invitation{jInv, cInv, uInv} {
		got, err := s.env.Svc.GetInvitation(ctx, s.env.Org.ID, invite.InvitationRef{ID: inv.ID})
		if err != nil || got.State != invite.StateCancelled {
			t.Errorf("%s: core state %v, %v", inv.Email, got, err)
		}
		if u := gone[inv.Email]; u == nil || u["state"] != "cancelled" || u["finished_at"] == nil {
			t.Errorf("%s: upsun cancelled view %v", inv.Email, u)
		}
		status(t, s.jicooDo(http.MethodGet, fmt.Sprintf("/v1/organization_invitations/%d", inv.Number), nil), http.StatusNotFound)
		status(t, s.chDo(http.MethodGet, "/"+inv.ID.String(), nil), http.StatusNotFound)
	}

	// A pending invitation made on one surface blocks a duplicate on the others;
	// Upsun's force replaces it.
	status(t, s.jicooDo(http.MethodPost, "/v1/organization_invitations", map[string]any{"email": "dup@example.com"}), http.StatusCreated)
	status(t, s.chDo(http.MethodPost, "", map[string]any{"email": "dup@example.com"}), http.StatusConflict)
	status(t, s.upsunDo(http.MethodPost, "", map[string]any{"email": "dup@example.com", "permissions": []string{}}), http.StatusConflict)
	status(t, s.upsunDo(http.MethodPost, "", map[string]any{"email": "dup@example.com", "permissions": []string{}, "force": true}), http.StatusCreated)
	if n := len(s.upsunList("pending")); n != 1 {
		t.Errorf("%d pending after force", n)
	}
}
