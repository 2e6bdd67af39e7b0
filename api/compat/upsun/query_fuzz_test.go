package upsun

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
)

// The list's query parser, as a client may call it: it never panics, what
// it takes is within bounds, and a query written from what it read reads
// the same.
func FuzzParseList(f *testing.F) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	cursor := invite.EncodeCursor("updated_at", invite.Position{Time: at, Number: 3})
	for _, s := range []string{
		"", "filter[state]=pending,accepted", "filter[state][in]=cancelled,error&filter[state][ne]=error",
		"filter[state][eq]=processing", "filter[state][nin]=pending&sort=-updated_at&page[size]=5",
		"sort=updated_at&page[after]=" + cursor, "page[before]=" + cursor + "&sort=updated_at", "page[size]=2.0",
		"filter[state][contains]=p", "filter[email]=x", "page[after]=%%%", "page[size]=1&page[size]=2", "sort[x]=1",
	} {
		f.Add(s)
	}
	org := invite.OrgID{}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return // the server refuses it before the surface
		}
		lq, p := parseList(q, org)
		if p != nil {
			if p.Status != 400 || p.Message == "" {
				t.Fatalf("%q refused as %+v", raw, p)
			}
			return
		}
		if lq.size < 1 || lq.size > MaxPageSize || !slices.Contains([]string{"created_at", "updated_at", "-updated_at"}, lq.sortName) ||
			(lq.after != nil && lq.before != nil) || lq.none != (len(lq.filter.States) == 0) {
			t.Fatalf("%q read as %+v", raw, lq)
		}
		again, p := parseList(canonical(lq), org)
		if p != nil {
			t.Fatalf("%q read as %+v, written as %q, which is refused: %v", raw, lq, canonical(lq).Encode(), p)
		}
		if !sameList(lq, again) {
			t.Fatalf("%q read as %+v, written as %q, read as %+v", raw, lq, canonical(lq).Encode(), again)
		}
	})
}

// canonical writes lq back as a query: its states in Upsun's names, its
// size, sort and cursor.
func canonical(lq *listQuery) url.Values {
	q := url.Values{}
	var names []string
	for _, s := range lq.filter.States {
		if n := State(s); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if lq.none {
		names = []string{StateProcessing}
	}
	q.Set(paramState+"[in]", strings.Join(names, ","))
	q.Set(paramSize, strconv.Itoa(lq.size))
	if lq.sortName != "created_at" {
		q.Set(paramSort, lq.sortName)
	}
	if lq.after != nil {
		q.Set(paramAfter, invite.EncodeCursor(lq.sortName, *lq.after))
	}
	if lq.before != nil {
		q.Set(paramBefore, invite.EncodeCursor(lq.sortName, *lq.before))
	}
	return q
}

func sameList(a, b *listQuery) bool {
	sa, sb := slices.Clone(a.filter.States), slices.Clone(b.filter.States)
	slices.Sort(sa)
	slices.Sort(sb)
	samePos := func(x, y *invite.Position) bool {
		return (x == nil) == (y == nil) && (x == nil || (x.Time.Equal(y.Time) && x.Number == y.Number))
	}
	return slices.Equal(sa, sb) && a.none == b.none && a.size == b.size && a.sortName == b.sortName &&
		a.filter.Sort == b.filter.Sort && a.filter.Desc == b.filter.Desc && samePos(a.after, b.after) && samePos(a.before, b.before)
}
