package invite_test

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
)

func TestCursor(t *testing.T) {
	at := time.Date(2031, 3, 4, 5, 6, 7, 891234000, time.UTC)
	sorts := []string{"created_at", "-created_at", "updated_at", "-updated_at"}
	for _, s := range sorts {
		p := invite.Position{Time: at, Number: 17}
		c := invite.EncodeCursor(s, p)
		got, err := invite.DecodeCursor(s, c)
		if err != nil || !got.Time.Equal(at) || got.Number != 17 {
			t.Errorf("%s: cursor decodes to %+v, %v; want %+v", s, got, err, p)
		}
		for _, other := range sorts {
			if other == s {
				continue
			}
			if _, err := invite.DecodeCursor(other, c); invite.ErrorKind(err) != invite.KindInvalid {
				t.Errorf("a %s cursor used for %s: %v, want Kind Invalid", s, other, err)
			}
		}
	}
	// A position is kept to the microsecond, as the stores keep times.
	got, err := invite.DecodeCursor("created_at", invite.EncodeCursor("created_at", invite.Position{Time: at.Add(999), Number: 1}))
	if err != nil || !got.Time.Equal(at) || got.Time.Location() != time.UTC {
		t.Errorf("a nanosecond position decodes to %v, %v", got, err)
	}
	for name, c := range map[string]string{
		"empty":          "",
		"not base64":     "!!!",
		"not JSON":       base64.RawURLEncoding.EncodeToString([]byte("hello")),
		"no number":      invite.EncodeCursor("created_at", invite.Position{Time: at}),
		"negative":       invite.EncodeCursor("created_at", invite.Position{Time: at, Number: -4}),
		"members cursor": base64.RawURLEncoding.EncodeToString([]byte(`{"s":"members","t":1,"i":"x"}`)),
	} {
		if _, err := invite.DecodeCursor("created_at", c); invite.ErrorKind(err) != invite.KindInvalid {
			t.Errorf("%s cursor: %v, want Kind Invalid", name, err)
		}
	}
}

func TestParseSort(t *testing.T) {
	for in, want := range map[string]struct {
		field invite.SortField
		desc  bool
	}{
		"":            {invite.SortCreatedAt, true},
		"-created_at": {invite.SortCreatedAt, true},
		"created_at":  {invite.SortCreatedAt, false},
		"updated_at":  {invite.SortUpdatedAt, false},
		"-updated_at": {invite.SortUpdatedAt, true},
	} {
		f, d, err := invite.ParseSort(in)
		if err != nil || f != want.field || d != want.desc {
			t.Errorf("ParseSort(%q) = %s, %v, %v", in, f, d, err)
		}
	}
	for _, bad := range []string{"email", "+created_at", "created_at ", "CREATED_AT", "--created_at"} {
		if _, _, err := invite.ParseSort(bad); invite.ErrorKind(err) != invite.KindInvalid {
			t.Errorf("ParseSort(%q): %v, want Kind Invalid", bad, err)
		}
	}
}

func TestCheckLimit(t *testing.T) {
	for in, want := range map[int]int{0: invite.DefaultLimit, 1: 1, 50: 50, invite.MaxLimit: invite.MaxLimit} {
		if got, err := invite.CheckLimit(in); err != nil || got != want {
			t.Errorf("CheckLimit(%d) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []int{-1, invite.MaxLimit + 1, 1 << 40} {
		if _, err := invite.CheckLimit(bad); invite.ErrorKind(err) != invite.KindInvalid {
			t.Errorf("CheckLimit(%d): %v, want Kind Invalid", bad, err)
		}
	}
}
