package invite

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ActorType says what kind of caller made a change.
type ActorType string

// The actor types.
const (
	ActorAdminKey ActorType = "admin_key"
	ActorAPIKey   ActorType = "api_key"
	ActorInvitee  ActorType = "invitee"
	// ActorMember is an owner or admin signed in to the console.
	ActorMember ActorType = "member"
	ActorSystem ActorType = "system"
)

// Actor is who made a change, as every event records it.
type Actor struct {
	Type ActorType `json:"type" enum:"admin_key,api_key,member,invitee,system" doc:"What made the change: a key, a member signed in to the console, an invitee through their link, or invitd itself"`
	ID   string    `json:"id" doc:"The key's id (admin for the configured admin key), the member's id, the invitation's id for an invitee, or system"`
	Name string    `json:"name" doc:"The key's name, the member's name, the invitee's address, or invitd"`
}

// Principal is an authenticated caller. Surfaces turn a credential into
// one and put it in the context (WithPrincipal); the Service decides what
// it may do.
type Principal struct {
	Type  ActorType
	KeyID string // the API key's id, "admin" for the configured admin key; a member's id
	Name  string
	Org   *OrgID // the organization an api_key or a member manages; nil for the others
	// Scopes are what an api_key or a member may do (see Has); admin
	// keys and the system may do anything.
	Scopes []string
	// ExpiresAt is when an api_key stops working; nil: never. A key it
	// makes may not outlive it.
	ExpiresAt *time.Time
}

// System is background work and the shell: it may do anything.
var System = &Principal{Type: ActorSystem, KeyID: "system", Name: "invitd"}

// IsAdmin tells a caller that manages every organization.
func (p *Principal) IsAdmin() bool {
	return p != nil && (p.Type == ActorAdminKey || p.Type == ActorSystem)
}

// Authorize answers whether p may manage org; another org's resources are
// "not found" so that ids do not leak across tenants.
func (p *Principal) Authorize(org OrgID) error {
	if p.IsAdmin() || (p != nil && (p.Type == ActorAPIKey || p.Type == ActorMember) && p.Org != nil && *p.Org == org) {
		return nil
	}
	return NotFound("organization %s not found", org)
}

// RequireAdmin refuses anything but an admin key or the system.
func (p *Principal) RequireAdmin() error {
	if !p.IsAdmin() {
		return errorf(KindForbidden, "this action needs an admin key")
	}
	return nil
}

// Actor is how events name p.
func (p *Principal) Actor() Actor {
	if p == nil {
		return Actor{Type: ActorSystem, ID: "system", Name: "invitd"}
	}
	return Actor{Type: p.Type, ID: p.KeyID, Name: p.Name}
}

type principalKey struct{}

// WithPrincipal returns ctx carrying the caller p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller ctx carries, nil if none.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// caller returns ctx's principal, or Unauthorized when there is none: no
// change is made on behalf of nobody.
func caller(ctx context.Context) (*Principal, error) {
	if p := PrincipalFrom(ctx); p != nil {
		return p, nil
	}
	return nil, Unauthorized("no authenticated caller")
}

// authorize checks that ctx's caller may manage org and holds scope. An
// organization the caller does not manage is "not found" before any scope
// is looked at, so that a scope error says nothing of other tenants.
func authorize(ctx context.Context, org OrgID, scope string) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if err := p.Authorize(org); err != nil {
		return err
	}
	return p.need(scope)
}

type requestIDKey struct{}

// MaxRequestIDLen bounds a request id taken from a client.
const MaxRequestIDLen = 128

// WithRequestID returns ctx carrying the id of the HTTP request it serves.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id ctx carries, "" if none.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// RequestIDUsable tells whether a client's X-Request-Id may be kept: short
// and printable ASCII, so that it is safe in logs, headers and events.
func RequestIDUsable(id string) bool {
	if id == "" || len(id) > MaxRequestIDLen {
		return false
	}
	return strings.IndexFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) < 0
}

// NewRequestID makes a request id for a request that brought none.
func NewRequestID() string { return uuid.NewString() }

// requireAdmin checks that ctx's caller manages every organization.
func requireAdmin(ctx context.Context) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	return p.RequireAdmin()
}
