package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/invitd/invitd/internal/input"
	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/web"
)

// The accept form, as a browser (or anything else) may post it: no form is
// a 5xx, a field that is not text is a 400, and a form taken accepts with
// the name as given, trimmed. Each input accepts an invitation of its own
// in a store made once per target, with a request to the handler.
func FuzzAcceptForm(f *testing.F) {
	e := newEnv(f, "Acme", nil)
	// Each input makes an invitation: more in an hour than the default limit.
	if _, err := e.svc.UpdateOrg(e.ctx, e.org.ID, nil, &invite.SettingsPatch{MaxInvitationsPerHour: new(invite.NoLimit)}); err != nil {
		f.Fatal(err)
	}
	h := web.New(e.svc, web.Options{})
	csrf := strings.Repeat("A", 43)
	var n atomic.Int64
	for _, s := range []string{"name=Ada", "name=+Ada+Lovelace+", "name=", "name=%FF", "name=a%00b", "name=%e3%81%82",
		"name=Ada&name=Bob", "name=%%%", "csrf=x&name=Ada", "name=" + strings.Repeat("a", 300), ";name=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, form string) {
		email := fmt.Sprintf("fuzz%d@example.com", n.Add(1))
		c, err := e.svc.CreateInvitation(e.ctx, e.org.ID, invite.CreateInvitation{Email: email, NoEmail: true})
		if err != nil {
			t.Fatal(err)
		}
		body := form + "&csrf=" + csrf
		r := httptest.NewRequest(http.MethodPost, "/i/"+c.Token+"/accept", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(&http.Cookie{Name: web.CookieName, Value: csrf})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%q: %d", form, w.Code)
		}
		vals, perr := url.ParseQuery(body)
		notText := false
		for k, vs := range vals {
			for _, v := range append(vs, k) {
				notText = notText || !input.Text(v)
			}
		}
		if perr == nil && notText && w.Code != http.StatusBadRequest {
			t.Fatalf("%q: %d, want 400", form, w.Code)
		}
		v, err := e.svc.GetByToken(e.ctx, c.Token)
		if err != nil {
			t.Fatal(err)
		}
		accepted := v.Invitation.State == invite.StateAccepted
		if accepted != (w.Code == http.StatusSeeOther) {
			t.Fatalf("%q: %d, and the invitation is %s", form, w.Code, v.Invitation.State)
		}
		if accepted {
			m, err := e.svc.ListMembers(e.ctx, e.org.ID, invite.MemberParams{Email: email, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimSpace(vals.Get("name")); perr != nil || len(m.Items) != 1 || m.Items[0].Name != want {
				t.Fatalf("%q: accepted as %+v, want the name %q (%v)", form, m.Items, want, perr)
			}
		}
	})
}
