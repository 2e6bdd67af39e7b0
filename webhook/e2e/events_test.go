package e2e_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitd/invitd/internal/testnode"
	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/mail"
	"github.com/invitd/invitd/mail/mailtest"
	"github.com/invitd/invitd/server"
	"github.com/invitd/invitd/webhook"
)

type invitation struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	AcceptURL string `json:"accept_url"`
	Delivery  struct {
		State string `json:"state"`
	} `json:"delivery"`
}

// One of every event type is caused through the API, the mail handler, the
// expiry job and the reminder sweep; an endpoint for "*" gets each event of the log exactly
// once, signed so that the reference library verifies it, carrying what the
// log holds. After a rotation, deliveries carry a signature by each secret.
func TestEveryEventTypeArrivesOnce(t *testing.T) {
	clk := &testnode.Clock{}
	smtp := mailtest.Start(t, mailtest.Options{Reply: func(stage string, _ int, arg string) error {
		if stage == "RCPT" && strings.HasPrefix(arg, "bounce@") {
			return mailtest.SMTPError(550, "no such mailbox")
		}
		return nil
	}})
	rc := newReceiver(t, nil)
	n := startServer(t, server.Config{Now: clk.Now, WebhookAllow: loopback,
		Mail: mail.Config{SMTPURL: smtp.URL(), From: "Invites <invites@example.com>"}})
	org := n.createOrg(t)
	base := "/v1/organizations/" + org
	h := n.createWebhook(t, org, rc.URL, "*")

	// An organization's key does the rest, so that events name it.
	var key struct{ ID, Key string }
	n.must(t, http.StatusCreated, "POST", base+"/api_keys", map[string]any{"name": "ci", "scopes": invite.AllScopes}, &key) // api_key.created
	as := func(status int, method, path string, body, out any) {
		t.Helper()
		n.mustAs(t, key.Key, status, method, base+path, body, out)
	}
	var spare struct{ ID string }
	as(http.StatusCreated, "POST", "/api_keys", obj{"name": "spare"}, &spare)                             // api_key.created
	as(http.StatusNoContent, "DELETE", "/api_keys/"+spare.ID, nil, nil)                                   // api_key.deleted
	as(http.StatusOK, "PATCH", "", obj{"name": "Acme Inc", "settings": obj{"reminder_after": 3600}}, nil) // organization.updated

	create := func(email string, extra obj) invitation {
		t.Helper()
		body := obj{"email": email}
		for k, v := range extra {
			body[k] = v
		}
		var inv invitation
		as(http.StatusCreated, "POST", "/invitations", body, &inv) // invitation.created
		return inv
	}
	sent := create("sent@example.com", nil)      // invitation.sent by the mail handler
	bounced := create("bounce@example.com", nil) // invitation.failed: the server refuses the recipient
	accepted := create("accept@example.com", obj{"send_email": false})
	token := accepted.AcceptURL[strings.LastIndex(accepted.AcceptURL, "/")+1:]
	var tv struct {
		MemberID string `json:"member_id"`
	}
	n.mustAs(t, noKey, http.StatusOK, "POST", "/v1/invitations/"+token+"/accept", obj{"name": "Ann"}, &tv) // invitation.accepted, member.created
	as(http.StatusOK, "PATCH", "/members/"+tv.MemberID, obj{"role": "admin"}, nil)                         // member.updated
	as(http.StatusNoContent, "DELETE", "/members/"+tv.MemberID, nil, nil)                                  // member.deleted
	declined := create("decline@example.com", obj{"send_email": false})
	as(http.StatusOK, "POST", "/invitations/"+declined.ID+"/decline", nil, nil) // invitation.declined
	cancelled := create("cancel@example.com", obj{"send_email": false})
	as(http.StatusOK, "POST", "/invitations/"+cancelled.ID+"/cancel", nil, nil) // invitation.cancelled
	expiring := create("expire@example.com", obj{"send_email": false, "expires_in": 3600})

	eventually(t, 10*time.Second, "the mails settle", func() bool {
		var a, b invitation
		as(http.StatusOK, "GET", "/invitations/"+sent.ID, nil, &a)
		as(http.StatusOK, "GET", "/invitations/"+bounced.ID, nil, &b)
		return a.Delivery.State == "sent" && b.State == "error"
	})
	if len(smtp.Messages()) != 1 {
		t.Errorf("the mail server took %d mails, want 1", len(smtp.Messages()))
	}
	n.quiesce(t, org, h.ID)
	clk.Advance(invite.ResendInterval + time.Second)
	as(http.StatusOK, "POST", "/invitations/"+sent.ID+"/resend", nil, nil) // invitation.resent, another .sent
	eventually(t, 10*time.Second, "the resent mail", func() bool {
		count := 0
		for _, e := range n.events(t, org, invite.EventInvitationSent) {
			if e.dataID() == sent.ID {
				count++
			}
		}
		return count == 2
	})
	n.quiesce(t, org, h.ID)
	clk.Advance(2 * time.Hour) // the expiry job expires the short one; the sent one is due its reminder
	eventually(t, 10*time.Second, "the expiry job", func() bool {
		for _, e := range n.events(t, org, invite.EventInvitationExpired) {
			if e.dataID() == expiring.ID {
				return true
			}
		}
		return false
	})
	eventually(t, 10*time.Second, "the reminder", func() bool {
		return len(n.events(t, org, invite.EventInvitationReminded)) == 1 && len(smtp.Messages()) == 3
	})
	var test event
	as(http.StatusAccepted, "POST", "/webhooks/"+h.ID+"/test", nil, &test) // webhook.test

	// Everything so far arrives, signed by the one secret.
	before := n.events(t, org, "")
	rc.waitIDs(t, 10*time.Second, ids(before))
	signedOnce := len(rc.requests())

	// After a rotation both secrets sign.
	var rotated hook
	as(http.StatusOK, "POST", "/webhooks/"+h.ID+"/rotate_secret", nil, &rotated)
	if rotated.Secret == "" || rotated.Secret == h.Secret {
		t.Fatalf("rotate_secret answered secret %q (was %q)", rotated.Secret, h.Secret)
	}
	as(http.StatusOK, "PATCH", "", obj{"name": "Acme Corp"}, nil)
	log := n.events(t, org, "")
	rc.waitIDs(t, 10*time.Second, ids(log))
	time.Sleep(300 * time.Millisecond) // room for a duplicate to show up

	byID := rc.byID()
	logByID := map[string]event{}
	types := map[string]int{}
	for _, e := range log {
		logByID[e.ID] = e
		types[e.Type]++
		if got := len(byID[e.ID]); got != 1 {
			t.Errorf("event %s (%s) arrived %d times, want once", e.ID, e.Type, got)
			for _, r := range byID[e.ID] {
				t.Logf("  at %s: %s", r.At.Format("15:04:05.000000"), r.Header)
			}
			t.Logf("  delivery: %+v", n.deliveryOf(t, org, h.ID, e.ID))
		}
	}
	for _, typ := range invite.EventTypes {
		if types[typ] == 0 {
			t.Errorf("no %s event in the log", typ)
		}
	}
	other := invite.NewWebhookSecret()
	for i, r := range rc.requests() {
		e := decode(t, r)
		want, ok := logByID[e.ID]
		if !ok {
			t.Errorf("delivery of %s (%s), which is not in the log", e.ID, e.Type)
			continue
		}
		if e.Type != want.Type || e.dataID() != want.dataID() || e.OrganizationID != org {
			t.Errorf("delivery of %s is %s about %s in %s; the log has %s about %s", e.ID, e.Type, e.dataID(), e.OrganizationID, want.Type, want.dataID())
		}
		if !jsonEqual(e.Data, want.Data) {
			t.Errorf("delivery of %s carries %s; the log has %s", e.ID, e.Data, want.Data)
		}
		if err := verify(r, h.Secret); err != nil {
			t.Errorf("delivery %d (%s) does not verify with the first secret: %v", i, e.Type, err)
		}
		if err := verify(r, other); err == nil {
			t.Errorf("delivery %d (%s) verifies with an unrelated secret", i, e.Type)
		}
		sigs := strings.Fields(r.Header.Get(webhook.HeaderSignature))
		switch {
		case i < signedOnce && len(sigs) != 1:
			t.Errorf("delivery %d before the rotation carries %d signatures, want 1", i, len(sigs))
		case i >= signedOnce:
			if len(sigs) != 2 {
				t.Errorf("delivery %d after the rotation carries %d signatures (%q), want 2", i, len(sigs), sigs)
			}
			if err := verify(r, rotated.Secret); err != nil {
				t.Errorf("delivery %d after the rotation does not verify with the new secret: %v", i, err)
			}
		}
	}
	if len(rc.requests()) <= signedOnce {
		t.Error("nothing was delivered after the rotation")
	}

	// Who did what, as the events say.
	actor := func(typ, subject string) string {
		for _, e := range log {
			if e.Type == typ && (subject == "" || e.dataID() == subject) {
				return e.Actor.Type + "/" + e.Actor.ID + "/" + e.Actor.Name
			}
		}
		return "none"
	}
	for _, c := range []struct{ typ, subject, want string }{
		{invite.EventOrganizationUpdated, org, "api_key/" + key.ID + "/ci"},
		{invite.EventInvitationSent, sent.ID, "system/system/invitd"},
		{invite.EventInvitationFailed, bounced.ID, "system/system/invitd"},
		{invite.EventInvitationExpired, expiring.ID, "system/system/invitd"},
		{invite.EventInvitationReminded, sent.ID, "system/system/invitd"},
		{invite.EventInvitationAccepted, accepted.ID, "invitee/" + accepted.ID + "/accept@example.com"},
		{invite.EventWebhookTest, h.ID, "api_key/" + key.ID + "/ci"},
	} {
		if got := actor(c.typ, c.subject); got != c.want {
			t.Errorf("%s actor = %s, want %s", c.typ, got, c.want)
		}
	}
	if i := slices.IndexFunc(log, func(e event) bool { return e.ID == test.ID }); i < 0 || log[i].Type != invite.EventWebhookTest {
		t.Errorf("the test event %s answered is not in the log as webhook.test", test.ID)
	}
	t.Logf("%d events of %d types, %d deliveries, %d before the rotation", len(log), len(types), len(rc.requests()), signedOnce)
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}
