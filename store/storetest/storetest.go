// Package storetest is the behaviour suite every invite.Store must pass.
//
// Most tests drive the store through invite.Service with a fake clock, so the
// rules of the core are checked on every backend; some check the Tx contract
// directly.
package storetest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

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
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.fn(t, newEnv(t, open(t))) })
	}
}

// Clock is a settable clock. It starts off UTC and with nanoseconds, as a
// real clock does, so that anything not stored as the service's Now shows.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at a fixed instant.
func NewClock() *Clock {
	return &Clock{now: time.Date(2031, 3, 4, 5, 6, 7, 891234567, time.FixedZone("UTC+2", 2*3600))}
}

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type env struct {
	store invite.Store
	clock *Clock
	svc   *invite.Service
	seq   atomic.Int64
}

func newEnv(t *testing.T, st invite.Store) *env {
	t.Helper()
	c := NewClock()
	svc, err := invite.NewService(st, invite.Config{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &env{store: st, clock: c, svc: svc}
}

// now is the service's view of the clock.
func (e *env) now() time.Time { return e.svc.Now() }

// email returns an address not used before in this group.
func (e *env) email() string { return fmt.Sprintf("user%d@example.com", e.seq.Add(1)) }

func (e *env) org(t *testing.T, patch *invite.SettingsPatch) *invite.Organization {
	t.Helper()
	o, err := e.svc.CreateOrg(t.Context(), fmt.Sprintf("Org %d", e.seq.Add(1)), patch)
	if err != nil {
		t.Fatalf("CreateOrg: %v", err)
	}
	return o
}

func (e *env) invite(t *testing.T, org invite.OrgID, c invite.CreateInvitation) *invite.Created {
	t.Helper()
	if c.Email == "" {
		c.Email = e.email()
	}
	res, err := e.svc.CreateInvitation(t.Context(), org, c)
	if err != nil {
		t.Fatalf("CreateInvitation(%s): %v", c.Email, err)
	}
	return res
}

// quiet creates an invitation without mail and returns it with its token.
func (e *env) quiet(t *testing.T, org invite.OrgID) (*invite.Invitation, string) {
	t.Helper()
	res := e.invite(t, org, invite.CreateInvitation{NoEmail: true})
	if res.Token == "" {
		t.Fatal("a create without mail returned no token")
	}
	return res.Invitation, res.Token
}

func (e *env) get(t *testing.T, org invite.OrgID, id uuid.UUID) *invite.Invitation {
	t.Helper()
	inv, err := e.svc.GetInvitation(t.Context(), org, ref(id))
	if err != nil {
		t.Fatalf("GetInvitation %s: %v", id, err)
	}
	return inv
}

func (e *env) find(t *testing.T, f invite.InvitationFilter) []*invite.Invitation {
	t.Helper()
	if f.Limit == 0 {
		f.Limit = 10000
	}
	out, err := e.svc.FindInvitations(t.Context(), f)
	if err != nil {
		t.Fatalf("FindInvitations: %v", err)
	}
	return out
}

func (e *env) count(t *testing.T, f invite.InvitationFilter) int {
	t.Helper()
	n, err := e.svc.CountInvitations(t.Context(), f)
	if err != nil {
		t.Fatalf("CountInvitations: %v", err)
	}
	return n
}

func (e *env) depth(t *testing.T) int {
	t.Helper()
	n, _, err := e.svc.OutboxStats(t.Context())
	if err != nil {
		t.Fatalf("OutboxStats: %v", err)
	}
	return n
}

// claimAll leases every due job to a new worker and returns them.
func (e *env) claimAll(t *testing.T, lease time.Duration) []*invite.Job {
	t.Helper()
	worker := fmt.Sprintf("worker-%d", e.seq.Add(1))
	jobs, err := e.svc.ClaimJobs(t.Context(), worker, 10000, lease)
	if err != nil {
		t.Fatalf("ClaimJobs: %v", err)
	}
	return jobs
}

// jobFor claims the due jobs and returns the newest of invitation id (an
// older one is a mail a resend replaced, left for the worker to drop).
func (e *env) jobFor(t *testing.T, id uuid.UUID) *invite.Job {
	t.Helper()
	var found *invite.Job
	for _, j := range e.claimAll(t, time.Minute) {
		if j.InvitationID == id && (found == nil || j.ID > found.ID) {
			found = j
		}
	}
	if found == nil {
		t.Fatalf("no due job for invitation %s", id)
	}
	return found
}

// tokenOf claims the mail job of invitation id and returns the token it carries.
func (e *env) tokenOf(t *testing.T, id uuid.UUID) string {
	t.Helper()
	j := e.jobFor(t, id)
	var p invite.MailPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil || p.Token == "" {
		t.Fatalf("job payload %s: %v", j.Payload, err)
	}
	return p.Token
}

func (e *env) write(t *testing.T, fn func(invite.Tx) error) {
	t.Helper()
	if err := e.store.Write(t.Context(), fn); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func ref(id uuid.UUID) invite.InvitationRef { return invite.InvitationRef{ID: id} }

var kindNames = map[invite.Kind]string{
	invite.KindInternal: "Internal", invite.KindInvalid: "Invalid", invite.KindBadRequest: "BadRequest",
	invite.KindUnauthorized: "Unauthorized", invite.KindForbidden: "Forbidden", invite.KindNotFound: "NotFound",
	invite.KindConflict: "Conflict", invite.KindTooManyRequests: "TooManyRequests",
}

// wantKind fails unless err is a core error of kind whose message contains
// every one of words.
func wantKind(t *testing.T, err error, kind invite.Kind, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want Kind %s", kindNames[kind])
	}
	if got := invite.ErrorKind(err); got != kind {
		t.Fatalf("got %v (Kind %s), want Kind %s", err, kindNames[got], kindNames[kind])
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func wantTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func wantTimePtr(t *testing.T, what string, got *time.Time, want time.Time) {
	t.Helper()
	if got == nil {
		t.Errorf("%s is unset, want %v", what, want)
		return
	}
	wantTime(t, what, *got, want)
}

func ids(invs []*invite.Invitation) []uuid.UUID {
	out := make([]uuid.UUID, len(invs))
	for i, inv := range invs {
		out[i] = inv.ID
	}
	return out
}

// ---- the Tx contract

func testTx(t *testing.T, e *env) {
	newOrg := func(t *testing.T) *invite.Organization {
		now := e.now()
		o := &invite.Organization{ID: invite.NewOrgID(), Name: "tx org", Settings: invite.DefaultSettings(), CreatedAt: now, UpdatedAt: now}
		e.write(t, func(tx invite.Tx) error { return tx.CreateOrg(t.Context(), o) })
		return o
	}
	newInv := func(org invite.OrgID, email string, state invite.State) *invite.Invitation {
		now := e.now()
		return &invite.Invitation{
			ID: uuid.Must(uuid.NewV7()), OrgID: org, Email: email, Role: "member", Permissions: []string{"billing"},
			Inviter: invite.Inviter{ID: "u1", Name: "Ann"}, State: state, CreatedAt: now, UpdatedAt: now,
			ExpiresAt: now.Add(time.Hour), Metadata: json.RawMessage(`{"a":1}`), TokenHash: invite.HashToken(uuid.NewString()),
		}
	}

	t.Run("RoundTrip", func(t *testing.T) {
		ctx := t.Context()
		o := newOrg(t)
		var got *invite.Organization
		e.store.Read(ctx, func(tx invite.Tx) error {
			var err error
			got, err = tx.GetOrg(ctx, o.ID)
			return err
		})
		if got == nil || got.ID != o.ID || got.Name != o.Name || !slices.Equal(got.Settings.Roles, o.Settings.Roles) ||
			got.Settings.InvitationTTL != o.Settings.InvitationTTL || !got.CreatedAt.Equal(o.CreatedAt) {
			t.Fatalf("org read back as %+v, want %+v", got, o)
		}

		now := e.now()
		sent := now.Add(-time.Minute)
		inv := newInv(o.ID, e.email(), invite.StatePending)
		inv.Locale, inv.SendCount, inv.LastSentAt = "ja-JP", 2, &sent
		e.write(t, func(tx invite.Tx) error { return tx.CreateInvitation(ctx, inv) })
		if inv.Number <= 0 {
			t.Fatalf("CreateInvitation set Number %d", inv.Number)
		}
		check := func(t *testing.T, want *invite.Invitation, got *invite.Invitation) {
			t.Helper()
			if got.ID != want.ID || got.Number != want.Number || got.OrgID != want.OrgID || got.Email != want.Email ||
				got.Role != want.Role || !slices.Equal(got.Permissions, want.Permissions) || got.Inviter != want.Inviter ||
				got.State != want.State || got.Error != want.Error || got.Locale != want.Locale || got.SendCount != want.SendCount ||
				string(got.TokenHash) != string(want.TokenHash) {
				t.Errorf("invitation read back as %+v, want %+v", got, want)
			}
			var gm, wm any
			if json.Unmarshal(got.Metadata, &gm) != nil || json.Unmarshal(want.Metadata, &wm) != nil || fmt.Sprint(gm) != fmt.Sprint(wm) {
				t.Errorf("metadata read back as %s, want %s", got.Metadata, want.Metadata)
			}
			wantTime(t, "created_at", got.CreatedAt, want.CreatedAt)
			wantTime(t, "updated_at", got.UpdatedAt, want.UpdatedAt)
			wantTime(t, "expires_at", got.ExpiresAt, want.ExpiresAt)
			for _, p := range []struct {
				what      string
				got, want *time.Time
			}{{"finished_at", got.FinishedAt, want.FinishedAt}, {"last_sent_at", got.LastSentAt, want.LastSentAt}} {
				if (p.got == nil) != (p.want == nil) || (p.got != nil && !p.got.Equal(*p.want)) {
					t.Errorf("%s read back as %v, want %v", p.what, p.got, p.want)
				}
			}
		}
		lookups := map[string]func(tx invite.Tx) (*invite.Invitation, error){
			"GetInvitation":     func(tx invite.Tx) (*invite.Invitation, error) { return tx.GetInvitation(ctx, o.ID, inv.ID, false) },
			"GetInvitationByID": func(tx invite.Tx) (*invite.Invitation, error) { return tx.GetInvitationByID(ctx, inv.ID, false) },
			"GetInvitationByNumber": func(tx invite.Tx) (*invite.Invitation, error) {
				return tx.GetInvitationByNumber(ctx, o.ID, inv.Number, false)
			},
			"GetPendingInvitation": func(tx invite.Tx) (*invite.Invitation, error) {
				return tx.GetPendingInvitation(ctx, o.ID, inv.Email, false)
			},
		}
		for name, get := range lookups {
			var got *invite.Invitation
			if err := e.store.Read(ctx, func(tx invite.Tx) error { var err error; got, err = get(tx); return err }); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			check(t, inv, got)
		}

		fin := now.Add(time.Second)
		inv.Role, inv.Permissions, inv.State, inv.UpdatedAt, inv.FinishedAt = "admin", []string{}, invite.StateError, fin, &fin
		inv.Error, inv.Metadata, inv.Locale, inv.SendCount, inv.LastSentAt = "mailbox full", json.RawMessage(`{"b":"x"}`), "fr", 3, nil
		inv.ExpiresAt, inv.TokenHash = now.Add(2*time.Hour), invite.HashToken("other")
		e.write(t, func(tx invite.Tx) error { return tx.UpdateInvitation(ctx, inv) })
		var back *invite.Invitation
		e.write(t, func(tx invite.Tx) error {
			var err error
			back, err = tx.GetInvitation(ctx, o.ID, inv.ID, true)
			return err
		})
		check(t, inv, back)
		err := e.store.Read(ctx, func(tx invite.Tx) error {
			_, err := tx.GetPendingInvitation(ctx, o.ID, inv.Email, false)
			return err
		})
		if !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("GetPendingInvitation of an invitation in error: %v, want ErrNotFound", err)
		}
	})

	t.Run("GetInvitationsByID", func(t *testing.T) {
		ctx := t.Context()
		a, b := newInv(newOrg(t).ID, e.email(), invite.StatePending), newInv(newOrg(t).ID, e.email(), invite.StateAccepted)
		e.write(t, func(tx invite.Tx) error {
			if err := tx.CreateInvitation(ctx, a); err != nil {
				return err
			}
			return tx.CreateInvitation(ctx, b)
		})
		for _, c := range []struct {
			ids  []uuid.UUID
			want []uuid.UUID
		}{
			{[]uuid.UUID{a.ID, uuid.New(), b.ID}, []uuid.UUID{a.ID, b.ID}},
			{[]uuid.UUID{b.ID}, []uuid.UUID{b.ID}},
			{[]uuid.UUID{uuid.New()}, nil},
			{nil, nil},
		} {
			var got []*invite.Invitation
			err := e.store.Read(ctx, func(tx invite.Tx) error {
				var err error
				got, err = tx.GetInvitationsByID(ctx, c.ids)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for _, inv := range got {
				gotIDs = append(gotIDs, inv.ID.String())
				if inv.ID == a.ID && (inv.OrgID != a.OrgID || inv.Email != a.Email || inv.State != a.State ||
					inv.Number != a.Number || string(inv.TokenHash) != string(a.TokenHash)) {
					t.Errorf("GetInvitationsByID read back %+v, want %+v", inv, a)
				}
			}
			var wantIDs []string
			for _, id := range c.want {
				wantIDs = append(wantIDs, id.String())
			}
			slices.Sort(gotIDs)
			slices.Sort(wantIDs)
			if !slices.Equal(gotIDs, wantIDs) {
				t.Errorf("GetInvitationsByID(%v) = %v, want %v", c.ids, gotIDs, wantIDs)
			}
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		ctx := t.Context()
		o := newOrg(t)
		missing := invite.NewOrgID()
		id := uuid.New()
		now := e.now()
		cases := map[string]func(tx invite.Tx) error{
			"GetOrg":    func(tx invite.Tx) error { _, err := tx.GetOrg(ctx, missing); return err },
			"UpdateOrg": func(tx invite.Tx) error { return tx.UpdateOrg(ctx, &invite.Organization{ID: missing, UpdatedAt: now}) },
			"DeleteOrg": func(tx invite.Tx) error { return tx.DeleteOrg(ctx, missing) },
			"GetKey":    func(tx invite.Tx) error { _, err := tx.GetKey(ctx, "nokey"); return err },
			"DeleteKey": func(tx invite.Tx) error { return tx.DeleteKey(ctx, "nokey") },
			"GetMember": func(tx invite.Tx) error { _, err := tx.GetMember(ctx, o.ID, id); return err },
			"GetMemberByEmail": func(tx invite.Tx) error {
				_, err := tx.GetMemberByEmail(ctx, o.ID, "nobody@example.com")
				return err
			},
			"UpdateMember": func(tx invite.Tx) error {
				return tx.UpdateMember(ctx, &invite.Member{ID: id, OrgID: o.ID, Role: "member", UpdatedAt: now})
			},
			"DeleteMember":      func(tx invite.Tx) error { return tx.DeleteMember(ctx, o.ID, id) },
			"GetInvitation":     func(tx invite.Tx) error { _, err := tx.GetInvitation(ctx, o.ID, id, true); return err },
			"GetInvitationByID": func(tx invite.Tx) error { _, err := tx.GetInvitationByID(ctx, id, true); return err },
			"GetInvitationByNumber": func(tx invite.Tx) error {
				_, err := tx.GetInvitationByNumber(ctx, o.ID, 1<<60, true)
				return err
			},
			"GetInvitationByLegacyToken": func(tx invite.Tx) error {
				_, err := tx.GetInvitationByLegacyToken(ctx, invite.HashToken("none"), true)
				return err
			},
			"GetPendingInvitation": func(tx invite.Tx) error {
				_, err := tx.GetPendingInvitation(ctx, o.ID, "nobody@example.com", true)
				return err
			},
			"UpdateInvitation": func(tx invite.Tx) error {
				inv := newInv(o.ID, "nobody@example.com", invite.StateCancelled)
				return tx.UpdateInvitation(ctx, inv)
			},
			"GetIdempotency": func(tx invite.Tx) error { _, err := tx.GetIdempotency(ctx, "scope", "key"); return err },
			"RescheduleJob":  func(tx invite.Tx) error { return tx.RescheduleJob(ctx, 1<<60, "w", now, "x") },
			"DeleteJob":      func(tx invite.Tx) error { return tx.DeleteJob(ctx, 1<<60, "w") },
		}
		for name, fn := range cases {
			if err := e.store.Write(ctx, fn); !errors.Is(err, invite.ErrNotFound) {
				t.Errorf("%s of a missing row: %v, want ErrNotFound", name, err)
			}
		}
	})

	t.Run("OnePendingPerEmailInTheDatabase", func(t *testing.T) {
		ctx := t.Context()
		o, other := newOrg(t), newOrg(t)
		email := e.email()
		e.write(t, func(tx invite.Tx) error { return tx.CreateInvitation(ctx, newInv(o.ID, email, invite.StatePending)) })
		var err error
		later := newInv(o.ID, e.email(), invite.StatePending)
		e.write(t, func(tx invite.Tx) error {
			err = tx.CreateInvitation(ctx, newInv(o.ID, email, invite.StatePending))
			return tx.CreateInvitation(ctx, later) // the refusal left the transaction usable
		})
		if !errors.Is(err, invite.ErrDuplicatePending) {
			t.Fatalf("a second pending invitation for one email: %v, want ErrDuplicatePending", err)
		}
		if got := e.get(t, o.ID, later.ID); got.Email != later.Email {
			t.Fatalf("the write after the refusal stored %+v", got)
		}
		// Finished invitations for the email and pending ones in another org are fine.
		e.write(t, func(tx invite.Tx) error {
			for _, s := range []invite.State{invite.StateCancelled, invite.StateCancelled, invite.StateExpired, invite.StateAccepted} {
				if err := tx.CreateInvitation(ctx, newInv(o.ID, email, s)); err != nil {
					return err
				}
			}
			return tx.CreateInvitation(ctx, newInv(other.ID, email, invite.StatePending))
		})
		// Moving a finished one back to pending while another is pending is refused too.
		old := newInv(o.ID, email, invite.StateError)
		e.write(t, func(tx invite.Tx) error { return tx.CreateInvitation(ctx, old) })
		old.State = invite.StatePending
		err = e.store.Write(ctx, func(tx invite.Tx) error { return tx.UpdateInvitation(ctx, old) })
		if !errors.Is(err, invite.ErrDuplicatePending) {
			t.Fatalf("updating a second invitation to pending: %v, want ErrDuplicatePending", err)
		}
	})

	t.Run("UniqueMemberAndIdempotencyKey", func(t *testing.T) {
		ctx := t.Context()
		o := newOrg(t)
		now := e.now()
		email := e.email()
		m := func() *invite.Member {
			return &invite.Member{ID: uuid.New(), OrgID: o.ID, Email: email, Role: "member", CreatedAt: now, UpdatedAt: now}
		}
		e.write(t, func(tx invite.Tx) error { return tx.CreateMember(ctx, m()) })
		if err := e.store.Write(ctx, func(tx invite.Tx) error { return tx.CreateMember(ctx, m()) }); !errors.Is(err, invite.ErrDuplicateMember) {
			t.Errorf("a second member with one email: %v, want ErrDuplicateMember", err)
		}
		rec := func() *invite.IdempotencyRecord {
			return &invite.IdempotencyRecord{Scope: "s|" + o.ID.String(), Key: "k", RequestHash: []byte{1, 2}, InvitationID: uuid.New(), CreatedAt: now}
		}
		first := rec()
		e.write(t, func(tx invite.Tx) error { return tx.PutIdempotency(ctx, first) })
		if err := e.store.Write(ctx, func(tx invite.Tx) error { return tx.PutIdempotency(ctx, rec()) }); !errors.Is(err, invite.ErrDuplicateIdempotencyKey) {
			t.Errorf("a second record for one key: %v, want ErrDuplicateIdempotencyKey", err)
		}
		var got *invite.IdempotencyRecord
		e.store.Read(ctx, func(tx invite.Tx) error {
			var err error
			got, err = tx.GetIdempotency(ctx, first.Scope, first.Key)
			return err
		})
		if got == nil || string(got.RequestHash) != string(first.RequestHash) || got.InvitationID != first.InvitationID || !got.CreatedAt.Equal(now) {
			t.Errorf("idempotency record read back as %+v, want %+v", got, first)
		}
	})

	t.Run("ReadIsReadOnly", func(t *testing.T) {
		ctx := t.Context()
		id := invite.NewOrgID()
		now := e.now()
		err := e.store.Read(ctx, func(tx invite.Tx) error {
			return tx.CreateOrg(ctx, &invite.Organization{ID: id, Name: "ro", Settings: invite.DefaultSettings(), CreatedAt: now, UpdatedAt: now})
		})
		if err == nil {
			t.Error("a write in a Read transaction succeeded")
		}
		e.store.Read(ctx, func(tx invite.Tx) error {
			if _, err := tx.GetOrg(ctx, id); !errors.Is(err, invite.ErrNotFound) {
				t.Errorf("org written in a Read transaction: %v", err)
			}
			return nil
		})
	})

	t.Run("FailedWriteRollsBack", func(t *testing.T) {
		ctx := t.Context()
		id := invite.NewOrgID()
		now := e.now()
		boom := errors.New("boom")
		err := e.store.Write(ctx, func(tx invite.Tx) error {
			if err := tx.CreateOrg(ctx, &invite.Organization{ID: id, Name: "rb", Settings: invite.DefaultSettings(), CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Write returned %v, want the function's error", err)
		}
		if _, err := e.svc.GetOrg(ctx, id); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("org of a failed write: %v, want NotFound", err)
		}
		if err := e.store.Ping(ctx); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})

	t.Run("ConcurrentWritesFailAlone", func(t *testing.T) {
		ctx := t.Context()
		const n = 40
		boom := errors.New("boom")
		made := make([]invite.OrgID, n)
		errs := make([]error, n)
		now := e.now()
		var wg sync.WaitGroup
		for i := range n {
			made[i] = invite.NewOrgID()
			wg.Go(func() {
				errs[i] = e.store.Write(ctx, func(tx invite.Tx) error {
					o := &invite.Organization{ID: made[i], Name: "w", Settings: invite.DefaultSettings(), CreatedAt: now, UpdatedAt: now}
					if err := tx.CreateOrg(ctx, o); err != nil {
						return err
					}
					if i%2 == 0 {
						return boom
					}
					return nil
				})
			})
		}
		wg.Wait()
		for i := range n {
			_, err := e.svc.GetOrg(ctx, made[i])
			if i%2 == 0 {
				if !errors.Is(errs[i], boom) {
					t.Errorf("write %d returned %v, want its own error", i, errs[i])
				}
				if invite.ErrorKind(err) != invite.KindNotFound {
					t.Errorf("the org of failed write %d: %v, want NotFound", i, err)
				}
			} else {
				if errs[i] != nil {
					t.Errorf("write %d: %v", i, errs[i])
				}
				if err != nil {
					t.Errorf("the org of write %d: %v", i, err)
				}
			}
		}
	})

	t.Run("PanicReachesTheCaller", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		id := invite.NewOrgID()
		now := e.now()
		for _, txn := range []struct {
			name string
			run  func(context.Context, func(invite.Tx) error) error
		}{{"Write", e.store.Write}, {"Read", e.store.Read}} {
			// More panics than a pool has connections.
			for range 12 {
				func() {
					defer func() {
						if recover() == nil {
							t.Errorf("a panic in a %s function did not reach the caller", txn.name)
						}
					}()
					txn.run(ctx, func(tx invite.Tx) error {
						if txn.name == "Write" {
							o := &invite.Organization{ID: id, Name: "p", Settings: invite.DefaultSettings(), CreatedAt: now, UpdatedAt: now}
							if err := tx.CreateOrg(ctx, o); err != nil {
								return err
							}
						}
						panic("boom")
					})
				}()
			}
		}
		// Nothing of the panicking write stays, and the store still works.
		wctx := ctx
		err := e.store.Read(wctx, func(tx invite.Tx) error {
			_, err := tx.GetOrg(wctx, id)
			return err
		})
		if !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("the org of a panicking write: %v, want ErrNotFound", err)
		}
		o, err := e.svc.CreateOrg(wctx, "after a panic", nil)
		if err != nil {
			t.Fatalf("a write after panics: %v", err)
		}
		if _, err := e.svc.GetOrg(wctx, o.ID); err != nil {
			t.Fatalf("a read after panics: %v", err)
		}
	})

	t.Run("NumbersAreUnique", func(t *testing.T) {
		ctx := t.Context()
		a, b := newOrg(t), newOrg(t)
		seen := map[int64]bool{}
		for i := range 6 {
			inv := newInv([]invite.OrgID{a.ID, b.ID}[i%2], e.email(), invite.StatePending)
			e.write(t, func(tx invite.Tx) error { return tx.CreateInvitation(ctx, inv) })
			if inv.Number <= 0 || seen[inv.Number] {
				t.Fatalf("number %d given twice or not positive", inv.Number)
			}
			seen[inv.Number] = true
		}
	})
}

// ---- organizations

func testOrgs(t *testing.T, e *env) {
	t.Run("CreateGetList", func(t *testing.T) {
		ctx := t.Context()
		o, err := e.svc.CreateOrg(ctx, "  Acme  ", nil)
		if err != nil {
			t.Fatal(err)
		}
		if o.Name != "Acme" || o.ID.IsZero() {
			t.Errorf("created %+v, want name Acme and an id", o)
		}
		def := invite.DefaultSettings()
		if o.Settings.InvitationTTL != int64(invite.DefaultTTL/time.Second) || !slices.Equal(o.Settings.Roles, def.Roles) ||
			o.Settings.DefaultRole != def.DefaultRole || !slices.Equal(o.Settings.Permissions, def.Permissions) {
			t.Errorf("new org settings %+v, want the defaults %+v", o.Settings, def)
		}
		wantTime(t, "created_at", o.CreatedAt, e.now())
		got, err := e.svc.GetOrg(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != o.Name || !got.CreatedAt.Equal(o.CreatedAt) || !got.UpdatedAt.Equal(o.UpdatedAt) ||
			!slices.Equal(got.Settings.Roles, o.Settings.Roles) || got.Settings.DefaultRole != o.Settings.DefaultRole {
			t.Errorf("GetOrg = %+v, want %+v", got, o)
		}
		if _, err := e.svc.GetOrg(ctx, invite.NewOrgID()); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("GetOrg of an unknown id: %v, want NotFound", err)
		}

		made := map[invite.OrgID]bool{o.ID: true}
		for range 4 {
			made[e.org(t, nil).ID] = true
		}
		var all []*invite.Organization
		var after *invite.OrgID
		for {
			page, err := e.svc.ListOrgs(ctx, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 2 {
				t.Fatalf("ListOrgs returned %d orgs with limit 2", len(page))
			}
			if len(page) == 0 {
				break
			}
			all = append(all, page...)
			after = &page[len(page)-1].ID
		}
		seen := map[invite.OrgID]bool{}
		for i, x := range all {
			if seen[x.ID] {
				t.Fatalf("ListOrgs returned %s twice", x.ID)
			}
			seen[x.ID] = true
			if i > 0 && strings.Compare(all[i-1].ID.UUID(), x.ID.UUID()) >= 0 {
				t.Errorf("ListOrgs is not in id order at %d", i)
			}
		}
		for id := range made {
			if !seen[id] {
				t.Errorf("ListOrgs missed %s", id)
			}
		}
	})

	t.Run("NameRules", func(t *testing.T) {
		for _, name := range []string{"", "   ", "a\nb", "a\rb", strings.Repeat("x", invite.MaxNameLen+1), "\xff"} {
			_, err := e.svc.CreateOrg(t.Context(), name, nil)
			wantKind(t, err, invite.KindInvalid, "name")
		}
	})

	t.Run("Settings", func(t *testing.T) {
		i64 := func(n int64) *int64 { return &n }
		str := func(s string) *string { return &s }
		strs := func(s ...string) *[]string { return &s }
		neg := -1
		bad := map[string]invite.SettingsPatch{
			"ttl below an hour":     {InvitationTTL: i64(3599)},
			"ttl above 30 days":     {InvitationTTL: i64(30*24*3600 + 1)},
			"ttl zero":              {InvitationTTL: i64(0)},
			"no roles":              {Roles: strs()},
			"bad role name":         {Roles: strs("Owner")},
			"repeated role":         {Roles: strs("a", "a")},
			"default not a role":    {DefaultRole: str("ghost")},
			"bad permission":        {Permissions: strs("has space")},
			"repeated permission":   {Permissions: strs("p", "p")},
			"negative max_pending":  {MaxPending: &neg},
			"locale not a language": {Locale: str("english!")},
		}
		words := map[string]string{
			"ttl below an hour": "invitation_ttl", "ttl above 30 days": "invitation_ttl", "ttl zero": "invitation_ttl",
			"no roles": "roles", "bad role name": "Owner", "repeated role": "twice", "default not a role": "ghost",
			"bad permission": "has space", "repeated permission": "twice", "negative max_pending": "max_pending",
			"locale not a language": "locale",
		}
		o := e.org(t, nil)
		for name, p := range bad {
			t.Run(name, func(t *testing.T) {
				_, err := e.svc.CreateOrg(t.Context(), "x", &p)
				wantKind(t, err, invite.KindInvalid, words[name])
				_, err = e.svc.UpdateOrg(t.Context(), o.ID, nil, &p)
				wantKind(t, err, invite.KindInvalid, words[name])
			})
		}
		got, err := e.svc.GetOrg(t.Context(), o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Settings.InvitationTTL != o.Settings.InvitationTTL || !slices.Equal(got.Settings.Roles, o.Settings.Roles) || !got.UpdatedAt.Equal(o.UpdatedAt) {
			t.Errorf("refused updates changed the org: %+v, was %+v", got, o)
		}

		for _, ttl := range []int64{3600, 30 * 24 * 3600} {
			x, err := e.svc.CreateOrg(t.Context(), "ttl", &invite.SettingsPatch{InvitationTTL: &ttl})
			if err != nil {
				t.Fatalf("TTL %d refused: %v", ttl, err)
			}
			if x.Settings.InvitationTTL != ttl {
				t.Errorf("TTL %d stored as %d", ttl, x.Settings.InvitationTTL)
			}
		}
		// Changing the roles keeps a default role that is one of them.
		x, err := e.svc.UpdateOrg(t.Context(), o.ID, nil, &invite.SettingsPatch{Roles: strs("viewer", "editor")})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(x.Settings.Roles, x.Settings.DefaultRole) {
			t.Errorf("default role %q is not one of %v", x.Settings.DefaultRole, x.Settings.Roles)
		}
	})

	t.Run("Update", func(t *testing.T) {
		ctx := t.Context()
		o := e.org(t, nil)
		e.clock.Advance(time.Minute)
		name, ttl, perms := " Renamed ", int64(7200), []string{"read", "write"}
		u, err := e.svc.UpdateOrg(ctx, o.ID, &name, &invite.SettingsPatch{InvitationTTL: &ttl, Permissions: &perms})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.GetOrg(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []*invite.Organization{u, got} {
			if x.Name != "Renamed" || x.Settings.InvitationTTL != ttl || !slices.Equal(x.Settings.Permissions, perms) ||
				!slices.Equal(x.Settings.Roles, o.Settings.Roles) {
				t.Errorf("updated org %+v", x)
			}
			wantTime(t, "updated_at", x.UpdatedAt, e.now())
			wantTime(t, "created_at", x.CreatedAt, o.CreatedAt)
		}
		empty := ""
		_, err = e.svc.UpdateOrg(ctx, o.ID, &empty, nil)
		wantKind(t, err, invite.KindInvalid, "name")
		_, err = e.svc.UpdateOrg(ctx, invite.NewOrgID(), &name, nil)
		wantKind(t, err, invite.KindNotFound)

		// New invitations take the new TTL.
		inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		wantTime(t, "expires_at", inv.ExpiresAt, inv.CreatedAt.Add(2*time.Hour))
	})

	t.Run("DeleteRemovesEverything", func(t *testing.T) {
		ctx := t.Context()
		o, keep := e.org(t, nil), e.org(t, nil)
		key, err := e.svc.CreateKey(ctx, &o.ID, "k")
		if err != nil {
			t.Fatal(err)
		}
		keepKey, err := e.svc.CreateKey(ctx, &keep.ID, "k")
		if err != nil {
			t.Fatal(err)
		}
		before := e.depth(t)
		mailed := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		keptInv := e.invite(t, keep.ID, invite.CreateInvitation{Email: mailed.Email}).Invitation
		acc, token := e.quiet(t, o.ID)
		_, member, err := e.svc.AcceptByToken(ctx, token, "Ann")
		if err != nil {
			t.Fatal(err)
		}
		if d := e.depth(t); d != before+2 {
			t.Fatalf("outbox depth %d after two mailed invitations, want %d", d, before+2)
		}

		if err := e.svc.DeleteOrg(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.GetOrg(ctx, o.ID); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("GetOrg after delete: %v", err)
		}
		if _, err := e.svc.Authenticate(ctx, key.Token); invite.ErrorKind(err) != invite.KindUnauthorized {
			t.Errorf("the deleted org's key still authenticates: %v", err)
		}
		if _, err := e.svc.GetByToken(ctx, token); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("the deleted org's invitation link still works: %v", err)
		}
		e.store.Read(ctx, func(tx invite.Tx) error {
			for _, id := range []uuid.UUID{mailed.ID, acc.ID} {
				if _, err := tx.GetInvitationByID(ctx, id, false); !errors.Is(err, invite.ErrNotFound) {
					t.Errorf("invitation %s of a deleted org: %v", id, err)
				}
			}
			if _, err := tx.GetMember(ctx, o.ID, member.ID); !errors.Is(err, invite.ErrNotFound) {
				t.Errorf("member of a deleted org: %v", err)
			}
			if _, err := tx.GetKey(ctx, key.ID); !errors.Is(err, invite.ErrNotFound) {
				t.Errorf("key of a deleted org: %v", err)
			}
			return nil
		})
		if d := e.depth(t); d != before+1 {
			t.Errorf("outbox depth %d after deleting an org with one queued mail, want %d", d, before+1)
		}
		if n := e.count(t, invite.InvitationFilter{Org: o.ID}); n != 0 {
			t.Errorf("%d invitations left in a deleted org", n)
		}
		if _, err := e.svc.ListKeys(ctx, &o.ID); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("ListKeys of a deleted org: %v", err)
		}
		if _, err := e.svc.FindInvitations(ctx, invite.InvitationFilter{Org: o.ID, Limit: 10}); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("FindInvitations of a deleted org: %v, want NotFound", err)
		}
		if _, err := e.svc.ListInvitations(ctx, o.ID, invite.ListParams{}); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("ListInvitations of a deleted org: %v, want NotFound", err)
		}
		wantKind(t, e.svc.DeleteOrg(ctx, o.ID), invite.KindNotFound)

		// Numbers of deleted invitations are not given again.
		if next := e.invite(t, keep.ID, invite.CreateInvitation{}).Invitation; next.Number <= max(mailed.Number, acc.Number) {
			t.Errorf("number %d after deleting invitations up to %d", next.Number, max(mailed.Number, acc.Number))
		}

		// The other org is untouched.
		if _, err := e.svc.Authenticate(ctx, keepKey.Token); err != nil {
			t.Errorf("another org's key: %v", err)
		}
		if got := e.get(t, keep.ID, keptInv.ID); got.State != invite.StatePending {
			t.Errorf("another org's invitation is %s", got.State)
		}
	})
}

// ---- API keys

func testKeys(t *testing.T, e *env) {
	t.Run("OrgKey", func(t *testing.T) {
		ctx := t.Context()
		o := e.org(t, nil)
		k, err := e.svc.CreateKey(ctx, &o.ID, "  ci  ")
		if err != nil {
			t.Fatal(err)
		}
		if k.Name != "ci" || k.OrgID == nil || *k.OrgID != o.ID || k.Token != invite.KeyPrefix+k.ID+"_"+k.Secret {
			t.Errorf("new key %+v token %q", k.APIKey, k.Token)
		}
		for name, auth := range map[string]func() (*invite.Principal, error){
			"bearer":      func() (*invite.Principal, error) { return e.svc.Authenticate(ctx, k.Token) },
			"id+secret":   func() (*invite.Principal, error) { return e.svc.AuthenticateKey(ctx, k.ID, k.Secret) },
			"second time": func() (*invite.Principal, error) { return e.svc.Authenticate(ctx, k.Token) },
		} {
			p, err := auth()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if p.KeyID != k.ID || p.Org == nil || *p.Org != o.ID || p.IsAdmin() {
				t.Errorf("%s: principal %+v", name, p)
			}
			if p.Authorize(o.ID) != nil {
				t.Errorf("%s: the key may not manage its own org", name)
			}
			wantKind(t, p.RequireAdmin(), invite.KindForbidden)
		}

		bad := map[string]func() (*invite.Principal, error){
			"wrong secret": func() (*invite.Principal, error) {
				return e.svc.AuthenticateKey(ctx, k.ID, strings.Repeat("0", len(k.Secret)))
			},
			"wrong bearer secret": func() (*invite.Principal, error) {
				return e.svc.Authenticate(ctx, invite.KeyPrefix+k.ID+"_x"+k.Secret[1:])
			},
			"secret alone": func() (*invite.Principal, error) { return e.svc.Authenticate(ctx, k.Secret) },
			"no prefix":    func() (*invite.Principal, error) { return e.svc.Authenticate(ctx, k.ID+"_"+k.Secret) },
			"unknown id":   func() (*invite.Principal, error) { return e.svc.AuthenticateKey(ctx, "nosuchkey", k.Secret) },
			"empty":        func() (*invite.Principal, error) { return e.svc.Authenticate(ctx, "") },
			"id as secret": func() (*invite.Principal, error) { return e.svc.AuthenticateKey(ctx, k.ID, k.ID) },
			"truncated":    func() (*invite.Principal, error) { return e.svc.Authenticate(ctx, k.Token[:len(k.Token)-1]) },
		}
		for name, auth := range bad {
			p, err := auth()
			if p != nil {
				t.Errorf("%s: authenticated as %+v", name, p)
			}
			wantKind(t, err, invite.KindUnauthorized)
		}

		keys, err := e.svc.ListKeys(ctx, &o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 1 || keys[0].ID != k.ID || keys[0].Name != "ci" {
			t.Fatalf("ListKeys = %+v, want the one key", keys)
		}
		wantTime(t, "listed created_at", keys[0].CreatedAt, k.CreatedAt)
		if strings.Contains(string(keys[0].SecretHash), k.Secret) {
			t.Error("the secret is stored in clear")
		}
	})

	t.Run("AdminKey", func(t *testing.T) {
		ctx := t.Context()
		o := e.org(t, nil)
		orgKey, err := e.svc.CreateKey(ctx, &o.ID, "org")
		if err != nil {
			t.Fatal(err)
		}
		k, err := e.svc.CreateKey(ctx, nil, "ops")
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.svc.Authenticate(ctx, k.Token)
		if err != nil {
			t.Fatal(err)
		}
		if !p.IsAdmin() || p.RequireAdmin() != nil || p.Authorize(o.ID) != nil || p.Authorize(invite.NewOrgID()) != nil {
			t.Errorf("admin principal %+v", p)
		}
		admins, err := e.svc.ListKeys(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(admins, func(x *invite.APIKey) bool { return x.ID == k.ID }) ||
			slices.ContainsFunc(admins, func(x *invite.APIKey) bool { return x.ID == orgKey.ID || x.OrgID != nil }) {
			t.Errorf("admin keys %+v: want the admin key and no org key", admins)
		}
		orgs, err := e.svc.ListKeys(ctx, &o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(orgs) != 1 || orgs[0].ID != orgKey.ID {
			t.Errorf("org keys %+v: want only the org's key", orgs)
		}
		// An admin key is not deleted through an org, nor an org key as an admin key.
		wantKind(t, e.svc.DeleteKey(ctx, &o.ID, k.ID), invite.KindNotFound)
		wantKind(t, e.svc.DeleteKey(ctx, nil, orgKey.ID), invite.KindNotFound)
		if err := e.svc.DeleteKey(ctx, nil, k.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Authenticate(ctx, k.Token); invite.ErrorKind(err) != invite.KindUnauthorized {
			t.Errorf("a deleted admin key authenticates: %v", err)
		}
	})

	t.Run("DeleteRevokes", func(t *testing.T) {
		ctx := t.Context()
		o := e.org(t, nil)
		k1, err := e.svc.CreateKey(ctx, &o.ID, "one")
		if err != nil {
			t.Fatal(err)
		}
		k2, err := e.svc.CreateKey(ctx, &o.ID, "two")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.DeleteKey(ctx, &o.ID, k1.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Authenticate(ctx, k1.Token); invite.ErrorKind(err) != invite.KindUnauthorized {
			t.Errorf("a deleted key authenticates: %v", err)
		}
		if _, err := e.svc.AuthenticateKey(ctx, k1.ID, k1.Secret); invite.ErrorKind(err) != invite.KindUnauthorized {
			t.Errorf("a deleted key authenticates with id and secret: %v", err)
		}
		if _, err := e.svc.Authenticate(ctx, k2.Token); err != nil {
			t.Errorf("the other key: %v", err)
		}
		wantKind(t, e.svc.DeleteKey(ctx, &o.ID, k1.ID), invite.KindNotFound)
		keys, _ := e.svc.ListKeys(ctx, &o.ID)
		if len(keys) != 1 || keys[0].ID != k2.ID {
			t.Errorf("keys after delete: %+v", keys)
		}
	})

	t.Run("Rules", func(t *testing.T) {
		ctx := t.Context()
		_, err := e.svc.CreateKey(ctx, new(invite.NewOrgID()), "x")
		wantKind(t, err, invite.KindNotFound)
		o := e.org(t, nil)
		_, err = e.svc.CreateKey(ctx, &o.ID, "bad\nname")
		wantKind(t, err, invite.KindInvalid, "name")
		_, err = e.svc.ListKeys(ctx, new(invite.NewOrgID()))
		wantKind(t, err, invite.KindNotFound)
	})

	t.Run("ConfiguredAdminKey", func(t *testing.T) {
		ctx := t.Context()
		_, err := invite.NewService(e.store, invite.Config{AdminKey: "short"})
		wantKind(t, err, invite.KindInvalid)
		secret := strings.Repeat("s", invite.MinAdminKeyLen)
		svc, err := invite.NewService(e.store, invite.Config{AdminKey: secret, Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		p, err := svc.Authenticate(ctx, secret)
		if err != nil || !p.IsAdmin() {
			t.Fatalf("configured admin key: %+v, %v", p, err)
		}
		if _, err := svc.Authenticate(ctx, secret+"x"); invite.ErrorKind(err) != invite.KindUnauthorized {
			t.Errorf("a longer key authenticates: %v", err)
		}
		if _, err := e.svc.Authenticate(ctx, secret); invite.ErrorKind(err) != invite.KindUnauthorized {
			t.Errorf("a service without that admin key accepts it: %v", err)
		}
	})
}

func testBootstrap(t *testing.T, e *env) {
	ctx := t.Context()
	// Services as several processes on one database would have them.
	const n = 5
	tokens := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		svc, err := invite.NewService(e.store, invite.Config{Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { tokens[i], errs[i] = svc.EnsureAdminKey(ctx) })
	}
	wg.Wait()
	var token string
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("EnsureAdminKey: %v", errs[i])
		}
		if tokens[i] != "" {
			if token != "" {
				t.Fatal("EnsureAdminKey created two keys")
			}
			token = tokens[i]
		}
	}
	if token == "" {
		t.Fatal("EnsureAdminKey created no key on an empty store")
	}
	p, err := e.svc.Authenticate(ctx, token)
	if err != nil || !p.IsAdmin() {
		t.Fatalf("bootstrap key: %+v, %v", p, err)
	}
	if again, err := e.svc.EnsureAdminKey(ctx); err != nil || again != "" {
		t.Errorf("EnsureAdminKey again = %q, %v; want nothing", again, err)
	}
	withKey, err := invite.NewService(e.store, invite.Config{AdminKey: strings.Repeat("k", 40)})
	if err != nil {
		t.Fatal(err)
	}
	if again, err := withKey.EnsureAdminKey(ctx); err != nil || again != "" {
		t.Errorf("EnsureAdminKey with a configured key = %q, %v; want nothing", again, err)
	}
	var keys int
	e.store.Read(ctx, func(tx invite.Tx) error {
		var err error
		keys, err = tx.CountKeys(ctx)
		return err
	})
	if keys != 1 {
		t.Errorf("%d keys after bootstrap, want 1", keys)
	}
	admins, err := e.svc.ListKeys(ctx, nil)
	if err != nil || len(admins) != 1 {
		t.Errorf("admin keys after bootstrap: %+v, %v", admins, err)
	}
}

// ---- the state machine

// act runs action on inv through the service, as an admin would (by id).
func (e *env) act(t *testing.T, a invite.Action, inv *invite.Invitation) (*invite.Invitation, error) {
	t.Helper()
	ctx, r := t.Context(), ref(inv.ID)
	switch a {
	case invite.ActionAccept:
		got, _, err := e.svc.AcceptInvitation(ctx, inv.OrgID, r, invite.Accept{Email: inv.Email, Name: "Invitee"})
		return got, err
	case invite.ActionDecline:
		return e.svc.DeclineInvitation(ctx, inv.OrgID, r)
	case invite.ActionCancel:
		return e.svc.CancelInvitation(ctx, inv.OrgID, r)
	case invite.ActionResend:
		return e.svc.ResendInvitation(ctx, inv.OrgID, r)
	}
	t.Fatalf("no way to %s through the service", a)
	return nil, nil
}

var userActions = []invite.Action{invite.ActionAccept, invite.ActionDecline, invite.ActionCancel, invite.ActionResend}

// refuses checks that every action but allowed is a conflict naming the
// state, and leaves the invitation as it was.
func (e *env) refuses(t *testing.T, inv *invite.Invitation, allowed ...invite.Action) {
	t.Helper()
	before := e.get(t, inv.OrgID, inv.ID)
	for _, a := range userActions {
		if slices.Contains(allowed, a) {
			continue
		}
		_, err := e.act(t, a, before)
		wantKind(t, err, invite.KindConflict, string(a), string(before.State))
		after := e.get(t, inv.OrgID, inv.ID)
		if after.State != before.State || !after.UpdatedAt.Equal(before.UpdatedAt) || after.SendCount != before.SendCount {
			t.Errorf("refused %s changed the invitation: %+v, was %+v", a, after, before)
		}
	}
}

// failMail gives up on inv's mail job for good.
func (e *env) failMail(t *testing.T, inv *invite.Invitation, reason string) {
	t.Helper()
	j := e.jobFor(t, inv.ID)
	if err := e.svc.JobFailed(t.Context(), j, reason); err != nil {
		t.Fatalf("JobFailed: %v", err)
	}
}

func testStates(t *testing.T, e *env) {
	o := e.org(t, nil)
	moves := []struct {
		a  invite.Action
		to invite.State
	}{
		{invite.ActionAccept, invite.StateAccepted},
		{invite.ActionDecline, invite.StateDeclined},
		{invite.ActionCancel, invite.StateCancelled},
	}
	for _, m := range moves {
		t.Run("pending to "+string(m.to), func(t *testing.T) {
			inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
			if inv.State != invite.StatePending {
				t.Fatalf("new invitation is %s", inv.State)
			}
			e.clock.Advance(time.Second)
			got, err := e.act(t, m.a, inv)
			if err != nil {
				t.Fatal(err)
			}
			stored := e.get(t, o.ID, inv.ID)
			for _, x := range []*invite.Invitation{got, stored} {
				if x.State != m.to {
					t.Errorf("state %s after %s, want %s", x.State, m.a, m.to)
				}
				wantTime(t, "updated_at", x.UpdatedAt, e.now())
				wantTimePtr(t, "finished_at", x.FinishedAt, e.now())
				wantTime(t, "created_at", x.CreatedAt, inv.CreatedAt)
			}
			e.refuses(t, inv)
			// The invitee's link shows the final state.
			if n := e.count(t, invite.InvitationFilter{Org: o.ID, Email: inv.Email, States: []invite.State{m.to}}); n != 1 {
				t.Errorf("count of %s invitations for the email = %d", m.to, n)
			}
		})
	}

	t.Run("pending to pending by resend", func(t *testing.T) {
		inv, _ := e.quiet(t, o.ID)
		e.clock.Advance(time.Second)
		got, err := e.svc.ResendInvitation(t.Context(), o.ID, ref(inv.ID))
		if err != nil {
			t.Fatal(err)
		}
		if got.State != invite.StatePending || got.FinishedAt != nil || got.SendCount != 1 {
			t.Errorf("resent pending invitation %+v", got)
		}
	})

	t.Run("pending to expired", func(t *testing.T) {
		inv, _ := e.quiet(t, o.ID)
		e.clock.Advance(time.Duration(o.Settings.InvitationTTL) * time.Second)
		got := e.get(t, o.ID, inv.ID)
		if got.State != invite.StateExpired {
			t.Fatalf("state %s past expiry", got.State)
		}
		e.refuses(t, inv, invite.ActionResend)
		got, err := e.act(t, invite.ActionResend, inv)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != invite.StatePending || got.FinishedAt != nil || !got.ExpiresAt.After(e.now()) {
			t.Errorf("resent expired invitation %+v", got)
		}
		if s := e.get(t, o.ID, inv.ID).State; s != invite.StatePending {
			t.Errorf("stored state %s after resend of an expired invitation", s)
		}
	})

	t.Run("pending to error", func(t *testing.T) {
		inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		e.clock.Advance(time.Second)
		e.failMail(t, inv, "550 no such mailbox")
		got := e.get(t, o.ID, inv.ID)
		if got.State != invite.StateError || got.Error != "550 no such mailbox" {
			t.Fatalf("after a failed mail: state %s, error %q", got.State, got.Error)
		}
		wantTimePtr(t, "finished_at", got.FinishedAt, e.now())
		if n := e.count(t, invite.InvitationFilter{Org: o.ID, Email: inv.Email, States: []invite.State{invite.StateError}}); n != 1 {
			t.Errorf("count in error = %d", n)
		}
		e.refuses(t, inv, invite.ActionResend)
		e.clock.Advance(invite.ResendInterval)
		got, err := e.act(t, invite.ActionResend, inv)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != invite.StatePending || got.Error != "" || got.FinishedAt != nil {
			t.Errorf("resent failed invitation %+v", got)
		}
		if got := e.get(t, o.ID, inv.ID); got.State != invite.StatePending || got.Error != "" {
			t.Errorf("stored after resend: state %s, error %q", got.State, got.Error)
		}
	})

	t.Run("accept creates the member", func(t *testing.T) {
		ctx := t.Context()
		inv := e.invite(t, o.ID, invite.CreateInvitation{Email: " New.Person@Example.COM ", Role: "admin", Permissions: []string{"billing", "plans"}}).Invitation
		_, m, err := e.svc.AcceptInvitation(ctx, o.ID, invite.InvitationRef{Number: inv.Number}, invite.Accept{Email: "NEW.PERSON@example.com", Name: " Pat "})
		if err != nil {
			t.Fatal(err)
		}
		if m.Email != "new.person@example.com" || m.Name != "Pat" || m.Role != "admin" || !slices.Equal(m.Permissions, []string{"billing", "plans"}) || m.OrgID != o.ID {
			t.Errorf("member %+v", m)
		}
		got, err := e.svc.GetMember(ctx, o.ID, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Email != m.Email || got.Role != m.Role || !slices.Equal(got.Permissions, m.Permissions) || !got.CreatedAt.Equal(e.now()) {
			t.Errorf("stored member %+v, want %+v", got, m)
		}
	})

	t.Run("accept by token", func(t *testing.T) {
		ctx := t.Context()
		inv, token := e.quiet(t, o.ID)
		v, err := e.svc.GetByToken(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if v.Invitation.ID != inv.ID || v.Organization.ID != o.ID || v.Invitation.State != invite.StatePending {
			t.Errorf("token view %+v", v)
		}
		got, m, err := e.svc.AcceptByToken(ctx, token, "Sam")
		if err != nil {
			t.Fatal(err)
		}
		if got.State != invite.StateAccepted || m.Email != inv.Email || m.Name != "Sam" {
			t.Errorf("accepted %+v as %+v", got, m)
		}
		if v, err := e.svc.GetByToken(ctx, token); err != nil || v.Invitation.State != invite.StateAccepted {
			t.Errorf("token view after accept: %+v, %v", v, err)
		}
		_, _, err = e.svc.AcceptByToken(ctx, token, "Sam")
		wantKind(t, err, invite.KindConflict, "accepted")
		_, err = e.svc.DeclineByToken(ctx, token)
		wantKind(t, err, invite.KindConflict, "accepted")
	})

	t.Run("decline by token", func(t *testing.T) {
		ctx := t.Context()
		inv, token := e.quiet(t, o.ID)
		got, err := e.svc.DeclineByToken(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != invite.StateDeclined || e.get(t, o.ID, inv.ID).State != invite.StateDeclined {
			t.Errorf("declined by token: %s", got.State)
		}
		_, _, err = e.svc.AcceptByToken(ctx, token, "x")
		wantKind(t, err, invite.KindConflict, "declined")
		if _, err := e.svc.DeclineByToken(ctx, "not-a-token"); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("decline with an unknown token: %v", err)
		}
	})

	t.Run("links that open nothing", func(t *testing.T) {
		ctx := t.Context()
		inv, token := e.quiet(t, o.ID)
		other, otherToken := e.quiet(t, o.ID)
		raw, _ := base64.RawURLEncoding.DecodeString(token)
		forged := append([]byte{}, raw...)
		forged[len(forged)-1] ^= 1
		swapped, _ := base64.RawURLEncoding.DecodeString(otherToken)
		copy(swapped, inv.ID[:]) // inv's id with other's secret
		for name, bad := range map[string]string{
			"another secret":        base64.RawURLEncoding.EncodeToString(forged),
			"another link's secret": base64.RawURLEncoding.EncodeToString(swapped),
			"not base64":            strings.Repeat("*", len(token)),
			"too short":             token[:len(token)-1],
			"too long":              token + "A",
			"empty":                 "",
			"an unknown invitation": base64.RawURLEncoding.EncodeToString(append(make([]byte, 16), raw[16:]...)),
		} {
			if _, err := e.svc.GetByToken(ctx, bad); invite.ErrorKind(err) != invite.KindNotFound {
				t.Errorf("GetByToken with %s: %v, want not found", name, err)
			}
			if _, _, err := e.svc.AcceptByToken(ctx, bad, "x"); invite.ErrorKind(err) != invite.KindNotFound {
				t.Errorf("AcceptByToken with %s: %v, want not found", name, err)
			}
		}
		// A resend replaces the link: the old one opens nothing, the new one works.
		e.clock.Advance(invite.ResendInterval)
		if _, err := e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.GetByToken(ctx, token); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("GetByToken with the link a resend replaced: %v, want not found", err)
		}
		if v, err := e.svc.GetByToken(ctx, otherToken); err != nil || v.Invitation.ID != other.ID {
			t.Errorf("GetByToken with a good link: %v, %v", v, err)
		}
		if s := e.get(t, o.ID, inv.ID).State; s != invite.StatePending {
			t.Errorf("bad links left the invitation %s", s)
		}
	})

	t.Run("failed accept leaves the invitation pending", func(t *testing.T) {
		ctx := t.Context()
		inv, token := e.quiet(t, o.ID)
		// A different address is refused.
		_, _, err := e.svc.AcceptInvitation(ctx, o.ID, ref(inv.ID), invite.Accept{Email: "someone.else@example.com"})
		wantKind(t, err, invite.KindInvalid, "someone.else@example.com")
		_, _, err = e.svc.AcceptInvitation(ctx, o.ID, ref(inv.ID), invite.Accept{})
		wantKind(t, err, invite.KindInvalid, "email")
		_, _, err = e.svc.AcceptByToken(ctx, token, "bad\r\nname")
		wantKind(t, err, invite.KindInvalid, "name")
		if page, _ := e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Email: inv.Email}); len(page.Items) != 0 {
			t.Errorf("refused accept made a member: %+v", page.Items)
		}
		// A member with the address appears meanwhile: the accept fails whole.
		now := e.now()
		e.write(t, func(tx invite.Tx) error {
			return tx.CreateMember(ctx, &invite.Member{ID: uuid.New(), OrgID: o.ID, Email: inv.Email, Name: "first", Role: "member", CreatedAt: now, UpdatedAt: now})
		})
		e.clock.Advance(time.Second)
		_, _, err = e.svc.AcceptByToken(ctx, token, "second")
		wantKind(t, err, invite.KindConflict, inv.Email)
		got := e.get(t, o.ID, inv.ID)
		if got.State != invite.StatePending || got.FinishedAt != nil || !got.UpdatedAt.Equal(inv.UpdatedAt) {
			t.Errorf("after a failed accept: %+v", got)
		}
		page, err := e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Email: inv.Email})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 || page.Items[0].Name != "first" {
			t.Errorf("members after a failed accept: %+v", page.Items)
		}
	})

	t.Run("concurrent moves", func(t *testing.T) {
		ctx := t.Context()
		inv, token := e.quiet(t, o.ID)
		e.clock.Advance(time.Second)
		actions := []invite.Action{invite.ActionAccept, invite.ActionDecline, invite.ActionCancel}
		const each = 4
		type result struct {
			a   invite.Action
			err error
		}
		results := make([]result, each*len(actions)+each)
		var wg sync.WaitGroup
		for i := range each * len(actions) {
			a := actions[i%len(actions)]
			wg.Go(func() {
				_, err := e.act(t, a, inv)
				results[i] = result{a, err}
			})
		}
		// The invitee clicking Accept again and again at the same time.
		for i := range each {
			wg.Go(func() {
				_, _, err := e.svc.AcceptByToken(ctx, token, "Clicker")
				results[each*len(actions)+i] = result{invite.ActionAccept, err}
			})
		}
		wg.Wait()
		var won []invite.Action
		for _, r := range results {
			if r.err == nil {
				won = append(won, r.a)
			} else if invite.ErrorKind(r.err) != invite.KindConflict {
				t.Errorf("a losing %s: %v, want Kind Conflict", r.a, r.err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("%d concurrent moves of one invitation succeeded (%v), want 1", len(won), won)
		}
		want := map[invite.Action]invite.State{invite.ActionAccept: invite.StateAccepted,
			invite.ActionDecline: invite.StateDeclined, invite.ActionCancel: invite.StateCancelled}[won[0]]
		if got := e.get(t, o.ID, inv.ID); got.State != want {
			t.Errorf("stored state %s after %s won", got.State, won[0])
		}
		page, err := e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Email: inv.Email})
		if err != nil {
			t.Fatal(err)
		}
		if wantMembers := map[bool]int{true: 1, false: 0}[won[0] == invite.ActionAccept]; len(page.Items) != wantMembers {
			t.Errorf("%d members after %s won, want %d", len(page.Items), won[0], wantMembers)
		}
	})

	t.Run("unknown invitation", func(t *testing.T) {
		for _, a := range userActions {
			_, err := e.act(t, a, &invite.Invitation{ID: uuid.New(), OrgID: o.ID, Email: "x@example.com"})
			wantKind(t, err, invite.KindNotFound)
		}
		_, err := e.svc.GetInvitation(t.Context(), o.ID, invite.InvitationRef{Number: 1 << 60})
		wantKind(t, err, invite.KindNotFound)
	})
}

// ---- expiry

func testExpiry(t *testing.T, e *env) {
	t.Run("seen at once", func(t *testing.T) {
		ctx := t.Context()
		o := e.org(t, nil)
		res := e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 3600, NoEmail: true})
		inv, token := res.Invitation, res.Token
		wantTime(t, "expires_at", inv.ExpiresAt, inv.CreatedAt.Add(time.Hour))
		pendingF := invite.InvitationFilter{Org: o.ID, Email: inv.Email, States: []invite.State{invite.StatePending}}
		expiredF := invite.InvitationFilter{Org: o.ID, Email: inv.Email, States: []invite.State{invite.StateExpired}}

		observe := func(t *testing.T, want invite.State) {
			t.Helper()
			if s := e.get(t, o.ID, inv.ID).State; s != want {
				t.Errorf("Get: %s, want %s", s, want)
			}
			v, err := e.svc.GetByToken(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			if v.Invitation.State != want {
				t.Errorf("token view: %s, want %s", v.Invitation.State, want)
			}
			all := e.find(t, invite.InvitationFilter{Org: o.ID, Email: inv.Email})
			if len(all) != 1 || all[0].State != want {
				t.Errorf("unfiltered list: %v", all)
			}
			wantPending, wantExpired := 0, 0
			if want == invite.StatePending {
				wantPending = 1
			} else {
				wantExpired = 1
			}
			if n := len(e.find(t, pendingF)); n != wantPending {
				t.Errorf("listed as pending: %d, want %d", n, wantPending)
			}
			if n := len(e.find(t, expiredF)); n != wantExpired {
				t.Errorf("listed as expired: %d, want %d", n, wantExpired)
			}
			if n := e.count(t, pendingF); n != wantPending {
				t.Errorf("counted as pending: %d, want %d", n, wantPending)
			}
			if n := e.count(t, expiredF); n != wantExpired {
				t.Errorf("counted as expired: %d, want %d", n, wantExpired)
			}
			page, err := e.svc.ListInvitations(ctx, o.ID, invite.ListParams{State: string(want), Email: inv.Email})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) != 1 || page.Items[0].State != want {
				t.Errorf("ListInvitations state=%s: %+v", want, page.Items)
			}
		}
		e.clock.Advance(time.Hour - time.Microsecond)
		t.Run("just before", func(t *testing.T) { observe(t, invite.StatePending) })
		e.clock.Advance(time.Microsecond)
		t.Run("at expires_at", func(t *testing.T) { observe(t, invite.StateExpired) })
		got := e.get(t, o.ID, inv.ID)
		wantTimePtr(t, "finished_at", got.FinishedAt, inv.ExpiresAt)
		e.clock.Advance(time.Hour)
		t.Run("later", func(t *testing.T) { observe(t, invite.StateExpired) })

		_, _, err := e.svc.AcceptByToken(ctx, token, "late")
		wantKind(t, err, invite.KindConflict, "expired")

		// A new invitation to the address is allowed, and the old one stays expired.
		fresh := e.invite(t, o.ID, invite.CreateInvitation{Email: inv.Email}).Invitation
		if fresh.ID == inv.ID || fresh.State != invite.StatePending {
			t.Fatalf("new invitation %+v", fresh)
		}
		if s := e.get(t, o.ID, inv.ID).State; s != invite.StateExpired {
			t.Errorf("old invitation is %s after a new one", s)
		}
		if n := e.count(t, pendingF); n != 1 {
			t.Errorf("%d pending after re-inviting", n)
		}
		if n := e.count(t, expiredF); n != 1 {
			t.Errorf("%d expired after re-inviting", n)
		}
		if v, err := e.svc.GetByToken(ctx, token); err != nil || v.Invitation.ID != inv.ID || v.Invitation.State != invite.StateExpired {
			t.Errorf("old token after re-inviting: %+v, %v", v, err)
		}
	})

	t.Run("expires_in", func(t *testing.T) {
		ttl := int64(2 * 3600)
		o := e.org(t, &invite.SettingsPatch{InvitationTTL: &ttl})
		inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		wantTime(t, "expires_at with the org's TTL", inv.ExpiresAt, inv.CreatedAt.Add(2*time.Hour))
		inv = e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 30 * 24 * 3600}).Invitation
		wantTime(t, "expires_at of 30 days", inv.ExpiresAt, inv.CreatedAt.Add(30*24*time.Hour))
		for _, s := range []int64{-1, 1, 3599, 30*24*3600 + 1} {
			_, err := e.svc.CreateInvitation(t.Context(), o.ID, invite.CreateInvitation{Email: e.email(), ExpiresIn: s})
			wantKind(t, err, invite.KindInvalid, "expires_in")
		}
	})

	t.Run("expired ones leave the pending limit", func(t *testing.T) {
		limit := 2
		o := e.org(t, &invite.SettingsPatch{MaxPending: &limit})
		e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 3600})
		e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 7200})
		_, err := e.svc.CreateInvitation(t.Context(), o.ID, invite.CreateInvitation{Email: e.email()})
		wantKind(t, err, invite.KindConflict, "2")
		e.clock.Advance(time.Hour)
		e.invite(t, o.ID, invite.CreateInvitation{})
		_, err = e.svc.CreateInvitation(t.Context(), o.ID, invite.CreateInvitation{Email: e.email()})
		wantKind(t, err, invite.KindConflict)
	})

	t.Run("at the pending limit", func(t *testing.T) {
		ctx := t.Context()
		limit := 2
		o := e.org(t, &invite.SettingsPatch{MaxPending: &limit})
		first := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		e.invite(t, o.ID, invite.CreateInvitation{})
		// A refused create leaves nothing behind.
		refused := e.email()
		_, err := e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: refused})
		wantKind(t, err, invite.KindConflict, "2")
		if c := e.count(t, invite.InvitationFilter{Org: o.ID, Email: refused}); c != 0 {
			t.Errorf("a create refused at the limit left %d invitations", c)
		}
		// Replacing one keeps the count, so it is allowed.
		e.clock.Advance(time.Second)
		res, err := e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: first.Email, Force: true})
		if err != nil {
			t.Fatalf("replacing a pending invitation at the limit: %v", err)
		}
		if got := e.get(t, o.ID, first.ID).State; got != invite.StateCancelled || res.Invitation.ID == first.ID {
			t.Errorf("after the replacement the old one is %s", got)
		}
		if c := e.count(t, invite.InvitationFilter{Org: o.ID, States: []invite.State{invite.StatePending}}); c != limit {
			t.Errorf("%d pending after a replacement at the limit of %d", c, limit)
		}
	})
}

// ---- listing

type sortSpec struct {
	name  string
	field invite.SortField
	desc  bool
}

var sorts = []sortSpec{
	{"created_at", invite.SortCreatedAt, false},
	{"-created_at", invite.SortCreatedAt, true},
	{"updated_at", invite.SortUpdatedAt, false},
	{"-updated_at", invite.SortUpdatedAt, true},
}

// before tells whether a comes strictly before b in the order.
func (s sortSpec) before(a, b *invite.Invitation) bool {
	pa, pb := invite.PositionOf(a, s.field), invite.PositionOf(b, s.field)
	c := pa.Time.Compare(pb.Time)
	if c == 0 {
		c = cmp.Compare(pa.Number, pb.Number)
	}
	if s.desc {
		c = -c
	}
	return c < 0
}

func (s sortSpec) checkOrder(t *testing.T, what string, invs []*invite.Invitation) {
	t.Helper()
	for i := 1; i < len(invs); i++ {
		if !s.before(invs[i-1], invs[i]) {
			t.Fatalf("%s: %s is not in %s order at %d", what, ids(invs), s.name, i)
		}
	}
}

func testPaging(t *testing.T, e *env) {
	ctx := t.Context()
	o := e.org(t, nil)
	roles := []string{"member", "admin", "restricted"}
	var made []*invite.Invitation
	// Several invitations share a created_at so that the number breaks ties.
	for i := range 22 {
		if i%3 != 0 {
			e.clock.Advance(time.Second)
		}
		made = append(made, e.invite(t, o.ID, invite.CreateInvitation{Role: roles[i%3], NoEmail: true}).Invitation)
	}
	// Changes in another order, some in the same instant, so updated_at
	// orders differently from created_at.
	for i, k := range []int{17, 3, 11, 5, 0, 14, 20, 8} {
		if i%2 == 0 {
			e.clock.Advance(time.Second)
		}
		var err error
		if i%3 == 0 {
			_, err = e.svc.DeclineInvitation(ctx, o.ID, ref(made[k].ID))
		} else {
			_, err = e.svc.CancelInvitation(ctx, o.ID, ref(made[k].ID))
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	for _, s := range sorts {
		t.Run("keyset "+s.name, func(t *testing.T) {
			full := e.find(t, invite.InvitationFilter{Org: o.ID, Sort: s.field, Desc: s.desc})
			s.checkOrder(t, "full list", full)
			existing := map[uuid.UUID]bool{}
			for _, inv := range full {
				existing[inv.ID] = true
			}
			added := map[uuid.UUID]bool{}
			var seen []*invite.Invitation
			cur := ""
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("paging does not end")
				}
				page, err := e.svc.ListInvitations(ctx, o.ID, invite.ListParams{Sort: s.name, Limit: 4, Cursor: cur})
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Items) > 4 {
					t.Fatalf("page of %d with limit 4", len(page.Items))
				}
				seen = append(seen, page.Items...)
				if page.NextCursor == "" {
					break
				}
				if len(page.Items) != 4 {
					t.Fatalf("a short page of %d has a next cursor", len(page.Items))
				}
				cur = page.NextCursor
				// Someone invites between two pages.
				e.clock.Advance(time.Second)
				added[e.invite(t, o.ID, invite.CreateInvitation{NoEmail: true}).Invitation.ID] = true
			}
			s.checkOrder(t, "pages", seen)
			got := map[uuid.UUID]bool{}
			for _, inv := range seen {
				if got[inv.ID] {
					t.Fatalf("%s seen twice", inv.ID)
				}
				got[inv.ID] = true
			}
			for id := range existing {
				if !got[id] {
					t.Errorf("paging skipped %s", id)
				}
			}
			// Rows added meanwhile come after the cursor only in ascending order.
			for id := range added {
				if got[id] == s.desc {
					t.Errorf("row added while paging: seen=%v in %s order", got[id], s.name)
				}
			}
		})
	}

	t.Run("Before", func(t *testing.T) {
		for _, s := range sorts {
			full := e.find(t, invite.InvitationFilter{Org: o.ID, Sort: s.field, Desc: s.desc})
			// Walk back from the last row to the first, three at a time.
			var back []*invite.Invitation
			pos := invite.PositionOf(full[len(full)-1], s.field)
			for range 100 {
				page := e.find(t, invite.InvitationFilter{Org: o.ID, Sort: s.field, Desc: s.desc, Before: &pos, Limit: 3})
				if len(page) == 0 {
					break
				}
				s.checkOrder(t, "page before "+s.name, page)
				back = append(page, back...)
				pos = invite.PositionOf(page[0], s.field)
			}
			if want := ids(full[:len(full)-1]); !slices.Equal(ids(back), want) {
				t.Errorf("%s: paging backwards gave %v, want %v", s.name, ids(back), want)
			}
			mid := len(full) / 2
			pos = invite.PositionOf(full[mid], s.field)
			page := e.find(t, invite.InvitationFilter{Org: o.ID, Sort: s.field, Desc: s.desc, Before: &pos, Limit: 4})
			if want := ids(full[mid-4 : mid]); !slices.Equal(ids(page), want) {
				t.Errorf("%s: the 4 before row %d are %v, want %v", s.name, mid, ids(page), want)
			}
			page = e.find(t, invite.InvitationFilter{Org: o.ID, Sort: s.field, Desc: s.desc, After: &pos, Limit: 4})
			if want := ids(full[mid+1 : mid+5]); !slices.Equal(ids(page), want) {
				t.Errorf("%s: the 4 after row %d are %v, want %v", s.name, mid, ids(page), want)
			}
		}
	})

	t.Run("Offset", func(t *testing.T) {
		for _, s := range sorts {
			full := e.find(t, invite.InvitationFilter{Org: o.ID, Sort: s.field, Desc: s.desc})
			page := e.find(t, invite.InvitationFilter{Org: o.ID, Sort: s.field, Desc: s.desc, Offset: 5, Limit: 4})
			if want := ids(full[5:9]); !slices.Equal(ids(page), want) {
				t.Errorf("%s offset 5: %v, want %v", s.name, ids(page), want)
			}
			pos := invite.PositionOf(full[2], s.field)
			page = e.find(t, invite.InvitationFilter{Org: o.ID, Sort: s.field, Desc: s.desc, After: &pos, Offset: 2, Limit: 3})
			if want := ids(full[5:8]); !slices.Equal(ids(page), want) {
				t.Errorf("%s after row 2, offset 2: %v, want %v", s.name, ids(page), want)
			}
			page = e.find(t, invite.InvitationFilter{Org: o.ID, Sort: s.field, Desc: s.desc, Offset: len(full), Limit: 3})
			if len(page) != 0 {
				t.Errorf("%s offset past the end: %d rows", s.name, len(page))
			}
		}
	})

	t.Run("Filters", func(t *testing.T) {
		full := e.find(t, invite.InvitationFilter{Org: o.ID})
		by := func(keep func(*invite.Invitation) bool) []uuid.UUID {
			var out []uuid.UUID
			for _, inv := range full {
				if keep(inv) {
					out = append(out, inv.ID)
				}
			}
			slices.SortFunc(out, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
			return out
		}
		sorted := func(invs []*invite.Invitation) []uuid.UUID {
			out := ids(invs)
			slices.SortFunc(out, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
			return out
		}
		stateSets := [][]invite.State{
			{invite.StatePending}, {invite.StateCancelled}, {invite.StateDeclined},
			{invite.StatePending, invite.StateCancelled}, {invite.StateCancelled, invite.StateDeclined},
			{invite.StateAccepted}, {invite.StateAccepted, invite.StateExpired, invite.StateError},
		}
		for _, states := range stateSets {
			f := invite.InvitationFilter{Org: o.ID, States: states}
			want := by(func(inv *invite.Invitation) bool { return slices.Contains(states, inv.State) })
			if got := sorted(e.find(t, f)); !slices.Equal(got, want) {
				t.Errorf("states %v: %d rows, want %d", states, len(got), len(want))
			}
			if n := e.count(t, f); n != len(want) {
				t.Errorf("count of states %v = %d, want %d", states, n, len(want))
			}
		}
		for _, role := range roles {
			f := invite.InvitationFilter{Org: o.ID, Role: role, States: []invite.State{invite.StatePending}}
			want := by(func(inv *invite.Invitation) bool { return inv.Role == role && inv.State == invite.StatePending })
			if len(want) == 0 {
				t.Fatalf("no pending %s to filter", role)
			}
			if got := sorted(e.find(t, f)); !slices.Equal(got, want) {
				t.Errorf("role %s pending: %v, want %v", role, got, want)
			}
			if n := e.count(t, f); n != len(want) {
				t.Errorf("count of role %s = %d", role, n)
			}
		}
		target := made[5]
		page, err := e.svc.ListInvitations(ctx, o.ID, invite.ListParams{Email: "  " + strings.ToUpper(target.Email) + " "})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 || page.Items[0].ID != target.ID {
			t.Errorf("by email: %v", ids(page.Items))
		}
		page, err = e.svc.ListInvitations(ctx, o.ID, invite.ListParams{State: "cancelled", Role: target.Role})
		if err != nil {
			t.Fatal(err)
		}
		want := by(func(inv *invite.Invitation) bool {
			return inv.State == invite.StateCancelled && inv.Role == target.Role
		})
		if got := sorted(page.Items); !slices.Equal(got, want) {
			t.Errorf("cancelled %s: %v, want %v", target.Role, got, want)
		}
		if n := e.count(t, invite.InvitationFilter{Org: o.ID}); n != len(full) {
			t.Errorf("count of all = %d, want %d", n, len(full))
		}
		if got, err := e.svc.FindInvitations(ctx, invite.InvitationFilter{Org: invite.NewOrgID(), Limit: 10}); invite.ErrorKind(err) != invite.KindNotFound || len(got) != 0 {
			t.Errorf("an unknown org lists %d invitations, %v; want NotFound", len(got), err)
		}
		// A filter that matches nothing in a real org is an empty list, not NotFound.
		if got := e.find(t, invite.InvitationFilter{Org: o.ID, Email: "nobody@example.com"}); len(got) != 0 {
			t.Errorf("an unmatched filter lists %d invitations", len(got))
		}
	})

	t.Run("Parameters", func(t *testing.T) {
		page, err := e.svc.ListInvitations(ctx, o.ID, invite.ListParams{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != invite.DefaultLimit || page.NextCursor == "" {
			t.Errorf("default page: %d items, cursor %q", len(page.Items), page.NextCursor)
		}
		sorts[1].checkOrder(t, "default order", page.Items)
		full := e.find(t, invite.InvitationFilter{Org: o.ID, Sort: invite.SortCreatedAt, Desc: true})
		if !slices.Equal(ids(page.Items), ids(full[:invite.DefaultLimit])) {
			t.Error("the default page is not the newest invitations")
		}
		// A cursor is bound to its sort; the default sort is -created_at.
		next, err := e.svc.ListInvitations(ctx, o.ID, invite.ListParams{Sort: "-created_at", Cursor: page.NextCursor})
		if err != nil {
			t.Fatalf("a default-sort cursor with -created_at: %v", err)
		}
		if len(next.Items) == 0 || next.Items[0].ID != full[invite.DefaultLimit].ID {
			t.Error("the second page does not follow the first")
		}
		for _, other := range []string{"created_at", "updated_at", "-updated_at"} {
			_, err = e.svc.ListInvitations(ctx, o.ID, invite.ListParams{Sort: other, Cursor: page.NextCursor})
			wantKind(t, err, invite.KindInvalid, "cursor")
		}
		bad := map[string]invite.ListParams{
			"cursor":  {Cursor: "not a cursor"},
			"limit":   {Limit: invite.MaxLimit + 1},
			"sort":    {Sort: "email"},
			"state":   {State: "open"},
			"email":   {Email: "not-an-email"},
			"limit ":  {Limit: -1},
			"cursor ": {Cursor: invite.EncodeCursor("-created_at", invite.Position{Time: e.now()})},
		}
		for word, p := range bad {
			_, err := e.svc.ListInvitations(ctx, o.ID, p)
			wantKind(t, err, invite.KindInvalid, strings.TrimSpace(word))
		}
		max, err := e.svc.ListInvitations(ctx, o.ID, invite.ListParams{Limit: invite.MaxLimit})
		if err != nil || len(max.Items) != min(invite.MaxLimit, len(full)) {
			t.Errorf("limit %d: %d items, %v", invite.MaxLimit, len(max.Items), err)
		}
		_, err = e.svc.ListInvitations(ctx, invite.NewOrgID(), invite.ListParams{})
		wantKind(t, err, invite.KindNotFound)
	})
}

// ---- one pending invitation per email

func testUniquePending(t *testing.T, e *env) {
	t.Run("concurrent creates", func(t *testing.T) {
		ctx := t.Context()
		o := e.org(t, nil)
		email := e.email()
		const n = 50
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: email})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			if invite.ErrorKind(err) != invite.KindConflict {
				t.Errorf("a losing create: %v, want Kind Conflict", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent creates succeeded, want 1", ok, n)
		}
		if c := e.count(t, invite.InvitationFilter{Org: o.ID, Email: email}); c != 1 {
			t.Errorf("%d invitations stored for the email, want 1", c)
		}
	})

	t.Run("same address in other case", func(t *testing.T) {
		o := e.org(t, nil)
		inv := e.invite(t, o.ID, invite.CreateInvitation{Email: "Casey@Example.com"}).Invitation
		if inv.Email != "casey@example.com" {
			t.Errorf("stored email %q", inv.Email)
		}
		_, err := e.svc.CreateInvitation(t.Context(), o.ID, invite.CreateInvitation{Email: " CASEY@example.COM"})
		wantKind(t, err, invite.KindConflict, "casey@example.com")
	})

	t.Run("pending limit under concurrent creates", func(t *testing.T) {
		ctx := t.Context()
		limit := 3
		o := e.org(t, &invite.SettingsPatch{MaxPending: &limit})
		const n = 12
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			email := e.email()
			wg.Go(func() {
				_, errs[i] = e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: email})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if invite.ErrorKind(err) != invite.KindConflict {
				t.Errorf("a create over the limit: %v, want Kind Conflict", err)
			}
		}
		if ok != limit {
			t.Errorf("%d concurrent creates succeeded with a limit of %d", ok, limit)
		}
		if c := e.count(t, invite.InvitationFilter{Org: o.ID, States: []invite.State{invite.StatePending}}); c != limit {
			t.Errorf("%d pending with a limit of %d", c, limit)
		}
	})

	t.Run("force replaces", func(t *testing.T) {
		ctx := t.Context()
		o := e.org(t, nil)
		old, oldToken := e.quiet(t, o.ID)
		e.clock.Advance(time.Second)
		res, err := e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: old.Email, Force: true, Role: "admin"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Invitation.ID == old.ID || res.Invitation.State != invite.StatePending || res.Invitation.Role != "admin" {
			t.Errorf("forced invitation %+v", res.Invitation)
		}
		got := e.get(t, o.ID, old.ID)
		if got.State != invite.StateCancelled {
			t.Errorf("replaced invitation is %s, want cancelled", got.State)
		}
		wantTimePtr(t, "replaced finished_at", got.FinishedAt, e.now())
		if v, err := e.svc.GetByToken(ctx, oldToken); err != nil || v.Invitation.State != invite.StateCancelled {
			t.Errorf("the replaced link: %+v, %v", v, err)
		}
		_, _, err = e.svc.AcceptByToken(ctx, oldToken, "x")
		wantKind(t, err, invite.KindConflict, "cancelled")
		if n := e.count(t, invite.InvitationFilter{Org: o.ID, Email: old.Email, States: []invite.State{invite.StatePending}}); n != 1 {
			t.Errorf("%d pending after force", n)
		}
		// Force with nothing pending just creates.
		e.invite(t, o.ID, invite.CreateInvitation{Force: true})
	})

	t.Run("concurrent forced creates", func(t *testing.T) {
		ctx := t.Context()
		o := e.org(t, nil)
		email := e.email()
		e.invite(t, o.ID, invite.CreateInvitation{Email: email})
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: email, Force: true})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if invite.ErrorKind(err) != invite.KindConflict {
				t.Errorf("a forced create: %v, want success or Kind Conflict", err)
			}
		}
		if ok == 0 {
			t.Error("no forced create succeeded")
		}
		all := e.find(t, invite.InvitationFilter{Org: o.ID, Email: email})
		pending := 0
		for _, inv := range all {
			switch inv.State {
			case invite.StatePending:
				pending++
			case invite.StateCancelled:
			default:
				t.Errorf("invitation in state %s", inv.State)
			}
		}
		if pending != 1 || len(all) != ok+1 {
			t.Errorf("%d pending of %d stored after %d forced creates, want 1 of %d", pending, len(all), ok, ok+1)
		}
	})

	t.Run("create rules", func(t *testing.T) {
		ctx := t.Context()
		o := e.org(t, nil)
		bad := map[string]invite.CreateInvitation{
			"email":        {Email: "not an email"},
			"role":         {Role: "emperor"},
			"permission":   {Permissions: []string{"launch"}},
			"metadata":     {Metadata: json.RawMessage(`[1]`)},
			"locale":       {Locale: "english!"},
			"inviter.name": {Inviter: invite.Inviter{Name: "a\nb"}},
		}
		for word, c := range bad {
			if c.Email == "" {
				c.Email = e.email()
			}
			_, err := e.svc.CreateInvitation(ctx, o.ID, c)
			wantKind(t, err, invite.KindInvalid, word)
		}
		_, err := e.svc.CreateInvitation(ctx, invite.NewOrgID(), invite.CreateInvitation{Email: e.email()})
		wantKind(t, err, invite.KindNotFound)
		if n := e.count(t, invite.InvitationFilter{Org: o.ID}); n != 0 {
			t.Errorf("%d invitations made by refused creates", n)
		}
		inv := e.invite(t, o.ID, invite.CreateInvitation{
			Permissions: []string{"plans", "billing", "plans"}, Inviter: invite.Inviter{ID: "u9", Name: "Ann"},
			Metadata: json.RawMessage(` {"team": "red", "n": 2} `), Locale: "ja-JP",
		}).Invitation
		got := e.get(t, o.ID, inv.ID)
		if got.Role != o.Settings.DefaultRole || !slices.Equal(got.Permissions, []string{"plans", "billing"}) ||
			got.Inviter != (invite.Inviter{ID: "u9", Name: "Ann"}) || got.Locale != "ja-JP" || got.SendCount != 1 {
			t.Errorf("stored invitation %+v", got)
		}
		var md map[string]any
		if err := json.Unmarshal(got.Metadata, &md); err != nil || md["team"] != "red" || md["n"] != float64(2) {
			t.Errorf("stored metadata %s", got.Metadata)
		}
		wantTimePtr(t, "last_sent_at", got.LastSentAt, got.CreatedAt)
		fr := "fr"
		if _, err := e.svc.UpdateOrg(ctx, o.ID, nil, &invite.SettingsPatch{Locale: &fr}); err != nil {
			t.Fatal(err)
		}
		if l := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation.Locale; l != "fr" {
			t.Errorf("an invitation without a locale got %q, want the org's fr", l)
		}
		if l := e.invite(t, o.ID, invite.CreateInvitation{Locale: "de"}).Invitation.Locale; l != "de" {
			t.Errorf("an invitation with locale de got %q", l)
		}
		if inv.ID.Version() != 7 {
			t.Errorf("invitation id %s is UUID version %d, want 7", inv.ID, inv.ID.Version())
		}
		q := e.invite(t, o.ID, invite.CreateInvitation{NoEmail: true, Role: " admin "})
		if q.Invitation.SendCount != 0 || q.Invitation.LastSentAt != nil || q.Invitation.Role != "admin" {
			t.Errorf("an invitation without mail: role %q, send_count %d, last_sent_at %v", q.Invitation.Role, q.Invitation.SendCount, q.Invitation.LastSentAt)
		}
		// The token is the invitation's id and 256 random bits; only its hash is kept.
		if raw, err := base64.RawURLEncoding.DecodeString(q.Token); err != nil || len(raw) != 48 ||
			string(raw[:16]) != string(q.Invitation.ID[:]) {
			t.Errorf("token %q is not the id and 32 bytes in base64url: %v", q.Token, err)
		}
		stored := e.get(t, o.ID, q.Invitation.ID)
		if string(stored.TokenHash) != string(invite.HashToken(q.Token)) || strings.Contains(string(stored.TokenHash), q.Token) {
			t.Error("the stored token hash is not the hash of the token")
		}
	})
}

// ---- idempotent create

func testIdempotency(t *testing.T, e *env) {
	t.Run("forgotten after a day", func(t *testing.T) {
		ctx := t.Context()
		o := e.org(t, nil)
		c := invite.CreateInvitation{Email: e.email(), Role: "admin", IdempotencyKey: "day", IdempotencyScope: "key:day"}
		first, err := e.svc.CreateInvitation(ctx, o.ID, c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CancelInvitation(ctx, o.ID, invite.InvitationRef{ID: first.Invitation.ID}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(invite.IdempotencyTTL - time.Second)
		if r, err := e.svc.CreateInvitation(ctx, o.ID, c); err != nil || !r.Replayed || r.Invitation.ID != first.Invitation.ID {
			t.Fatalf("within a day the key must replay: %+v %v", r, err)
		}
		e.clock.Advance(2 * time.Second)
		other := c
		other.Role = "member" // another body: refused while remembered, accepted once forgotten
		again, err := e.svc.CreateInvitation(ctx, o.ID, other)
		if err != nil || again.Replayed || again.Invitation.ID == first.Invitation.ID {
			t.Fatalf("after a day the key must be free: %+v %v", again, err)
		}
		// Stored anew: the next retry within a day replays the new answer.
		if r, err := e.svc.CreateInvitation(ctx, o.ID, other); err != nil || r.Invitation.ID != again.Invitation.ID {
			t.Fatalf("replay of the new answer: %+v %v", r, err)
		}
	})
	t.Run("replay", func(t *testing.T) {
		ctx := t.Context()
		o := e.org(t, nil)
		c := invite.CreateInvitation{Email: e.email(), Role: "admin", IdempotencyKey: "k1", IdempotencyScope: "key:a"}
		depth := e.depth(t)
		first, err := e.svc.CreateInvitation(ctx, o.ID, c)
		if err != nil {
			t.Fatal(err)
		}
		if first.Replayed {
			t.Error("the first create says it is a replay")
		}
		e.clock.Advance(time.Second)
		again, err := e.svc.CreateInvitation(ctx, o.ID, c)
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		if !again.Replayed || again.Invitation.ID != first.Invitation.ID || !again.Invitation.CreatedAt.Equal(first.Invitation.CreatedAt) {
			t.Errorf("replay gave %+v (replayed %v), want %s", again.Invitation, again.Replayed, first.Invitation.ID)
		}
		// The same body written differently is the same request.
		c2 := c
		c2.Email = strings.ToUpper(c.Email)
		if r, err := e.svc.CreateInvitation(ctx, o.ID, c2); err != nil || r.Invitation.ID != first.Invitation.ID {
			t.Errorf("replay with the email in capitals: %v", err)
		}
		if n := e.count(t, invite.InvitationFilter{Org: o.ID, Email: c.Email}); n != 1 {
			t.Errorf("%d invitations after a replay", n)
		}
		if d := e.depth(t); d != depth+1 {
			t.Errorf("outbox grew by %d, want 1 mail", d-depth)
		}

		other := c
		other.Role = "member"
		_, err = e.svc.CreateInvitation(ctx, o.ID, other)
		wantKind(t, err, invite.KindInvalid, "k1")
		other = c
		other.Email = e.email()
		_, err = e.svc.CreateInvitation(ctx, o.ID, other)
		wantKind(t, err, invite.KindInvalid, "k1")

		// Another caller, or another org, has its own keys.
		other = c
		other.Email = e.email()
		other.IdempotencyScope = "key:b"
		if r, err := e.svc.CreateInvitation(ctx, o.ID, other); err != nil || r.Replayed {
			t.Errorf("the same key from another caller: %+v, %v", r, err)
		}
		o2 := e.org(t, nil)
		if r, err := e.svc.CreateInvitation(ctx, o2.ID, c); err != nil || r.Replayed || r.Invitation.OrgID != o2.ID {
			t.Errorf("the same key in another org: %+v, %v", r, err)
		}

		// A replay after the invitation moved on shows it as it is now.
		if _, err := e.svc.CancelInvitation(ctx, o.ID, ref(first.Invitation.ID)); err != nil {
			t.Fatal(err)
		}
		r, err := e.svc.CreateInvitation(ctx, o.ID, c)
		if err != nil || r.Invitation.ID != first.Invitation.ID || r.Invitation.State != invite.StateCancelled {
			t.Errorf("replay after cancel: %+v, %v", r, err)
		}

		c.IdempotencyKey = strings.Repeat("k", 256)
		_, err = e.svc.CreateInvitation(ctx, o.ID, c)
		wantKind(t, err, invite.KindInvalid, "Idempotency-Key")
	})

	t.Run("concurrent", func(t *testing.T) {
		ctx := t.Context()
		o := e.org(t, nil)
		c := invite.CreateInvitation{Email: e.email(), IdempotencyKey: "same", IdempotencyScope: "key:a"}
		const n = 20
		res := make([]*invite.Created, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { res[i], errs[i] = e.svc.CreateInvitation(ctx, o.ID, c) })
		}
		wg.Wait()
		fresh := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("a concurrent same-key create: %v", errs[i])
			}
			if res[i].Invitation.ID != res[0].Invitation.ID {
				t.Errorf("two invitations for one key: %s and %s", res[i].Invitation.ID, res[0].Invitation.ID)
			}
			if !res[i].Replayed {
				fresh++
			}
		}
		if fresh != 1 {
			t.Errorf("%d creates say they made the invitation, want 1", fresh)
		}
		if k := e.count(t, invite.InvitationFilter{Org: o.ID}); k != 1 {
			t.Errorf("%d invitations stored", k)
		}
	})
}

// ---- tenants

func testTenants(t *testing.T, e *env) {
	ctx := t.Context()
	a, b := e.org(t, nil), e.org(t, nil)
	keyA, err := e.svc.CreateKey(ctx, &a.ID, "a")
	if err != nil {
		t.Fatal(err)
	}
	keyB, err := e.svc.CreateKey(ctx, &b.ID, "b")
	if err != nil {
		t.Fatal(err)
	}
	invA := e.invite(t, a.ID, invite.CreateInvitation{}).Invitation
	_, tokA := e.quiet(t, a.ID)
	_, memA, err := e.svc.AcceptByToken(ctx, tokA, "Alice")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * invite.ResendInterval)

	t.Run("keys", func(t *testing.T) {
		p, err := e.svc.Authenticate(ctx, keyB.Token)
		if err != nil {
			t.Fatal(err)
		}
		wantKind(t, p.Authorize(a.ID), invite.KindNotFound)
		if err := p.Authorize(b.ID); err != nil {
			t.Errorf("org B's key on org B: %v", err)
		}
		wantKind(t, e.svc.DeleteKey(ctx, &b.ID, keyA.ID), invite.KindNotFound)
		if _, err := e.svc.Authenticate(ctx, keyA.Token); err != nil {
			t.Errorf("org A's key after org B tried to delete it: %v", err)
		}
		keys, _ := e.svc.ListKeys(ctx, &b.ID)
		if slices.ContainsFunc(keys, func(k *invite.APIKey) bool { return k.ID == keyA.ID }) {
			t.Error("org B lists org A's key")
		}
	})

	t.Run("invitations", func(t *testing.T) {
		for _, r := range []invite.InvitationRef{{ID: invA.ID}, {Number: invA.Number}} {
			_, err := e.svc.GetInvitation(ctx, b.ID, r)
			wantKind(t, err, invite.KindNotFound)
			_, err = e.svc.CancelInvitation(ctx, b.ID, r)
			wantKind(t, err, invite.KindNotFound)
			_, err = e.svc.DeclineInvitation(ctx, b.ID, r)
			wantKind(t, err, invite.KindNotFound)
			_, err = e.svc.ResendInvitation(ctx, b.ID, r)
			wantKind(t, err, invite.KindNotFound)
			_, _, err = e.svc.AcceptInvitation(ctx, b.ID, r, invite.Accept{Email: invA.Email})
			wantKind(t, err, invite.KindNotFound)
		}
		got := e.get(t, a.ID, invA.ID)
		if got.State != invite.StatePending || !got.UpdatedAt.Equal(invA.UpdatedAt) || got.SendCount != invA.SendCount {
			t.Errorf("org A's invitation changed: %+v", got)
		}
		page, err := e.svc.ListInvitations(ctx, b.ID, invite.ListParams{})
		if err != nil {
			t.Fatal(err)
		}
		for _, inv := range page.Items {
			if inv.OrgID != b.ID {
				t.Errorf("org B lists %s of org %s", inv.ID, inv.OrgID)
			}
		}
		if n := e.count(t, invite.InvitationFilter{Org: b.ID, Email: invA.Email}); n != 0 {
			t.Errorf("org B counts org A's invitation")
		}
		// The same person may be invited by both.
		if r := e.invite(t, b.ID, invite.CreateInvitation{Email: invA.Email}); r.Invitation.OrgID != b.ID {
			t.Errorf("invitation in org B made in %s", r.Invitation.OrgID)
		}
		if r := e.invite(t, b.ID, invite.CreateInvitation{Email: memA.Email}); r.Invitation.State != invite.StatePending {
			t.Error("a member of org A cannot be invited to org B")
		}
	})

	t.Run("members", func(t *testing.T) {
		_, err := e.svc.GetMember(ctx, b.ID, memA.ID)
		wantKind(t, err, invite.KindNotFound)
		role := "owner"
		_, err = e.svc.UpdateMember(ctx, b.ID, memA.ID, invite.MemberPatch{Role: &role})
		wantKind(t, err, invite.KindNotFound)
		wantKind(t, e.svc.DeleteMember(ctx, b.ID, memA.ID), invite.KindNotFound)
		got, err := e.svc.GetMember(ctx, a.ID, memA.ID)
		if err != nil || got.Role != memA.Role {
			t.Errorf("org A's member after org B's attempts: %+v, %v", got, err)
		}
		page, err := e.svc.ListMembers(ctx, b.ID, invite.MemberParams{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 0 {
			t.Errorf("org B lists %d members", len(page.Items))
		}
	})
}

// ---- members

func testMembers(t *testing.T, e *env) {
	ctx := t.Context()
	o := e.org(t, nil)
	join := func(t *testing.T, c invite.CreateInvitation) *invite.Member {
		t.Helper()
		c.NoEmail = true
		res := e.invite(t, o.ID, c)
		_, m, err := e.svc.AcceptByToken(ctx, res.Token, "Member "+c.Email)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	var members []*invite.Member
	for i := range 7 {
		if i%2 == 0 {
			e.clock.Advance(time.Second)
		}
		role := []string{"member", "admin"}[i%2]
		members = append(members, join(t, invite.CreateInvitation{Email: e.email(), Role: role}))
	}

	t.Run("list", func(t *testing.T) {
		var seen []*invite.Member
		cur := ""
		for range 20 {
			page, err := e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Limit: 3, Cursor: cur})
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, page.Items...)
			if cur = page.NextCursor; cur == "" {
				break
			}
			// Someone joins between pages.
			e.clock.Advance(time.Second)
			members = append(members, join(t, invite.CreateInvitation{Email: e.email()}))
		}
		// Members are listed in the order they joined; those who joined in
		// the same instant by id.
		joined := slices.Clone(members)
		slices.SortStableFunc(joined, memberOrder)
		if len(seen) != len(joined) {
			t.Fatalf("listed %d members, want %d", len(seen), len(joined))
		}
		for i, m := range seen {
			if m.ID != joined[i].ID {
				t.Fatalf("member %d is %s, want %s", i, m.Email, joined[i].Email)
			}
		}
		page, err := e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Role: "admin", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Items {
			if m.Role != "admin" {
				t.Errorf("role filter returned a %s", m.Role)
			}
		}
		if len(page.Items) != 3 {
			t.Errorf("%d admins, want 3", len(page.Items))
		}
		page, err = e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Email: strings.ToUpper(members[2].Email)})
		if err != nil || len(page.Items) != 1 || page.Items[0].ID != members[2].ID {
			t.Errorf("email filter: %+v, %v", page, err)
		}
		page, err = e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Offset: 2, Limit: 2})
		if err != nil || len(page.Items) != 2 || page.Items[0].ID != joined[2].ID || page.Items[1].ID != joined[3].ID {
			t.Errorf("offset 2: %+v, %v", page, err)
		}
		for _, c := range []string{"garbage!", invite.EncodeCursor("created_at", invite.Position{Time: e.now(), Number: 1})} {
			_, err = e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Cursor: c})
			wantKind(t, err, invite.KindInvalid, "cursor")
		}
		_, err = e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Limit: invite.MaxLimit + 1})
		wantKind(t, err, invite.KindInvalid, "limit")
		_, err = e.svc.ListMembers(ctx, invite.NewOrgID(), invite.MemberParams{})
		wantKind(t, err, invite.KindNotFound)
	})

	t.Run("update", func(t *testing.T) {
		m := members[0]
		e.clock.Advance(time.Second)
		name, role, perms := "  Renamed  ", "owner", []string{"billing", "members", "billing"}
		u, err := e.svc.UpdateMember(ctx, o.ID, m.ID, invite.MemberPatch{Name: &name, Role: &role, Permissions: &perms})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.GetMember(ctx, o.ID, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []*invite.Member{u, got} {
			if x.Name != "Renamed" || x.Role != "owner" || !slices.Equal(x.Permissions, []string{"billing", "members"}) || x.Email != m.Email {
				t.Errorf("updated member %+v", x)
			}
			wantTime(t, "updated_at", x.UpdatedAt, e.now())
			wantTime(t, "created_at", x.CreatedAt, m.CreatedAt)
		}
		badRole, empty, badName := "emperor", " ", "a\nb"
		badPerms := []string{"launch"}
		for word, p := range map[string]invite.MemberPatch{
			"emperor": {Role: &badRole}, "role": {Role: &empty}, "launch": {Permissions: &badPerms}, "name": {Name: &badName},
		} {
			_, err := e.svc.UpdateMember(ctx, o.ID, m.ID, p)
			wantKind(t, err, invite.KindInvalid, word)
		}
		after, _ := e.svc.GetMember(ctx, o.ID, m.ID)
		if after.Role != "owner" || after.Name != "Renamed" || !after.UpdatedAt.Equal(got.UpdatedAt) {
			t.Errorf("refused updates changed the member: %+v", after)
		}
		// A role the org no longer has is refused.
		roles := []string{"viewer"}
		if _, err := e.svc.UpdateOrg(ctx, o.ID, nil, &invite.SettingsPatch{Roles: &roles}); err != nil {
			t.Fatal(err)
		}
		viewer := "viewer"
		if _, err := e.svc.UpdateMember(ctx, o.ID, m.ID, invite.MemberPatch{Role: &viewer}); err != nil {
			t.Errorf("update to the org's new role: %v", err)
		}
		_, err = e.svc.UpdateMember(ctx, o.ID, uuid.New(), invite.MemberPatch{Name: &name})
		wantKind(t, err, invite.KindNotFound)
		roles = invite.DefaultSettings().Roles
		if _, err := e.svc.UpdateOrg(ctx, o.ID, nil, &invite.SettingsPatch{Roles: &roles}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("inviting a member", func(t *testing.T) {
		m := members[1]
		_, err := e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: strings.ToUpper(m.Email)})
		wantKind(t, err, invite.KindConflict, m.Email, "member")
		_, err = e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: m.Email, Force: true})
		wantKind(t, err, invite.KindConflict, "member")
	})

	t.Run("resend to someone who joined since", func(t *testing.T) {
		old := e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 3600}).Invitation
		e.clock.Advance(time.Hour)
		join(t, invite.CreateInvitation{Email: old.Email})
		_, err := e.svc.ResendInvitation(ctx, o.ID, ref(old.ID))
		wantKind(t, err, invite.KindConflict, old.Email)
		if s := e.get(t, o.ID, old.ID).State; s != invite.StateExpired {
			t.Errorf("the old invitation is %s", s)
		}
	})

	t.Run("delete", func(t *testing.T) {
		m := members[3]
		if err := e.svc.DeleteMember(ctx, o.ID, m.ID); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.GetMember(ctx, o.ID, m.ID)
		wantKind(t, err, invite.KindNotFound)
		wantKind(t, e.svc.DeleteMember(ctx, o.ID, m.ID), invite.KindNotFound)
		page, _ := e.svc.ListMembers(ctx, o.ID, invite.MemberParams{Limit: 100})
		if slices.ContainsFunc(page.Items, func(x *invite.Member) bool { return x.ID == m.ID }) {
			t.Error("a deleted member is listed")
		}
		// A removed member can be invited again.
		again := join(t, invite.CreateInvitation{Email: m.Email})
		if again.ID == m.ID {
			t.Error("the rejoined member has the old id")
		}
	})
}

func memberOrder(a, b *invite.Member) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return bytes.Compare(a.ID[:], b.ID[:])
}

// ---- resend

func testResend(t *testing.T, e *env) {
	t.Run("new token and expiry", func(t *testing.T) {
		ctx := t.Context()
		o := e.org(t, nil)
		inv, token := e.quiet(t, o.ID)
		ttl := inv.ExpiresAt.Sub(inv.CreatedAt)
		e.clock.Advance(10 * time.Minute)
		got, err := e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID))
		if err != nil {
			t.Fatal(err)
		}
		wantTime(t, "expires_at", got.ExpiresAt, e.now().Add(ttl))
		wantTimePtr(t, "last_sent_at", got.LastSentAt, e.now())
		if got.SendCount != inv.SendCount+1 || got.State != invite.StatePending {
			t.Errorf("resent: send_count %d, state %s", got.SendCount, got.State)
		}
		if _, err := e.svc.GetByToken(ctx, token); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("the old token after resend: %v, want NotFound", err)
		}
		_, _, err = e.svc.AcceptByToken(ctx, token, "x")
		wantKind(t, err, invite.KindNotFound)
		newToken := e.tokenOf(t, inv.ID)
		v, err := e.svc.GetByToken(ctx, newToken)
		if err != nil || v.Invitation.ID != inv.ID {
			t.Fatalf("the new token: %+v, %v", v, err)
		}
		stored := e.get(t, o.ID, inv.ID)
		wantTime(t, "stored expires_at", stored.ExpiresAt, got.ExpiresAt)

		// Resent again after a minute: the mailed token is replaced too.
		e.clock.Advance(invite.ResendInterval)
		if _, err := e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.GetByToken(ctx, newToken); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("the first mailed token after another resend: %v", err)
		}
		third := e.tokenOf(t, inv.ID)
		if _, _, err := e.svc.AcceptByToken(ctx, third, "Z"); err != nil {
			t.Errorf("accept with the latest token: %v", err)
		}
	})

	t.Run("rate limit", func(t *testing.T) {
		ctx := t.Context()
		o := e.org(t, nil)
		inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		_, err := e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID))
		wantKind(t, err, invite.KindTooManyRequests)
		var ce *invite.Error
		if !errors.As(err, &ce) || ce.RetryAfter <= 0 || ce.RetryAfter > invite.ResendInterval {
			t.Fatalf("RetryAfter of %v", err)
		}
		e.clock.Advance(40 * time.Second)
		_, err = e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID))
		wantKind(t, err, invite.KindTooManyRequests)
		if !errors.As(err, &ce) || ce.RetryAfter <= 0 || ce.RetryAfter > 20*time.Second {
			t.Errorf("RetryAfter %v after 40s, want at most 20s", ce.RetryAfter)
		}
		if got := e.get(t, o.ID, inv.ID); got.SendCount != 1 || !got.UpdatedAt.Equal(inv.UpdatedAt) {
			t.Errorf("a refused resend changed the invitation: %+v", got)
		}
		e.clock.Advance(20 * time.Second)
		got, err := e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID))
		if err != nil {
			t.Fatalf("resend after a minute: %v", err)
		}
		if got.SendCount != 2 {
			t.Errorf("send_count %d", got.SendCount)
		}
		_, err = e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID))
		wantKind(t, err, invite.KindTooManyRequests)
	})

	t.Run("concurrent", func(t *testing.T) {
		ctx := t.Context()
		o := e.org(t, nil)
		inv, _ := e.quiet(t, o.ID)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, errs[i] = e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID)) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if invite.ErrorKind(err) != invite.KindTooManyRequests {
				t.Errorf("a concurrent resend: %v, want Kind TooManyRequests", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent resends went through, want 1", ok, n)
		}
		if got := e.get(t, o.ID, inv.ID); got.SendCount != 1 {
			t.Errorf("send_count %d after concurrent resends", got.SendCount)
		}
		e.jobFor(t, inv.ID) // exactly one mail queued
	})

	t.Run("expired", func(t *testing.T) {
		ctx := t.Context()
		o := e.org(t, nil)
		res := e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 3 * 3600, NoEmail: true})
		e.clock.Advance(5 * time.Hour)
		got, err := e.svc.ResendInvitation(ctx, o.ID, ref(res.Invitation.ID))
		if err != nil {
			t.Fatal(err)
		}
		wantTime(t, "expires_at", got.ExpiresAt, e.now().Add(3*time.Hour))
		if got.State != invite.StatePending || got.FinishedAt != nil {
			t.Errorf("resent expired invitation %+v", got)
		}
		if _, err := e.svc.GetByToken(ctx, res.Token); invite.ErrorKind(err) != invite.KindNotFound {
			t.Errorf("the expired token after resend: %v", err)
		}
		if n := e.count(t, invite.InvitationFilter{Org: o.ID, Email: got.Email, States: []invite.State{invite.StatePending}}); n != 1 {
			t.Errorf("%d pending after resending an expired invitation", n)
		}
	})

	t.Run("expired while another is pending", func(t *testing.T) {
		ctx := t.Context()
		o := e.org(t, nil)
		old := e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 3600}).Invitation
		e.clock.Advance(time.Hour)
		fresh := e.invite(t, o.ID, invite.CreateInvitation{Email: old.Email}).Invitation
		_, err := e.svc.ResendInvitation(ctx, o.ID, ref(old.ID))
		wantKind(t, err, invite.KindConflict, old.Email)
		if s := e.get(t, o.ID, old.ID).State; s != invite.StateExpired {
			t.Errorf("old invitation %s", s)
		}
		if s := e.get(t, o.ID, fresh.ID).State; s != invite.StatePending {
			t.Errorf("new invitation %s", s)
		}
		// Once the new one has expired too, the old one can be sent again.
		e.clock.Advance(8 * 24 * time.Hour)
		if _, err := e.svc.ResendInvitation(ctx, o.ID, ref(old.ID)); err != nil {
			t.Fatalf("resend when the other one expired too: %v", err)
		}
		if s := e.get(t, o.ID, fresh.ID).State; s != invite.StateExpired {
			t.Errorf("the other invitation is %s", s)
		}
		if n := e.count(t, invite.InvitationFilter{Org: o.ID, Email: old.Email, States: []invite.State{invite.StatePending}}); n != 1 {
			t.Errorf("%d pending", n)
		}
	})

	t.Run("resend and create race for one address", func(t *testing.T) {
		ctx := t.Context()
		o := e.org(t, nil)
		old := e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 3600}).Invitation
		e.clock.Advance(2 * time.Hour)
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if i%2 == 0 {
					_, errs[i] = e.svc.ResendInvitation(ctx, o.ID, ref(old.ID))
				} else {
					_, errs[i] = e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: old.Email})
				}
			})
		}
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case invite.ErrorKind(err) == invite.KindConflict:
			case i%2 == 0 && invite.ErrorKind(err) == invite.KindTooManyRequests:
			default:
				t.Errorf("call %d: %v, want success, Conflict or (for a resend) TooManyRequests", i, err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of the racing calls succeeded, want 1", ok)
		}
		if c := e.count(t, invite.InvitationFilter{Org: o.ID, Email: old.Email, States: []invite.State{invite.StatePending}}); c != 1 {
			t.Errorf("%d pending for the address, want 1", c)
		}
	})

	t.Run("finished ones cannot be resent", func(t *testing.T) {
		o := e.org(t, nil)
		for _, a := range []invite.Action{invite.ActionAccept, invite.ActionDecline, invite.ActionCancel} {
			inv, _ := e.quiet(t, o.ID)
			done, err := e.act(t, a, inv)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.svc.ResendInvitation(t.Context(), o.ID, ref(inv.ID))
			wantKind(t, err, invite.KindConflict, string(done.State))
		}
	})
}

// ---- the outbox

func testOutbox(t *testing.T, e *env) {
	const lease = 30 * time.Second
	o := e.org(t, nil)
	// drain empties the outbox so that each test can count exactly.
	drain := func(t *testing.T) {
		t.Helper()
		e.clock.Advance(time.Hour)
		for _, j := range e.claimAll(t, lease) {
			if err := e.svc.JobDone(t.Context(), j); err != nil {
				t.Fatal(err)
			}
		}
		if n := e.depth(t); n != 0 {
			t.Fatalf("outbox depth %d after draining", n)
		}
	}

	t.Run("stats", func(t *testing.T) {
		ctx := t.Context()
		n, age, err := e.svc.OutboxStats(ctx)
		if err != nil || n != 0 || age != 0 {
			t.Fatalf("empty outbox: %d, %v, %v", n, age, err)
		}
		e.store.Read(ctx, func(tx invite.Tx) error {
			if _, oldest, err := tx.OutboxStats(ctx); err != nil || oldest != nil {
				t.Errorf("empty outbox's oldest job: %v, %v", oldest, err)
			}
			return nil
		})
		e.invite(t, o.ID, invite.CreateInvitation{})
		e.clock.Advance(10 * time.Second)
		e.invite(t, o.ID, invite.CreateInvitation{})
		e.invite(t, o.ID, invite.CreateInvitation{NoEmail: true})
		e.clock.Advance(5 * time.Second)
		n, age, err = e.svc.OutboxStats(ctx)
		if err != nil || n != 2 || age != 15*time.Second {
			t.Errorf("outbox: %d jobs, oldest %v old, %v; want 2 and 15s", n, age, err)
		}
		drain(t)
	})

	t.Run("claim and lease", func(t *testing.T) {
		ctx := t.Context()
		inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		jobs, err := e.svc.ClaimJobs(ctx, "w1", 10, lease)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) != 1 {
			t.Fatalf("w1 claimed %d jobs, want 1", len(jobs))
		}
		j := jobs[0]
		if j.Kind != invite.JobSendInvitation || j.InvitationID != inv.ID || j.Attempts != 1 || j.LockedBy != "w1" || j.ID == 0 {
			t.Errorf("claimed job %+v", j)
		}
		wantTimePtr(t, "locked_until", j.LockedUntil, e.now().Add(lease))
		wantTime(t, "created_at", j.CreatedAt, inv.CreatedAt)
		m, err := e.svc.MailFor(ctx, j)
		if err != nil {
			t.Fatal(err)
		}
		if m.Invitation.ID != inv.ID || m.Organization.ID != o.ID || m.Token == "" {
			t.Errorf("mail %+v", m)
		}
		if v, err := e.svc.GetByToken(ctx, m.Token); err != nil || v.Invitation.ID != inv.ID {
			t.Errorf("the mailed token: %v", err)
		}

		if again, _ := e.svc.ClaimJobs(ctx, "w2", 10, lease); len(again) != 0 {
			t.Fatalf("w2 claimed %d jobs while w1's lease holds", len(again))
		}
		e.clock.Advance(lease - time.Second)
		if again, _ := e.svc.ClaimJobs(ctx, "w2", 10, lease); len(again) != 0 {
			t.Fatalf("w2 claimed %d jobs a second before the lease ran out", len(again))
		}
		e.clock.Advance(time.Second)
		again, err := e.svc.ClaimJobs(ctx, "w2", 10, lease)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != 1 || again[0].ID != j.ID || again[0].Attempts != 2 || again[0].LockedBy != "w2" {
			t.Fatalf("after the lease ran out w2 claimed %+v", again)
		}
		// w1 lost the job.
		if err := e.svc.JobDone(ctx, j); !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("w1 deleting w2's job: %v, want ErrNotFound", err)
		}
		if err := e.svc.JobRetry(ctx, j, e.now(), "x"); !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("w1 rescheduling w2's job: %v, want ErrNotFound", err)
		}
		if err := e.svc.JobFailed(ctx, j, "x"); !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("w1 failing w2's job: %v, want ErrNotFound", err)
		}
		if s := e.get(t, o.ID, inv.ID).State; s != invite.StatePending {
			t.Errorf("a lost job's failure moved the invitation to %s", s)
		}

		// w2 fails once and reschedules.
		retryAt := e.now().Add(time.Minute)
		if err := e.svc.JobRetry(ctx, again[0], retryAt, "421 try later"); err != nil {
			t.Fatal(err)
		}
		if n := e.depth(t); n != 1 {
			t.Errorf("depth %d after a retry", n)
		}
		if got, _ := e.svc.ClaimJobs(ctx, "w3", 10, lease); len(got) != 0 {
			t.Fatalf("claimed %d jobs before their run_at", len(got))
		}
		e.clock.Advance(time.Minute)
		third, err := e.svc.ClaimJobs(ctx, "w3", 10, lease)
		if err != nil {
			t.Fatal(err)
		}
		if len(third) != 1 || third[0].ID != j.ID || third[0].Attempts != 3 || third[0].LastError != "421 try later" {
			t.Fatalf("after the retry time w3 claimed %+v", third)
		}
		wantTime(t, "run_at", third[0].RunAt, retryAt)
		if err := e.svc.JobDone(ctx, third[0]); err != nil {
			t.Fatal(err)
		}
		if n := e.depth(t); n != 0 {
			t.Errorf("depth %d after the job was done", n)
		}
		if err := e.svc.JobDone(ctx, third[0]); !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("deleting a job twice: %v", err)
		}
		drain(t)
	})

	t.Run("limit and concurrent claims", func(t *testing.T) {
		ctx := t.Context()
		const n = 20
		want := map[uuid.UUID]bool{}
		for range n {
			want[e.invite(t, o.ID, invite.CreateInvitation{}).Invitation.ID] = true
		}
		two, err := e.svc.ClaimJobs(ctx, "first", 2, lease)
		if err != nil || len(two) != 2 {
			t.Fatalf("claim with limit 2: %d jobs, %v", len(two), err)
		}
		var mu sync.Mutex
		claimed := map[int64]string{}
		for _, j := range two {
			claimed[j.ID] = j.LockedBy
		}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				worker := fmt.Sprintf("c%d", w)
				for {
					jobs, err := e.svc.ClaimJobs(ctx, worker, 3, lease)
					if err != nil {
						t.Error(err)
						return
					}
					if len(jobs) == 0 {
						return
					}
					mu.Lock()
					for _, j := range jobs {
						if by, ok := claimed[j.ID]; ok {
							t.Errorf("job %d claimed by %s and %s", j.ID, by, worker)
						}
						claimed[j.ID] = worker
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(claimed) != n {
			t.Errorf("%d jobs claimed, want %d", len(claimed), n)
		}
		drain(t)
	})

	t.Run("future run_at", func(t *testing.T) {
		ctx := t.Context()
		inv, _ := e.quiet(t, o.ID)
		now := e.now()
		j := &invite.Job{Kind: "other", InvitationID: inv.ID, Payload: json.RawMessage(`{"x":1}`), RunAt: now.Add(time.Minute), CreatedAt: now}
		e.write(t, func(tx invite.Tx) error { return tx.EnqueueJob(ctx, j) })
		if j.ID == 0 {
			t.Fatal("EnqueueJob set no id")
		}
		if got := e.claimAll(t, lease); len(got) != 0 {
			t.Fatalf("claimed %d jobs not yet due", len(got))
		}
		e.clock.Advance(time.Minute)
		got := e.claimAll(t, lease)
		if len(got) != 1 || got[0].ID != j.ID || got[0].Kind != "other" || string(got[0].Payload) != `{"x":1}` {
			t.Fatalf("claimed %+v", got)
		}
		drain(t)
	})

	t.Run("failed for good", func(t *testing.T) {
		ctx := t.Context()
		inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		e.clock.Advance(time.Second)
		e.failMail(t, inv, "550 5.1.1 user unknown")
		got := e.get(t, o.ID, inv.ID)
		if got.State != invite.StateError || got.Error != "550 5.1.1 user unknown" {
			t.Errorf("after JobFailed: %s %q", got.State, got.Error)
		}
		wantTime(t, "updated_at", got.UpdatedAt, e.now())
		if n := e.depth(t); n != 0 {
			t.Errorf("depth %d after a job failed for good", n)
		}
		// A job that fails after its invitation was cancelled changes nothing.
		inv = e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		j := e.jobFor(t, inv.ID)
		if _, err := e.svc.CancelInvitation(ctx, o.ID, ref(inv.ID)); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.JobFailed(ctx, j, "late"); err != nil && !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("JobFailed after cancel: %v", err)
		}
		if got := e.get(t, o.ID, inv.ID); got.State != invite.StateCancelled || got.Error != "" {
			t.Errorf("a cancelled invitation after a late failure: %s %q", got.State, got.Error)
		}
		// And one whose invitation expired meanwhile leaves it expired.
		inv = e.invite(t, o.ID, invite.CreateInvitation{ExpiresIn: 3600}).Invitation
		j = e.jobFor(t, inv.ID)
		e.clock.Advance(time.Hour)
		if err := e.svc.JobFailed(ctx, j, "late"); err != nil {
			t.Errorf("JobFailed after expiry: %v", err)
		}
		if got := e.get(t, o.ID, inv.ID); got.State != invite.StateExpired || got.Error != "" {
			t.Errorf("an expired invitation after a late failure: %s %q", got.State, got.Error)
		}
		drain(t)
	})

	t.Run("a finished or resent invitation's job sends nothing", func(t *testing.T) {
		ctx := t.Context()
		finish := map[string]func(inv *invite.Invitation) error{
			"cancel": func(inv *invite.Invitation) error { _, err := e.act(t, invite.ActionCancel, inv); return err },
			"accept": func(inv *invite.Invitation) error { _, err := e.act(t, invite.ActionAccept, inv); return err },
			"decline": func(inv *invite.Invitation) error {
				_, err := e.act(t, invite.ActionDecline, inv)
				return err
			},
			"force": func(inv *invite.Invitation) error {
				_, err := e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: inv.Email, Force: true, NoEmail: true})
				return err
			},
		}
		// The job stays queued; the worker that takes it finds the
		// invitation no longer pending, and drops it.
		for name, fn := range finish {
			inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
			if err := fn(inv); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			j := e.jobFor(t, inv.ID)
			m, err := e.svc.MailFor(ctx, j)
			if err != nil {
				t.Fatalf("%s: MailFor: %v", name, err)
			}
			got := *m.Invitation
			if got.Observe(e.now()); got.State == invite.StatePending {
				t.Errorf("%s: the job's invitation is still pending", name)
			}
			if err := e.svc.JobDone(ctx, j); err != nil {
				t.Errorf("%s: JobDone: %v", name, err)
			}
		}
		// A resend queues a new mail; a worker that takes the old one finds
		// nothing left to send.
		inv := e.invite(t, o.ID, invite.CreateInvitation{}).Invitation
		old := e.jobFor(t, inv.ID)
		e.clock.Advance(invite.ResendInterval)
		if _, err := e.svc.ResendInvitation(ctx, o.ID, ref(inv.ID)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.MailFor(ctx, old); !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("MailFor of a job replaced by a resend: %v, want ErrNotFound", err)
		}
		if err := e.svc.JobDone(ctx, old); err != nil {
			t.Errorf("JobDone of a job replaced by a resend: %v", err)
		}
		token := e.tokenOf(t, inv.ID)
		if v, err := e.svc.GetByToken(ctx, token); err != nil || v.Invitation.SendCount != 2 {
			t.Errorf("the resent mail's token: %v", err)
		}
		// Several jobs read at once: each gets its own mail or its own reason.
		other := e.invite(t, e.org(t, nil).ID, invite.CreateInvitation{}).Invitation
		second := e.jobFor(t, other.ID)
		current := &invite.Job{Kind: invite.JobSendInvitation, InvitationID: inv.ID, Payload: json.RawMessage(`{"token":"` + token + `"}`)}
		damaged := &invite.Job{Kind: invite.JobSendInvitation, InvitationID: inv.ID, Payload: json.RawMessage(`{"token":`)}
		raw, _ := base64.RawURLEncoding.DecodeString(token)
		copy(raw, make([]byte, 16)) // the id of no invitation
		unknown := &invite.Job{Kind: invite.JobSendInvitation, InvitationID: inv.ID,
			Payload: json.RawMessage(`{"token":"` + base64.RawURLEncoding.EncodeToString(raw) + `"}`)}
		junk := &invite.Job{Kind: invite.JobSendInvitation, InvitationID: inv.ID, Payload: json.RawMessage(`{"token":"x"}`)}
		mails, errs, err := e.svc.MailsFor(ctx, []*invite.Job{old, current, damaged, second, unknown, junk})
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(errs[0], invite.ErrNotFound) || mails[0] != nil {
			t.Errorf("the replaced job: %v", errs[0])
		}
		if errs[1] != nil || mails[1].Invitation.ID != inv.ID || mails[1].Token != token || mails[1].Organization.ID != o.ID {
			t.Errorf("the current job: %+v %v", mails[1], errs[1])
		}
		if errs[2] == nil || errors.Is(errs[2], invite.ErrNotFound) {
			t.Errorf("the damaged job: %v, want a JSON error", errs[2])
		}
		if errs[3] != nil || mails[3].Invitation.ID != other.ID || mails[3].Organization.ID != other.OrgID {
			t.Errorf("the job of another org: %+v %v", mails[3], errs[3])
		}
		for i, what := range map[int]string{4: "a token of no invitation", 5: "a token of no shape"} {
			if !errors.Is(errs[i], invite.ErrNotFound) || mails[i] != nil {
				t.Errorf("the job with %s: %+v %v, want ErrNotFound", what, mails[i], errs[i])
			}
		}
		drain(t)
	})
}
