package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
)

// The page says how long is left rounded to the nearest unit, so a 7-day
// invitation made a moment ago reads "in 7 days".
func TestExpiryIsRoundedToTheNearestUnit(t *testing.T) {
	for _, c := range []struct {
		ttl     time.Duration
		elapsed time.Duration
		lang    string
		want    string
	}{
		{7 * 24 * time.Hour, time.Second, "en", "(in 7 days)"},
		{7 * 24 * time.Hour, 36 * time.Hour, "en", "(in 6 days)"},
		{7 * 24 * time.Hour, time.Second, "ja", "(あと7日)"},
		{3 * time.Hour, time.Second, "en", "(in 3 hours)"},
		{2 * time.Hour, 30 * time.Minute, "en", "(in 90 minutes)"},
	} {
		e := newEnv(t, "Acme", nil)
		_, token := e.invite("grace@example.com", func(ci *invite.CreateInvitation) {
			ci.ExpiresIn = int64(c.ttl / time.Second)
			ci.Locale = c.lang
		})
		e.clock.Add(c.elapsed)
		if body := newBrowser(t).get(e.srv.URL + "/i/" + token).body; !strings.Contains(body, c.want) {
			t.Errorf("ttl %v after %v (%s): the page has no %q", c.ttl, c.elapsed, c.lang, c.want)
		}
	}
}
