package invite

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// MinSecretLen is the shortest server secret accepted, in bytes.
const MinSecretLen = 32

// Secret is the server's secret. Accept links are derived from it, so that
// no link is stored anywhere, and the webhook signing secrets, which must be
// kept to sign, are sealed under it. Earlier secrets, kept during a
// rotation, still open what they made.
type Secret struct {
	keys []secretKeys // the current secret's first
}

// secretKeys are the keys one secret gives, each for one use, so that no
// output of one use is ever an input of another.
type secretKeys struct {
	token  []byte      // HMAC key of accept tokens
	seal   cipher.AEAD // AES-256-GCM over webhook signing secrets
	signIn []byte      // HMAC key of the console's sign-in links
}

// NewSecret takes the current secret and those still honoured after a
// rotation; each must be at least MinSecretLen bytes.
func NewSecret(current string, previous ...string) (*Secret, error) {
	s := &Secret{}
	for i, raw := range append([]string{current}, previous...) {
		if len(raw) < MinSecretLen {
			what := "the secret"
			if i > 0 {
				what = "the previous secret"
			}
			return nil, fmt.Errorf("%s must be at least %d bytes (it has %d)", what, MinSecretLen, len(raw))
		}
		block, err := aes.NewCipher(derive(raw, "invitd webhook secret seal v1"))
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, secretKeys{token: derive(raw, "invitd accept token v1"), seal: aead,
			signIn: derive(raw, "invitd console sign-in v1")})
	}
	return s, nil
}

// RandomSecret makes a new secret, such as the one invitd keeps in a file
// beside a SQLite database.
func RandomSecret() string { return randomHex(MinSecretLen) }

func derive(secret, use string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(use))
	return m.Sum(nil)
}

// An accept token is the invitation's id followed by an HMAC of the id and
// its send count, in base64url: the id finds the row, the HMAC proves the
// link, and a resend (a new count) makes a new link that ends the old one.
func tokenMAC(key []byte, id uuid.UUID, send int) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(id[:])
	m.Write(binary.BigEndian.AppendUint64(nil, uint64(send)))
	return m.Sum(nil)
}

// token is the link of invitation id at its send-th mail.
func (s *Secret) token(id uuid.UUID, send int) string {
	b := append(id[:], tokenMAC(s.keys[0].token, id, send)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// opens tells whether token is the link of invitation id at its send-th
// mail, under the current secret or one still honoured.
func (s *Secret) opens(id uuid.UUID, send int, token string) bool {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != 16+sha256.Size || !hmac.Equal(b[:16], id[:]) {
		return false
	}
	ok := 0
	for _, k := range s.keys { // every key, so the time says nothing of which
		ok |= subtle.ConstantTimeCompare(b[16:], tokenMAC(k.token, id, send))
	}
	return ok == 1
}

// sealedPrefix starts a sealed value; a value without it was stored in the
// clear by an earlier version.
const sealedPrefix = "sealed1:"

// seal encrypts plain under the current secret, bound to what (a webhook's
// id), so that a sealed value moved to another row does not open.
func (s *Secret) seal(plain, what string) string {
	if plain == "" {
		return ""
	}
	aead := s.keys[0].seal
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	_, _ = rand.Read(nonce)
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(plain), []byte(what)))
}

// errUnsealable is a sealed value that no honoured secret opens.
var errUnsealable = errors.New("a stored secret opens under none of the configured secrets (was INVITD_SECRET changed without INVITD_SECRET_PREVIOUS?)")

// open decrypts a sealed value, telling whether it was sealed under the
// current secret; a value stored in the clear is returned as it is.
func (s *Secret) open(stored, what string) (plain string, current bool, err error) {
	if !strings.HasPrefix(stored, sealedPrefix) {
		return stored, stored == "", nil
	}
	b, err := base64.RawStdEncoding.DecodeString(stored[len(sealedPrefix):])
	if err != nil {
		return "", false, errUnsealable
	}
	for i, k := range s.keys {
		n := k.seal.NonceSize()
		if len(b) < n {
			break
		}
		if p, err := k.seal.Open(nil, b[:n], b[n:], []byte(what)); err == nil {
			return string(p), i == 0, nil
		}
	}
	return "", false, errUnsealable
}
