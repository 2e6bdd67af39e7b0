package client_test

import (
	"fmt"
	"testing"

	"github.com/invitd/invitd/client"
)

func TestEvents(t *testing.T) {
	e := start(t)
	for i := range 5 {
		_, err := e.c.CreateInvitation(e.ctx, e.org, client.CreateInvitation{Email: fmt.Sprintf("e%d@example.com", i), SendEmail: client.Ptr(false)})
		ok(t, err)
	}
	all := collect(t, e.c.Events(e.ctx, e.org, client.ListEvents{Limit: 2}))
	created := collect(t, e.c.Events(e.ctx, e.org, client.ListEvents{Types: []string{"invitation.created"}, Limit: 2}))
	if len(created) != 5 || len(all) < 6 {
		t.Fatalf("%d events, %d invitation.created", len(all), len(created))
	}
	for i := 1; i < len(all); i++ {
		if all[i].CreatedAt.Before(all[i-1].CreatedAt) {
			t.Fatal("the log is not oldest first")
		}
	}
	// A consumer keeps the cursor and finds only what is newer.
	page, cursor, err := e.c.EventsPage(e.ctx, e.org, client.ListEvents{Limit: 100})
	ok(t, err)
	if len(page) != len(all) || cursor == "" {
		t.Fatalf("page of %d, cursor %q", len(page), cursor)
	}
	_, err = e.c.CreateInvitation(e.ctx, e.org, client.CreateInvitation{Email: "late@example.com", SendEmail: client.Ptr(false)})
	ok(t, err)
	newer := collect(t, e.c.Events(e.ctx, e.org, client.ListEvents{After: cursor}))
	if len(newer) != 1 || newer[0].Type != "invitation.created" || newer[0].Actor.Type != "api_key" {
		t.Fatalf("newer %+v", newer)
	}
	one, err := e.c.GetEvent(e.ctx, e.org, newer[0].ID)
	ok(t, err)
	if one.ID != newer[0].ID || len(one.Data) == 0 {
		t.Fatalf("get %+v", one)
	}
}
