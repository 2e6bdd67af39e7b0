package invite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/store/sqlite"
)

// An update that leaves a member as it is writes nothing: no event (so no
// webhook delivery), the same updated_at, the member answered as it is.
// One that changes something is recorded once.
func TestUpdateMemberThatChangesNothing(t *testing.T) {
	ctx := invite.WithPrincipal(context.Background(), invite.System)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "invitd.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	svc, err := invite.NewService(st, invite.Config{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	o, err := svc.CreateOrg(ctx, "Acme", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: "ann@example.com", Role: "admin",
		Permissions: []string{"billing", "members"}, NoEmail: true})
	if err != nil {
		t.Fatal(err)
	}
	_, m, err := svc.AcceptInvitation(ctx, o.ID, invite.InvitationRef{ID: res.Invitation.ID}, invite.Accept{Email: "ann@example.com", Name: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		t.Helper()
		p, err := svc.ListEvents(ctx, o.ID, invite.EventParams{Types: []string{invite.EventMemberUpdated}, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Items)
	}
	now = now.Add(time.Hour)
	name, role, spaced := "Ann", "admin", "  Ann "
	perms, twice := []string{"billing", "members"}, []string{"billing", "members", "billing"}
	for what, p := range map[string]invite.MemberPatch{
		"nothing":               {},
		"the same name":         {Name: &name},
		"the same name, spaced": {Name: &spaced},
		"the same role":         {Role: &role},
		"the same permissions":  {Permissions: &perms},
		"permissions twice":     {Permissions: &twice},
		"all the same":          {Name: &name, Role: &role, Permissions: &perms},
	} {
		u, err := svc.UpdateMember(ctx, o.ID, m.ID, p)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if u.Name != "Ann" || u.Role != "admin" || !u.UpdatedAt.Equal(m.UpdatedAt) {
			t.Errorf("%s: answered %+v, want the member as it was (updated %v)", what, u, m.UpdatedAt)
		}
		if n := count(); n != 0 {
			t.Errorf("%s: %d member.updated events, want none", what, n)
		}
	}
	got, err := svc.GetMember(ctx, o.ID, m.ID)
	if err != nil || !got.UpdatedAt.Equal(m.UpdatedAt) {
		t.Fatalf("stored %+v, %v; want updated_at %v", got, err, m.UpdatedAt)
	}
	// A refused patch is still refused.
	bad := "emperor"
	if _, err := svc.UpdateMember(ctx, o.ID, m.ID, invite.MemberPatch{Role: &bad}); invite.ErrorKind(err) != invite.KindInvalid {
		t.Errorf("unknown role: %v", err)
	}
	member := "member"
	u, err := svc.UpdateMember(ctx, o.ID, m.ID, invite.MemberPatch{Role: &member, Name: &name})
	if err != nil || u.Role != "member" || !u.UpdatedAt.Equal(now) {
		t.Fatalf("a change: %+v, %v", u, err)
	}
	if n := count(); n != 1 {
		t.Errorf("a change recorded %d member.updated events, want 1", n)
	}
}
