package postgres

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/invitd/invitd/mail"
)

// Three invitd processes on one database hold the mail, hourly and seat
// limits exactly: creates and Upsun force re-invites of one address racing
// across them mail it no more than its limit allows, creates of many
// addresses make no more invitations than the organization's hourly limit,
// and no more than its seats allow.
func TestLimitsAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three invitd processes")
	}
	db := emptyDatabase(t)
	c := startCluster(t, db)

	t.Run("mails to one address", func(t *testing.T) {
		org := c.must(t, 0, http.StatusCreated, "POST", "/v1/organizations", map[string]any{"name": "Mail"}).str("id")
		const email = "race-mail@example.com"
		native := "/v1/organizations/" + org + "/invitations"
		upsun := "/compat/upsun/organizations/" + org + "/invitations"
		got := c.race(t, 50, func(i int) (string, string, any) {
			if i%2 == 0 {
				return "POST", native, map[string]any{"email": email}
			}
			return "POST", upsun, map[string]any{"email": email, "permissions": []string{}, "force": true}
		})
		if got[http.StatusCreated] != 3 || got[http.StatusTooManyRequests] == 0 ||
			got[http.StatusCreated]+got[http.StatusConflict]+got[http.StatusTooManyRequests] != 50 {
			t.Errorf("answers by status %v: want 3 created, the rest 409 or 429 (some 429)", got)
		}
		// Mails queued: each invitation's send_count.
		list := c.must(t, 0, http.StatusOK, "GET", native+"?email="+url.QueryEscape(email)+"&limit=100", nil)
		queued := 0
		for _, it := range list.body["data"].([]any) {
			queued += int(it.(map[string]any)["send_count"].(float64))
		}
		if queued != 3 {
			t.Errorf("%d mails queued to %s, want 3", queued, email)
		}
		// Mails sent, by whichever node's runner claimed each, once no
		// mail job waits. A mail of an invitation a re-invite cancelled
		// before it went is dropped unsent, so as few as one may go.
		conn, err := pgx.Connect(t.Context(), db)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		var notes, waiting int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM invitation_mails WHERE email = $1", email).Scan(&notes); err != nil || notes != 3 {
			t.Errorf("%d mails noted (%v), want 3", notes, err)
		}
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM outbox WHERE kind = 'send_invitation'").Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			if waiting == 0 {
				break
			}
		}
		sent := 0
		for _, n := range c.nodes {
			for _, line := range strings.Split(n.Logs.String(), "\n") {
				if strings.Contains(line, `"msg":"`+mail.LoggedMessage+`"`) && strings.Contains(line, `"to":"`+email+`"`) {
					sent++
				}
			}
		}
		if waiting != 0 || sent < 1 || sent > 3 {
			t.Errorf("%d mails sent to %s (%d still waiting), want 1 to 3", sent, email, waiting)
		}
		t.Logf("answers %v; mails queued %d, sent %d", got, queued, sent)
	})

	t.Run("invitations per hour", func(t *testing.T) {
		org := c.must(t, 1, http.StatusCreated, "POST", "/v1/organizations",
			map[string]any{"name": "Busy", "settings": map[string]any{"max_invitations_per_hour": 20}}).str("id")
		path := "/v1/organizations/" + org + "/invitations"
		got := c.race(t, 50, func(i int) (string, string, any) {
			return "POST", path, map[string]any{"email": "user" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@example.com"}
		})
		if got[http.StatusCreated] != 20 || got[http.StatusTooManyRequests] != 30 {
			t.Errorf("answers by status %v: want 20 created and 30 refused", got)
		}
		list := c.must(t, 2, http.StatusOK, "GET", path+"?limit=100", nil)
		if n := len(list.body["data"].([]any)); n != 20 {
			t.Errorf("%d invitations stored, want 20", n)
		}
		t.Logf("answers %v", got)
	})

	t.Run("seats", func(t *testing.T) {
		org := c.must(t, 2, http.StatusCreated, "POST", "/v1/organizations",
			map[string]any{"name": "Seats", "settings": map[string]any{"max_members": 12}}).str("id")
		path := "/v1/organizations/" + org + "/invitations"
		// Two members and one pending invitation hold 3 of the 12 seats.
		for i, email := range []string{"m1@example.com", "m2@example.com", "p1@example.com"} {
			id := c.must(t, i, http.StatusCreated, "POST", path, map[string]any{"email": email}).str("id")
			if i < 2 {
				c.must(t, i, http.StatusOK, "POST", path+"/"+id+"/accept", map[string]any{"email": email})
			}
		}
		got := c.race(t, 50, func(i int) (string, string, any) {
			if i%10 == 9 { // bulk rows race the single creates
				return "POST", path + "/bulk", map[string]any{"invitations": []map[string]any{{"email": fmt.Sprintf("bulk%d@example.com", i)}}}
			}
			return "POST", path, map[string]any{"email": fmt.Sprintf("seat%d@example.com", i)}
		})
		org1 := c.must(t, 0, http.StatusOK, "GET", "/v1/organizations/"+org, nil)
		seats := org1.body["seats"].(map[string]any)
		if seats["limit"] != 12.0 || seats["members"] != 2.0 || seats["pending"] != 10.0 {
			t.Errorf("seats %v after the race, want 12 limit, 2 members, 10 pending", seats)
		}
		if got[http.StatusCreated]+got[http.StatusConflict] != 45 || got[http.StatusOK] != 5 {
			t.Errorf("answers by status %v: want 45 creates answered 201 or 409 and 5 bulk answers", got)
		}
		list := c.must(t, 1, http.StatusOK, "GET", path+"?state=pending&limit=100", nil)
		if n := len(list.body["data"].([]any)); n != 10 {
			t.Errorf("%d pending invitations stored, want 10", n)
		}
		t.Logf("answers %v", got)
	})
}
