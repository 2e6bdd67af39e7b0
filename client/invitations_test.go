package client_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/invitd/invitd/client"
)

func TestInvitations(t *testing.T) {
	e := start(t)
	noMail := client.Ptr(false)
	var ids []string
	for i := range 7 {
		inv, err := e.c.CreateInvitation(e.ctx, e.org, client.CreateInvitation{Email: fmt.Sprintf("p%d@example.com", i),
			Role: "admin", Permissions: []string{"billing"}, Inviter: &client.Inviter{ID: "u1", Name: "Ada"},
			Metadata: map[string]any{"n": i}, SendEmail: noMail})
		ok(t, err)
		if inv.State != "pending" || inv.Role != "admin" || inv.Inviter.Name != "Ada" || inv.ExpiresAt.Before(inv.CreatedAt) ||
			!strings.HasPrefix(inv.AcceptURL, e.url+"/i/") || string(inv.Metadata) != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("created %+v", inv)
		}
		ids = append(ids, inv.ID)
	}
	// The list walks pages of 3 and gives each invitation once, newest first.
	all := collect(t, e.c.Invitations(e.ctx, e.org, client.ListInvitations{Limit: 3}))
	if len(all) != 7 || all[0].ID != ids[6] || all[6].ID != ids[0] {
		t.Fatalf("listed %d, first %s last %s", len(all), all[0].ID, all[len(all)-1].ID)
	}
	// Stopping early stops the walk.
	n := 0
	for range e.c.Invitations(e.ctx, e.org, client.ListInvitations{Limit: 2}) {
		if n++; n == 3 {
			break
		}
	}
	got, err := e.c.GetInvitation(e.ctx, e.org, ids[0])
	ok(t, err)
	if got.Email != "p0@example.com" || got.Delivery == nil || got.Delivery.State != "none" {
		t.Fatalf("get %+v", got)
	}
	c, err := e.c.CancelInvitation(e.ctx, e.org, ids[1])
	ok(t, err)
	if c.State != "cancelled" || c.FinishedAt == nil {
		t.Fatalf("cancel %+v", c)
	}
	r, err := e.c.ResendInvitation(e.ctx, e.org, ids[2])
	ok(t, err)
	if r.SendCount != 1 {
		t.Fatalf("resend %+v", r)
	}
	d, err := e.c.DeclineInvitation(e.ctx, e.org, ids[3])
	ok(t, err)
	if d.State != "declined" {
		t.Fatalf("decline %+v", d)
	}
	a, err := e.c.AcceptInvitation(e.ctx, e.org, ids[4], "p4@example.com", "Pat")
	ok(t, err)
	if a.Invitation.State != "accepted" || a.Member == nil || a.Member.Name != "Pat" || a.Member.InvitationID == nil || *a.Member.InvitationID != ids[4] {
		t.Fatalf("accept %+v", a)
	}
	pending := collect(t, e.c.Invitations(e.ctx, e.org, client.ListInvitations{State: "pending", Sort: "created_at"}))
	if len(pending) != 4 || pending[0].ID != ids[0] || pending[1].ID != ids[2] {
		t.Fatalf("pending %d", len(pending))
	}
	if byEmail := collect(t, e.c.Invitations(e.ctx, e.org, client.ListInvitations{Email: "p5@example.com"})); len(byEmail) != 1 || byEmail[0].ID != ids[5] {
		t.Fatalf("by email %v", byEmail)
	}
	// The address's invitations in every organization (admin key).
	other, err := e.admin.CreateOrganization(e.ctx, "Other", nil)
	ok(t, err)
	_, err = e.admin.CreateInvitation(e.ctx, other.ID, client.CreateInvitation{Email: "p0@example.com", SendEmail: noMail})
	ok(t, err)
	if mine := collect(t, e.admin.AddressInvitations(e.ctx, "p0@example.com", "pending", 1)); len(mine) != 2 {
		t.Fatalf("the address's invitations: %d", len(mine))
	}
	// Its events, oldest first.
	evs := collect(t, e.c.InvitationEvents(e.ctx, e.org, ids[1], client.ListEvents{Limit: 1}))
	if len(evs) != 2 || evs[0].Type != "invitation.created" || evs[1].Type != "invitation.cancelled" {
		t.Fatalf("events %v", evs)
	}
	// Errors carry the server's problem.
	_, err = e.c.CreateInvitation(e.ctx, e.org, client.CreateInvitation{Email: "p0@example.com", SendEmail: noMail})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 409 || !strings.Contains(ce.Detail, "pending") {
		t.Fatalf("a second pending invitation: %v", err)
	}
	_, err = e.c.CreateInvitation(e.ctx, e.org, client.CreateInvitation{Email: "not an address"})
	if !errors.As(err, &ce) || ce.Status != 422 || !strings.Contains(err.Error(), "422") {
		t.Fatalf("a bad address: %v", err)
	}
}

func TestTokenCalls(t *testing.T) {
	e := start(t)
	anon := client.New(e.url, "")
	mk := func(email string) string {
		inv, err := e.c.CreateInvitation(e.ctx, e.org, client.CreateInvitation{Email: email, SendEmail: client.Ptr(false)})
		ok(t, err)
		return strings.TrimPrefix(inv.AcceptURL, e.url+"/i/")
	}
	tok := mk("grace@example.com")
	v, err := anon.GetByToken(e.ctx, tok)
	ok(t, err)
	if v.Email != "grace@example.com" || v.State != "pending" || v.Organization.ID != e.org {
		t.Fatalf("by token %+v", v)
	}
	v, err = anon.AcceptByToken(e.ctx, tok, "Grace")
	ok(t, err)
	if v.State != "accepted" || v.MemberID == "" {
		t.Fatalf("accept by token %+v", v)
	}
	v, err = anon.DeclineByToken(e.ctx, mk("bob@example.com"))
	ok(t, err)
	if v.State != "declined" {
		t.Fatalf("decline by token %+v", v)
	}
	if _, err := anon.GetByToken(e.ctx, strings.Repeat("A", 64)); !client.IsNotFound(err) {
		t.Fatalf("an unknown token: %v", err)
	}
}

func TestBulk(t *testing.T) {
	e := start(t)
	rows := []client.CreateInvitation{{Email: "a@example.com"}, {Email: "bad"}, {Email: "a@example.com"}}
	dry, err := e.c.BulkCreate(e.ctx, e.org, rows, client.BulkOptions{DryRun: true})
	ok(t, err)
	if !dry.DryRun || dry.Created != 1 || dry.Errors != 1 || dry.Skipped != 1 {
		t.Fatalf("dry run %+v", dry)
	}
	if n := len(collect(t, e.c.Invitations(e.ctx, e.org, client.ListInvitations{}))); n != 0 {
		t.Fatalf("a dry run stored %d", n)
	}
	b, err := e.c.BulkCreate(e.ctx, e.org, rows, client.BulkOptions{IdempotencyKey: "bulk-1"})
	ok(t, err)
	if b.Created != 1 || b.Results[0].Invitation == nil || b.Results[1].Error == nil || b.Results[1].Error.Status != 422 || b.Results[2].Status != "skipped" {
		t.Fatalf("bulk %+v", b)
	}
	again, err := e.c.BulkCreate(e.ctx, e.org, rows, client.BulkOptions{IdempotencyKey: "bulk-1"})
	ok(t, err)
	if again.Results[0].Invitation.ID != b.Results[0].Invitation.ID {
		t.Fatal("a replay with the same key made another invitation")
	}
	csv, err := e.c.BulkCreateCSV(e.ctx, e.org, []byte("email,role\nc1@example.com,admin\nc2@example.com,nobody\n"), client.BulkOptions{})
	ok(t, err)
	if csv.Created != 1 || csv.Results[0].Invitation.Role != "admin" || csv.Results[1].Status != "error" {
		t.Fatalf("csv %+v", csv)
	}
	_, err = e.c.BulkCreateCSV(e.ctx, e.org, []byte("email,colour\nx@example.com,red\n"), client.BulkOptions{})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 422 || !strings.Contains(ce.Detail, "colour") {
		t.Fatalf("a bad header: %v", err)
	}
}
