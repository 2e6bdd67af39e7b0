package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
)

// ---- webhook endpoints and their deliveries, through the Tx

func (e *env) newWebhook(org invite.OrgID, suffix string) *invite.Webhook {
	now := e.now()
	return &invite.Webhook{
		ID: fmt.Sprintf("wh_%d%s", e.seq.Add(1), suffix), OrgID: org, URL: "https://hooks.example.com/" + suffix,
		Events: []string{"invitation.*", invite.EventMemberCreated}, Description: "the " + suffix + " hook", Enabled: true,
		Secret: "whsec_" + suffix, CreatedAt: now, UpdatedAt: now,
	}
}

func (e *env) newDelivery(w *invite.Webhook, eventID string) *invite.Delivery {
	now := e.now()
	return &invite.Delivery{WebhookID: w.ID, OrgID: w.OrgID, EventID: eventID, EventType: invite.EventInvitationCreated,
		State: invite.DeliveryPending, NextAttemptAt: &now, CreatedAt: now}
}

func wantWebhook(t *testing.T, what string, got, want *invite.Webhook) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no webhook", what)
	}
	if got.ID != want.ID || got.OrgID != want.OrgID || got.URL != want.URL || !slices.Equal(got.Events, want.Events) ||
		got.Description != want.Description || got.Enabled != want.Enabled || got.Secret != want.Secret ||
		got.PreviousSecret != want.PreviousSecret {
		t.Errorf("%s: read back as %+v, want %+v", what, got, want)
	}
	wantTime(t, what+": created_at", got.CreatedAt, want.CreatedAt)
	wantTime(t, what+": updated_at", got.UpdatedAt, want.UpdatedAt)
	wantTimes(t, what+": previous_until", got.PreviousUntil, want.PreviousUntil)
}

func wantDelivery(t *testing.T, what string, got, want *invite.Delivery) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no delivery", what)
	}
	if got.ID != want.ID || got.WebhookID != want.WebhookID || got.OrgID != want.OrgID || got.EventID != want.EventID ||
		got.EventType != want.EventType || got.State != want.State || got.Attempts != want.Attempts ||
		got.StatusCode != want.StatusCode || got.Duration != want.Duration || got.Error != want.Error {
		t.Errorf("%s: read back as %+v, want %+v", what, got, want)
	}
	wantTime(t, what+": created_at", got.CreatedAt, want.CreatedAt)
	wantTimes(t, what+": attempted_at", got.AttemptedAt, want.AttemptedAt)
	wantTimes(t, what+": next_attempt_at", got.NextAttemptAt, want.NextAttemptAt)
}

// wantTimes fails unless got and want are both unset or the same time.
func wantTimes(t *testing.T, what string, got, want *time.Time) {
	t.Helper()
	if (got == nil) != (want == nil) || (got != nil && !got.Equal(*want)) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func testWebhooks(t *testing.T, e *env) {
	t.Run("endpoints", func(t *testing.T) {
		ctx := sys(t)
		o, other := e.org(t, nil), e.org(t, nil)
		// Listed by (created_at, id): b and c at one time, then a.
		b, c := e.newWebhook(o.ID, "b"), e.newWebhook(o.ID, "c")
		c.ID = b.ID + "c" // sorts after b
		c.Enabled, c.Events, c.Description = false, []string{"*"}, ""
		e.clock.Advance(time.Second)
		a := e.newWebhook(o.ID, "a")
		a.ID = "wh_0" + a.ID[3:] // sorts before b
		until := e.now().Add(24 * time.Hour)
		a.PreviousSecret, a.PreviousUntil = "whsec_old", &until
		e.write(t, func(tx invite.Tx) error {
			for _, w := range []*invite.Webhook{a, c, b} {
				if err := tx.CreateWebhook(ctx, w); err != nil {
					return err
				}
			}
			return nil
		})
		err := e.store.Read(ctx, func(tx invite.Tx) error {
			list, err := tx.ListWebhooks(ctx, o.ID)
			if err != nil {
				return err
			}
			if len(list) != 3 {
				t.Fatalf("ListWebhooks: %d endpoints, want 3", len(list))
			}
			for i, w := range []*invite.Webhook{b, c, a} {
				wantWebhook(t, fmt.Sprintf("listed %d", i), list[i], w)
			}
			for _, w := range []*invite.Webhook{a, b, c} {
				got, err := tx.GetWebhook(ctx, o.ID, w.ID)
				if err != nil {
					return err
				}
				wantWebhook(t, "GetWebhook", got, w)
			}
			if list, err := tx.ListWebhooks(ctx, other.ID); err != nil || len(list) != 0 {
				t.Errorf("another org's endpoints: %+v, %v", list, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		// Every mutable field changes.
		e.clock.Advance(time.Minute)
		rotated := e.now().Add(time.Hour)
		b.URL, b.Events, b.Description, b.Enabled = "https://other.example.com/x", []string{invite.EventAPIKeyCreated}, "changed", false
		b.Secret, b.PreviousSecret, b.PreviousUntil, b.UpdatedAt = "whsec_new", "whsec_b", &rotated, e.now()
		a.PreviousSecret, a.PreviousUntil, a.Enabled, a.UpdatedAt = "", nil, false, e.now()
		e.write(t, func(tx invite.Tx) error {
			if err := tx.UpdateWebhook(ctx, b); err != nil {
				return err
			}
			return tx.UpdateWebhook(ctx, a)
		})
		e.store.Read(ctx, func(tx invite.Tx) error {
			for _, w := range []*invite.Webhook{a, b} {
				got, err := tx.GetWebhook(ctx, o.ID, w.ID)
				if err != nil {
					t.Fatal(err)
				}
				wantWebhook(t, "after UpdateWebhook", got, w)
			}
			return nil
		})

		// Another org's endpoint is not there.
		stranger := *b
		stranger.OrgID = other.ID
		for name, fn := range map[string]func(tx invite.Tx) error{
			"GetWebhook":    func(tx invite.Tx) error { _, err := tx.GetWebhook(ctx, other.ID, b.ID); return err },
			"UpdateWebhook": func(tx invite.Tx) error { return tx.UpdateWebhook(ctx, &stranger) },
			"DeleteWebhook": func(tx invite.Tx) error { return tx.DeleteWebhook(ctx, other.ID, b.ID) },
			"GetWebhook of a missing id": func(tx invite.Tx) error {
				_, err := tx.GetWebhook(ctx, o.ID, "wh_missing")
				return err
			},
			"UpdateWebhook of a missing id": func(tx invite.Tx) error {
				w := *b
				w.ID = "wh_missing"
				return tx.UpdateWebhook(ctx, &w)
			},
			"DeleteWebhook of a missing id": func(tx invite.Tx) error { return tx.DeleteWebhook(ctx, o.ID, "wh_missing") },
		} {
			if err := e.store.Write(ctx, fn); !errors.Is(err, invite.ErrNotFound) {
				t.Errorf("%s of another org's endpoint: %v, want ErrNotFound", name, err)
			}
		}
		e.store.Read(ctx, func(tx invite.Tx) error {
			got, err := tx.GetWebhook(ctx, o.ID, b.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantWebhook(t, "after another org's writes", got, b)
			return nil
		})

		e.write(t, func(tx invite.Tx) error { return tx.DeleteWebhook(ctx, o.ID, c.ID) })
		e.store.Read(ctx, func(tx invite.Tx) error {
			if _, err := tx.GetWebhook(ctx, o.ID, c.ID); !errors.Is(err, invite.ErrNotFound) {
				t.Errorf("GetWebhook after delete: %v, want ErrNotFound", err)
			}
			if list, err := tx.ListWebhooks(ctx, o.ID); err != nil || len(list) != 2 {
				t.Errorf("ListWebhooks after delete: %d, %v", len(list), err)
			}
			return nil
		})
	})

	t.Run("deliveries", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		w, w2 := e.newWebhook(o.ID, "d"), e.newWebhook(o.ID, "d2")
		e.write(t, func(tx invite.Tx) error {
			if err := tx.CreateWebhook(ctx, w); err != nil {
				return err
			}
			return tx.CreateWebhook(ctx, w2)
		})
		var ds []*invite.Delivery
		for i := range 4 {
			d := e.newDelivery(w, fmt.Sprintf("evt_d%d", i))
			e.write(t, func(tx invite.Tx) error { return tx.CreateDelivery(ctx, d) })
			if d.ID <= 0 || (i > 0 && d.ID <= ds[i-1].ID) {
				t.Fatalf("delivery %d has id %d after %v", i, d.ID, ds)
			}
			ds = append(ds, d)
			e.clock.Advance(time.Second)
		}
		other := e.newDelivery(w2, "evt_d0") // the same event to another endpoint
		e.write(t, func(tx invite.Tx) error { return tx.CreateDelivery(ctx, other) })
		// One delivery per (endpoint, event).
		if err := e.store.Write(ctx, func(tx invite.Tx) error { return tx.CreateDelivery(ctx, e.newDelivery(w, "evt_d1")) }); err == nil {
			t.Error("a second delivery of one event to one endpoint was stored")
		}

		d := ds[1]
		at, next := e.now(), e.now().Add(time.Minute)
		d.State, d.Attempts, d.StatusCode, d.Duration, d.Error = invite.DeliveryRetrying, 2, 503, 1234567*time.Microsecond, "503 Service Unavailable"
		d.AttemptedAt, d.NextAttemptAt = &at, &next
		e.write(t, func(tx invite.Tx) error { return tx.UpdateDelivery(ctx, d) })
		e.store.Read(ctx, func(tx invite.Tx) error {
			got, err := tx.GetDelivery(ctx, w.ID, d.EventID)
			if err != nil {
				t.Fatal(err)
			}
			wantDelivery(t, "after UpdateDelivery", got, d)
			got, err = tx.GetDelivery(ctx, w.ID, ds[0].EventID)
			if err != nil {
				t.Fatal(err)
			}
			wantDelivery(t, "an untouched delivery", got, ds[0])
			got, err = tx.GetDelivery(ctx, w2.ID, other.EventID)
			if err != nil {
				t.Fatal(err)
			}
			wantDelivery(t, "the other endpoint's delivery", got, other)
			if _, err := tx.GetDelivery(ctx, w2.ID, ds[1].EventID); !errors.Is(err, invite.ErrNotFound) {
				t.Errorf("GetDelivery of an event the endpoint did not get: %v, want ErrNotFound", err)
			}
			return nil
		})
		missing := *d
		missing.EventID = "evt_none"
		if err := e.store.Write(ctx, func(tx invite.Tx) error { return tx.UpdateDelivery(ctx, &missing) }); !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("UpdateDelivery of a missing delivery: %v, want ErrNotFound", err)
		}

		list := func(webhookID string, before int64, limit int) []*invite.Delivery {
			t.Helper()
			var out []*invite.Delivery
			err := e.store.Read(ctx, func(tx invite.Tx) error {
				var err error
				out, err = tx.ListDeliveries(ctx, webhookID, before, limit)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		ids := func(list []*invite.Delivery) []int64 {
			var out []int64
			for _, d := range list {
				out = append(out, d.ID)
			}
			return out
		}
		want := func(what string, got []*invite.Delivery, want ...*invite.Delivery) {
			t.Helper()
			if !slices.Equal(ids(got), ids(want)) {
				t.Errorf("%s: deliveries %v, want %v", what, ids(got), ids(want))
				return
			}
			for i := range got {
				wantDelivery(t, what, got[i], want[i])
			}
		}
		want("newest first", list(w.ID, 0, 10), ds[3], ds[2], ds[1], ds[0])
		want("a first page", list(w.ID, 0, 2), ds[3], ds[2])
		want("the next page", list(w.ID, ds[2].ID, 2), ds[1], ds[0])
		want("after the last page", list(w.ID, ds[0].ID, 2))
		want("another endpoint's", list(w2.ID, 0, 10), other)

		// Deleting an endpoint deletes its deliveries; another's stay.
		e.write(t, func(tx invite.Tx) error { return tx.DeleteWebhook(ctx, o.ID, w.ID) })
		want("a deleted endpoint's", list(w.ID, 0, 10))
		e.store.Read(ctx, func(tx invite.Tx) error {
			if _, err := tx.GetDelivery(ctx, w.ID, ds[0].EventID); !errors.Is(err, invite.ErrNotFound) {
				t.Errorf("GetDelivery of a deleted endpoint: %v, want ErrNotFound", err)
			}
			return nil
		})
		want("another endpoint's after a delete", list(w2.ID, 0, 10), other)
	})

	t.Run("a claimed delivery comes with its endpoint and event", func(t *testing.T) {
		ctx := sys(t)
		e.drain(t)
		a, b := e.org(t, nil), e.org(t, nil)
		wa, wa2, wb := e.newWebhook(a.ID, "la"), e.newWebhook(a.ID, "la2"), e.newWebhook(b.ID, "lb")
		ea, eb := e.newEvent(a.ID, invite.EventInvitationCreated, "inv_a"), e.newEvent(b.ID, invite.EventInvitationCreated, "inv_b")
		e.write(t, func(tx invite.Tx) error {
			for _, w := range []*invite.Webhook{wa, wa2, wb} {
				if err := tx.CreateWebhook(ctx, w); err != nil {
					return err
				}
			}
			return nil
		})
		e.appendEvents(t, ea, eb)
		var jobs []*invite.Job
		job := func(org invite.OrgID, hook, event string) *invite.Job {
			j := &invite.Job{Kind: invite.JobWebhookDelivery, OrgID: &org, RunAt: e.now(), CreatedAt: e.now(),
				Args: []byte(fmt.Sprintf(`{"webhook_id":%q,"event_id":%q}`, hook, event))}
			jobs = append(jobs, j)
			return j
		}
		toA, toB := job(a.ID, wa.ID, ea.ID), job(b.ID, wb.ID, eb.ID)
		gone := map[string]*invite.Job{
			"another organization's event":    job(a.ID, wa.ID, eb.ID),
			"another organization's endpoint": job(b.ID, wa.ID, eb.ID),
			"a missing event":                 job(a.ID, wa.ID, "evt_none"),
			"a deleted endpoint":              job(a.ID, wa2.ID, ea.ID),
		}
		damaged := job(a.ID, wa.ID, ea.ID)
		damaged.Args = []byte(`{"webhook_id": 5}`)
		gone["damaged arguments"] = damaged
		e.write(t, func(tx invite.Tx) error {
			for _, j := range jobs {
				if err := tx.EnqueueJob(ctx, j); err != nil {
					return err
				}
			}
			return tx.DeleteWebhook(ctx, a.ID, wa2.ID)
		})

		claimed := map[int64]*invite.Job{}
		for _, j := range e.claimAll(t, time.Minute, invite.JobWebhookDelivery) {
			claimed[j.ID] = j
		}
		if len(claimed) != len(jobs) {
			t.Fatalf("claimed %d jobs, want %d", len(claimed), len(jobs))
		}
		for _, c := range []struct {
			j    *invite.Job
			hook *invite.Webhook
			ev   *invite.Event
		}{{toA, wa, ea}, {toB, wb, eb}} {
			o, _ := claimed[c.j.ID].Loaded.(*invite.Outgoing)
			if o == nil {
				t.Errorf("job %d: nothing to send, want %s to %s", c.j.ID, c.ev.ID, c.hook.ID)
				continue
			}
			wantWebhook(t, "the endpoint", o.Webhook, c.hook)
			if o.Event.ID != c.ev.ID || string(o.Event.Data) != string(c.ev.Data) {
				t.Errorf("job %d: event %s %s, want %s %s", c.j.ID, o.Event.ID, o.Event.Data, c.ev.ID, c.ev.Data)
			}
		}
		for what, j := range gone {
			if o, _ := claimed[j.ID].Loaded.(*invite.Outgoing); o != nil {
				t.Errorf("%s: %+v to send, want nothing", what, o)
			}
		}
		e.drain(t)
	})

	t.Run("DeleteOrg removes endpoints and deliveries", func(t *testing.T) {
		ctx := sys(t)
		gone, kept := e.org(t, nil), e.org(t, nil)
		w, k := e.newWebhook(gone.ID, "g"), e.newWebhook(kept.ID, "k")
		dw, dk := e.newDelivery(w, "evt_g"), e.newDelivery(k, "evt_k")
		e.write(t, func(tx invite.Tx) error {
			for _, x := range []*invite.Webhook{w, k} {
				if err := tx.CreateWebhook(ctx, x); err != nil {
					return err
				}
			}
			if err := tx.CreateDelivery(ctx, dw); err != nil {
				return err
			}
			return tx.CreateDelivery(ctx, dk)
		})
		if err := e.svc.DeleteOrg(ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		e.store.Read(ctx, func(tx invite.Tx) error {
			if _, err := tx.GetWebhook(ctx, gone.ID, w.ID); !errors.Is(err, invite.ErrNotFound) {
				t.Errorf("an endpoint of a deleted org: %v", err)
			}
			if _, err := tx.GetDelivery(ctx, w.ID, dw.EventID); !errors.Is(err, invite.ErrNotFound) {
				t.Errorf("a delivery of a deleted org: %v", err)
			}
			if list, err := tx.ListDeliveries(ctx, w.ID, 0, 10); err != nil || len(list) != 0 {
				t.Errorf("deliveries of a deleted org: %d, %v", len(list), err)
			}
			got, err := tx.GetDelivery(ctx, k.ID, dk.EventID)
			if err != nil {
				t.Fatalf("another org's delivery: %v", err)
			}
			wantDelivery(t, "another org's delivery", got, dk)
			return nil
		})
	})
}
