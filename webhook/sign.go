package webhook

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

// The headers of a signed message, named as the specification names them.
// http.Header canonicalizes them on the wire (Webhook-Id); receivers match
// header names without regard to case.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every secret (invite.NewWebhookSecret makes them), so
// that a secret is recognizable in a configuration file or a leaked log, as
// the specification recommends.
const SecretPrefix = "whsec_"

// secretKey returns the HMAC key a secret stands for. Only the prefixed form
// is accepted: a bare base64 string is more likely a mistake (a token pasted
// into the wrong field) than a secret.
func secretKey(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("webhook secret does not start with %q", SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("webhook secret is not %s followed by standard base64: %w", SecretPrefix, err)
	}
	if len(key) == 0 {
		return nil, errors.New("webhook secret has an empty key")
	}
	return key, nil
}

// Sign returns the version-1 signature of one message: "v1," and the
// standard base64 of HMAC-SHA256, keyed with the secret's decoded bytes, over
// "{msgID}.{ts as Unix seconds}.{body}". The ID and timestamp are signed with
// the body so that a receiver can refuse replays and stale messages.
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Signatures returns the signature of the message under each secret,
// separated by single spaces, for the webhook-signature header. While a
// secret is being rotated both the old and the new one are live, and a
// receiver holding either accepts the message.
func Signatures(secrets []string, msgID string, ts time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("webhook: no secret to sign with")
	}
	sigs := make([]string, len(secrets))
	for i, s := range secrets {
		sig, err := Sign(s, msgID, ts, body)
		if err != nil {
			return "", err
		}
		sigs[i] = sig
	}
	return strings.Join(sigs, " "), nil
}

// Headers returns the three headers that carry a signed message:
// webhook-id, webhook-timestamp (Unix seconds) and webhook-signature (see
// Signatures). The ID must be non-empty: it is what receivers deduplicate
// retries by.
func Headers(secrets []string, msgID string, ts time.Time, body []byte) (http.Header, error) {
	if msgID == "" {
		return nil, errors.New("webhook: empty message ID")
	}
	sigs, err := Signatures(secrets, msgID, ts, body)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, 3)
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sigs)
	return h, nil
}
