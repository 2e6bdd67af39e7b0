package invite

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/ratelimit"
)

// Service holds every rule of invitd; the surfaces only translate to and from it.
type Service struct {
	store        Store
	now          func() time.Time
	adminKeyHash []byte
	wake         func(kind string)
	checkURL     func(context.Context, string) error
	secret       *Secret
	keyUses      sync.Map // key id → when this node last noted its use
	limits       *requestLimits
	sessionIdle  time.Duration
}

// Config configures a Service.
type Config struct {
	// AdminKey, when set, is accepted as an admin bearer key.
	AdminKey string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Wake is called after a commit that queued jobs of a kind, so a local
	// runner can start on them at once rather than at its next poll.
	Wake func(kind string)
	// CheckWebhookURL refuses a webhook URL that may not be called (the
	// SSRF guard), with an error of this package; nil refuses none beyond
	// what is not an absolute http(s) URL.
	CheckWebhookURL func(ctx context.Context, url string) error
	// Secret derives the accept links and seals the webhook secrets; every
	// node of one database needs the same. Nil makes one for this Service
	// alone, which suits tests: its links end with it.
	Secret *Secret
	// RequestsPerSecond and RequestBurst are each key's token bucket on
	// this node where its organization sets none; 0 means
	// DefaultRequestsPerSecond and DefaultRequestBurst.
	RequestsPerSecond float64
	RequestBurst      int
	// NoRequestLimits admits every request, for tests of other things.
	NoRequestLimits bool
	// SessionIdle ends a console session this long after its last use;
	// 0 means DefaultSessionIdle.
	SessionIdle time.Duration
}

// MinAdminKeyLen is the shortest configured admin key accepted.
const MinAdminKeyLen = 32

// NewService returns a Service over store.
func NewService(store Store, cfg Config) (*Service, error) {
	s := &Service{store: store, now: cfg.Now, wake: cfg.Wake, checkURL: cfg.CheckWebhookURL, secret: cfg.Secret,
		limits: newRequestLimits(cfg.RequestsPerSecond, cfg.RequestBurst, cfg.NoRequestLimits)}
	if s.secret == nil {
		s.secret, _ = NewSecret(RandomSecret())
	}
	if s.checkURL == nil {
		s.checkURL = func(context.Context, string) error { return nil }
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.sessionIdle = cfg.SessionIdle; s.sessionIdle <= 0 {
		s.sessionIdle = DefaultSessionIdle
	}
	if s.wake == nil {
		s.wake = func(string) {}
	}
	if cfg.AdminKey != "" {
		if len(cfg.AdminKey) < MinAdminKeyLen {
			return nil, Invalid("the admin key must be at least %d characters", MinAdminKeyLen)
		}
		s.adminKeyHash = hashSecret(cfg.AdminKey)
	}
	return s, nil
}

// Now is the service's clock, in UTC at microsecond precision, which both
// backends store exactly.
func (s *Service) Now() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Store returns the store, for readiness checks.
func (s *Service) Store() Store { return s.store }

func (s *Service) getOrg(ctx context.Context, tx Tx, id OrgID) (*Organization, error) {
	o, err := tx.GetOrg(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, NotFound("organization %s not found", id)
	}
	return o, err
}

// ---- organizations

// SettingsPatch changes some settings; nil fields stay.
type SettingsPatch struct {
	InvitationTTL *int64    `json:"invitation_ttl,omitempty" doc:"How long an invitation is valid unless its create says otherwise, in seconds (3600 to 2592000)"`
	Roles         *[]string `json:"roles,omitempty" doc:"The roles an invitation and a member may have; must hold default_role"`
	DefaultRole   *string   `json:"default_role,omitempty" doc:"The role of an invitation whose create names none; one of roles"`
	Permissions   *[]string `json:"permissions,omitempty" doc:"The permissions an invitation may grant"`
	Locale        *string   `json:"locale,omitempty" doc:"A language tag (en, ja-JP) for the mail and the invitee page when the invitation names none; \"\": none"`
	MaxPending    *int      `json:"max_pending,omitempty" doc:"At most this many pending invitations; 0: no cap"`

	MaxMailsPerRecipientPerDay *int `json:"max_mails_per_recipient_per_day,omitempty" doc:"Invitation mails to one address in any 24 hours (create, resend, re-invite); 0: the default, 3; -1: no limit"`
	MaxInvitationsPerHour      *int `json:"max_invitations_per_hour,omitempty" doc:"Invitations made in any hour; 0: the default, 1000; -1: no limit"`
	MaxRequestsPerSecond       *int `json:"max_requests_per_second,omitempty" doc:"Each of the organization's keys' requests per second on each node, with bursts of twice that; 0: the node's default; -1: no limit"`

	MaxMembers             *int      `json:"max_members,omitempty" doc:"Seats: members plus pending, unexpired invitations may not pass it; 0: no limit"`
	AllowedEmailDomains    *[]string `json:"allowed_email_domains,omitempty" doc:"Only addresses at these domains are invited (example.com, or *.example.com for its subdomains); []: any"`
	BlockedEmailDomains    *[]string `json:"blocked_email_domains,omitempty" doc:"Addresses at these domains are never invited (example.com, or *.example.com for its subdomains)"`
	AllowedRedirectOrigins *[]string `json:"allowed_redirect_origins,omitempty" doc:"Origins an invitation's redirect_url and default_redirect_url may lead to: https://host[:port], or http for localhost and 127.0.0.1"`
	DefaultRedirectURL     *string   `json:"default_redirect_url,omitempty" doc:"The invitee page's Continue link after an answer, for invitations without a redirect_url; \"\": none"`
	DisplayName            *string   `json:"display_name,omitempty" doc:"The name the mail and the invitee page show; \"\": the organization's name"`
	LogoURL                *string   `json:"logo_url,omitempty" doc:"An https URL of the logo the mail and the invitee page show; \"\": none"`
	BrandColor             *string   `json:"brand_color,omitempty" doc:"#RRGGBB; \"\": the default"`
	SupportEmail           *string   `json:"support_email,omitempty" doc:"The address the mail's footer gives for questions; \"\": none"`
	ReminderAfter          *int64    `json:"reminder_after,omitempty" doc:"Seconds after its mail when a still pending invitation gets one reminder; 0: none"`
}

func (p *SettingsPatch) apply(st Settings) Settings {
	if p == nil {
		return st
	}
	if p.InvitationTTL != nil {
		st.InvitationTTL = *p.InvitationTTL
	}
	if p.Roles != nil {
		st.Roles = *p.Roles
		if p.DefaultRole == nil && !st.hasRole(st.DefaultRole) && len(st.Roles) > 0 {
			st.DefaultRole = st.Roles[0]
		}
	}
	if p.DefaultRole != nil {
		st.DefaultRole = *p.DefaultRole
	}
	if p.Permissions != nil {
		st.Permissions = *p.Permissions
	}
	if p.Locale != nil {
		st.Locale = *p.Locale
	}
	if p.MaxPending != nil {
		st.MaxPending = *p.MaxPending
	}
	if p.MaxMailsPerRecipientPerDay != nil {
		st.MaxMailsPerRecipientPerDay = *p.MaxMailsPerRecipientPerDay
	}
	if p.MaxInvitationsPerHour != nil {
		st.MaxInvitationsPerHour = *p.MaxInvitationsPerHour
	}
	if p.MaxRequestsPerSecond != nil {
		st.MaxRequestsPerSecond = *p.MaxRequestsPerSecond
	}
	p.applyPolicies(&st)
	return st
}

func (st Settings) hasRole(r string) bool { return (&Organization{Settings: st}).HasRole(r) }

func checkOrgName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", Invalid("name is required")
	}
	return name, CheckText("name", name, MaxNameLen)
}

// CreateOrg makes an organization with the default settings changed by patch.
func (s *Service) CreateOrg(ctx context.Context, name string, patch *SettingsPatch) (*Organization, error) {
	name, err := checkOrgName(name)
	if err != nil {
		return nil, err
	}
	st := patch.apply(DefaultSettings())
	if err := st.Check(); err != nil {
		return nil, err
	}
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	var o *Organization
	err = s.write(ctx, func(c *change) error {
		o = &Organization{ID: NewOrgID(), Name: name, Settings: st, CreatedAt: c.now, UpdatedAt: c.now}
		return c.tx.CreateOrg(ctx, o)
	})
	return o, err
}

// GetOrg returns an organization.
func (s *Service) GetOrg(ctx context.Context, id OrgID) (*Organization, error) {
	return s.getOrgRead(ctx, id, false)
}

// GetOrgWithSeats returns an organization with its seats counted.
func (s *Service) GetOrgWithSeats(ctx context.Context, id OrgID) (*Organization, error) {
	return s.getOrgRead(ctx, id, true)
}

func (s *Service) getOrgRead(ctx context.Context, id OrgID, seats bool) (*Organization, error) {
	if err := authorize(ctx, id, ""); err != nil {
		return nil, err
	}
	var o *Organization
	now := s.Now()
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		if o, err = s.getOrg(ctx, tx, id); err != nil || !seats {
			return err
		}
		members, pending, err := tx.CountSeats(ctx, id, now)
		o.Seats = &Seats{Limit: o.Settings.MaxMembers, Members: members, Pending: pending}
		return err
	})
	return o, err
}

// ListOrgs pages through organizations in id order.
func (s *Service) ListOrgs(ctx context.Context, after *OrgID, limit int) ([]*Organization, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	var out []*Organization
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		out, err = tx.ListOrgs(ctx, after, limit)
		return err
	})
	return out, err
}

// UpdateOrg renames an organization and/or changes its settings.
func (s *Service) UpdateOrg(ctx context.Context, id OrgID, name *string, patch *SettingsPatch) (*Organization, error) {
	if err := authorize(ctx, id, ScopeOrgWrite); err != nil {
		return nil, err
	}
	// The abuse limits guard against the organization's own keys: only an
	// admin key may change them.
	if patch != nil && (patch.MaxMailsPerRecipientPerDay != nil || patch.MaxInvitationsPerHour != nil || patch.MaxRequestsPerSecond != nil) {
		if err := requireAdmin(ctx); err != nil {
			return nil, errorf(KindForbidden, "only an admin key may change the organization's limits (max_mails_per_recipient_per_day, max_invitations_per_hour, max_requests_per_second)")
		}
	}
	var o *Organization
	err := s.write(ctx, func(c *change) error {
		var err error
		if o, err = s.getOrg(ctx, c.tx, id); err != nil {
			return err
		}
		if name != nil {
			if o.Name, err = checkOrgName(*name); err != nil {
				return err
			}
		}
		st := patch.apply(o.Settings)
		if err := st.Check(); err != nil {
			return err
		}
		o.Settings = st
		o.UpdatedAt = c.now
		if err := c.tx.UpdateOrg(ctx, o); err != nil {
			return err
		}
		c.emit(o.ID, EventOrganizationUpdated, o.ID.String(), ViewOrganization(o))
		return nil
	})
	return o, err
}

// DeleteOrg removes an organization with its keys, members and invitations.
// Its events go with it.
func (s *Service) DeleteOrg(ctx context.Context, id OrgID) error {
	if err := authorize(ctx, id, ScopeOrgWrite); err != nil {
		return err
	}
	if err := requireAdmin(ctx); err != nil {
		return err
	}
	return s.write(ctx, func(c *change) error {
		if _, err := s.getOrg(ctx, c.tx, id); err != nil {
			return err
		}
		return c.tx.DeleteOrg(ctx, id)
	})
}

// ---- invitations

// CreateInvitation is what a caller asks for.
type CreateInvitation struct {
	Email       string          `json:"email"`
	Role        string          `json:"role"`
	Permissions []string        `json:"permissions"`
	ExpiresIn   int64           `json:"expires_in"` // seconds; 0 means the org's TTL
	Inviter     Inviter         `json:"inviter"`
	Metadata    json.RawMessage `json:"metadata"`
	Locale      string          `json:"locale"`
	// RedirectURL is where the invitee goes after answering; its origin
	// must be one of the organization's allowed_redirect_origins. (Left
	// out when empty, so that an Idempotency-Key stored before it existed
	// still matches its request.)
	RedirectURL string `json:"redirect_url,omitempty"`
	// NoEmail skips the mail; the caller gets the token to deliver the link itself.
	NoEmail bool `json:"no_email"`
	// Force cancels a pending invitation for the same email first.
	Force bool `json:"force"`

	// IdempotencyKey, with IdempotencyScope naming the caller, makes a retried
	// create return the first answer.
	IdempotencyKey   string `json:"-"`
	IdempotencyScope string `json:"-"`
}

// Created is the answer to a create.
type Created struct {
	Invitation *Invitation
	// Token is set only when the caller asked for no mail and this is not a replay.
	Token string
	// Replayed: an earlier create with the same idempotency key made Invitation.
	Replayed bool
}

func (c *CreateInvitation) normalize() error {
	var err error
	if c.Email, err = NormalizeEmail(c.Email); err != nil {
		return err
	}
	c.Role = strings.TrimSpace(c.Role)
	if c.ExpiresIn != 0 && (c.ExpiresIn < int64(MinTTL.Seconds()) || c.ExpiresIn > int64(MaxTTL.Seconds())) {
		return Invalid("expires_in must be between %d and %d seconds", int64(MinTTL.Seconds()), int64(MaxTTL.Seconds()))
	}
	if err := CheckText("inviter.id", c.Inviter.ID, MaxNameLen); err != nil {
		return err
	}
	if err := CheckText("inviter.name", c.Inviter.Name, MaxNameLen); err != nil {
		return err
	}
	if err := CheckLocale(c.Locale); err != nil {
		return err
	}
	if c.Metadata, err = CheckMetadata(c.Metadata); err != nil {
		return err
	}
	if len(c.IdempotencyKey) > 255 {
		return Invalid("Idempotency-Key is longer than 255 characters")
	}
	return nil
}

// tokenLen is the length of a token in base64url; legacyTokenLen that of
// the tokens made before they carried their invitation's id, 32 random bytes.
var (
	tokenLen       = base64.RawURLEncoding.EncodedLen(16 + 32)
	legacyTokenLen = base64.RawURLEncoding.EncodedLen(32)
)

// tokenInvitation returns the id of the invitation token names.
func tokenInvitation(token string) (uuid.UUID, bool) {
	if len(token) != tokenLen {
		return uuid.UUID{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return uuid.UUID{}, false
	}
	return uuid.UUID(b[:16]), true
}

// TokenShaped tells a string that has the shape of an accept token, so that
// junk answers without a database read.
func TokenShaped(s string) bool {
	_, ok := tokenInvitation(s)
	return ok || legacyToken(s)
}

func legacyToken(s string) bool {
	if len(s) != legacyTokenLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// getInvitationByToken returns the invitation token opens, ErrNotFound if none.
func (s *Service) getInvitationByToken(ctx context.Context, tx Tx, token string, forUpdate bool) (*Invitation, error) {
	if legacyToken(token) {
		return tx.GetInvitationByLegacyToken(ctx, HashToken(token), forUpdate)
	}
	id, ok := tokenInvitation(token)
	if !ok {
		return nil, ErrNotFound
	}
	inv, err := tx.GetInvitationByID(ctx, id, forUpdate)
	if err != nil {
		return nil, err
	}
	if !s.tokenOpens(inv, token) {
		return nil, ErrNotFound // an older link of a resent invitation, or a forged one
	}
	return inv, nil
}

// tokenOpens tells whether token is inv's current link. An invitation last
// mailed by an earlier version, whose link was random, keeps that link's
// hash; every other link is derived from the secret.
func (s *Service) tokenOpens(inv *Invitation, token string) bool {
	if len(inv.TokenHash) > 0 {
		return subtle.ConstantTimeCompare(inv.TokenHash, HashToken(token)) == 1
	}
	return s.secret.opens(inv.ID, inv.SendCount, token)
}

// linkOf is inv's current link; "" when it is a random one of an earlier
// version, which nothing here knows.
func (s *Service) linkOf(inv *Invitation) string {
	if len(inv.TokenHash) > 0 {
		return ""
	}
	return s.secret.token(inv.ID, inv.SendCount)
}

// HashToken is how an earlier version stored a random accept token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// CreateInvitation invites c.Email into org.
func (s *Service) CreateInvitation(ctx context.Context, org OrgID, c CreateInvitation) (*Created, error) {
	if err := authorize(ctx, org, ScopeInvitationsWrite); err != nil {
		return nil, err
	}
	if err := c.normalize(); err != nil {
		return nil, err
	}
	var reqHash []byte // what an Idempotency-Key is bound to
	if c.IdempotencyKey != "" {
		body, _ := json.Marshal(c)
		sum := sha256.Sum256(body)
		reqHash = sum[:]
	}
	var res *Created
	err := s.write(ctx, func(ch *change) error {
		var err error
		res, err = s.createInvitation(ch, org, c, reqHash)
		return err
	})
	if err != nil && c.IdempotencyKey != "" &&
		(errors.Is(err, ErrDuplicateIdempotencyKey) || errors.Is(err, ErrDuplicatePending) || ErrorKind(err) == KindConflict) {
		// A concurrent request with the same key may have won; answer as it did.
		rerr := s.store.Read(ctx, func(tx Tx) error {
			var rerr error
			res, rerr = s.replay(ctx, tx, org, c, reqHash, s.Now())
			return rerr
		})
		if rerr == nil && res != nil {
			return res, nil
		}
		if ErrorKind(rerr) == KindInvalid {
			return nil, rerr
		}
	}
	if errors.Is(err, ErrDuplicatePending) {
		return nil, Conflict("a pending invitation for %s already exists", c.Email)
	}
	if errors.Is(err, ErrDuplicateMember) {
		return nil, Conflict("%s is already a member of this organization", c.Email)
	}
	if errors.Is(err, ErrDuplicateIdempotencyKey) {
		return nil, Conflict("a request with this Idempotency-Key is in progress")
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// IdempotencyTTL is how long an Idempotency-Key is remembered.
const IdempotencyTTL = 24 * time.Hour

// replay returns the answer stored for c's idempotency key, nil if none.
func (s *Service) replay(ctx context.Context, tx Tx, org OrgID, c CreateInvitation, hash []byte, now time.Time) (*Created, error) {
	rec, err := tx.GetIdempotency(ctx, c.IdempotencyScope+"|"+org.String(), c.IdempotencyKey)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if rec.CreatedAt.Before(now.Add(-IdempotencyTTL)) {
		return nil, nil // forgotten; the create that stores it anew purges it
	}
	if string(rec.RequestHash) != string(hash) {
		return nil, Invalid("Idempotency-Key %q was already used with a different request", c.IdempotencyKey)
	}
	inv, err := tx.GetInvitation(ctx, org, rec.InvitationID, false)
	if err != nil {
		return nil, err
	}
	inv.Observe(now)
	return &Created{Invitation: inv, Replayed: true}, nil
}

func (s *Service) createInvitation(ch *change, org OrgID, c CreateInvitation, reqHash []byte) (*Created, error) {
	ctx, tx, now := ch.ctx, ch.tx, ch.now
	o, err := s.getOrg(ctx, tx, org)
	if err != nil {
		return nil, err
	}
	if c.IdempotencyKey != "" {
		if res, err := s.replay(ctx, tx, org, c, reqHash, now); res != nil || err != nil {
			return res, err
		}
		// Keys are kept for a day; purging them here keeps the table small
		// without a job of its own.
		if err := tx.DeleteIdempotencyBefore(ctx, now.Add(-IdempotencyTTL)); err != nil {
			return nil, err
		}
	}
	role, perms, err := o.prepare(&c)
	if err != nil {
		return nil, err
	}
	// The address's mails are counted before the insert, which takes the
	// count's lock before any invitation's (as a resend does), and decided
	// once the insert has said whether this is a conflict instead.
	var mails *windowCount
	if !c.NoEmail {
		if mails, err = s.countMails(ch, o, c.Email); err != nil {
			return nil, err
		}
	}
	inv := newInvitation(o, &c, role, perms, now)
	// The insert comes first: it refuses an existing member (ErrDuplicateMember),
	// one who joins while this transaction runs too, and a pending invitation
	// already stored, which the usual create never meets and so never looks for.
	err = tx.CreateInvitation(ctx, inv)
	if errors.Is(err, ErrDuplicatePending) {
		if err := s.clearPending(ch, org, c.Email, c.Force); err != nil {
			return nil, err
		}
		err = tx.CreateInvitation(ctx, inv)
	}
	if err != nil {
		return nil, err
	}
	if err := mails.refuseMail(now, c.Email); err != nil {
		return nil, err
	}
	if max := o.Settings.MaxPending; max > 0 {
		n, err := tx.CountInvitations(ctx, InvitationFilter{Org: org, States: []State{StatePending}, Now: now})
		if err != nil {
			return nil, err
		}
		if n > max { // the count holds the new one; returning an error undoes it
			return nil, Conflict("the organization has reached its limit of %d pending invitations", max)
		}
	}
	if err := s.refuseNewSeat(ch, o, 0); err != nil { // the count holds the new one
		return nil, err
	}
	res := &Created{Invitation: inv}
	if c.NoEmail {
		res.Token = s.linkOf(inv)
	}
	if err := s.queueNew(ch, inv); err != nil {
		return nil, err
	}
	if c.IdempotencyKey != "" {
		err := tx.PutIdempotency(ctx, &IdempotencyRecord{
			Scope: c.IdempotencyScope + "|" + org.String(), Key: c.IdempotencyKey,
			RequestHash: reqHash, InvitationID: inv.ID, CreatedAt: now,
		})
		if err != nil {
			return nil, err
		}
	}
	// The organization's hourly count comes last: on PostgreSQL its lock is
	// held until the commit, so the organization's creates take turns only
	// for the last steps of each. It counts this one too.
	created, err := s.countCreated(ch, o, 1)
	if err != nil {
		return nil, err
	}
	if err := created.refuseInvitation(now); err != nil {
		return nil, err
	}
	return res, nil
}

// prepare checks c against o's rules that need no other row (the grant,
// the domain policy, the redirect) and fills in o's defaults.
func (o *Organization) prepare(c *CreateInvitation) (role string, perms []string, err error) {
	if role, perms, err = o.checkGrant(c.Role, c.Permissions); err != nil {
		return "", nil, err
	}
	if err := o.Settings.checkDomain(c.Email); err != nil {
		return "", nil, err
	}
	if c.RedirectURL != "" {
		if c.RedirectURL, err = o.Settings.checkRedirect("redirect_url", c.RedirectURL); err != nil {
			return "", nil, err
		}
	}
	if c.Locale == "" {
		c.Locale = o.Settings.Locale
	}
	return role, perms, nil
}

// newInvitation is the pending invitation c asks for in o, made at now.
func newInvitation(o *Organization, c *CreateInvitation, role string, perms []string, now time.Time) *Invitation {
	ttl := time.Duration(o.Settings.InvitationTTL) * time.Second
	if c.ExpiresIn != 0 {
		ttl = time.Duration(c.ExpiresIn) * time.Second
	}
	inv := &Invitation{
		ID: newUUIDv7(), OrgID: o.ID, Email: c.Email, Role: role, Permissions: perms,
		Inviter: c.Inviter, State: StatePending, CreatedAt: now, UpdatedAt: now,
		ExpiresAt: now.Add(ttl), Metadata: c.Metadata, Locale: c.Locale, RedirectURL: c.RedirectURL,
		Mail: MailDelivery{State: MailNone},
	}
	if !c.NoEmail {
		inv.SendCount = 1
		inv.LastSentAt = &now
		inv.Mail.State = MailQueued
	}
	return inv
}

// queueNew queues what follows a new invitation once stored: its mail
// (unless it was made without one), its expiry, and its event.
func (s *Service) queueNew(ch *change, inv *Invitation) error {
	if inv.SendCount > 0 {
		if err := s.enqueueMail(ch, inv); err != nil {
			return err
		}
	}
	if err := s.enqueueExpiry(ch, inv); err != nil {
		return err
	}
	ch.emit(inv.OrgID, EventInvitationCreated, inv.ID.String(), ViewInvitation(inv))
	return nil
}

// clearPending makes room for a new pending invitation to email: a stored
// pending one past its expiry is recorded as expired; a live one is
// cancelled when force is set and is a conflict otherwise.
func (s *Service) clearPending(ch *change, org OrgID, email string, force bool) error {
	old, err := ch.tx.GetPendingInvitation(ch.ctx, org, email, true)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if expired, err := s.settleExpiry(ch, old); expired || err != nil {
		return err
	}
	if !force {
		return Conflict("a pending invitation for %s already exists (id %s)", email, old.ID)
	}
	return s.finish(ch, old, ActionCancel)
}

// settleExpiry records the expiry of a stored pending invitation whose time
// has passed, with its event; it tells whether it did. Every write that
// meets such a row records it first, so invitation.expired is emitted once.
func (s *Service) settleExpiry(ch *change, inv *Invitation) (bool, error) {
	if inv.State != StatePending || ch.now.Before(inv.ExpiresAt) {
		return false, nil
	}
	inv.State = StateExpired
	t := inv.ExpiresAt
	inv.FinishedAt = &t
	inv.UpdatedAt = ch.now
	if err := ch.tx.UpdateInvitation(ch.ctx, inv); err != nil {
		return false, err
	}
	ch.emit(inv.OrgID, EventInvitationExpired, inv.ID.String(), ViewInvitation(inv))
	return true, nil
}

// finish moves inv by a, stores it and emits the move's event.
func (s *Service) finish(ch *change, inv *Invitation, a Action) error {
	to, err := Next(inv.State, a)
	if err != nil {
		return err
	}
	inv.State = to
	inv.UpdatedAt = ch.now
	if to.Finished() {
		inv.FinishedAt = &ch.now
	}
	if err := ch.tx.UpdateInvitation(ch.ctx, inv); err != nil {
		return err
	}
	ch.emit(inv.OrgID, actionEvents[a], inv.ID.String(), ViewInvitation(inv))
	return nil
}

// actionEvents names the event each move emits.
var actionEvents = map[Action]string{
	ActionAccept:  EventInvitationAccepted,
	ActionDecline: EventInvitationDeclined,
	ActionCancel:  EventInvitationCancelled,
	ActionExpire:  EventInvitationExpired,
	ActionFail:    EventInvitationFailed,
	ActionResend:  EventInvitationResent,
}

// enqueueMail queues inv's mail and notes it for the per-recipient limit.
// The job names the invitation and the send it is for, not the link: the
// sender derives that, so no link is stored.
func (s *Service) enqueueMail(ch *change, inv *Invitation) error {
	org := inv.OrgID
	if err := ch.tx.RecordMail(ch.ctx, org, inv.Email, ch.now); err != nil {
		return err
	}
	args := marshal(MailPayload{InvitationID: inv.ID.String(), Send: inv.SendCount})
	return ch.enqueue(&Job{Kind: JobSendInvitation, OrgID: &org, Args: args})
}

// enqueueExpiry schedules the job that records inv's expiry. One is queued
// per invitation (by its key); run early, after a resend moved the expiry
// later, it waits again.
func (s *Service) enqueueExpiry(ch *change, inv *Invitation) error {
	org := inv.OrgID
	return ch.enqueue(&Job{Kind: JobExpireInvitation, Key: "expire:" + inv.ID.String(), OrgID: &org,
		Args: marshal(ExpiryArgs{InvitationID: inv.ID.String()}), RunAt: inv.ExpiresAt})
}

func (s *Service) getInvitation(ctx context.Context, tx Tx, org OrgID, ref InvitationRef, forUpdate bool) (*Invitation, error) {
	var inv *Invitation
	var err error
	if ref.Number != 0 {
		inv, err = tx.GetInvitationByNumber(ctx, org, ref.Number, forUpdate)
	} else {
		inv, err = tx.GetInvitation(ctx, org, ref.ID, forUpdate)
	}
	if errors.Is(err, ErrNotFound) {
		return nil, NotFound("invitation %s not found", ref)
	}
	if err != nil {
		return nil, err
	}
	return inv, nil
}

// GetInvitation returns one of org's invitations.
func (s *Service) GetInvitation(ctx context.Context, org OrgID, ref InvitationRef) (*Invitation, error) {
	if err := authorize(ctx, org, ScopeInvitationsRead); err != nil {
		return nil, err
	}
	var inv *Invitation
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		inv, err = s.getInvitation(ctx, tx, org, ref, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	inv.Observe(s.Now())
	return inv, nil
}

// FindInvitations lists invitations by a filter as the store takes it, for
// surfaces with their own paging. Now is set by the service. An empty answer
// for an organization that does not exist is NotFound.
func (s *Service) FindInvitations(ctx context.Context, f InvitationFilter) ([]*Invitation, error) {
	if err := authorize(ctx, f.Org, ScopeInvitationsRead); err != nil {
		return nil, err
	}
	return s.findInvitations(ctx, f, func(tx Tx) error {
		_, err := s.getOrg(ctx, tx, f.Org) // only an empty page needs the lookup
		return err
	})
}

// findInvitations lists by f as of now, states observed; onEmpty, when set,
// runs in the same read when nothing is found.
func (s *Service) findInvitations(ctx context.Context, f InvitationFilter, onEmpty func(Tx) error) ([]*Invitation, error) {
	f.Now = s.Now()
	var out []*Invitation
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		if out, err = tx.ListInvitations(ctx, f); err != nil || len(out) > 0 || onEmpty == nil {
			return err
		}
		return onEmpty(tx)
	})
	if err != nil {
		return nil, err
	}
	for _, inv := range out {
		inv.Observe(f.Now)
	}
	return out, nil
}

// CountInvitations counts what FindInvitations would list with no paging.
func (s *Service) CountInvitations(ctx context.Context, f InvitationFilter) (int, error) {
	if err := authorize(ctx, f.Org, ScopeInvitationsRead); err != nil {
		return 0, err
	}
	f.Now = s.Now()
	var n int
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		n, err = tx.CountInvitations(ctx, f)
		return err
	})
	return n, err
}

// move runs one state move on an invitation found by find, as one change:
// before, if non-nil, runs first for the rest of the move. An invitation
// whose time has passed has its expiry recorded first, and then the move is
// refused as from expired (resend excepted, which that state allows).
func (s *Service) move(ctx context.Context, find func(*change) (*Invitation, error), a Action, before func(*change, *Invitation) error) (*Invitation, error) {
	return s.moveThen(ctx, find, a, before, nil)
}

// moveThen is move with after, which runs once the move is stored and its
// event emitted, for what follows from it (an accept's member).
func (s *Service) moveThen(ctx context.Context, find func(*change) (*Invitation, error), a Action, before, after func(*change, *Invitation) error) (*Invitation, error) {
	var inv *Invitation
	err := s.write(ctx, func(ch *change) error {
		var err error
		if inv, err = find(ch); err != nil {
			return err
		}
		if _, err := s.settleExpiry(ch, inv); err != nil {
			return err
		}
		if _, err := Next(inv.State, a); err != nil {
			return err
		}
		if before != nil {
			if err := before(ch, inv); err != nil {
				return err
			}
		}
		if err := s.finish(ch, inv, a); err != nil {
			return err
		}
		if after != nil {
			return after(ch, inv)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return inv, nil
}

func (s *Service) byRef(ctx context.Context, org OrgID, ref InvitationRef) func(*change) (*Invitation, error) {
	return func(ch *change) (*Invitation, error) {
		if err := authorize(ctx, org, ScopeInvitationsWrite); err != nil {
			return nil, err
		}
		return s.getInvitation(ctx, ch.tx, org, ref, true)
	}
}

// byToken finds the invitation a link opens; the invitee is the actor.
func (s *Service) byToken(ctx context.Context, token string) func(*change) (*Invitation, error) {
	return func(ch *change) (*Invitation, error) {
		inv, err := s.getByToken(ctx, ch.tx, token, true)
		if err != nil {
			return nil, err
		}
		ch.actor = inviteeActor(inv)
		return inv, nil
	}
}

// inviteeActor is the person an invitation was sent to, acting through its link.
func inviteeActor(inv *Invitation) Actor {
	return Actor{Type: ActorInvitee, ID: inv.ID.String(), Name: inv.Email}
}

// CancelInvitation cancels a pending invitation.
func (s *Service) CancelInvitation(ctx context.Context, org OrgID, ref InvitationRef) (*Invitation, error) {
	return s.move(ctx, s.byRef(ctx, org, ref), ActionCancel, nil)
}

// DeclineInvitation declines a pending invitation on the invitee's behalf.
func (s *Service) DeclineInvitation(ctx context.Context, org OrgID, ref InvitationRef) (*Invitation, error) {
	return s.move(ctx, s.byRef(ctx, org, ref), ActionDecline, nil)
}

// Accept names who accepts an invitation.
type Accept struct {
	// Email must be the invitation's; empty when the token proves it.
	Email string
	Name  string
}

// AcceptInvitation accepts a pending invitation and makes the member, in one transaction.
func (s *Service) AcceptInvitation(ctx context.Context, org OrgID, ref InvitationRef, a Accept) (*Invitation, *Member, error) {
	// Accepting for the invitee makes a member: a key needs both scopes.
	if err := authorize(ctx, org, ScopeMembersWrite); err != nil {
		return nil, nil, err
	}
	email, err := NormalizeEmail(a.Email)
	if err != nil {
		return nil, nil, err
	}
	a.Email = email
	return s.accept(ctx, s.byRef(ctx, org, ref), a)
}

func (s *Service) accept(ctx context.Context, find func(*change) (*Invitation, error), a Accept) (*Invitation, *Member, error) {
	a.Name = strings.TrimSpace(a.Name)
	if err := CheckText("name", a.Name, MaxNameLen); err != nil {
		return nil, nil, err
	}
	var m *Member
	inv, err := s.moveThen(ctx, find, ActionAccept, func(ch *change, inv *Invitation) error {
		if a.Email != "" && a.Email != inv.Email {
			return Invalid("email %s does not match the invitation's address", a.Email)
		}
		if err := s.admitMember(ch, inv); err != nil {
			return err
		}
		id := inv.ID
		m = &Member{ID: newUUIDv4(), OrgID: inv.OrgID, Email: inv.Email, Name: a.Name, Role: inv.Role,
			Permissions: inv.Permissions, Metadata: inv.Metadata, InvitationID: &id, CreatedAt: ch.now, UpdatedAt: ch.now}
		err := ch.tx.CreateMember(ctx, m)
		if errors.Is(err, ErrDuplicateMember) {
			return Conflict("%s is already a member of this organization", inv.Email)
		}
		return err
	}, func(ch *change, _ *Invitation) error {
		ch.emit(m.OrgID, EventMemberCreated, m.ID.String(), ViewMember(m))
		return nil
	})
	return inv, m, err
}

// ResendInterval is the least time between two mails of one invitation.
const ResendInterval = time.Minute

var resendPolicy = ratelimit.Policy{Name: "resend", Quota: 1, Window: ResendInterval}

// ResendInvitation sends a pending, expired or failed invitation again with a
// new token (the old link stops working) and a new expiry of the same length.
func (s *Service) ResendInvitation(ctx context.Context, org OrgID, ref InvitationRef) (*Invitation, error) {
	var mails *windowCount
	var o *Organization
	// The address's mails are counted before the invitation is locked, as
	// a create counts them before it meets the pending one it replaces.
	find := func(ch *change) (*Invitation, error) {
		if err := authorize(ctx, org, ScopeInvitationsWrite); err != nil {
			return nil, err
		}
		peek, err := s.getInvitation(ctx, ch.tx, org, ref, false)
		if err != nil {
			return nil, err
		}
		if o, err = s.getOrg(ctx, ch.tx, org); err != nil {
			return nil, err
		}
		if mails, err = s.countMails(ch, o, peek.Email); err != nil {
			return nil, err
		}
		return s.getInvitation(ctx, ch.tx, org, ref, true)
	}
	inv, err := s.move(ctx, find, ActionResend, func(ch *change, inv *Invitation) error {
		now := ch.now
		if inv.LastSentAt != nil {
			if wait := inv.LastSentAt.Add(ResendInterval).Sub(now); wait > 0 {
				return tooMany(ratelimit.Decision{Policy: resendPolicy, RetryAfter: wait, Reset: wait},
					"this invitation was sent less than a minute ago; try again later")
			}
		}
		if err := mails.refuseMail(now, inv.Email); err != nil {
			return err
		}
		if err := o.Settings.checkDomain(inv.Email); err != nil {
			return err
		}
		if inv.State != StatePending {
			if _, err := ch.tx.GetMemberByEmail(ctx, org, inv.Email); err == nil {
				return Conflict("%s is already a member of this organization", inv.Email)
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
			// Another pending invitation may hold the address's slot.
			if old, err := ch.tx.GetPendingInvitation(ctx, org, inv.Email, true); err == nil && old.ID != inv.ID {
				if err := s.clearPending(ch, org, inv.Email, false); err != nil {
					return err
				}
			} else if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		start := inv.CreatedAt
		if inv.LastSentAt != nil {
			start = *inv.LastSentAt
		}
		inv.ExpiresAt = now.Add(inv.ExpiresAt.Sub(start))
		inv.TokenHash = nil // the new link is derived; a random one of an earlier version ends
		inv.Error = ""
		inv.FinishedAt = nil
		inv.SendCount++
		inv.LastSentAt = &now
		inv.Mail = MailDelivery{State: MailQueued}
		if err := s.enqueueExpiry(ch, inv); err != nil {
			return err
		}
		if inv.State != StatePending {
			// Sent again, a finished invitation takes a seat once more (it
			// is stored pending only once this returns).
			if err := s.refuseNewSeat(ch, o, 1); err != nil {
				return err
			}
		}
		return s.enqueueMail(ch, inv)
	})
	if errors.Is(err, ErrDuplicatePending) {
		return nil, Conflict("another pending invitation for this email exists")
	}
	if errors.Is(err, ErrDuplicateMember) {
		return nil, Conflict("the invitation's address is already a member of this organization")
	}
	return inv, err
}

// ---- the invitee, with the token as credential

func (s *Service) getByToken(ctx context.Context, tx Tx, token string, forUpdate bool) (*Invitation, error) {
	inv, err := s.getInvitationByToken(ctx, tx, token, forUpdate)
	if errors.Is(err, ErrNotFound) {
		return nil, NotFound("this invitation link is not valid")
	}
	return inv, err
}

// TokenView is what the invitee may see.
type TokenView struct {
	Invitation   *Invitation
	Organization *Organization
	Member       *Member // after an accept
}

// GetByToken returns the invitation a link leads to, with its organization.
func (s *Service) GetByToken(ctx context.Context, token string) (*TokenView, error) {
	var v TokenView
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		if v.Invitation, err = s.getByToken(ctx, tx, token, false); err != nil {
			return err
		}
		v.Organization, err = s.getOrg(ctx, tx, v.Invitation.OrgID)
		return err
	})
	if err != nil {
		return nil, err
	}
	v.Invitation.Observe(s.Now())
	return &v, nil
}

// AcceptByToken accepts the invitation a link leads to.
func (s *Service) AcceptByToken(ctx context.Context, token, name string) (*TokenView, error) {
	var o *Organization
	inv, m, err := s.accept(ctx, s.withOrg(ctx, token, &o), Accept{Name: name})
	if err != nil {
		return nil, err
	}
	return &TokenView{Invitation: inv, Organization: o, Member: m}, nil
}

// DeclineByToken declines the invitation a link leads to.
func (s *Service) DeclineByToken(ctx context.Context, token string) (*TokenView, error) {
	var o *Organization
	inv, err := s.move(ctx, s.withOrg(ctx, token, &o), ActionDecline, nil)
	if err != nil {
		return nil, err
	}
	return &TokenView{Invitation: inv, Organization: o}, nil
}

// withOrg is byToken that also reads the invitation's organization into o,
// which the invitee's answer shows.
func (s *Service) withOrg(ctx context.Context, token string, o **Organization) func(*change) (*Invitation, error) {
	find := s.byToken(ctx, token)
	return func(ch *change) (*Invitation, error) {
		inv, err := find(ch)
		if err != nil {
			return nil, err
		}
		*o, err = s.getOrg(ctx, ch.tx, inv.OrgID)
		return inv, err
	}
}
