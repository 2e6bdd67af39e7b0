// Package storetest is the behaviour suite every invite.Store must pass.
package storetest

import (
	"testing"

	"github.com/invitd/invitd/invite"
)

// Run runs the suite; open returns a new, empty, migrated store for each test.
func Run(t *testing.T, open func(t *testing.T) invite.Store) {
	t.Helper()
	_ = open
}
