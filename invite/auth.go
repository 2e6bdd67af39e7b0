package invite

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"
)

// KeyPrefix starts every API key.
const KeyPrefix = "invitd_"

func hashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// NewKey is an API key as shown once, at creation.
type NewKey struct {
	*APIKey
	Secret string // the secret alone, for HTTP Basic with ID as the user
	Token  string // invitd_<id>_<secret>, for Authorization: Bearer
}

// Authenticate checks a bearer credential: the configured admin key or an
// invitd_<id>_<secret> key.
func (s *Service) Authenticate(ctx context.Context, credential string) (*Principal, error) {
	if !credentialText(credential) {
		return nil, Unauthorized("the API key is not valid")
	}
	if s.adminKeyHash != nil && subtle.ConstantTimeCompare(hashSecret(credential), s.adminKeyHash) == 1 {
		return &Principal{Type: ActorAdminKey, KeyID: "admin", Name: "configured admin key"}, nil
	}
	id, secret, ok := strings.Cut(strings.TrimPrefix(credential, KeyPrefix), "_")
	if !ok || !strings.HasPrefix(credential, KeyPrefix) {
		return nil, Unauthorized("the API key is not valid")
	}
	return s.AuthenticateKey(ctx, id, secret)
}

// AuthenticateKey checks a key's id and secret, as sent with HTTP Basic.
func (s *Service) AuthenticateKey(ctx context.Context, id, secret string) (*Principal, error) {
	// An id no key can have is refused before the store, which may reject
	// it itself (PostgreSQL refuses a NUL byte): that is the caller's
	// mistake, not a failure to try again.
	if !keyIDShaped(id) || !credentialText(secret) {
		return nil, Unauthorized("the API key is not valid")
	}
	var key *APIKey
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		key, err = tx.GetKey(ctx, id)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return nil, Unauthorized("the API key is not valid")
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err() // the caller is gone
		}
		// Not the key's fault: a 401 would have a client throw a good key away.
		e := errorf(KindUnavailable, "the API key could not be checked just now; try again")
		e.RetryAfter, e.Cause = time.Second, err
		return nil, e
	}
	if subtle.ConstantTimeCompare(hashSecret(secret), key.SecretHash) != 1 {
		return nil, Unauthorized("the API key is not valid")
	}
	now := s.Now()
	if key.ExpiresAt != nil && !now.Before(*key.ExpiresAt) {
		return nil, Unauthorized("the API key has expired")
	}
	if key.LastUsedAt == nil || now.Sub(*key.LastUsedAt) >= KeyUseInterval {
		s.noteKeyUse(ctx, key.ID, now)
	}
	return keyPrincipal(key), nil
}

// noteKeyUse records that key id was used at now. Each node tries at most
// once a KeyUseInterval per key, so that a burst of requests, or a store
// that refuses writes, costs one attempt rather than one a request; the
// store writes only when the stored time is that old, so that nodes racing
// on one key write it once. It is a note, not the request's work: it is
// cut short after touchKeyBudget, and a failure is logged and fails nothing.
func (s *Service) noteKeyUse(ctx context.Context, id string, now time.Time) {
	if !s.claimKeyUse(id, now) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), touchKeyBudget)
	defer cancel()
	err := s.write(ctx, func(c *change) error {
		return c.tx.NoteKeyUse(c.ctx, id, now, now.Add(-KeyUseInterval))
	})
	if err != nil {
		slog.WarnContext(ctx, "could not record an API key's use", "key_id", id, "err", err)
	}
}

// touchKeyBudget bounds the write of a key's last use.
const touchKeyBudget = 250 * time.Millisecond

// claimKeyUse tells whether this call is the one on this node to note key
// id's use at now: none did within KeyUseInterval.
func (s *Service) claimKeyUse(id string, now time.Time) bool {
	for {
		v, loaded := s.keyUses.LoadOrStore(id, now)
		if !loaded {
			return true
		}
		if now.Sub(v.(time.Time)) < KeyUseInterval {
			return false
		}
		if s.keyUses.CompareAndSwap(id, v, now) {
			return true
		}
	}
}

// credentialText tells a credential that can be a key's: no key holds a NUL
// or invalid UTF-8, and the server lets such credentials through to be
// refused here, as any wrong key is (401), rather than as a bad request.
func credentialText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// keyIDShaped tells an id CreateKey could have made: 16 lowercase hex digits.
func keyIDShaped(id string) bool {
	if len(id) != keyIDLen {
		return false
	}
	for _, c := range []byte(id) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// keyIDLen is the length of a key's id: randomHex of 8 bytes.
const keyIDLen = 16

// KeyInput is what a caller asks of a new key.
type KeyInput struct {
	Name string
	// Scopes, for an organization's key; nil gives DefaultScopes. A key
	// gives no scope it does not hold itself.
	Scopes []string
	// ExpiresAt, when set, must be in the future.
	ExpiresAt *time.Time
}

// CreateKey makes a key for org, or an admin key when org is nil.
func (s *Service) CreateKey(ctx context.Context, org *OrgID, in KeyInput) (*NewKey, error) {
	if err := authorizeKeys(ctx, org, ScopeKeysWrite); err != nil {
		return nil, err
	}
	name := strings.TrimSpace(in.Name)
	if err := CheckText("name", name, MaxNameLen); err != nil {
		return nil, err
	}
	var scopes []string
	if org != nil {
		var err error
		if scopes, err = normalizeScopes(in.Scopes); err != nil {
			return nil, err
		}
		if len(scopes) == 0 {
			return nil, Invalid("scopes must name at least one scope; the scopes are %s", strings.Join(AllScopes, ", "))
		}
		p := PrincipalFrom(ctx)
		for _, sc := range scopes {
			if !p.Has(sc) {
				return nil, errorf(KindForbidden, "this API key lacks the scope %q, so it cannot give it to a new key", sc)
			}
		}
		if p != nil && p.Type == ActorAPIKey && p.ExpiresAt != nil &&
			(in.ExpiresAt == nil || in.ExpiresAt.After(*p.ExpiresAt)) {
			return nil, errorf(KindForbidden, "this API key expires at %s; a key it makes must expire by then", p.ExpiresAt.Format(time.RFC3339))
		}
	} else if in.Scopes != nil {
		return nil, Invalid("an admin key may do anything; it takes no scopes")
	}
	secret := randomHex(32)
	k := &APIKey{ID: randomHex(keyIDLen / 2), OrgID: org, Name: name, SecretHash: hashSecret(secret), Scopes: scopes}
	if in.ExpiresAt != nil {
		t := in.ExpiresAt.UTC().Truncate(time.Microsecond)
		k.ExpiresAt = &t
	}
	err := s.write(ctx, func(c *change) error {
		k.CreatedAt = c.now
		if k.ExpiresAt != nil && !k.ExpiresAt.After(c.now) {
			return Invalid("expires_at must be in the future")
		}
		if org != nil {
			if _, err := s.getOrg(ctx, c.tx, *org); err != nil {
				return err
			}
		}
		if err := c.tx.CreateKey(ctx, k); err != nil {
			return err
		}
		if org != nil { // the log is an organization's; admin keys have none
			c.emit(*org, EventAPIKeyCreated, k.ID, ViewKey(k))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &NewKey{APIKey: k, Secret: secret, Token: KeyPrefix + k.ID + "_" + secret}, nil
}

// authorizeKeys checks that ctx's caller may do what scope says with org's
// keys, or with the admin keys when org is nil (an admin key only).
func authorizeKeys(ctx context.Context, org *OrgID, scope string) error {
	if org == nil {
		return requireAdmin(ctx)
	}
	return authorize(ctx, *org, scope)
}

// EnsureAdminKey creates an admin key when no admin key is configured and the
// store has no key at all, so that a first start can be used. It returns the
// new key's token, or "" when nothing was created.
func (s *Service) EnsureAdminKey(ctx context.Context) (string, error) {
	if s.adminKeyHash != nil {
		return "", nil
	}
	secret := randomHex(32)
	k := &APIKey{ID: randomHex(keyIDLen / 2), Name: "bootstrap admin", SecretHash: hashSecret(secret)}
	created := false
	err := s.write(ctx, func(c *change) error {
		n, err := c.tx.CountKeys(ctx)
		if err != nil || n > 0 {
			return err
		}
		created, k.CreatedAt = true, c.now
		return c.tx.CreateKey(ctx, k)
	})
	if err != nil || !created {
		return "", err
	}
	return KeyPrefix + k.ID + "_" + secret, nil
}

// ListKeys lists org's keys, or the admin keys when org is nil.
func (s *Service) ListKeys(ctx context.Context, org *OrgID) ([]*APIKey, error) {
	if err := authorizeKeys(ctx, org, ScopeKeysRead); err != nil {
		return nil, err
	}
	var keys []*APIKey
	err := s.store.Read(ctx, func(tx Tx) error {
		if org != nil {
			if _, err := s.getOrg(ctx, tx, *org); err != nil {
				return err
			}
		}
		var err error
		keys, err = tx.ListKeys(ctx, org)
		return err
	})
	return keys, err
}

// DeleteKey revokes a key of org (nil: an admin key).
func (s *Service) DeleteKey(ctx context.Context, org *OrgID, id string) error {
	if err := authorizeKeys(ctx, org, ScopeKeysWrite); err != nil {
		return err
	}
	return s.write(ctx, func(c *change) error {
		k, err := c.tx.GetKey(ctx, id)
		if errors.Is(err, ErrNotFound) || (err == nil && !sameOrg(k.OrgID, org)) {
			return NotFound("API key %q not found", id)
		}
		if err != nil {
			return err
		}
		if err := c.tx.DeleteKey(ctx, id); err != nil {
			return err
		}
		if org != nil {
			c.emit(*org, EventAPIKeyDeleted, k.ID, ViewKey(k))
		}
		return nil
	})
}

func sameOrg(a, b *OrgID) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
