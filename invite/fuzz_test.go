package invite_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/invitd/invitd/invite"
)

// The decoders of what callers send: none may panic, and what one accepts
// must come out the same when encoded and read again. .ci/run runs each
// for a short time after the tests; the seeds are the f.Add calls, and an
// input that failed goes to testdata/fuzz, to stay as a seed.

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"a@example.com", " Bob@Example.COM ", "a@b", "\"a b\"@example.com", "a@@b.c",
		"a@xn--80ak6aa92e.com", "é@exämple.org", "<a@b.c>", "a@b.c\x00", strings.Repeat("a", 250) + "@b.co"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := invite.NormalizeEmail(s)
		if err != nil {
			return
		}
		if again, err := invite.NormalizeEmail(e); err != nil || again != e {
			t.Fatalf("%q normalized to %q, which normalizes to %q, %v", s, e, again, err)
		}
		if len(e) > invite.MaxEmailLen || strings.Count(e, "@") != 1 || !utf8.ValidString(e) || e != strings.ToLower(e) {
			t.Fatalf("%q normalized to %q", s, e)
		}
	})
}

func FuzzDecodeCursor(f *testing.F) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 123000, time.UTC)
	f.Add("created_at", invite.EncodeCursor("created_at", invite.Position{Time: at, Number: 7}))
	f.Add("updated_at", invite.EncodeCursor("created_at", invite.Position{Time: at, Number: 7}))
	f.Add("created_at", "%%%")
	f.Add("created_at", "eyJzIjoiY3JlYXRlZF9hdCIsInQiOi0xLCJuIjoxfQ")
	f.Fuzz(func(t *testing.T, sort, s string) {
		p, err := invite.DecodeCursor(sort, s)
		if err != nil {
			return
		}
		again, err := invite.DecodeCursor(sort, invite.EncodeCursor(sort, *p))
		if err != nil || !again.Time.Equal(p.Time) || again.Number != p.Number {
			t.Fatalf("cursor %q read as %+v, then as %+v, %v", s, p, again, err)
		}
	})
}

func FuzzParseInvitationRef(f *testing.F) {
	for _, s := range []string{"1", "0", "-3", "01936f3e-7b1c-7cc3-9c61-0f1f1d1f8a10", "{01936f3e-7b1c-7cc3-9c61-0f1f1d1f8a10}",
		"urn:uuid:01936f3e-7b1c-7cc3-9c61-0f1f1d1f8a10", "9223372036854775808", "+5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := invite.ParseInvitationRef(s)
		if err != nil {
			return
		}
		if again, err := invite.ParseInvitationRef(r.String()); err != nil || again != r {
			t.Fatalf("%q read as %v, then as %v, %v", s, r, again, err)
		}
	})
}

func FuzzTokenShaped(f *testing.F) {
	for _, s := range []string{"", "x", strings.Repeat("A", 64), strings.Repeat("_", 43), strings.Repeat("é", 32)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		invite.TokenShaped(s)
		invite.HashToken(s)
	})
}

func FuzzParseEventSelector(f *testing.F) {
	f.Add("invitation.*,member.created")
	f.Add("*")
	f.Add("api_key.*, nothing.*")
	f.Add(".*")
	f.Fuzz(func(t *testing.T, list string) {
		sel, err := invite.ParseEventSelector(strings.Split(list, ","))
		if err != nil {
			return
		}
		for _, typ := range invite.EventTypes {
			sel.Matches(typ)
		}
	})
}
