// Package postgres is the Store for PostgreSQL, shared by several invitd nodes.
package postgres

import (
	"context"
	"errors"

	"github.com/invitd/invitd/invite"
)

// Open connects to url (postgres://...) and migrates the database.
func Open(ctx context.Context, url string) (invite.Store, error) {
	return nil, errors.New("postgres: not implemented yet")
}
