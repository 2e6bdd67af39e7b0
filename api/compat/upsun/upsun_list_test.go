package upsun_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/api/compat/internal/compattest"
	"github.com/invitd/invitd/api/compat/upsun"
	"github.com/invitd/invitd/invite"
)

func TestStateMapping(t *testing.T) {
	clock := compattest.NewClock(time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC))
	env, c := setup(t, clock)
	ctx := compattest.System
	mk := func(email string) *invite.Invitation {
		return env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: email})
	}
	expired := mk("expired@example.com")
	clock.Add(invite.DefaultTTL + time.Hour)
	pending := mk("pending@example.com")
	accepted := mk("accepted@example.com")
	if _, _, err := env.Svc.AcceptInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: accepted.ID}, invite.Accept{Email: "accepted@example.com"}); err != nil {
		t.Fatal(err)
	}
	declined := mk("declined@example.com")
	if _, err := env.Svc.DeclineInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: declined.ID}); err != nil {
		t.Fatal(err)
	}
	cancelled := mk("cancelled@example.com")
	if _, err := env.Svc.CancelInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: cancelled.ID}); err != nil {
		t.Fatal(err)
	}
	failed, err := env.Svc.CreateInvitation(ctx, env.Org.ID, invite.CreateInvitation{Email: "failed@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	// The mail is given up, as the job runner records it.
	jobs, err := env.Svc.ClaimJobs(ctx, "test", []string{invite.JobSendInvitation}, 10, time.Minute)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("jobs %v, %v", jobs, err)
	}
	if err := env.Svc.SettleJob(ctx, jobs[0], invite.JobResult{Outcome: invite.Failed, Error: "mailbox does not exist"}); err != nil {
		t.Fatal(err)
	}

	want := map[string][]string{
		"":                   {pending.ID.String()},
		"pending":            {pending.ID.String()},
		"processing":         nil,
		"accepted":           {accepted.ID.String()},
		"cancelled":          {expired.ID.String(), declined.ID.String(), cancelled.ID.String()},
		"error":              {failed.Invitation.ID.String()},
		"pending,error":      {pending.ID.String(), failed.Invitation.ID.String()},
		"[eq]=accepted":      {accepted.ID.String()},
		"[in]=pending,error": {pending.ID.String(), failed.Invitation.ID.String()},
		"[ne]=pending":       {expired.ID.String(), accepted.ID.String(), declined.ID.String(), cancelled.ID.String(), failed.Invitation.ID.String()},
	}
	for q, w := range want {
		t.Run("state "+q, func(t *testing.T) {
			p := invPath(env.Org.ID)
			switch {
			case strings.HasPrefix(q, "["):
				p += "?filter[state]" + q
			case q != "":
				p += "?filter[state]=" + q
			}
			got := items(t, c.do(http.MethodGet, p, nil))
			if !slices.Equal(ids(got), w) {
				t.Fatalf("got %v, want %v", ids(got), w)
			}
			for _, it := range got {
				if s := it["state"].(string); strings.Contains(q, "[ne]") == strings.Contains(q, s) && (q != "" || s != "pending") {
					t.Errorf("item in state %s listed for %q", s, q)
				}
			}
		})
	}
	for _, q := range []string{"declined", "expired", "PENDING", "all", "pending,bogus"} {
		wantError(t, c.do(http.MethodGet, invPath(env.Org.ID, "?filter[state]="+q), nil), http.StatusBadRequest)
	}
}

// walk follows rel links from first until there are none, returning every
// page's ids in the order of the list.
func walk(t *testing.T, c *client, first, rel string) (pages [][]string) {
	t.Helper()
	u := first
	for range 1000 {
		r := c.do(http.MethodGet, u, nil)
		pages = append(pages, ids(items(t, r)))
		l := links(t, r)
		for _, v := range l {
			if !strings.HasPrefix(v, c.base+"/organizations/") {
				t.Fatalf("link %q is not under %s", v, c.base)
			}
		}
		next, ok := l[rel]
		if !ok {
			return pages
		}
		u = next
	}
	t.Fatal("no end to the list")
	return nil
}

func TestCursorPaging(t *testing.T) {
	start := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	clock := compattest.NewClock(start)
	env, c := setup(t, clock)
	ctx := compattest.System
	const total = 250
	var all []*invite.Invitation
	for i := range total {
		// Groups of three share a timestamp, so order falls back to the tie-break.
		clock.Set(start.Add(time.Duration(i/3) * time.Second))
		all = append(all, env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: fmt.Sprintf("u%03d@example.com", i), Permissions: []string{"projects:list"}}))
	}
	// Resend some, latest first, so updated_at order differs from creation order.
	clock.Set(start.Add(time.Hour))
	for i := total - 1; i >= 0; i -= 7 {
		clock.Add(time.Second)
		if _, err := env.Svc.ResendInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: all[i].ID}); err != nil {
			t.Fatal(err)
		}
	}
	// Finished invitations are not in the default list.
	clock.Add(time.Second)
	extra := env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "extra@example.com"})
	if _, err := env.Svc.CancelInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: extra.ID}); err != nil {
		t.Fatal(err)
	}

	fresh := make([]*invite.Invitation, total)
	for i, inv := range all {
		got, err := env.Svc.GetInvitation(ctx, env.Org.ID, invite.InvitationRef{ID: inv.ID})
		if err != nil {
			t.Fatal(err)
		}
		fresh[i] = got
	}
	order := func(less func(a, b *invite.Invitation) bool) []string {
		s := slices.Clone(fresh)
		sort.SliceStable(s, func(i, j int) bool { return less(s[i], s[j]) })
		var out []string
		for _, inv := range s {
			out = append(out, inv.ID.String())
		}
		return out
	}
	byUpdated := func(a, b *invite.Invitation) bool {
		if !a.UpdatedAt.Equal(b.UpdatedAt) {
			return a.UpdatedAt.Before(b.UpdatedAt)
		}
		return a.Number < b.Number
	}
	created := order(func(a, b *invite.Invitation) bool {
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.Number < b.Number
	})
	updated := order(byUpdated)
	if slices.Equal(created, updated) {
		t.Fatal("the orders do not differ; the test proves nothing")
	}
	downdated := slices.Clone(updated)
	slices.Reverse(downdated)

	for _, tt := range []struct {
		sort string
		want []string
	}{{"", created}, {"updated_at", updated}, {"-updated_at", downdated}} {
		for _, size := range []int{7, 64, 100} {
			t.Run(fmt.Sprintf("sort=%s size=%d", tt.sort, size), func(t *testing.T) {
				q := url.Values{"page[size]": {fmt.Sprint(size)}}
				if tt.sort != "" {
					q.Set("sort", tt.sort)
				}
				first := invPath(env.Org.ID, "?"+q.Encode())
				fwd := walk(t, c, first, "next")
				if got := slices.Concat(fwd...); !slices.Equal(got, tt.want) {
					t.Fatalf("forward: %d ids, want %d in order", len(got), len(tt.want))
				}
				for i, p := range fwd {
					if len(p) != size && (i != len(fwd)-1 || len(p) == 0) {
						t.Fatalf("page %d has %d items", i, len(p))
					}
				}
				r := c.do(http.MethodGet, first, nil)
				if _, ok := links(t, r)["prev"]; ok {
					t.Errorf("first page has a prev link")
				}
				// From the last page back to the first by prev links.
				lastURL := first
				for range len(fwd) - 1 {
					lastURL = links(t, c.do(http.MethodGet, lastURL, nil))["next"]
				}
				back := walk(t, c, lastURL, "prev")
				slices.Reverse(back)
				if !slices.EqualFunc(back, fwd, slices.Equal[[]string]) {
					t.Fatalf("backward pages differ from forward pages")
				}
			})
		}
	}

	// The default page size is 100.
	r := c.do(http.MethodGet, invPath(env.Org.ID), nil)
	if n := len(items(t, r)); n != upsun.DefaultPageSize {
		t.Errorf("default page has %d items", n)
	}
	next := links(t, r)["next"]
	nu, err := url.Parse(next)
	if err != nil || nu.Query().Get("page[after]") == "" {
		t.Fatalf("next link %q", next)
	}
	// A cursor made for one sort is refused by another.
	wantError(t, c.do(http.MethodGet, invPath(env.Org.ID, "?sort=updated_at&page[after]="+url.QueryEscape(nu.Query().Get("page[after]"))), nil), http.StatusBadRequest)
	// Paging past the end: an empty page that links back.
	lastID := created[len(created)-1]
	var lastInv *invite.Invitation
	for _, inv := range fresh {
		if inv.ID.String() == lastID {
			lastInv = inv
		}
	}
	cur := invite.EncodeCursor("created_at", invite.PositionOf(lastInv, invite.SortCreatedAt))
	r = c.do(http.MethodGet, invPath(env.Org.ID, "?page[after]="+cur), nil)
	if got := items(t, r); len(got) != 0 {
		t.Errorf("past the end: %d items", len(got))
	}
	if l := links(t, r); l["next"] != "" || l["prev"] == "" {
		t.Errorf("links past the end: %v", l)
	}
}

func TestListRejectsBadParameters(t *testing.T) {
	env, c := setup(t, nil)
	env.Invite(t, env.Org.ID, invite.CreateInvitation{Email: "a@example.com"})
	for _, q := range []string{
		"page[size]=0", "page[size]=101", "page[size]=-5", "page[size]=ten", "page[size]=1.5",
		"sort=created_at", "sort=-created_at", "sort=email", "sort=updated_at,-updated_at",
		"page[after]=garbage", "page[before]=%7B%7D", "page[after]=eyJzIjoiY3JlYXRlZF9hdCJ9",
		"page[after]=x&page[before]=y",
	} {
		t.Run(q, func(t *testing.T) {
			wantError(t, c.do(http.MethodGet, invPath(env.Org.ID, "?"+q), nil), http.StatusBadRequest)
		})
	}
	for _, q := range []string{"page[size]=1", "page[size]=100", "page[size]=", "sort=updated_at", "sort=-updated_at"} {
		if got := items(t, c.do(http.MethodGet, invPath(env.Org.ID, "?"+q), nil)); len(got) != 1 {
			t.Errorf("%s: %d items", q, len(got))
		}
	}
	r := c.do(http.MethodGet, invPath(env.Org.ID, "/"+uuid.NewString()), nil)
	wantError(t, r, http.StatusMethodNotAllowed)
	if r.Header.Get("Allow") != "DELETE" {
		t.Errorf("Allow %q", r.Header.Get("Allow"))
	}
	wantError(t, c.do(http.MethodPut, invPath(env.Org.ID), "{}"), http.StatusMethodNotAllowed)
	wantError(t, c.do(http.MethodGet, "/organizations", nil), http.StatusNotFound)
}
