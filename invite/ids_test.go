package invite_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/invitd/invitd/invite"
)

func TestParseOrgID(t *testing.T) {
	id := invite.NewOrgID()
	if id.IsZero() || len(id.String()) != 26 || len(id.UUID()) != 36 {
		t.Fatalf("new id %s / %s", id, id.UUID())
	}
	for _, form := range []string{id.String(), strings.ToLower(id.String()), id.UUID(), strings.ToUpper(id.UUID())} {
		got, err := invite.ParseOrgID(form)
		if err != nil || got != id {
			t.Errorf("ParseOrgID(%q) = %s, %v; want %s", form, got, err, id)
		}
	}
	// The same 128 bits written as a UUID by someone else.
	u := uuid.New()
	fromUUID, err := invite.ParseOrgID(u.String())
	if err != nil || fromUUID.UUID() != u.String() {
		t.Fatalf("ParseOrgID(%s) = %s, %v", u, fromUUID.UUID(), err)
	}
	if back, err := invite.ParseOrgID(fromUUID.String()); err != nil || back != fromUUID {
		t.Errorf("the ULID form of a UUID does not parse back: %v", err)
	}
	if a, b := invite.NewOrgID(), invite.NewOrgID(); a == b {
		t.Error("two new ids are equal")
	}

	for _, bad := range []string{
		"", "abc", id.String() + "0", id.String()[1:], "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
		strings.Replace(id.String(), id.String()[5:6], "U", 1), strings.ReplaceAll(id.UUID(), "-", ""),
		"{" + id.UUID() + "}", "urn:uuid:" + id.UUID(), id.UUID()[:35] + "g", " " + id.String(),
	} {
		got, err := invite.ParseOrgID(bad)
		if invite.ErrorKind(err) != invite.KindNotFound || !got.IsZero() {
			t.Errorf("ParseOrgID(%q) = %s, %v; want Kind NotFound", bad, got, err)
		}
	}
}

func TestOrgIDEncodings(t *testing.T) {
	id := invite.NewOrgID()
	b, err := json.Marshal(map[string]invite.OrgID{"id": id})
	if err != nil || string(b) != `{"id":"`+id.String()+`"}` {
		t.Errorf("JSON %s, %v", b, err)
	}
	for _, form := range []string{id.String(), id.UUID()} {
		var got struct{ ID invite.OrgID }
		if err := json.Unmarshal([]byte(`{"ID":"`+form+`"}`), &got); err != nil || got.ID != id {
			t.Errorf("JSON %s read as %s, %v", form, got.ID, err)
		}
	}
	var got struct{ ID invite.OrgID }
	if err := json.Unmarshal([]byte(`{"ID":"nope"}`), &got); err == nil {
		t.Error("a bad id reads from JSON")
	}

	v, err := id.Value()
	if err != nil || v != id.UUID() {
		t.Errorf("Value() = %v, %v; want the UUID form", v, err)
	}
	for _, src := range []any{id.UUID(), []byte(id.UUID()), [16]byte(id)} {
		var s invite.OrgID
		if err := s.Scan(src); err != nil || s != id {
			t.Errorf("Scan(%T) = %s, %v", src, s, err)
		}
	}
	for _, src := range []any{nil, 42, "not-a-uuid"} {
		var s invite.OrgID
		if err := s.Scan(src); err == nil {
			t.Errorf("Scan(%v) succeeded", src)
		}
	}
}

func TestParseInvitationRef(t *testing.T) {
	id := uuid.Must(uuid.NewV7())
	for in, want := range map[string]invite.InvitationRef{
		"1":                          {Number: 1},
		"42":                         {Number: 42},
		"9223372036854775807":        {Number: 9223372036854775807},
		id.String():                  {ID: id},
		strings.ToUpper(id.String()): {ID: id},
	} {
		got, err := invite.ParseInvitationRef(in)
		if err != nil || got != want {
			t.Errorf("ParseInvitationRef(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if err == nil && want.Number == 0 && got.String() != id.String() {
			t.Errorf("ref %q prints as %s", in, got)
		}
	}
	if r := (invite.InvitationRef{Number: 42}); r.String() != "42" {
		t.Errorf("number ref prints as %s", r)
	}
	for _, bad := range []string{
		"", "0", "-1", "abc", "1.5", " 1", "9223372036854775808",
		strings.ReplaceAll(id.String(), "-", ""), "{" + id.String() + "}", "urn:uuid:" + id.String(),
	} {
		got, err := invite.ParseInvitationRef(bad)
		if invite.ErrorKind(err) != invite.KindNotFound || got != (invite.InvitationRef{}) {
			t.Errorf("ParseInvitationRef(%q) = %+v, %v; want Kind NotFound", bad, got, err)
		}
	}
}
