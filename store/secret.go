package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/store/sqlite"
)

// Secret returns the server secret for the database url names: given, when
// set (INVITD_SECRET); otherwise, on SQLite, the one kept beside the
// database file, made on first start. PostgreSQL, which several nodes
// share, needs it given, the same on each. previous, when set
// (INVITD_SECRET_PREVIOUS), still opens what it made during a rotation.
func Secret(url, given, previous string) (*invite.Secret, error) {
	if given == "" {
		if !strings.HasPrefix(url, "sqlite:") {
			return nil, errors.New("INVITD_SECRET is required with PostgreSQL: every node derives the invitation links and opens the webhook secrets with it, so give each node the same value of at least 32 bytes (for example `openssl rand -hex 32`)")
		}
		path, _, err := sqlite.ParseURL(url)
		if err != nil {
			return nil, err
		}
		if given, err = sqlite.Secret(path); err != nil {
			return nil, err
		}
	}
	if len(given) < invite.MinSecretLen {
		return nil, fmt.Errorf("INVITD_SECRET must be at least %d bytes (it has %d)", invite.MinSecretLen, len(given))
	}
	if previous == "" {
		return invite.NewSecret(given)
	}
	if len(previous) < invite.MinSecretLen {
		return nil, fmt.Errorf("INVITD_SECRET_PREVIOUS must be at least %d bytes (it has %d)", invite.MinSecretLen, len(previous))
	}
	return invite.NewSecret(given, previous)
}
