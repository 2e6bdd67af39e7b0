package storetest

import (
	"cmp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/invite"
)

// ---- listing

type sortSpec struct {
	name  string
	field invite.SortField
	desc  bool
}

var sorts = []sortSpec{
	{"created_at", invite.SortCreatedAt, false},
	{"-created_at", invite.SortCreatedAt, true},
	{"updated_at", invite.SortUpdatedAt, false},
	{"-updated_at", invite.SortUpdatedAt, true},
}

// before tells whether a comes strictly before b in the order.
func (s sortSpec) before(a, b *invite.Invitation) bool {
	pa, pb := invite.PositionOf(a, s.field), invite.PositionOf(b, s.field)
	c := pa.Time.Compare(pb.Time)
	if c == 0 {
		c = cmp.Compare(pa.Number, pb.Number)
	}
	if s.desc {
		c = -c
	}
	return c < 0
}

func (s sortSpec) checkOrder(t *testing.T, what string, invs []*invite.Invitation) {
	t.Helper()
	for i := 1; i < len(invs); i++ {
		if !s.before(invs[i-1], invs[i]) {
			t.Fatalf("%s: %s is not in %s order at %d", what, ids(invs), s.name, i)
		}
	}
}

func testPaging(t *testing.T, e *env) {
	ctx := sys(t)
	o := e.org(t, nil)
	roles := []string{"member", "admin", "restricted"}
	var made []*invite.Invitation
	// Several invitations share a created_at so that the number breaks ties.
	for i := range 22 {
		if i%3 != 0 {
			e.clock.Advance(time.Second)
		}
		made = append(made, e.invite(t, o.ID, invite.CreateInvitation{Role: roles[i%3], NoEmail: true}).Invitation)
	}
	// Changes in another order, some in the same instant, so updated_at
	// orders differently from created_at.
	for i, k := range []int{17, 3, 11, 5, 0, 14, 20, 8} {
		if i%2 == 0 {
			e.clock.Advance(time.Second)
		}
		var err error
		if i%3 == 0 {
			_, err = e.svc.DeclineInvitation(ctx, o.ID, ref(made[k].ID))
		} else {
			_, err = e.svc.CancelInvitation(ctx, o.ID, ref(made[k].ID))
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	for _, s := range sorts {
		t.Run("keyset "+s.name, func(t *testing.T) {
			full := e.find(t, invite.InvitationFilter{Org: o.ID, Sort: s.field, Desc: s.desc})
			s.checkOrder(t, "full list", full)
			existing := map[uuid.UUID]bool{}
			for _, inv := range full {
				existing[inv.ID] = true
			}
			added := map[uuid.UUID]bool{}
			var seen []*invite.Invitation
			cur := ""
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("paging does not end")
				}
				page, err := e.svc.ListInvitations(ctx, o.ID, invite.ListParams{Sort: s.name, Limit: 4, Cursor: cur})
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Items) > 4 {
					t.Fatalf("page of %d with limit 4", len(page.Items))
				}
				seen = append(seen, page.Items...)
				if page.NextCursor == "" {
					break
				}
				if len(page.Items) != 4 {
					t.Fatalf("a short page of %d has a next cursor", len(page.Items))
				}
				cur = page.NextCursor
				// Someone invites between two pages.
				e.clock.Advance(time.Second)
				added[e.invite(t, o.ID, invite.CreateInvitation{NoEmail: true}).Invitation.ID] = true
			}
			s.checkOrder(t, "pages", seen)
			got := map[uuid.UUID]bool{}
			for _, inv := range seen {
				if got[inv.ID] {
					t.Fatalf("%s seen twice", inv.ID)
				}
				got[inv.ID] = true
			}
			for id := range existing {
				if !got[id] {
					t.Errorf("paging skipped %s", id)
				}
			}
			// Rows added meanwhile come after the cursor only in ascending order.
			for id := range added {
				if got[id] == s.desc {
					t.Errorf("row added while paging: seen=%v in %s order", got[id], s.name)
				}
			}
		})
	}

	t.Run("Before", func(t *testing.T) {
		for _, s := range sorts {
			full := e.find(t, invite.InvitationFilter{Org: o.ID, Sort: s.field, Desc: s.desc})
			// Walk back from the last row to the first, three at a time.
			var back []*invite.Invitation
			pos := invite.PositionOf(full[len(full)-1], s.field)
			for range 100 {
				page := e.find(t, invite.InvitationFilter{Org: o.ID, Sort: s.field, Desc: s.desc, Before: &pos, Limit: 3})
				if len(page) == 0 {
					break
				}
				s.checkOrder(t, "page before "+s.name, page)
				back = append(page, back...)
				pos = invite.PositionOf(page[0], s.field)
			}
			if want := ids(full[:len(full)-1]); !slices.Equal(ids(back), want) {
				t.Errorf("%s: paging backwards gave %v, want %v", s.name, ids(back), want)
			}
			mid := len(full) / 2
			pos = invite.PositionOf(full[mid], s.field)
			page := e.find(t, invite.InvitationFilter{Org: o.ID, Sort: s.field, Desc: s.desc, Before: &pos, Limit: 4})
			if want := ids(full[mid-4 : mid]); !slices.Equal(ids(page), want) {
				t.Errorf("%s: the 4 before row %d are %v, want %v", s.name, mid, ids(page), want)
			}
			page = e.find(t, invite.InvitationFilter{Org: o.ID, Sort: s.field, Desc: s.desc, After: &pos, Limit: 4})
			if want := ids(full[mid+1 : mid+5]); !slices.Equal(ids(page), want) {
				t.Errorf("%s: the 4 after row %d are %v, want %v", s.name, mid, ids(page), want)
			}
		}
	})

	t.Run("Offset", func(t *testing.T) {
		for _, s := range sorts {
			full := e.find(t, invite.InvitationFilter{Org: o.ID, Sort: s.field, Desc: s.desc})
			page := e.find(t, invite.InvitationFilter{Org: o.ID, Sort: s.field, Desc: s.desc, Offset: 5, Limit: 4})
			if want := ids(full[5:9]); !slices.Equal(ids(page), want) {
				t.Errorf("%s offset 5: %v, want %v", s.name, ids(page), want)
			}
			pos := invite.PositionOf(full[2], s.field)
			page = e.find(t, invite.InvitationFilter{Org: o.ID, Sort: s.field, Desc: s.desc, After: &pos, Offset: 2, Limit: 3})
			if want := ids(full[5:8]); !slices.Equal(ids(page), want) {
				t.Errorf("%s after row 2, offset 2: %v, want %v", s.name, ids(page), want)
			}
			page = e.find(t, invite.InvitationFilter{Org: o.ID, Sort: s.field, Desc: s.desc, Offset: len(full), Limit: 3})
			if len(page) != 0 {
				t.Errorf("%s offset past the end: %d rows", s.name, len(page))
			}
		}
	})

	t.Run("Filters", func(t *testing.T) {
		full := e.find(t, invite.InvitationFilter{Org: o.ID})
		by := func(keep func(*invite.Invitation) bool) []uuid.UUID {
			var out []uuid.UUID
			for _, inv := range full {
				if keep(inv) {
					out = append(out, inv.ID)
				}
			}
			slices.SortFunc(out, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
			return out
		}
		sorted := func(invs []*invite.Invitation) []uuid.UUID {
			out := ids(invs)
			slices.SortFunc(out, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
			return out
		}
		stateSets := [][]invite.State{
			{invite.StatePending}, {invite.StateCancelled}, {invite.StateDeclined},
			{invite.StatePending, invite.StateCancelled}, {invite.StateCancelled, invite.StateDeclined},
			{invite.StateAccepted}, {invite.StateAccepted, invite.StateExpired, invite.StateError},
		}
		for _, states := range stateSets {
			f := invite.InvitationFilter{Org: o.ID, States: states}
			want := by(func(inv *invite.Invitation) bool { return slices.Contains(states, inv.State) })
			if got := sorted(e.find(t, f)); !slices.Equal(got, want) {
				t.Errorf("states %v: %d rows, want %d", states, len(got), len(want))
			}
			if n := e.count(t, f); n != len(want) {
				t.Errorf("count of states %v = %d, want %d", states, n, len(want))
			}
		}
		for _, role := range roles {
			f := invite.InvitationFilter{Org: o.ID, Role: role, States: []invite.State{invite.StatePending}}
			want := by(func(inv *invite.Invitation) bool { return inv.Role == role && inv.State == invite.StatePending })
			if len(want) == 0 {
				t.Fatalf("no pending %s to filter", role)
			}
			if got := sorted(e.find(t, f)); !slices.Equal(got, want) {
				t.Errorf("role %s pending: %v, want %v", role, got, want)
			}
			if n := e.count(t, f); n != len(want) {
				t.Errorf("count of role %s = %d", role, n)
			}
		}
		target := made[5]
		page, err := e.svc.ListInvitations(ctx, o.ID, invite.ListParams{Email: "  " + strings.ToUpper(target.Email) + " "})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 || page.Items[0].ID != target.ID {
			t.Errorf("by email: %v", ids(page.Items))
		}
		page, err = e.svc.ListInvitations(ctx, o.ID, invite.ListParams{State: "cancelled", Role: target.Role})
		if err != nil {
			t.Fatal(err)
		}
		want := by(func(inv *invite.Invitation) bool {
			return inv.State == invite.StateCancelled && inv.Role == target.Role
		})
		if got := sorted(page.Items); !slices.Equal(got, want) {
			t.Errorf("cancelled %s: %v, want %v", target.Role, got, want)
		}
		if n := e.count(t, invite.InvitationFilter{Org: o.ID}); n != len(full) {
			t.Errorf("count of all = %d, want %d", n, len(full))
		}
		if got, err := e.svc.FindInvitations(ctx, invite.InvitationFilter{Org: invite.NewOrgID(), Limit: 10}); invite.ErrorKind(err) != invite.KindNotFound || len(got) != 0 {
			t.Errorf("an unknown org lists %d invitations, %v; want NotFound", len(got), err)
		}
		// A filter that matches nothing in a real org is an empty list, not NotFound.
		if got := e.find(t, invite.InvitationFilter{Org: o.ID, Email: "nobody@example.com"}); len(got) != 0 {
			t.Errorf("an unmatched filter lists %d invitations", len(got))
		}
	})

	t.Run("Parameters", func(t *testing.T) {
		page, err := e.svc.ListInvitations(ctx, o.ID, invite.ListParams{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != invite.DefaultLimit || page.NextCursor == "" {
			t.Errorf("default page: %d items, cursor %q", len(page.Items), page.NextCursor)
		}
		sorts[1].checkOrder(t, "default order", page.Items)
		full := e.find(t, invite.InvitationFilter{Org: o.ID, Sort: invite.SortCreatedAt, Desc: true})
		if !slices.Equal(ids(page.Items), ids(full[:invite.DefaultLimit])) {
			t.Error("the default page is not the newest invitations")
		}
		// A cursor is bound to its sort; the default sort is -created_at.
		next, err := e.svc.ListInvitations(ctx, o.ID, invite.ListParams{Sort: "-created_at", Cursor: page.NextCursor})
		if err != nil {
			t.Fatalf("a default-sort cursor with -created_at: %v", err)
		}
		if len(next.Items) == 0 || next.Items[0].ID != full[invite.DefaultLimit].ID {
			t.Error("the second page does not follow the first")
		}
		for _, other := range []string{"created_at", "updated_at", "-updated_at"} {
			_, err = e.svc.ListInvitations(ctx, o.ID, invite.ListParams{Sort: other, Cursor: page.NextCursor})
			wantKind(t, err, invite.KindInvalid, "cursor")
		}
		bad := map[string]invite.ListParams{
			"cursor":  {Cursor: "not a cursor"},
			"limit":   {Limit: invite.MaxLimit + 1},
			"sort":    {Sort: "email"},
			"state":   {State: "open"},
			"email":   {Email: "not-an-email"},
			"limit ":  {Limit: -1},
			"cursor ": {Cursor: invite.EncodeCursor("-created_at", invite.Position{Time: e.now()})},
		}
		for word, p := range bad {
			_, err := e.svc.ListInvitations(ctx, o.ID, p)
			wantKind(t, err, invite.KindInvalid, strings.TrimSpace(word))
		}
		max, err := e.svc.ListInvitations(ctx, o.ID, invite.ListParams{Limit: invite.MaxLimit})
		if err != nil || len(max.Items) != min(invite.MaxLimit, len(full)) {
			t.Errorf("limit %d: %d items, %v", invite.MaxLimit, len(max.Items), err)
		}
		_, err = e.svc.ListInvitations(ctx, invite.NewOrgID(), invite.ListParams{})
		wantKind(t, err, invite.KindNotFound)
	})
}
