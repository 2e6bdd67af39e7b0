// Package storetest is the behaviour suite every invite.Store must pass.
//
// Most tests drive the store through invite.Service with a fake clock, so the
// rules of the core are checked on every backend; some check the Tx contract
// directly.
package storetest

import (
	"testing"

	"github.com/invitd/invitd/invite"
)

// Run runs the suite. open returns a new, empty, migrated store; it is called
// once per top-level group of tests, and the store is shared by that group's
// tests, each of which makes its own organizations.
func Run(t *testing.T, open func(t *testing.T) invite.Store) {
	t.Helper()
	groups := []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"Tx", testTx},
		{"Organizations", testOrgs},
		{"Keys", testKeys},
		{"Scopes", testScopes},
		{"Bootstrap", testBootstrap},
		{"States", testStates},
		{"Expiry", testExpiry},
		{"Paging", testPaging},
		{"UniquePending", testUniquePending},
		{"Idempotency", testIdempotency},
		{"Tenants", testTenants},
		{"Members", testMembers},
		{"Resend", testResend},
		{"Outbox", testOutbox},
		{"Jobs", testJobs},
		{"Events", testEvents},
		{"Webhooks", testWebhooks},
		{"Secrets", testSecrets},
		{"Limits", testLimits},
		{"Policies", testPolicies},
		{"Bulk", testBulk},
		{"Address", testAddress},
		{"Reminders", testReminders},
		{"Console", testConsole},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.fn(t, newEnv(t, open(t))) })
	}
}
