package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/invite"
)

func newOrg(t *testing.T, s *Store) *invite.Organization {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	o := &invite.Organization{ID: invite.NewOrgID(), Name: "Acme", Settings: invite.DefaultSettings(), CreatedAt: now, UpdatedAt: now}
	if err := s.Write(t.Context(), func(tx invite.Tx) error { return tx.CreateOrg(t.Context(), o) }); err != nil {
		t.Fatal(err)
	}
	return o
}

func newInv(org invite.OrgID, email string, now time.Time) *invite.Invitation {
	id := uuid.Must(uuid.NewV7())
	return &invite.Invitation{ID: id, OrgID: org, Email: email, Role: "member", State: invite.StatePending,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour), TokenHash: id[:]}
}

func insert(t *testing.T, s *Store, invs ...*invite.Invitation) {
	t.Helper()
	err := s.Write(t.Context(), func(tx invite.Tx) error {
		for _, inv := range invs {
			if err := tx.CreateInvitation(t.Context(), inv); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Times keep their instant to the microsecond whatever their zone, and come
// back in UTC; JSON metadata comes back byte for byte.
func TestTimesAndMetadataRoundTrip(t *testing.T) {
	s, _ := openStore(t)
	o := newOrg(t, s)
	zone := time.FixedZone("UTC-7", -7*3600)
	at := time.Date(1999, 12, 31, 23, 59, 59, 123456000, zone)
	inv := newInv(o.ID, "a@example.com", at)
	inv.Metadata = json.RawMessage(`{"z":1,"a":[true,null],"n":"\u00e9"}`)
	inv.LastSentAt = &at
	insert(t, s, inv)
	var got *invite.Invitation
	err := s.Read(t.Context(), func(tx invite.Tx) error {
		var err error
		got, err = tx.GetInvitation(t.Context(), o.ID, inv.ID, false)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(at) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("created_at = %v, want %v in UTC", got.CreatedAt, at)
	}
	if got.LastSentAt == nil || !got.LastSentAt.Equal(at) || got.FinishedAt != nil {
		t.Errorf("last_sent_at = %v, finished_at = %v", got.LastSentAt, got.FinishedAt)
	}
	if string(got.Metadata) != string(inv.Metadata) {
		t.Errorf("metadata = %s, want %s", got.Metadata, inv.Metadata)
	}
	if got.Permissions == nil || len(got.Permissions) != 0 {
		t.Errorf("permissions = %#v, want empty", got.Permissions)
	}
}

// A duplicate insert is reported as the core's error and leaves the
// transaction usable, as a failed statement does in SQLite.
func TestDuplicateLeavesTransactionUsable(t *testing.T) {
	s, _ := openStore(t)
	o := newOrg(t, s)
	now := time.Now().UTC().Truncate(time.Microsecond)
	first := newInv(o.ID, "a@example.com", now)
	insert(t, s, first)
	other := newInv(o.ID, "b@example.com", now)
	err := s.Write(t.Context(), func(tx invite.Tx) error {
		if err := tx.CreateInvitation(t.Context(), newInv(o.ID, "a@example.com", now)); !errors.Is(err, invite.ErrDuplicatePending) {
			t.Errorf("second pending invitation: %v, want ErrDuplicatePending", err)
		}
		m := &invite.Member{ID: uuid.New(), OrgID: o.ID, Email: "m@example.com", CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateMember(t.Context(), m); err != nil {
			return err
		}
		m2 := *m
		m2.ID = uuid.New()
		if err := tx.CreateMember(t.Context(), &m2); !errors.Is(err, invite.ErrDuplicateMember) {
			t.Errorf("second member: %v, want ErrDuplicateMember", err)
		}
		r := &invite.IdempotencyRecord{Scope: "s", Key: "k", RequestHash: []byte{1}, InvitationID: first.ID, CreatedAt: now}
		if err := tx.PutIdempotency(t.Context(), r); err != nil {
			return err
		}
		if err := tx.PutIdempotency(t.Context(), r); !errors.Is(err, invite.ErrDuplicateIdempotencyKey) {
			t.Errorf("second idempotency key: %v, want ErrDuplicateIdempotencyKey", err)
		}
		return tx.CreateInvitation(t.Context(), other)
	})
	if err != nil {
		t.Fatalf("the transaction failed after the duplicates: %v", err)
	}
	err = s.Read(t.Context(), func(tx invite.Tx) error {
		_, err := tx.GetInvitation(t.Context(), o.ID, other.ID, false)
		return err
	})
	if err != nil {
		t.Errorf("the write after the duplicates was not committed: %v", err)
	}
}

// An update that would make a second pending invitation is
// ErrDuplicatePending, found by the index's name.
func TestUpdateToSecondPendingIsDuplicate(t *testing.T) {
	s, _ := openStore(t)
	o := newOrg(t, s)
	now := time.Now().UTC().Truncate(time.Microsecond)
	a, b := newInv(o.ID, "a@example.com", now), newInv(o.ID, "a@example.com", now)
	b.State = invite.StateExpired
	insert(t, s, a, b)
	err := s.Write(t.Context(), func(tx invite.Tx) error {
		b.State = invite.StatePending
		return tx.UpdateInvitation(t.Context(), b)
	})
	if !errors.Is(err, invite.ErrDuplicatePending) {
		t.Errorf("UpdateInvitation = %v, want ErrDuplicatePending", err)
	}
}

// A row read with forUpdate stays locked until its transaction ends; a
// plain read does not wait for it.
func TestForUpdateLocksTheRow(t *testing.T) {
	s, _ := openStore(t)
	o := newOrg(t, s)
	inv := newInv(o.ID, "a@example.com", time.Now().UTC().Truncate(time.Microsecond))
	insert(t, s, inv)
	ctx := t.Context()

	locked, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Write(ctx, func(tx invite.Tx) error {
			got, err := tx.GetInvitation(ctx, o.ID, inv.ID, true)
			if err != nil {
				return err
			}
			close(locked)
			<-release
			got.Role = "admin"
			return tx.UpdateInvitation(ctx, got)
		})
	}()
	<-locked

	if err := s.Read(ctx, func(tx invite.Tx) error {
		_, err := tx.GetInvitation(ctx, o.ID, inv.ID, false)
		return err
	}); err != nil {
		t.Fatalf("plain read while locked: %v", err)
	}

	second := make(chan string, 1)
	go func() {
		var role string
		err := s.Write(ctx, func(tx invite.Tx) error {
			got, err := tx.GetInvitationByID(ctx, inv.ID, true)
			if err != nil {
				return err
			}
			role = got.Role
			return nil
		})
		if err != nil {
			role = err.Error()
		}
		second <- role
	}()
	select {
	case r := <-second:
		t.Errorf("a second locking read went through while the row was locked (role %q)", r)
		close(release)
		<-done
		return
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r := <-second; r != "admin" {
		t.Errorf("the second locking read saw role %q, want the committed %q", r, "admin")
	}
}

// Two workers claiming at the same moment, each in a transaction not yet
// committed, get different jobs and neither waits for the other.
func TestClaimSkipsLockedJobs(t *testing.T) {
	s, _ := openStore(t)
	o := newOrg(t, s)
	now := time.Now().UTC().Truncate(time.Microsecond)
	inv := newInv(o.ID, "a@example.com", now)
	insert(t, s, inv)
	err := s.Write(t.Context(), func(tx invite.Tx) error {
		for range 4 {
			j := &invite.Job{Kind: invite.JobSendInvitation, OrgID: &o.ID, Args: json.RawMessage(`{}`), RunAt: now, CreatedAt: now}
			if err := tx.EnqueueJob(t.Context(), j); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	claimed, release := make(chan []*invite.Job), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Write(ctx, func(tx invite.Tx) error {
			jobs, err := tx.ClaimJobs(ctx, "w1", []string{invite.JobSendInvitation}, now, now.Add(time.Minute), 2)
			if err != nil {
				return err
			}
			claimed <- jobs
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		})
	}()
	first := <-claimed
	var second []*invite.Job
	quick, cancelQuick := context.WithTimeout(ctx, 2*time.Second)
	err = s.Write(quick, func(tx invite.Tx) error {
		var err error
		second, err = tx.ClaimJobs(quick, "w2", []string{invite.JobSendInvitation}, now, now.Add(time.Minute), 10)
		return err
	})
	cancelQuick()
	close(release)
	if err != nil {
		t.Fatalf("second claim: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 || len(second) != 2 {
		t.Fatalf("claimed %d and %d jobs, want 2 and 2", len(first), len(second))
	}
	seen := map[int64]bool{}
	for _, j := range append(first, second...) {
		if seen[j.ID] {
			t.Errorf("job %d claimed twice", j.ID)
		}
		seen[j.ID] = true
	}
	if first[0].ID > first[1].ID || second[0].ID > second[1].ID {
		t.Errorf("claimed jobs are not in run order: %d %d, %d %d", first[0].ID, first[1].ID, second[0].ID, second[1].ID)
	}
}

// A Read sees one snapshot: a commit made while it runs is not seen by its
// later statements.
func TestReadIsOneSnapshot(t *testing.T) {
	s, _ := openStore(t)
	o := newOrg(t, s)
	now := time.Now().UTC().Truncate(time.Microsecond)
	insert(t, s, newInv(o.ID, "a@example.com", now))
	f := invite.InvitationFilter{Org: o.ID, Now: now}
	err := s.Read(t.Context(), func(tx invite.Tx) error {
		n1, err := tx.CountInvitations(t.Context(), f)
		if err != nil {
			return err
		}
		insert(t, s, newInv(o.ID, "b@example.com", now))
		n2, err := tx.CountInvitations(t.Context(), f)
		if err != nil {
			return err
		}
		if n1 != 1 || n2 != 1 {
			t.Errorf("counted %d then %d in one Read, want 1 and 1", n1, n2)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A job's insert goes with the next statement or the commit; when it fails
// there, the write fails as a whole and stores nothing.
func TestHeldJobFailureFailsTheWrite(t *testing.T) {
	s, _ := openStore(t)
	o := newOrg(t, s)
	now := time.Now().UTC().Truncate(time.Microsecond)
	// PostgreSQL text cannot hold a NUL byte.
	bad := func(inv *invite.Invitation) *invite.Job {
		return &invite.Job{Kind: "k", OrgID: &inv.OrgID, Args: json.RawMessage("\x00"), RunAt: now, CreatedAt: now}
	}
	for name, next := range map[string]func(tx invite.Tx, inv *invite.Invitation) error{
		"at the commit": func(invite.Tx, *invite.Invitation) error { return nil },
		"at the next statement": func(tx invite.Tx, inv *invite.Invitation) error {
			_, err := tx.GetInvitation(t.Context(), o.ID, inv.ID, false)
			if err == nil {
				t.Error("the statement after a failed held insert succeeded")
			}
			return err
		},
	} {
		inv := newInv(o.ID, name+"@example.com", now)
		err := s.Write(t.Context(), func(tx invite.Tx) error {
			if err := tx.CreateInvitation(t.Context(), inv); err != nil {
				return err
			}
			if err := tx.EnqueueJob(t.Context(), bad(inv)); err != nil {
				return err
			}
			return next(tx, inv)
		})
		if err == nil {
			t.Errorf("%s: a write whose job could not be stored succeeded", name)
		}
		err = s.Read(t.Context(), func(tx invite.Tx) error {
			_, err := tx.GetInvitation(t.Context(), o.ID, inv.ID, false)
			return err
		})
		if !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("%s: the failed write left its invitation: %v", name, err)
		}
	}
	// A good job is stored with its write and has its id.
	inv := newInv(o.ID, "good@example.com", now)
	j := &invite.Job{Kind: "k", OrgID: &inv.OrgID, Args: json.RawMessage(`{}`), RunAt: now, CreatedAt: now}
	err := s.Write(t.Context(), func(tx invite.Tx) error {
		if err := tx.EnqueueJob(t.Context(), j); err != nil {
			return err
		}
		return tx.CreateInvitation(t.Context(), inv)
	})
	if err != nil || j.ID == 0 {
		t.Fatalf("a good job: id %d, %v", j.ID, err)
	}
}

// An insert that waits on the pending index for an accept in progress, and
// goes through once it commits, is refused as a member's and leaves no row:
// the transaction goes on and commits without it.
func TestCreateBehindAnAcceptLeavesNoRow(t *testing.T) {
	s, _ := openStore(t)
	o := newOrg(t, s)
	now := time.Now().UTC().Truncate(time.Microsecond)
	old := newInv(o.ID, "a@example.com", now)
	insert(t, s, old)
	ctx := t.Context()

	locked, release := make(chan struct{}), make(chan struct{})
	accepted := make(chan error, 1)
	go func() {
		accepted <- s.Write(ctx, func(tx invite.Tx) error {
			inv, err := tx.GetInvitation(ctx, o.ID, old.ID, true)
			if err != nil {
				return err
			}
			inv.State, inv.FinishedAt, inv.UpdatedAt = invite.StateAccepted, &now, now
			if err := tx.UpdateInvitation(ctx, inv); err != nil {
				return err
			}
			m := &invite.Member{ID: uuid.New(), OrgID: o.ID, Email: old.Email, CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateMember(ctx, m); err != nil {
				return err
			}
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked

	again, other := newInv(o.ID, old.Email, now), newInv(o.ID, "b@example.com", now)
	var againErr error
	created := make(chan error, 1)
	go func() {
		created <- s.Write(ctx, func(tx invite.Tx) error {
			againErr = tx.CreateInvitation(ctx, again)
			return tx.CreateInvitation(ctx, other)
		})
	}()
	// Let the accept commit only once the insert waits on it.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var waiting int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the insert never waited on the accept")
		}
	}
	close(release)
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}
	if err := <-created; err != nil {
		t.Fatalf("the transaction after the refused insert: %v", err)
	}
	if !errors.Is(againErr, invite.ErrDuplicateMember) {
		t.Errorf("an insert behind an accept: %v, want ErrDuplicateMember", againErr)
	}
	err := s.Read(ctx, func(tx invite.Tx) error {
		if _, err := tx.GetInvitation(ctx, o.ID, again.ID, false); !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("the refused invitation was stored: %v", err)
		}
		_, err := tx.GetInvitation(ctx, o.ID, other.ID, false)
		return err
	})
	if err != nil {
		t.Errorf("the write after the refusal was not committed: %v", err)
	}
}
