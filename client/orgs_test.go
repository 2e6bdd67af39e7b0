package client_test

import (
	"errors"
	"testing"

	"github.com/invitd/invitd/client"
)

func TestOrganizations(t *testing.T) {
	e := start(t)
	for _, name := range []string{"B", "C", "D", "E"} {
		_, err := e.admin.CreateOrganization(e.ctx, name, nil)
		ok(t, err)
	}
	// Five organizations over pages of two: each once, in the server's order.
	orgs := collect(t, e.admin.Organizations(e.ctx, 2))
	if len(orgs) != 5 {
		t.Fatalf("%d organizations, want 5", len(orgs))
	}
	seen := map[string]bool{}
	for _, o := range orgs {
		if seen[o.ID] {
			t.Fatalf("%s listed twice", o.ID)
		}
		seen[o.ID] = true
	}
	o, err := e.c.UpdateOrganization(e.ctx, e.org, "Acme Inc", &client.SettingsUpdate{MaxMembers: client.Ptr(5), DisplayName: client.Ptr("Acme Cloud")})
	ok(t, err)
	if o.Name != "Acme Inc" || o.Settings.MaxMembers != 5 || o.Settings.DisplayName != "Acme Cloud" {
		t.Fatalf("updated %+v", o)
	}
	got, err := e.c.GetOrganization(e.ctx, e.org)
	ok(t, err)
	if got.Seats == nil || got.Seats.Limit != 5 || got.CreatedAt.IsZero() || got.Settings.DefaultRole != "member" {
		t.Fatalf("get %+v seats %+v", got, got.Seats)
	}
	// An organization's key does not see another: a problem, as an *Error.
	other := ""
	for _, o := range orgs {
		if o.Name == "B" {
			other = o.ID
		}
	}
	_, err = e.c.GetOrganization(e.ctx, other)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 404 || ce.Title != "Not Found" || ce.Detail == "" || !client.IsNotFound(err) {
		t.Fatalf("another organization: %v", err)
	}
	_, err = e.c.UpdateOrganization(e.ctx, e.org, "", &client.SettingsUpdate{BrandColor: client.Ptr("red")})
	if !errors.As(err, &ce) || ce.Status != 422 || ce.Detail == "" {
		t.Fatalf("a bad colour: %v", err)
	}
	victim, err := e.admin.CreateOrganization(e.ctx, "Gone", nil)
	ok(t, err)
	if err := e.admin.DeleteOrganization(e.ctx, victim.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.GetOrganization(e.ctx, victim.ID); !client.IsNotFound(err) {
		t.Fatalf("a deleted organization: %v", err)
	}
}
