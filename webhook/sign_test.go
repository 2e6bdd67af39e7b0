package webhook_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/webhook"
)

// The example from the Standard Webhooks specification.
func TestSignSpecificationExample(t *testing.T) {
	got, err := webhook.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

// The core's secrets are what Sign takes.
func TestNewSecret(t *testing.T) {
	a, b := invite.NewWebhookSecret(), invite.NewWebhookSecret()
	if a == b {
		t.Fatalf("two secrets are equal: %q", a)
	}
	for _, s := range []string{a, b} {
		enc, ok := strings.CutPrefix(s, "whsec_")
		if !ok {
			t.Fatalf("secret %q lacks the whsec_ prefix", s)
		}
		key, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(key) != 32 {
			t.Fatalf("secret %q: %d bytes, %v; want 32 bytes of standard base64", s, len(key), err)
		}
	}
}

func TestHeadersVerifiedByReferenceLibrary(t *testing.T) {
	secret := invite.NewWebhookSecret()
	body := []byte(`{"type":"invitation.accepted","data":{"id":"inv_1"}}`)
	h, err := webhook.Headers([]string{secret}, "msg_1", time.Now(), body)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		if h.Get(name) == "" {
			t.Errorf("header %s missing", name)
		}
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(body, h); err != nil {
		t.Errorf("reference library rejects our signature: %v", err)
	}
	if err := wh.Verify([]byte(`{"type":"tampered"}`), h); err == nil {
		t.Error("reference library accepts a tampered body")
	}
	stale := h.Clone()
	stale.Set("webhook-timestamp", "1614265330")
	if err := wh.Verify(body, stale); err == nil {
		t.Error("reference library accepts a changed timestamp")
	}
}

func TestRotationEitherSecretVerifies(t *testing.T) {
	oldSecret, newSecret := invite.NewWebhookSecret(), invite.NewWebhookSecret()
	body := []byte(`{"n":1}`)
	ts := time.Now()
	h, err := webhook.Headers([]string{oldSecret, newSecret}, "msg_rot", ts, body)
	if err != nil {
		t.Fatal(err)
	}
	sigs := strings.Split(h.Get("webhook-signature"), " ")
	if len(sigs) != 2 || !strings.HasPrefix(sigs[0], "v1,") || !strings.HasPrefix(sigs[1], "v1,") {
		t.Fatalf("webhook-signature = %q, want two v1 signatures separated by one space", h.Get("webhook-signature"))
	}
	for _, s := range []string{oldSecret, newSecret} {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("secret %d of 2 does not verify: %v", map[string]int{oldSecret: 1, newSecret: 2}[s], err)
		}
	}
	other, _ := standardwebhooks.NewWebhook(invite.NewWebhookSecret())
	if err := other.Verify(body, h); err == nil {
		t.Error("an unrelated secret verifies")
	}
}

func TestMalformedSecrets(t *testing.T) {
	for _, s := range []string{
		"",
		"whsec_",
		"whsec_not base64!",
		"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",      // no prefix
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", // bad padding
	} {
		if sig, err := webhook.Sign(s, "msg", time.Now(), nil); err == nil {
			t.Errorf("Sign with secret %q = %q, want an error", s, sig)
		}
	}
	good := invite.NewWebhookSecret()
	if _, err := webhook.Signatures([]string{good, "whsec_%%"}, "msg", time.Now(), nil); err == nil {
		t.Error("Signatures with one malformed secret: no error")
	}
	if _, err := webhook.Signatures(nil, "msg", time.Now(), nil); err == nil {
		t.Error("Signatures with no secret: no error")
	}
	if _, err := webhook.Headers([]string{good}, "", time.Now(), nil); err == nil {
		t.Error("Headers with an empty message ID: no error")
	}
}

// The timestamp header carries Unix seconds, as the signature does.
func TestHeadersTimestamp(t *testing.T) {
	ts := time.Date(2026, 3, 1, 12, 0, 0, 999_000_000, time.UTC)
	h, err := webhook.Headers([]string{invite.NewWebhookSecret()}, "m", ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Get("webhook-timestamp"); got != "1772366400" {
		t.Errorf("webhook-timestamp = %q, want 1772366400", got)
	}
}
