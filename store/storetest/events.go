package storetest

import (
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

// ---- the event log

// newEvent is an event of org as the core would append it, at the clock's time.
func (e *env) newEvent(org invite.OrgID, typ, subject string) *invite.Event {
	n := e.seq.Add(1)
	return &invite.Event{
		ID: "evt_" + uuid.NewString(), Type: typ, OrgID: org, Subject: subject, CreatedAt: e.now(),
		Actor:     invite.Actor{Type: invite.ActorAPIKey, ID: fmt.Sprintf("key_%d", n), Name: "ci"},
		RequestID: fmt.Sprintf("req_%d", n), Data: json.RawMessage(fmt.Sprintf(`{"n":%d,"s":"x"}`, n)),
	}
}

func (e *env) appendEvents(t *testing.T, events ...*invite.Event) {
	t.Helper()
	e.write(t, func(tx invite.Tx) error { return tx.AppendEvents(sys(t), events) })
}

func (e *env) listEvents(t *testing.T, f invite.EventFilter) []*invite.Event {
	t.Helper()
	if f.Limit == 0 {
		f.Limit = 1000
	}
	var out []*invite.Event
	err := e.store.Read(sys(t), func(tx invite.Tx) error {
		var err error
		out, err = tx.ListEvents(sys(t), f)
		return err
	})
	if err != nil {
		t.Fatalf("ListEvents(%+v): %v", f, err)
	}
	return out
}

func eventIDs(events []*invite.Event) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = ev.ID
	}
	return out
}

// wantEvents fails unless got are want, in order and as appended.
// listEventsAwait lists like listEvents, waiting up to 10 s for n events.
// PostgreSQL lists an event only once every transaction of its database
// that began before its own has ended; on a loaded machine that can take a
// moment after the commit that wrote it.
func (e *env) listEventsAwait(t *testing.T, f invite.EventFilter, n int) []*invite.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := e.listEvents(t, f)
		if len(out) >= n || time.Now().After(deadline) {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func wantEvents(t *testing.T, what string, got []*invite.Event, want ...*invite.Event) {
	t.Helper()
	if !slices.Equal(eventIDs(got), eventIDs(want)) {
		t.Fatalf("%s: events %v, want %v", what, eventTypesIDs(got), eventTypesIDs(want))
	}
	for i, g := range got {
		w := want[i]
		if g.Type != w.Type || g.OrgID != w.OrgID || g.Subject != w.Subject || g.Actor != w.Actor || g.RequestID != w.RequestID {
			t.Errorf("%s: event read back as %+v, want %+v", what, g, w)
		}
		wantTime(t, what+": created_at", g.CreatedAt, w.CreatedAt)
		wantJSON(t, what+": data", g.Data, string(w.Data))
		if i > 0 && !got[i-1].Position.Less(g.Position) {
			t.Errorf("%s: position %+v does not come after %+v", what, g.Position, got[i-1].Position)
		}
	}
}

func eventTypesIDs(events []*invite.Event) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = ev.Type + " " + ev.Subject
	}
	return out
}

func testEvents(t *testing.T, e *env) {
	// First: the log is empty, and retention works on the whole log.
	t.Run("DeleteEventsBefore", func(t *testing.T) {
		ctx := sys(t)
		a, b := e.org(t, nil), e.org(t, nil)
		old := e.newEvent(a.ID, invite.EventMemberCreated, "m1")
		e.clock.Advance(time.Hour)
		older := e.newEvent(b.ID, invite.EventMemberCreated, "m2")
		e.clock.Advance(time.Hour)
		recent := e.newEvent(a.ID, invite.EventMemberCreated, "m3")
		e.appendEvents(t, old, older)
		e.appendEvents(t, recent)
		purge := func(limit int) int {
			t.Helper()
			var n int
			e.write(t, func(tx invite.Tx) error {
				var err error
				n, err = tx.DeleteEventsBefore(ctx, recent.CreatedAt, limit)
				return err
			})
			return n
		}
		if n := purge(1); n != 1 {
			t.Fatalf("DeleteEventsBefore with limit 1 removed %d", n)
		}
		wantEvents(t, "org a after one was purged", e.listEvents(t, invite.EventFilter{Org: a.ID}), recent)
		wantEvents(t, "org b after one was purged", e.listEvents(t, invite.EventFilter{Org: b.ID}), older)
		if n := purge(10); n != 1 {
			t.Fatalf("DeleteEventsBefore removed %d of the one old event left", n)
		}
		if n := purge(10); n != 0 {
			t.Fatalf("DeleteEventsBefore removed %d with none old left", n)
		}
		// An event created at the time given is not before it.
		wantEvents(t, "org a after the purge", e.listEvents(t, invite.EventFilter{Org: a.ID}), recent)
		wantEvents(t, "org b after the purge", e.listEvents(t, invite.EventFilter{Org: b.ID}))
	})

	t.Run("append and list", func(t *testing.T) {
		ctx := sys(t)
		a, b := e.org(t, nil), e.org(t, nil)
		a1 := e.newEvent(a.ID, invite.EventInvitationCreated, "inv1")
		b1 := e.newEvent(b.ID, invite.EventInvitationCreated, "inv9")
		a2 := e.newEvent(a.ID, invite.EventMemberCreated, "mem1")
		a2.RequestID, a2.Actor = "", invite.System.Actor() // background work
		e.appendEvents(t, a1, b1, a2)
		e.clock.Advance(time.Second)
		a3 := e.newEvent(a.ID, invite.EventAPIKeyCreated, "key1")
		a4 := e.newEvent(a.ID, invite.EventInvitationSent, "inv1")
		// '_' must not match any character in a prefix ("api_key.").
		a5 := e.newEvent(a.ID, "apiXkey.created", "key2")
		a6 := e.newEvent(a.ID, "invitation_created", "inv1")
		e.appendEvents(t, a3, a4, a5, a6)

		all := e.listEventsAwait(t, invite.EventFilter{Org: a.ID}, 6)
		wantEvents(t, "org a", all, a1, a2, a3, a4, a5, a6)
		wantEvents(t, "org b", e.listEventsAwait(t, invite.EventFilter{Org: b.ID}, 1), b1)
		for _, ev := range all {
			if ev.Position == (invite.EventPosition{}) {
				t.Errorf("event %s has no position", ev.ID)
			}
		}
		// Paging by the cursor, one at a time and two at a time.
		for _, limit := range []int{1, 2} {
			var paged []*invite.Event
			var after invite.EventPosition
			for range 10 {
				page := e.listEvents(t, invite.EventFilter{Org: a.ID, After: after, Limit: limit})
				if len(page) > limit {
					t.Fatalf("a page of %d events with limit %d", len(page), limit)
				}
				if len(page) == 0 {
					break
				}
				paged = append(paged, page...)
				after = page[len(page)-1].Position
			}
			wantEvents(t, fmt.Sprintf("org a by pages of %d", limit), paged, a1, a2, a3, a4, a5, a6)
		}
		wantEvents(t, "after the second", e.listEvents(t, invite.EventFilter{Org: a.ID, After: all[1].Position, Limit: 2}), a3, a4)
		wantEvents(t, "after the last", e.listEvents(t, invite.EventFilter{Org: a.ID, After: all[5].Position}))

		for _, c := range []struct {
			name string
			f    invite.EventFilter
			want []*invite.Event
		}{
			{"types", invite.EventFilter{Types: []string{invite.EventInvitationCreated, invite.EventInvitationSent}}, []*invite.Event{a1, a4}},
			{"a prefix", invite.EventFilter{Prefixes: []string{"invitation."}}, []*invite.Event{a1, a4}},
			{"a prefix with '_'", invite.EventFilter{Prefixes: []string{"api_key."}}, []*invite.Event{a3}},
			{"a type with '_'", invite.EventFilter{Types: []string{"invitation_created"}}, []*invite.Event{a6}},
			{"types or prefixes", invite.EventFilter{Types: []string{invite.EventMemberCreated}, Prefixes: []string{"api_key.", "apiX"}}, []*invite.Event{a2, a3, a5}},
			{"an unknown type", invite.EventFilter{Types: []string{"nothing.happened"}}, nil},
			{"a subject", invite.EventFilter{Subject: "inv1"}, []*invite.Event{a1, a4, a6}},
			{"a subject and a type", invite.EventFilter{Subject: "inv1", Types: []string{invite.EventInvitationSent}}, []*invite.Event{a4}},
			{"a subject and a prefix after a cursor", invite.EventFilter{Subject: "inv1", Prefixes: []string{"invitation"}, After: all[0].Position}, []*invite.Event{a4, a6}},
			{"a limit", invite.EventFilter{Prefixes: []string{"invitation"}, Limit: 2}, []*invite.Event{a1, a4}},
			{"another org's subject", invite.EventFilter{Subject: "inv9"}, nil},
		} {
			f := c.f
			f.Org = a.ID
			wantEvents(t, c.name, e.listEvents(t, f), c.want...)
		}

		// An event appended later comes after every position handed out.
		a7 := e.newEvent(a.ID, invite.EventInvitationAccepted, "inv1")
		e.appendEvents(t, a7)
		wantEvents(t, "after the last, once more was appended", e.listEvents(t, invite.EventFilter{Org: a.ID, After: all[5].Position}), a7)

		// GetEvent finds an event in its org only.
		err := e.store.Read(ctx, func(tx invite.Tx) error {
			got, err := tx.GetEvent(ctx, a.ID, a4.ID)
			if err != nil {
				return err
			}
			wantEvents(t, "GetEvent", []*invite.Event{got}, a4)
			for name, get := range map[string]func() error{
				"another org's event": func() error { _, err := tx.GetEvent(ctx, b.ID, a4.ID); return err },
				"a missing event":     func() error { _, err := tx.GetEvent(ctx, a.ID, "evt_missing"); return err },
				"an event of no org":  func() error { _, err := tx.GetEvent(ctx, invite.NewOrgID(), b1.ID); return err },
			} {
				if err := get(); !errors.Is(err, invite.ErrNotFound) {
					t.Errorf("GetEvent of %s: %v, want ErrNotFound", name, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a failed write leaves no event", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		boom := errors.New("boom")
		err := e.store.Write(ctx, func(tx invite.Tx) error {
			if err := tx.AppendEvents(ctx, []*invite.Event{e.newEvent(o.ID, invite.EventMemberCreated, "m")}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Write: %v, want the function's error", err)
		}
		wantEvents(t, "after a failed write", e.listEvents(t, invite.EventFilter{Org: o.ID}))

		// Writes at once, half of which fail after appending: only the
		// others' events stay, each once.
		const n = 20
		made := make([]*invite.Event, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			made[i] = e.newEvent(o.ID, invite.EventMemberUpdated, fmt.Sprintf("m%d", i))
			wg.Go(func() {
				errs[i] = e.store.Write(ctx, func(tx invite.Tx) error {
					if err := tx.AppendEvents(ctx, []*invite.Event{made[i]}); err != nil {
						return err
					}
					if i%2 == 1 {
						return boom
					}
					return nil
				})
			})
		}
		wg.Wait()
		want := map[string]bool{}
		for i := range n {
			if i%2 == 0 {
				if errs[i] != nil {
					t.Errorf("write %d: %v", i, errs[i])
				}
				want[made[i].ID] = true
			} else if !errors.Is(errs[i], boom) {
				t.Errorf("write %d: %v, want its own error", i, errs[i])
			}
		}
		got := e.listEventsAwait(t, invite.EventFilter{Org: o.ID}, len(want))
		for i, ev := range got {
			if !want[ev.ID] {
				t.Errorf("event %s (%s) of a failed write, or listed twice", ev.ID, ev.Subject)
			}
			delete(want, ev.ID)
			if i > 0 && !got[i-1].Position.Less(ev.Position) {
				t.Errorf("position %+v does not come after %+v", ev.Position, got[i-1].Position)
			}
		}
		if len(want) != 0 {
			t.Errorf("%d events of committed writes are missing", len(want))
		}
	})

	t.Run("DeleteOrg removes its events", func(t *testing.T) {
		ctx := sys(t)
		gone, kept := e.org(t, nil), e.org(t, nil)
		g, k := e.newEvent(gone.ID, invite.EventMemberCreated, "m"), e.newEvent(kept.ID, invite.EventMemberCreated, "m")
		e.appendEvents(t, g, k)
		if err := e.svc.DeleteOrg(ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		wantEvents(t, "a deleted org", e.listEvents(t, invite.EventFilter{Org: gone.ID}))
		wantEvents(t, "another org", e.listEvents(t, invite.EventFilter{Org: kept.ID}), k)
		err := e.store.Read(ctx, func(tx invite.Tx) error { _, err := tx.GetEvent(ctx, gone.ID, g.ID); return err })
		if !errors.Is(err, invite.ErrNotFound) {
			t.Errorf("GetEvent of a deleted org's event: %v, want ErrNotFound", err)
		}
	})

	t.Run("a create's event", func(t *testing.T) {
		o := e.org(t, nil)
		caller := &invite.Principal{Type: invite.ActorAPIKey, KeyID: "key_events", Name: "ci", Org: &o.ID, Scopes: invite.DefaultScopes}
		ctx := invite.WithRequestID(invite.WithPrincipal(t.Context(), caller), "req_create")
		e.clock.Advance(time.Second)
		res, err := e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: e.email(), Metadata: json.RawMessage(`{"team":"x"}`)})
		if err != nil {
			t.Fatal(err)
		}
		stored := e.get(t, o.ID, res.Invitation.ID)
		evs := e.subjectEvents(t, o.ID, stored.ID.String())
		if len(evs) != 1 {
			t.Fatalf("a create's events: %v", eventTypes(evs))
		}
		ev := evs[0]
		want := invite.Actor{Type: invite.ActorAPIKey, ID: "key_events", Name: "ci"}
		if ev.Type != invite.EventInvitationCreated || ev.OrgID != o.ID || ev.Subject != stored.ID.String() || ev.Actor != want ||
			ev.RequestID != "req_create" || len(ev.ID) <= len("evt_") || ev.ID[:4] != "evt_" {
			t.Errorf("the create's event %+v", ev)
		}
		wantTime(t, "the event's created_at", ev.CreatedAt, stored.CreatedAt)
		wantData(t, ev, invite.ViewInvitation(stored))
		err = e.store.Read(ctx, func(tx invite.Tx) error {
			got, err := tx.GetEvent(ctx, o.ID, ev.ID)
			if err == nil {
				wantEvents(t, "the create's event by id", []*invite.Event{got}, ev)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}

		// The system acts without a request.
		res, err = e.svc.CreateInvitation(sys(t), o.ID, invite.CreateInvitation{Email: e.email(), NoEmail: true})
		if err != nil {
			t.Fatal(err)
		}
		evs = e.subjectEvents(t, o.ID, res.Invitation.ID.String())
		if len(evs) != 1 || evs[0].Actor != invite.System.Actor() || evs[0].RequestID != "" {
			t.Errorf("the system's create's events: %+v", evs)
		}

		// A refused create leaves no event.
		before := e.events(t, o.ID)
		_, err = e.svc.CreateInvitation(ctx, o.ID, invite.CreateInvitation{Email: stored.Email})
		wantKind(t, err, invite.KindConflict)
		limit := 1
		full := e.org(t, &invite.SettingsPatch{MaxPending: &limit})
		e.invite(t, full.ID, invite.CreateInvitation{})
		fullBefore := e.events(t, full.ID)
		_, err = e.svc.CreateInvitation(sys(t), full.ID, invite.CreateInvitation{Email: e.email()})
		wantKind(t, err, invite.KindConflict)
		wantEvents(t, "after a refused create", e.events(t, o.ID), before...)
		wantEvents(t, "after a create over the limit", e.events(t, full.ID), fullBefore...)
	})
}
