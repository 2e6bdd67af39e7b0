package storetest

import (
	"strings"
	"testing"

	"github.com/invitd/invitd/invite"
)

// ---- the server secret: derived links and sealed webhook secrets

// withSecret is a Service over e's store and clock with the given current
// secret and those still honoured.
func (e *env) withSecret(t *testing.T, current string, previous ...string) *invite.Service {
	t.Helper()
	sec, err := invite.NewSecret(current, previous...)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := invite.NewService(e.store, invite.Config{Now: e.clock.Now, Secret: sec})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// rawWebhook reads an endpoint as the store keeps it.
func (e *env) rawWebhook(t *testing.T, org invite.OrgID, id string) *invite.Webhook {
	t.Helper()
	var w *invite.Webhook
	e.write(t, func(tx invite.Tx) error {
		var err error
		w, err = tx.GetWebhook(sys(t), org, id)
		return err
	})
	return w
}

func testSecrets(t *testing.T, e *env) {
	a, b := strings.Repeat("a", invite.MinSecretLen), strings.Repeat("b", invite.MinSecretLen)

	t.Run("links across a rotation", func(t *testing.T) {
		ctx := sys(t)
		old, rotating, rotated := e.withSecret(t, a), e.withSecret(t, b, a), e.withSecret(t, b)
		o := e.org(t, nil)
		res, err := old.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: e.email()})
		if err != nil {
			t.Fatal(err)
		}
		j := e.jobFor(t, res.Invitation.ID)
		m, err := old.MailFor(ctx, j)
		if err != nil {
			t.Fatal(err)
		}
		link := m.Token
		if _, err := rotating.GetByToken(ctx, link); err != nil {
			t.Errorf("a link made under the previous secret, with it still honoured: %v", err)
		}
		if _, err := rotated.GetByToken(ctx, link); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("a link made under a secret no longer honoured: %v, want not found", err)
		}
		// A mail sent after the rotation carries the new secret's link.
		m, err = rotating.MailFor(ctx, j)
		if err != nil {
			t.Fatal(err)
		}
		if m.Token == link {
			t.Fatal("the mail's link did not change with the secret")
		}
		if _, err := rotated.GetByToken(ctx, m.Token); err != nil {
			t.Errorf("a link made under the current secret: %v", err)
		}
		// A resend ends every earlier link, whatever secret made it.
		e.clock.Advance(invite.ResendInterval)
		if _, err := rotating.ResendInvitation(ctx, o.ID, ref(res.Invitation.ID)); err != nil {
			t.Fatal(err)
		}
		for _, l := range []string{link, m.Token} {
			if _, err := rotating.GetByToken(ctx, l); invite.ErrorKind(err) != invite.KindNotFound {
				t.Errorf("a link from before a resend: %v, want not found", err)
			}
		}
		m, err = rotated.MailFor(ctx, e.jobFor(t, res.Invitation.ID))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rotated.GetByToken(ctx, m.Token); err != nil {
			t.Errorf("the resent mail's link: %v", err)
		}
	})

	t.Run("webhook secrets are sealed", func(t *testing.T) {
		ctx := sys(t)
		old, rotating, rotated, other := e.withSecret(t, a), e.withSecret(t, b, a), e.withSecret(t, b),
			e.withSecret(t, strings.Repeat("c", invite.MinSecretLen))
		o := e.org(t, nil)
		url := "https://hooks.example.com/sealed"
		w, err := old.CreateWebhook(ctx, o.ID, invite.WebhookInput{URL: &url})
		if err != nil {
			t.Fatal(err)
		}
		raw := e.rawWebhook(t, o.ID, w.ID)
		if !strings.HasPrefix(raw.Secret, "sealed1:") || strings.Contains(raw.Secret, strings.TrimPrefix(w.Secret, "whsec_")) {
			t.Fatalf("the signing secret is stored as %q", raw.Secret)
		}
		if got, err := old.GetWebhook(ctx, o.ID, w.ID); err != nil || got.Secret != w.Secret {
			t.Fatalf("read back: %+v, %v", got, err)
		}
		rot, err := old.RotateWebhookSecret(ctx, o.ID, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if raw := e.rawWebhook(t, o.ID, w.ID); !strings.HasPrefix(raw.PreviousSecret, "sealed1:") || raw.PreviousSecret == raw.Secret {
			t.Fatalf("after a rotation the previous signing secret is stored as %q", raw.PreviousSecret)
		}

		// A secret that opens nothing stored stops the start, saying why.
		if _, err := rotated.SealWebhookSecrets(ctx); err == nil || !strings.Contains(err.Error(), w.ID) {
			t.Errorf("sealing under a secret that opens nothing: %v, want an error naming %s", err, w.ID)
		}
		if _, err := other.GetWebhook(ctx, o.ID, w.ID); err == nil {
			t.Error("an endpoint sealed under another secret was read")
		}
		// During a rotation, the start seals everything again under the new
		// secret; then the old one may go.
		if n, err := rotating.SealWebhookSecrets(ctx); err != nil || n != 1 {
			t.Fatalf("SealWebhookSecrets during a rotation: %d, %v; want 1 endpoint", n, err)
		}
		got, err := rotated.GetWebhook(ctx, o.ID, w.ID)
		if err != nil || got.Secret != rot.Secret || got.PreviousSecret != w.Secret {
			t.Fatalf("after sealing again: %+v, %v", got, err)
		}
		if n, err := rotated.SealWebhookSecrets(ctx); err != nil || n != 0 {
			t.Errorf("sealing again what is sealed: %d, %v; want none", n, err)
		}

		// One stored in the clear by an earlier version is sealed at start.
		clear := e.newWebhook(o.ID, "clear")
		e.write(t, func(tx invite.Tx) error { return tx.CreateWebhook(ctx, clear) })
		if got, err := rotated.GetWebhook(ctx, o.ID, clear.ID); err != nil || got.Secret != clear.Secret {
			t.Fatalf("an endpoint stored in the clear: %+v, %v", got, err)
		}
		if n, err := rotated.SealWebhookSecrets(ctx); err != nil || n != 1 {
			t.Fatalf("SealWebhookSecrets of one in the clear: %d, %v", n, err)
		}
		if raw := e.rawWebhook(t, o.ID, clear.ID); !strings.HasPrefix(raw.Secret, "sealed1:") {
			t.Errorf("stored as %q after sealing", raw.Secret)
		}

		// A sealed secret opens only in its own row.
		stolen := e.rawWebhook(t, o.ID, w.ID)
		victim := e.rawWebhook(t, o.ID, clear.ID)
		victim.Secret = stolen.Secret
		e.write(t, func(tx invite.Tx) error { return tx.UpdateWebhook(ctx, victim) })
		if _, err := rotated.GetWebhook(ctx, o.ID, clear.ID); err == nil {
			t.Error("a sealed secret moved to another endpoint opened")
		}
	})
}
