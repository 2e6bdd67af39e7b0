package invite_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/invitd/invitd/invite"
)

// A spreadsheet's export often ends each line with a separator: the
// nameless column it makes is ignored, in the header and in the rows.
func TestCSVIgnoresANamelessColumn(t *testing.T) {
	rows, err := invite.ParseCSV(strings.NewReader("email,role,\r\na@example.com,admin,\r\nb@example.com,member,x\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	for i, want := range []struct{ email, role string }{{"a@example.com", "admin"}, {"b@example.com", "member"}} {
		if r := rows[i]; r.Err != nil || r.Create.Email != want.email || r.Create.Role != want.role {
			t.Errorf("row %d = %+v (%v), want %s as %s", i, r.Create, r.Err, want.email, want.role)
		}
	}
}

// A file that is not CSV (a stray quote) is refused whole, naming the
// line, rather than read in part.
func TestCSVWithABadQuoteIsRefusedWhole(t *testing.T) {
	_, err := invite.ParseCSV(strings.NewReader("email,role\na@example.com,admin\nb@exa\"mple.com,admin\n"))
	var e *invite.Error
	if !errors.As(err, &e) || e.Kind != invite.KindBadRequest || !strings.Contains(e.Message, "line 3") {
		t.Fatalf("err = %v, want a bad request naming line 3", err)
	}
}
