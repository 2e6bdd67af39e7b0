package client_test

import (
	"fmt"
	"testing"

	"github.com/invitd/invitd/client"
)

func TestMembers(t *testing.T) {
	e := start(t)
	var ids []string
	for i := range 5 {
		inv, err := e.c.CreateInvitation(e.ctx, e.org, client.CreateInvitation{Email: fmt.Sprintf("m%d@example.com", i),
			Metadata: map[string]any{"team": "red"}, SendEmail: client.Ptr(false)})
		ok(t, err)
		a, err := e.c.AcceptInvitation(e.ctx, e.org, inv.ID, inv.Email, fmt.Sprintf("M%d", i))
		ok(t, err)
		ids = append(ids, a.Member.ID)
	}
	all := collect(t, e.c.Members(e.ctx, e.org, client.ListMembers{Limit: 2}))
	if len(all) != 5 || all[0].ID != ids[0] || all[4].ID != ids[4] || string(all[0].Metadata) != `{"team":"red"}` {
		t.Fatalf("members %d %+v", len(all), all[0])
	}
	m, err := e.c.UpdateMember(e.ctx, e.org, ids[1], client.MemberUpdate{Role: client.Ptr("admin"), Metadata: &map[string]any{"team": "blue"}})
	ok(t, err)
	if m.Role != "admin" || string(m.Metadata) != `{"team":"blue"}` {
		t.Fatalf("updated %+v", m)
	}
	if admins := collect(t, e.c.Members(e.ctx, e.org, client.ListMembers{Role: "admin"})); len(admins) != 1 || admins[0].ID != ids[1] {
		t.Fatalf("admins %v", admins)
	}
	got, err := e.c.GetMember(e.ctx, e.org, ids[2])
	ok(t, err)
	if got.Email != "m2@example.com" {
		t.Fatalf("get %+v", got)
	}
	ok(t, e.c.RemoveMember(e.ctx, e.org, ids[2]))
	if _, err := e.c.GetMember(e.ctx, e.org, ids[2]); !client.IsNotFound(err) {
		t.Fatalf("a removed member: %v", err)
	}
}
