package invite

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"strings"
)

// KeyPrefix starts every API key.
const KeyPrefix = "invitd_"

// Principal is an authenticated caller.
type Principal struct {
	KeyID string
	Org   *OrgID // nil for an admin
}

// IsAdmin tells an admin key.
func (p *Principal) IsAdmin() bool { return p != nil && p.Org == nil }

// Authorize answers whether p may manage org; another org's resources are
// "not found" so that ids do not leak across tenants.
func (p *Principal) Authorize(org OrgID) error {
	if p == nil || (p.Org != nil && *p.Org != org) {
		return NotFound("organization %s not found", org)
	}
	return nil
}

// RequireAdmin refuses anything but an admin key.
func (p *Principal) RequireAdmin() error {
	if !p.IsAdmin() {
		return errorf(KindForbidden, "this action needs an admin key")
	}
	return nil
}

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
	if s.adminKeyHash != nil && subtle.ConstantTimeCompare(hashSecret(credential), s.adminKeyHash) == 1 {
		return &Principal{KeyID: "admin"}, nil
	}
	id, secret, ok := strings.Cut(strings.TrimPrefix(credential, KeyPrefix), "_")
	if !ok || !strings.HasPrefix(credential, KeyPrefix) {
		return nil, Unauthorized("the API key is not valid")
	}
	return s.AuthenticateKey(ctx, id, secret)
}

// AuthenticateKey checks a key's id and secret, as sent with HTTP Basic.
func (s *Service) AuthenticateKey(ctx context.Context, id, secret string) (*Principal, error) {
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
		return nil, err
	}
	if subtle.ConstantTimeCompare(hashSecret(secret), key.SecretHash) != 1 {
		return nil, Unauthorized("the API key is not valid")
	}
	return &Principal{KeyID: key.ID, Org: key.OrgID}, nil
}

// CreateKey makes a key for org, or an admin key when org is nil.
func (s *Service) CreateKey(ctx context.Context, org *OrgID, name string) (*NewKey, error) {
	name = strings.TrimSpace(name)
	if err := CheckText("name", name, MaxNameLen); err != nil {
		return nil, err
	}
	secret := randomHex(32)
	k := &APIKey{ID: randomHex(8), OrgID: org, Name: name, SecretHash: hashSecret(secret), CreatedAt: s.Now()}
	err := s.store.Write(ctx, func(tx Tx) error {
		if org != nil {
			if _, err := s.getOrg(ctx, tx, *org); err != nil {
				return err
			}
		}
		return tx.CreateKey(ctx, k)
	})
	if err != nil {
		return nil, err
	}
	return &NewKey{APIKey: k, Secret: secret, Token: KeyPrefix + k.ID + "_" + secret}, nil
}

// EnsureAdminKey creates an admin key when no admin key is configured and the
// store has no key at all, so that a first start can be used. It returns the
// new key's token, or "" when nothing was created.
func (s *Service) EnsureAdminKey(ctx context.Context) (string, error) {
	if s.adminKeyHash != nil {
		return "", nil
	}
	secret := randomHex(32)
	k := &APIKey{ID: randomHex(8), Name: "bootstrap admin", SecretHash: hashSecret(secret), CreatedAt: s.Now()}
	created := false
	err := s.store.Write(ctx, func(tx Tx) error {
		n, err := tx.CountKeys(ctx)
		if err != nil || n > 0 {
			return err
		}
		created = true
		return tx.CreateKey(ctx, k)
	})
	if err != nil || !created {
		return "", err
	}
	return KeyPrefix + k.ID + "_" + secret, nil
}

// ListKeys lists org's keys, or the admin keys when org is nil.
func (s *Service) ListKeys(ctx context.Context, org *OrgID) ([]*APIKey, error) {
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
	return s.store.Write(ctx, func(tx Tx) error {
		k, err := tx.GetKey(ctx, id)
		if errors.Is(err, ErrNotFound) || (err == nil && !sameOrg(k.OrgID, org)) {
			return NotFound("API key %q not found", id)
		}
		if err != nil {
			return err
		}
		return tx.DeleteKey(ctx, id)
	})
}

func sameOrg(a, b *OrgID) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
