package upsun_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/invitd/invitd/api/compat/internal/compattest"
	"github.com/invitd/invitd/api/compat/upsun"
	"github.com/invitd/invitd/invite"
)

// listOwners lists every invitation of org and returns their owners by email.
func listOwners(t *testing.T, c *client, org invite.OrgID) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, it := range items(t, c.do(http.MethodGet, invPath(org, "?filter%5Bstate%5D%5Bne%5D=processing"), nil)) {
		out[it["email"].(string)] = it["owner"].(map[string]any)
	}
	return out
}

func derived(name string) string {
	return uuid.NewSHA1(upsun.OwnerNamespace, []byte(name)).String()
}

// owner is always an object with a UUID id and a display name: the
// inviter's id when it is a UUID, a UUID made from it otherwise, and for an
// invitation no inviter id is named on, the organization's.
func TestOwnerIsAlwaysAUUID(t *testing.T) {
	env, c := setup(t, nil)
	org := env.Org.ID
	plain := uuid.NewString()
	env.Invite(t, org, invite.CreateInvitation{Email: "uuid@example.com", Inviter: invite.Inviter{ID: plain, Name: "Alice"}})
	env.Invite(t, org, invite.CreateInvitation{Email: "upper@example.com", Inviter: invite.Inviter{ID: strings.ToUpper(plain), Name: "Alice"}})
	env.Invite(t, org, invite.CreateInvitation{Email: "text@example.com", Inviter: invite.Inviter{ID: "alice@corp", Name: "Alice"}})
	env.Invite(t, org, invite.CreateInvitation{Email: "text2@example.com", Inviter: invite.Inviter{ID: "alice@corp"}})
	env.Invite(t, org, invite.CreateInvitation{Email: "other@example.com", Inviter: invite.Inviter{ID: "bob@corp", Name: "Bob"}})
	env.Invite(t, org, invite.CreateInvitation{Email: "nobody@example.com"})
	env.Invite(t, org, invite.CreateInvitation{Email: "nameonly@example.com", Inviter: invite.Inviter{Name: "Carol"}})
	// Created through Upsun: the body names no inviter, and an API key is
	// none, so the organization is the owner.
	byKey := created(t, c.do(http.MethodPost, invPath(org), map[string]any{"email": "bykey@example.com", "permissions": []string{"members"}}))
	byAdmin := created(t, c.as(env.Admin.Token).do(http.MethodPost, invPath(org), map[string]any{"email": "byadmin@example.com", "permissions": []string{}}))

	orgOwner := derived("organization:" + org.String())
	want := map[string][2]string{
		"uuid@example.com":     {plain, "Alice"},
		"upper@example.com":    {plain, "Alice"},
		"text@example.com":     {derived("inviter:alice@corp"), "Alice"},
		"text2@example.com":    {derived("inviter:alice@corp"), "alice@corp"},
		"other@example.com":    {derived("inviter:bob@corp"), "Bob"},
		"nobody@example.com":   {orgOwner, env.Org.Name},
		"nameonly@example.com": {orgOwner, "Carol"},
		"bykey@example.com":    {orgOwner, env.Org.Name},
		"byadmin@example.com":  {orgOwner, env.Org.Name},
	}
	got := listOwners(t, c, org)
	for email, w := range want {
		o := got[email]
		if o["id"] != w[0] || o["display_name"] != w[1] {
			t.Errorf("%s: owner %v, want id %s, display_name %q", email, o, w[0], w[1])
		}
		if u := uuid.MustParse(o["id"].(string)); o["id"] != plain && u.Version() != 5 {
			t.Errorf("%s: derived owner id %s is version %d", email, u, u.Version())
		}
	}
	// The create answers the owner the list shows.
	for _, m := range []map[string]any{byKey, byAdmin} {
		w := want[m["email"].(string)]
		if o := m["owner"].(map[string]any); o["id"] != w[0] || o["display_name"] != w[1] {
			t.Errorf("create of %s answered owner %v, want id %s, display_name %q", m["email"], o, w[0], w[1])
		}
	}
	// No key is recorded as the inviter.
	for _, m := range []map[string]any{byKey, byAdmin} {
		if in := storedInviter(t, env, org, m); in != (invite.Inviter{}) {
			t.Errorf("%s: stored inviter %+v, want none", m["email"], in)
		}
	}
	// The same inviter in another organization is the same owner.
	other := env.NewOrg(t, "Other")
	env.Invite(t, other.ID, invite.CreateInvitation{Email: "text@example.com", Inviter: invite.Inviter{ID: "alice@corp", Name: "Alice"}})
	if o := listOwners(t, c.as(env.Admin.Token), other.ID)["text@example.com"]; o["id"] != want["text@example.com"][0] {
		t.Errorf("owner in another org %v", o)
	}
}

// Permissions are Upsun's enum, in what is taken and in what is answered,
// even when an organization defines permissions of its own.
func TestPermissionsStayInTheEnum(t *testing.T) {
	env, c := setup(t, nil)
	ctx := compattest.System
	perms := append([]string{"deploy"}, permissionEnum...)
	o, err := env.Svc.CreateOrg(ctx, "Custom", &invite.SettingsPatch{Permissions: &perms})
	if err != nil {
		t.Fatal(err)
	}
	env.Invite(t, o.ID, invite.CreateInvitation{Email: "a@example.com", Permissions: []string{"deploy", "billing"}})
	ac := c.as(env.Admin.Token)
	got := items(t, ac.do(http.MethodGet, invPath(o.ID), nil))
	if len(got) != 1 || len(got[0]["permissions"].([]any)) != 1 || got[0]["permissions"].([]any)[0] != "billing" {
		t.Fatalf("listed %v", got)
	}
	msg := wantError(t, ac.do(http.MethodPost, invPath(o.ID), map[string]any{"email": "b@example.com", "permissions": []string{"billing", "deploy"}}), http.StatusBadRequest)
	if !strings.Contains(msg, `"deploy"`) {
		t.Errorf("message %q does not name the permission", msg)
	}
	// Every one of the enum is taken and answered back.
	m := created(t, ac.do(http.MethodPost, invPath(o.ID), map[string]any{"email": "c@example.com", "permissions": permissionEnum}))
	if len(m["permissions"].([]any)) != len(permissionEnum) {
		t.Errorf("created with %v", m["permissions"])
	}
}

// Each operation as Upsun's document gives it: the request it documents is
// one the document accepts, and the answers are its statuses and bodies
// (each checked against it by the client).
func TestOperationsAsDocumented(t *testing.T) {
	env, c := setup(t, nil)
	org := env.Org.ID
	spec := loadSpec(t)
	body := `{"email":"doc@example.com","permissions":["members"],"force":false}`
	req, _ := http.NewRequest(http.MethodPost, "http://h"+prefix+invPath(org), nil)
	req.Header.Set("Content-Type", "application/json")
	if err := spec.CheckRequest(req, []byte(body)); err != nil {
		t.Fatalf("the document refuses its own create: %v", err)
	}
	m := created(t, c.do(http.MethodPost, invPath(org), body))
	// 409 when an invitation for the invitee is pending; force replaces it.
	wantError(t, c.do(http.MethodPost, invPath(org), body), http.StatusConflict)
	f := created(t, c.do(http.MethodPost, invPath(org), strings.Replace(body, "false", "true", 1)))
	// Fields the create does not know are ignored, as a newer client may send them.
	created(t, c.do(http.MethodPost, invPath(org), `{"email":"new@example.com","permissions":[],"role":"admin"}`))

	list := items(t, c.do(http.MethodGet, invPath(org, "?page%5Bsize%5D=1&sort=-updated_at"), nil))
	if len(list) != 1 {
		t.Fatalf("page of 1: %v", list)
	}
	// Cancel: 204 and no body; an invitation_id that is no invitation's is
	// the document's 404, malformed or not.
	if r := c.do(http.MethodDelete, invPath(org, "/", f["id"].(string)), nil); r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("cancel: %d %q", r.Status, r.Body)
	}
	for _, id := range []string{uuid.NewString(), "12", "not-an-id", strings.ToUpper(uuid.NewString())[:35]} {
		wantError(t, c.do(http.MethodDelete, invPath(org, "/", id), nil), http.StatusNotFound)
	}
	// The old one was cancelled by force; cancelling it again is a conflict.
	wantError(t, c.do(http.MethodDelete, invPath(org, "/", m["id"].(string)), nil), http.StatusConflict)
}

func storedInviter(t *testing.T, env *compattest.Env, org invite.OrgID, created map[string]any) invite.Inviter {
	t.Helper()
	inv, err := env.Svc.GetInvitation(compattest.System, org, invite.InvitationRef{ID: uuid.MustParse(created["id"].(string))})
	if err != nil {
		t.Fatal(err)
	}
	return inv.Inviter
}

// A create with the configured admin key, which is no stored key, records
// no inviter: the invitee is not told that a key invited them. The owner is
// the organization, under its name, in the create's answer and in the list.
func TestConfiguredAdminKeyIsNoInviter(t *testing.T) {
	env, c := setup(t, nil)
	org := env.Org.ID
	m := created(t, c.as(compattest.ConfiguredAdminKey).do(http.MethodPost, invPath(org), map[string]any{"email": "cfg@example.com", "permissions": []string{}}))
	if in := storedInviter(t, env, org, m); in != (invite.Inviter{}) {
		t.Errorf("stored inviter %+v, want none", in)
	}
	want := map[string]any{"id": derived("organization:" + org.String()), "display_name": env.Org.Name}
	if o := m["owner"].(map[string]any); o["id"] != want["id"] || o["display_name"] != want["display_name"] {
		t.Errorf("create answered owner %v, want %v", o, want)
	}
	if o := listOwners(t, c, org)["cfg@example.com"]; o["id"] != want["id"] || o["display_name"] != want["display_name"] {
		t.Errorf("list answered owner %v, want %v", o, want)
	}
}

// HEAD is answered as GET, without a body. A body must be sent as JSON:
// one sent as a form or text (as a cross-site form may send it) or with
// no Content-Type is 415, and creates nothing.
func TestHeadAndContentType(t *testing.T) {
	env, c := setup(t, nil)
	org := env.Org.ID
	auth := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+c.token) }
	env.Invite(t, org, invite.CreateInvitation{Email: "a@example.com"})
	r := compattest.Do(t, http.MethodHead, c.base+invPath(org), nil, auth)
	if r.Status != http.StatusOK || len(r.Body) != 0 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Errorf("HEAD list: %d %q %q", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	r = compattest.Do(t, http.MethodHead, c.base+invPath(org, "/", uuid.NewString()), nil, auth)
	if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "DELETE" {
		t.Errorf("HEAD of an invitation: %d, Allow %q", r.Status, r.Header.Get("Allow"))
	}
	for i, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "", "application/json; charset=utf-8", "application/vnd.api+json"} {
		body := fmt.Sprintf(`{"email":"ct-%d@example.com","permissions":[]}`, i)
		set := func(r *http.Request) {
			auth(r)
			if ct == "" {
				r.Header.Del("Content-Type")
			} else {
				r.Header.Set("Content-Type", ct)
			}
		}
		if !strings.Contains(ct, "json") {
			if r := compattest.Do(t, http.MethodPost, c.base+invPath(org), body, set); r.Status != http.StatusUnsupportedMediaType {
				t.Errorf("a body sent as %q: %d, want 415: %s", ct, r.Status, r.Body)
			}
			continue
		}
		created(t, c.send(http.MethodPost, invPath(org), body, set))
	}
	if n, err := env.Svc.FindInvitations(compattest.System, invite.InvitationFilter{Org: org, Limit: 10}); err != nil || len(n) != 3 {
		t.Errorf("%d invitations, %v; want the first and the two sent as JSON", len(n), err)
	}
}
