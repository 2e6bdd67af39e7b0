package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/invite"
)

// ---- the Tx contract

func testTx(t *testing.T, e *env) {
	newOrg := func(t *testing.T) *invite.Organization {
		now := e.now()
		o := &invite.Organization{ID: invite.NewOrgID(), Name: "tx org", Settings: invite.DefaultSettings(), CreatedAt: now, UpdatedAt: now}
		e.write(t, func(tx invite.Tx) error { return tx.CreateOrg(sys(t), o) })
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
		ctx := sys(t)
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
		next := now.Add(time.Minute)
		inv.Mail = invite.MailDelivery{State: invite.MailRetrying, Attempts: 2, LastError: "421 busy", NextAttemptAt: &next}
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
			if got.Mail.State != want.Mail.State || got.Mail.Attempts != want.Mail.Attempts || got.Mail.LastError != want.Mail.LastError {
				t.Errorf("mail read back as %+v, want %+v", got.Mail, want.Mail)
			}
			wantTimes(t, "mail next_attempt_at", got.Mail.NextAttemptAt, want.Mail.NextAttemptAt)
			wantTimes(t, "mail sent_at", got.Mail.SentAt, want.Mail.SentAt)
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
		inv.Mail = invite.MailDelivery{State: invite.MailFailed, Attempts: 3, LastError: "550 no such user", SentAt: &sent}
		e.write(t, func(tx invite.Tx) error { return tx.UpdateInvitation(ctx, inv) })
		var back *invite.Invitation
		e.write(t, func(tx invite.Tx) error {
			var err error
			back, err = tx.GetInvitation(ctx, o.ID, inv.ID, true)
			return err
		})
		check(t, inv, back)

		// A link derived from the server secret leaves no hash to store, and
		// a row read back without one is written again as it is.
		inv.TokenHash = nil
		for range 2 {
			e.write(t, func(tx invite.Tx) error { return tx.UpdateInvitation(ctx, inv) })
			e.write(t, func(tx invite.Tx) error {
				var err error
				inv, err = tx.GetInvitation(ctx, o.ID, inv.ID, true)
				return err
			})
			if len(inv.TokenHash) != 0 {
				t.Fatalf("token hash read back as %x, want none", inv.TokenHash)
			}
		}
		err := e.store.Read(ctx, func(tx invite.Tx) error {
			_, err := tx.GetPendingInvitation(ctx, o.ID, inv.Email, false)
			return err
		})
		if !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("GetPendingInvitation of an invitation in error: %v, want ErrNotFound", err)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		ctx := sys(t)
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
			"RescheduleJob":  func(tx invite.Tx) error { return tx.RescheduleJob(ctx, 1<<60, "w", now, 1, "x") },
			"DeleteJob":      func(tx invite.Tx) error { return tx.DeleteJob(ctx, 1<<60, "w") },
			"GetEvent":       func(tx invite.Tx) error { _, err := tx.GetEvent(ctx, o.ID, "evt_none"); return err },
			"GetWebhook":     func(tx invite.Tx) error { _, err := tx.GetWebhook(ctx, o.ID, "wh_none"); return err },
			"UpdateWebhook": func(tx invite.Tx) error {
				return tx.UpdateWebhook(ctx, &invite.Webhook{ID: "wh_none", OrgID: o.ID, UpdatedAt: now})
			},
			"DeleteWebhook": func(tx invite.Tx) error { return tx.DeleteWebhook(ctx, o.ID, "wh_none") },
			"GetDelivery":   func(tx invite.Tx) error { _, err := tx.GetDelivery(ctx, "wh_none", "evt_none"); return err },
			"UpdateDelivery": func(tx invite.Tx) error {
				return tx.UpdateDelivery(ctx, &invite.Delivery{WebhookID: "wh_none", EventID: "evt_none", State: invite.DeliveryFailed})
			},
		}
		for name, fn := range cases {
			if err := e.store.Write(ctx, fn); !errors.Is(err, invite.ErrNotFound) {
				t.Errorf("%s of a missing row: %v, want ErrNotFound", name, err)
			}
		}
	})

	t.Run("OnePendingPerEmailInTheDatabase", func(t *testing.T) {
		ctx := sys(t)
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
		ctx := sys(t)
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
		ctx := sys(t)
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
		ctx := sys(t)
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
		ctx := sys(t)
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
		ctx, cancel := context.WithTimeout(sys(t), 30*time.Second)
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
		ctx := sys(t)
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
