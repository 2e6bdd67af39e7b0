package invite

import (
	"strconv"

	"github.com/google/uuid"
)

// InvitationRef names an invitation by its UUID or by its number.
type InvitationRef struct {
	ID     uuid.UUID
	Number int64
}

// ParseInvitationRef accepts a UUID or a positive integer.
func ParseInvitationRef(s string) (InvitationRef, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return InvitationRef{Number: n}, nil
	}
	if id, err := uuid.Parse(s); err == nil && len(s) == 36 {
		return InvitationRef{ID: id}, nil
	}
	return InvitationRef{}, NotFound("invitation %q not found", s)
}

func (r InvitationRef) String() string {
	if r.Number != 0 {
		return strconv.FormatInt(r.Number, 10)
	}
	return r.ID.String()
}

func newUUIDv7() uuid.UUID { return uuid.Must(uuid.NewV7()) }

func newUUIDv4() uuid.UUID { return uuid.New() }
