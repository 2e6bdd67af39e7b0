// Package store opens the Store a database URL names.
package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/store/postgres"
	"github.com/invitd/invitd/store/sqlite"
)

// Open opens sqlite:PATH[?synchronous=FULL] or postgres://... and migrates it.
func Open(ctx context.Context, url string) (invite.Store, error) {
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		path, sync, err := sqlite.ParseURL(url)
		if err != nil {
			return nil, err
		}
		return sqlite.Open(ctx, path, sync)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return postgres.Open(ctx, url)
	}
	return nil, fmt.Errorf("database URL %q must start with sqlite: or postgres://", url)
}
