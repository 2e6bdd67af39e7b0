package invite

import (
	"slices"
	"strings"
	"time"
)

// The scopes an organization's key may hold; each names what a Service
// method needs. Admin keys hold them all. Reading the organization itself
// (its name and settings, which every surface's answers draw on) needs
// none: any key of the organization may.
const (
	ScopeInvitationsRead  = "invitations:read"
	ScopeInvitationsWrite = "invitations:write"
	ScopeMembersRead      = "members:read"
	ScopeMembersWrite     = "members:write"
	ScopeWebhooksRead     = "webhooks:read"
	ScopeWebhooksWrite    = "webhooks:write"
	ScopeEventsRead       = "events:read"
	ScopeKeysRead         = "keys:read"
	ScopeKeysWrite        = "keys:write"
	ScopeOrgWrite         = "organization:write"
)

// AllScopes lists every scope, in the order they are shown.
var AllScopes = []string{
	ScopeInvitationsRead, ScopeInvitationsWrite, ScopeMembersRead, ScopeMembersWrite,
	ScopeWebhooksRead, ScopeWebhooksWrite, ScopeEventsRead, ScopeKeysRead, ScopeKeysWrite,
	ScopeOrgWrite,
}

// DefaultScopes are a new organization key's when none are asked for:
// everything but managing keys, so that a leaked key cannot make another
// that outlives its revocation.
var DefaultScopes = slices.DeleteFunc(slices.Clone(AllScopes), func(s string) bool {
	return s == ScopeKeysRead || s == ScopeKeysWrite
})

// normalizeScopes checks asked against the known scopes and returns them
// deduplicated in AllScopes' order; nil asks for DefaultScopes.
func normalizeScopes(asked []string) ([]string, error) {
	if asked == nil {
		return slices.Clone(DefaultScopes), nil
	}
	var unknown []string
	for _, s := range asked {
		if !slices.Contains(AllScopes, s) {
			unknown = append(unknown, s)
		}
	}
	if len(unknown) > 0 {
		return nil, Invalid("unknown scope %q; the scopes are %s", unknown[0], strings.Join(AllScopes, ", "))
	}
	out := make([]string, 0, len(asked))
	for _, s := range AllScopes {
		if slices.Contains(asked, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// Has tells whether p holds scope: admin keys and the system hold every
// one, an organization's key those it was made with, the invitee none.
func (p *Principal) Has(scope string) bool {
	if p.IsAdmin() {
		return true
	}
	return p != nil && (p.Type == ActorAPIKey || p.Type == ActorMember) && slices.Contains(p.Scopes, scope)
}

// need refuses p unless it holds scope; "" needs none.
func (p *Principal) need(scope string) error {
	if scope == "" || p.Has(scope) {
		return nil
	}
	return errorf(KindForbidden, "this API key lacks the scope %q", scope)
}

// KeyUseInterval is how stale a key's last_used_at may get: it is written
// at most this often, so that using a key is not a write each time.
const KeyUseInterval = time.Minute
