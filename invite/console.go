package invite

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"
)

// ConsoleRoles are the member roles that may sign in to the console with a
// mailed link.
var ConsoleRoles = []string{"owner", "admin"}

// The console's timings and bounds.
const (
	// SignInLinkTTL is how long a mailed sign-in link works.
	SignInLinkTTL = 15 * time.Minute
	// SignInWindow and SignInLinksPerWindow bound the links mailed to one
	// address, across nodes: a form that anyone can post must not turn
	// invitd into a mail cannon.
	SignInWindow         = 15 * time.Minute
	SignInLinksPerWindow = 3
	// DefaultSessionIdle ends a session this long after its last use.
	DefaultSessionIdle = 12 * time.Hour
	// sessionTouchInterval is how stale a session's last use may get: it is
	// written at most this often, so a page view is not a write each time.
	sessionTouchInterval = time.Minute
	// maxSignInOrgs bounds the links one request mails: one per organization.
	maxSignInOrgs = 10
)

// SessionKind says what signed a console session in.
type SessionKind string

// The session kinds.
const (
	SessionKey    SessionKind = "key"    // an API key of the store
	SessionAdmin  SessionKind = "admin"  // the configured admin key
	SessionMember SessionKind = "member" // a member, by a mailed link
)

// Session is a console session as stored: found by the hash of its
// cookie's token, it names what signed in, and the caller is derived from
// that afresh on every request, so a revoked key, a removed member or a
// changed role ends or narrows it at once.
type Session struct {
	IDHash     []byte
	Kind       SessionKind
	KeyID      string     // SessionKey
	AdminHash  []byte     // SessionAdmin: the configured key's hash when it signed in
	OrgID      *OrgID     // SessionMember
	MemberID   *uuid.UUID // SessionMember
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// SignInLink is a mailed sign-in link as stored. The link is derived from
// ID and the server's secret (see signInToken): nothing stored opens it.
type SignInLink struct {
	ID        string
	OrgID     OrgID
	MemberID  uuid.UUID
	Email     string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// SignInArgs are a send_signin_link job's arguments.
type SignInArgs struct {
	LinkID string `json:"link_id"`
}

// SignedIn is a new session: Token goes in the browser's cookie and is
// shown nowhere else.
type SignedIn struct {
	Token     string
	Principal *Principal
}

// ConsoleCaller is a session's caller, as a request of the console sees it.
type ConsoleCaller struct {
	*Principal
	Kind SessionKind
	// Email is the member's address, for SessionMember.
	Email string
}

// SignInWithKey starts a session for an API key or the configured admin
// key, checked as a bearer credential is.
func (s *Service) SignInWithKey(ctx context.Context, credential string) (*SignedIn, error) {
	p, err := s.Authenticate(ctx, credential)
	if err != nil {
		return nil, err
	}
	sess := &Session{Kind: SessionKey, KeyID: p.KeyID}
	if p.KeyID == "admin" {
		sess.Kind, sess.KeyID, sess.AdminHash = SessionAdmin, "", s.adminKeyHash
	}
	return s.startSession(WithPrincipal(ctx, p), sess, p)
}

// RequestSignInLink mails a sign-in link to email for each organization
// where it is a member with a console role. It answers the same, nil,
// whether or not there is any, so that the form tells nobody who is a
// member; past SignInLinksPerWindow links in SignInWindow it mails no more.
// Only a malformed address is an error.
func (s *Service) RequestSignInLink(ctx context.Context, email string) error {
	addr, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	return s.write(WithPrincipal(ctx, System), func(c *change) error {
		n, err := c.tx.CountSignInLinks(c.ctx, addr, c.now.Add(-SignInWindow))
		if err != nil || n >= SignInLinksPerWindow {
			return err
		}
		members, err := c.tx.GetMembershipsByEmail(c.ctx, addr)
		if err != nil {
			return err
		}
		sent := 0
		for _, m := range members {
			if !slices.Contains(ConsoleRoles, m.Role) || sent == maxSignInOrgs || n+sent == SignInLinksPerWindow {
				continue
			}
			l := &SignInLink{ID: randomHex(16), OrgID: m.OrgID, MemberID: m.ID, Email: addr,
				CreatedAt: c.now, ExpiresAt: c.now.Add(SignInLinkTTL)}
			if err := c.tx.CreateSignInLink(c.ctx, l); err != nil {
				return err
			}
			if err := c.enqueue(&Job{Kind: JobSendSignInLink, OrgID: &l.OrgID, Args: marshal(SignInArgs{LinkID: l.ID})}); err != nil {
				return err
			}
			sent++
		}
		return nil
	})
}

// errBadSignInLink is every way a sign-in link can fail, alike: which one
// it was helps only someone guessing.
var errBadSignInLink = Unauthorized("this sign-in link is not valid, was used already or has expired; ask for a new one")

// SignInWithLink starts a member's session from a mailed link, which it
// uses up.
func (s *Service) SignInWithLink(ctx context.Context, token string) (*SignedIn, error) {
	id, ok := s.secret.signInLinkID(token)
	if !ok {
		return nil, errBadSignInLink
	}
	var (
		sess *Session
		p    *Principal
	)
	err := s.write(WithPrincipal(ctx, System), func(c *change) error {
		l, err := c.tx.GetSignInLink(c.ctx, id)
		if errors.Is(err, ErrNotFound) {
			return errBadSignInLink
		}
		if err != nil {
			return err
		}
		if l.UsedAt != nil || !c.now.Before(l.ExpiresAt) {
			return errBadSignInLink
		}
		if err := c.tx.UseSignInLink(c.ctx, id, c.now); err != nil {
			if errors.Is(err, ErrNotFound) { // used by a racing request
				return errBadSignInLink
			}
			return err
		}
		m, err := c.tx.GetMember(c.ctx, l.OrgID, l.MemberID)
		if errors.Is(err, ErrNotFound) || (err == nil && !slices.Contains(ConsoleRoles, m.Role)) {
			return errBadSignInLink
		}
		if err != nil {
			return err
		}
		p = memberPrincipal(m)
		sess = &Session{Kind: SessionMember, OrgID: &m.OrgID, MemberID: &m.ID}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.startSession(WithPrincipal(ctx, p), sess, p)
}

func (s *Service) startSession(ctx context.Context, sess *Session, p *Principal) (*SignedIn, error) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b) // 43 characters
	sess.IDHash = hashSecret(token)
	err := s.write(ctx, func(c *change) error {
		sess.CreatedAt, sess.LastSeenAt = c.now, c.now
		return c.tx.CreateSession(c.ctx, sess)
	})
	if err != nil {
		return nil, err
	}
	return &SignedIn{Token: token, Principal: p}, nil
}

// errNoSession is a cookie that names no live session.
var errNoSession = Unauthorized("the console session has ended; sign in again")

// Session finds the caller of the session whose cookie holds token, derived
// afresh from what signed it in; a session idle longer than the service's
// idle timeout has ended.
func (s *Service) Session(ctx context.Context, token string) (*ConsoleCaller, error) {
	if len(token) != 43 || !credentialText(token) {
		return nil, errNoSession
	}
	hash := hashSecret(token)
	now := s.Now()
	var (
		cc      *ConsoleCaller
		last    time.Time
		keyUsed *time.Time // a key session's key's last use
	)
	err := s.store.Read(ctx, func(tx Tx) error {
		sess, err := tx.GetSession(ctx, hash)
		if err != nil {
			return err
		}
		if !now.Before(sess.LastSeenAt.Add(s.sessionIdle)) {
			return ErrNotFound
		}
		last = sess.LastSeenAt
		cc, keyUsed, err = s.sessionCaller(ctx, tx, sess, now)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	if now.Sub(last) >= sessionTouchInterval {
		s.touchSession(ctx, hash, now)
	}
	// Using the console is using its key, as a request with it is.
	if cc.Kind == SessionKey && (keyUsed == nil || now.Sub(*keyUsed) >= KeyUseInterval) {
		s.noteKeyUse(ctx, cc.KeyID, now)
	}
	return cc, nil
}

// sessionCaller derives a session's caller from what signed it in, as
// Authenticate does for a request; ErrNotFound when that no longer may.
// For a key's session it also gives the key's last use.
func (s *Service) sessionCaller(ctx context.Context, tx Tx, sess *Session, now time.Time) (*ConsoleCaller, *time.Time, error) {
	switch sess.Kind {
	case SessionAdmin:
		if s.adminKeyHash == nil || subtle.ConstantTimeCompare(sess.AdminHash, s.adminKeyHash) != 1 {
			return nil, nil, ErrNotFound // the configured key changed
		}
		return &ConsoleCaller{Principal: &Principal{Type: ActorAdminKey, KeyID: "admin", Name: "configured admin key"}, Kind: sess.Kind}, nil, nil
	case SessionKey:
		k, err := tx.GetKey(ctx, sess.KeyID)
		if err != nil {
			return nil, nil, err
		}
		if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
			return nil, nil, ErrNotFound
		}
		return &ConsoleCaller{Principal: keyPrincipal(k), Kind: sess.Kind}, k.LastUsedAt, nil
	case SessionMember:
		if sess.OrgID == nil || sess.MemberID == nil {
			return nil, nil, ErrNotFound
		}
		m, err := tx.GetMember(ctx, *sess.OrgID, *sess.MemberID)
		if err != nil {
			return nil, nil, err
		}
		if !slices.Contains(ConsoleRoles, m.Role) {
			return nil, nil, ErrNotFound // no longer an owner or admin
		}
		return &ConsoleCaller{Principal: memberPrincipal(m), Kind: sess.Kind, Email: m.Email}, nil, nil
	}
	return nil, nil, ErrNotFound
}

// touchSession records a session's use; like a key's, it is a note that
// fails nothing.
func (s *Service) touchSession(ctx context.Context, hash []byte, now time.Time) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), touchKeyBudget)
	defer cancel()
	err := s.write(WithPrincipal(ctx, System), func(c *change) error {
		return ignoreGone(c.tx.TouchSession(c.ctx, hash, now))
	})
	if err != nil {
		slog.WarnContext(ctx, "could not record a console session's use", "err", err)
	}
}

// SignOut ends the session whose cookie holds token; an ended one is no error.
func (s *Service) SignOut(ctx context.Context, token string) error {
	if len(token) != 43 || !credentialText(token) {
		return nil
	}
	return s.write(WithPrincipal(ctx, System), func(c *change) error {
		return ignoreGone(c.tx.DeleteSession(c.ctx, hashSecret(token)))
	})
}

// PurgeConsole removes idle sessions and spent sign-in links, in batches;
// the event-retention job calls it.
func (s *Service) PurgeConsole(ctx context.Context) (int, error) {
	if err := requireAdmin(ctx); err != nil {
		return 0, err
	}
	sessions, err := s.purge(ctx, func(c *change) (int, error) {
		return c.tx.DeleteSessionsBefore(c.ctx, c.now.Add(-s.sessionIdle), purgeBatch)
	})
	if err != nil {
		return sessions, err
	}
	// A link is kept past its expiry for as long as it counts toward its
	// address's limit.
	links, err := s.purge(ctx, func(c *change) (int, error) {
		return c.tx.DeleteSignInLinksBefore(c.ctx, c.now.Add(-SignInWindow), purgeBatch)
	})
	return sessions + links, err
}

// SignInMail is what a sign-in mail says.
type SignInMail struct {
	Link         *SignInLink
	Organization *Organization
	Member       *Member
	Token        string
}

// SignInMailFor loads what a send_signin_link job's mail needs, its link
// derived now. ErrNotFound means there is nothing to send: the link was
// used or has expired, or its member is gone.
func (s *Service) SignInMailFor(ctx context.Context, j *Job) (*SignInMail, error) {
	var a SignInArgs
	if err := json.Unmarshal(j.Args, &a); err != nil {
		return nil, err
	}
	m := &SignInMail{}
	now := s.Now()
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		if m.Link, err = tx.GetSignInLink(ctx, a.LinkID); err != nil {
			return err
		}
		if m.Link.UsedAt != nil || !now.Before(m.Link.ExpiresAt) {
			return ErrNotFound
		}
		if m.Member, err = tx.GetMember(ctx, m.Link.OrgID, m.Link.MemberID); err != nil {
			return err
		}
		m.Organization, err = tx.GetOrg(ctx, m.Link.OrgID)
		return err
	})
	if err != nil {
		return nil, err
	}
	m.Token = s.secret.signInToken(m.Link.ID)
	return m, nil
}

// keyPrincipal is the caller a stored key makes.
func keyPrincipal(k *APIKey) *Principal {
	p := &Principal{Type: ActorAPIKey, KeyID: k.ID, Name: k.Name, Org: k.OrgID, Scopes: k.Scopes, ExpiresAt: k.ExpiresAt}
	if k.OrgID == nil {
		p.Type, p.Scopes = ActorAdminKey, nil
	}
	return p
}

// memberPrincipal is the caller a member signed in to the console makes:
// an owner or admin manages everything of their organization.
func memberPrincipal(m *Member) *Principal {
	name := m.Name
	if name == "" {
		name = m.Email
	}
	org := m.OrgID
	return &Principal{Type: ActorMember, KeyID: m.ID.String(), Name: name, Org: &org, Scopes: AllScopes}
}

// A sign-in link is its id and an HMAC of it under the secret's sign-in
// key, in base64url: the id finds the row, the HMAC proves the link.
func signInMAC(key []byte, id string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	return m.Sum(nil)
}

func (s *Secret) signInToken(id string) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte(id), signInMAC(s.keys[0].signIn, id)...))
}

// signInLinkID is the id token proves, under the current secret or one
// still honoured; false when it proves none.
func (s *Secret) signInLinkID(token string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != 32+sha256.Size || !keyIDShaped(string(b[:16])) || !keyIDShaped(string(b[16:32])) {
		return "", false
	}
	id := string(b[:32])
	ok := 0
	for _, k := range s.keys {
		ok |= subtle.ConstantTimeCompare(b[32:], signInMAC(k.signIn, id))
	}
	return id, ok == 1
}
