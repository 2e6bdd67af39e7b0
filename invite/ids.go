package invite

import (
	"crypto/rand"
	"database/sql/driver"
	"encoding/hex"
	"fmt"

	"github.com/google/uuid"
	"github.com/oklog/ulid/v2"
)

// OrgID is an organization's 128-bit id. It is shown as a ULID and accepted
// as a ULID or as the same bits in UUID form.
type OrgID [16]byte

// NewOrgID returns a new time-ordered id.
func NewOrgID() OrgID { return OrgID(ulid.Make()) }

// ParseOrgID accepts the ULID or the UUID form.
func ParseOrgID(s string) (OrgID, error) {
	if len(s) == ulid.EncodedSize {
		if u, err := ulid.ParseStrict(s); err == nil {
			return OrgID(u), nil
		}
	}
	if len(s) == 36 {
		if u, err := uuid.Parse(s); err == nil {
			return OrgID(u), nil
		}
	}
	return OrgID{}, NotFound("organization %q not found", s)
}

// String is the ULID form.
func (id OrgID) String() string { return ulid.ULID(id).String() }

// UUID is the UUID form.
func (id OrgID) UUID() string { return uuid.UUID(id).String() }

// IsZero tells an unset id.
func (id OrgID) IsZero() bool { return id == OrgID{} }

// Value stores the UUID form, which both backends index natively.
func (id OrgID) Value() (driver.Value, error) { return id.UUID(), nil }

// Scan reads the UUID form.
func (id *OrgID) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	case [16]byte:
		*id = OrgID(v)
		return nil
	default:
		return fmt.Errorf("invite: cannot scan %T into OrgID", src)
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return err
	}
	*id = OrgID(u)
	return nil
}

// MarshalText makes an OrgID a ULID string in JSON.
func (id OrgID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText accepts either form.
func (id *OrgID) UnmarshalText(b []byte) error {
	v, err := ParseOrgID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
