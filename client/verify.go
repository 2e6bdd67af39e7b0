package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WebhookTolerance is how far a delivery's timestamp may be from now;
// older ones are refused as replays.
const WebhookTolerance = 5 * time.Minute

// VerifyWebhook checks that a delivery's body was signed with secret (the
// endpoint's whsec_... secret) under the Standard Webhooks scheme invitd
// uses: header webhook-signature holds "v1,<base64 HMAC-SHA256>" values
// over "{webhook-id}.{webhook-timestamp}.{body}", one per live secret, and
// webhook-timestamp must be within WebhookTolerance of now. Pass the body
// exactly as received.
func VerifyWebhook(secret string, header http.Header, body []byte) error {
	return verifyAt(secret, header, body, time.Now())
}

func verifyAt(secret string, header http.Header, body []byte, now time.Time) error {
	enc, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return errors.New("invitd webhook: the secret does not start with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(key) == 0 {
		return errors.New("invitd webhook: the secret is not whsec_ and base64")
	}
	id, ts, sigs := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("invitd webhook: missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("invitd webhook: webhook-timestamp %q is not Unix seconds", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > WebhookTolerance || d < -WebhookTolerance {
		return fmt.Errorf("invitd webhook: the timestamp is %v from now, beyond %v", d.Round(time.Second), WebhookTolerance)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	match := false
	for _, s := range strings.Fields(sigs) {
		v, sig, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		// Every signature is compared, so the time taken does not say which.
		if err == nil && hmac.Equal(got, want) {
			match = true
		}
	}
	if !match {
		return errors.New("invitd webhook: no signature matches the secret")
	}
	return nil
}
