package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/invitd/invitd/invite"
)

// postWithID posts a form as the browser does, with an X-Request-Id.
func (b *browser) postWithID(u string, form url.Values, requestID string) response {
	b.t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Request-Id", requestID)
	return b.do(req)
}

func (e *env) events() []*invite.Event {
	e.t.Helper()
	p, err := e.svc.ListEvents(e.ctx, e.org.ID, invite.EventParams{Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Items
}

func eventTypes(evs []*invite.Event) string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return strings.Join(out, ",")
}

type eventData struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	State string `json:"state"`
}

func dataOf(t *testing.T, ev *invite.Event) eventData {
	t.Helper()
	var d eventData
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		t.Fatalf("%s data %s: %v", ev.Type, ev.Data, err)
	}
	return d
}

// Accepting through the page is the invitee's act: the invitation's
// accepted event and the new member's event name the invitee (the
// invitation's id and address) and the request.
func TestAcceptThroughThePageIsRecordedAsTheInvitee(t *testing.T) {
	e := newEnv(t, "Acme", nil)
	inv, token := e.invite("grace@example.com", nil)
	b := newBrowser(t)
	csrf := csrfOf(t, b.get(e.srv.URL+"/i/"+token).body)
	// Refused posts record nothing.
	expect(t, newBrowser(t).post(e.srv.URL+"/i/"+token+"/accept", url.Values{"csrf": {csrf}, "name": {"Grace"}}), 403, "forbidden")
	expect(t, b.post(e.srv.URL+"/i/"+token+"/accept", url.Values{"csrf": {csrf}, "name": {" "}}), 422, "invite")

	r := b.postWithID(e.srv.URL+"/i/"+token+"/accept", url.Values{"csrf": {csrf}, "name": {"Grace Hopper"}}, "req-web-accept")
	if r.status != http.StatusSeeOther {
		t.Fatalf("accept: %d\n%s", r.status, r.body)
	}
	// A second submit is answered "already accepted" and records nothing.
	expect(t, b.post(e.srv.URL+"/i/"+token+"/accept", url.Values{"csrf": {csrf}, "name": {"Grace Hopper"}}), 409, "already")

	evs := e.events()
	if got := eventTypes(evs); got != "invitation.created,invitation.accepted,member.created" {
		t.Fatalf("events %s, want created, accepted, member.created", got)
	}
	invitee := invite.Actor{Type: invite.ActorInvitee, ID: inv.ID.String(), Name: "grace@example.com"}
	if evs[0].Actor.Type != invite.ActorSystem {
		t.Errorf("the create (made with the system's context) is by %+v", evs[0].Actor)
	}
	ms := e.members()
	if len(ms) != 1 {
		t.Fatalf("%d members", len(ms))
	}
	for i, want := range []struct{ subject, state string }{{inv.ID.String(), "accepted"}, {ms[0].ID.String(), ""}} {
		ev := evs[i+1]
		if ev.Actor != invitee || ev.RequestID != "req-web-accept" || ev.Subject != want.subject {
			t.Errorf("%s: actor %+v, request %q, subject %s; want %+v, req-web-accept, %s",
				ev.Type, ev.Actor, ev.RequestID, ev.Subject, invitee, want.subject)
		}
		if d := dataOf(t, ev); d.ID != want.subject || d.State != want.state || d.Email != "grace@example.com" {
			t.Errorf("%s data = %s", ev.Type, ev.Data)
		}
	}
	if d := dataOf(t, evs[2]); d.Name != "Grace Hopper" {
		t.Errorf("member.created data names %q, want Grace Hopper", d.Name)
	}
}

// Declining through the page is the invitee's act too.
func TestDeclineThroughThePageIsRecordedAsTheInvitee(t *testing.T) {
	e := newEnv(t, "Acme", nil)
	inv, token := e.invite("nope@example.com", nil)
	b := newBrowser(t)
	csrf := csrfOf(t, b.get(e.srv.URL+"/i/"+token).body)
	r := b.postWithID(e.srv.URL+"/i/"+token+"/decline", url.Values{"csrf": {csrf}}, "req-web-decline")
	if r.status != http.StatusSeeOther {
		t.Fatalf("decline: %d\n%s", r.status, r.body)
	}
	expect(t, b.post(e.srv.URL+"/i/"+token+"/decline", url.Values{"csrf": {csrf}}), 409, "declined")

	evs := e.events()
	if got := eventTypes(evs); got != "invitation.created,invitation.declined" {
		t.Fatalf("events %s, want created then declined", got)
	}
	ev := evs[1]
	want := invite.Actor{Type: invite.ActorInvitee, ID: inv.ID.String(), Name: "nope@example.com"}
	if ev.Actor != want || ev.RequestID != "req-web-decline" || ev.Subject != inv.ID.String() {
		t.Errorf("declined: actor %+v, request %q, subject %s; want %+v, req-web-decline, %s", ev.Actor, ev.RequestID, ev.Subject, want, inv.ID)
	}
	if d := dataOf(t, ev); d.ID != inv.ID.String() || d.State != "declined" {
		t.Errorf("declined data = %s", ev.Data)
	}
}
