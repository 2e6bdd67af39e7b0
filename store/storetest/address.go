package storetest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
)

func testAddress(t *testing.T, e *env) {
	t.Run("an address's invitations in every organization, paged newest first", func(t *testing.T) {
		bob := e.email()
		a, b := e.org(t, nil), e.org(t, nil)
		var want []string // newest first
		for i := range 5 {
			o := a
			if i%2 == 1 {
				o = b
			}
			inv := e.invite(t, o.ID, invite.CreateInvitation{Email: bob, NoEmail: true}).Invitation
			if i < 4 { // each but the last is answered, so that the next may be made
				if _, err := e.svc.CancelInvitation(sys(t), o.ID, ref(inv.ID)); err != nil {
					t.Fatal(err)
				}
			}
			e.invite(t, o.ID, invite.CreateInvitation{NoEmail: true}) // someone else's
			want = append([]string{inv.ID.String()}, want...)
			e.clock.Advance(time.Second)
		}
		var got []string
		p := invite.ListParams{Email: " " + strings.ToUpper(bob), Limit: 2}
		for range 10 {
			page, err := e.svc.ListInvitationsByAddress(sys(t), p)
			if err != nil {
				t.Fatal(err)
			}
			for _, inv := range page.Items {
				if inv.Email != bob {
					t.Fatalf("listed %s's invitation for %s", inv.Email, bob)
				}
				got = append(got, inv.ID.String())
			}
			if page.NextCursor == "" {
				break
			}
			p.Cursor = page.NextCursor
		}
		if !slices.Equal(got, want) {
			t.Fatalf("pages gave %v, want %v", got, want)
		}
		pending, err := e.svc.ListInvitationsByAddress(sys(t), invite.ListParams{Email: bob, State: "pending"})
		if err != nil || len(pending.Items) != 1 || pending.Items[0].ID.String() != want[0] {
			t.Fatalf("pending: %+v, %v", pending, err)
		}
		// Past its expiry it is expired, not pending.
		e.clock.Advance(8 * 24 * time.Hour)
		if p, _ := e.svc.ListInvitationsByAddress(sys(t), invite.ListParams{Email: bob, State: "pending"}); len(p.Items) != 0 {
			t.Fatalf("an expired invitation listed as pending: %+v", p.Items[0])
		}
		_, err = e.svc.ListInvitationsByAddress(sys(t), invite.ListParams{})
		wantKind(t, err, invite.KindInvalid, "email is required")
		_, err = e.svc.ListInvitationsByAddress(t.Context(), invite.ListParams{Email: bob})
		wantKind(t, err, invite.KindUnauthorized)
		_, err = e.svc.ListInvitationsByAddress(sys(t), invite.ListParams{Email: bob, Sort: "updated_at"})
		wantKind(t, err, invite.KindInvalid, "sort")
	})

	t.Run("a member's metadata is patched", func(t *testing.T) {
		o := e.org(t, nil)
		_, tok := e.quietWith(t, o.ID, invite.CreateInvitation{Metadata: json.RawMessage(`{"a":1}`)})
		_, m, err := e.acceptByToken(sys(t), tok, "")
		if err != nil {
			t.Fatal(err)
		}
		before := len(e.events(t, o.ID, invite.EventMemberUpdated))
		got, err := e.svc.UpdateMember(sys(t), o.ID, m.ID, invite.MemberPatch{Metadata: json.RawMessage(`{ "b" : [2] }`)})
		if err != nil || string(got.Metadata) != `{"b":[2]}` {
			t.Fatalf("patched metadata: %s, %v", got.Metadata, err)
		}
		// The same again writes nothing.
		if _, err := e.svc.UpdateMember(sys(t), o.ID, m.ID, invite.MemberPatch{Metadata: json.RawMessage(`{"b":[2]}`)}); err != nil {
			t.Fatal(err)
		}
		evs := e.events(t, o.ID, invite.EventMemberUpdated)
		if len(evs) != before+1 || !json.Valid(evs[len(evs)-1].Data) {
			t.Fatalf("%d member.updated events, want %d", len(evs), before+1)
		}
		var data struct{ Metadata map[string]any }
		_ = json.Unmarshal(evs[len(evs)-1].Data, &data)
		if _, ok := data.Metadata["b"]; !ok {
			t.Fatalf("the event's data lacks the new metadata: %s", evs[len(evs)-1].Data)
		}
		for _, bad := range []string{`[1]`, `"x"`, `{"big":"` + string(make([]byte, invite.MaxMetadataLen)) + `"}`} {
			_, err := e.svc.UpdateMember(sys(t), o.ID, m.ID, invite.MemberPatch{Metadata: json.RawMessage(bad)})
			wantKind(t, err, invite.KindInvalid, "metadata")
		}
		if got, _ := e.svc.GetMember(sys(t), o.ID, m.ID); string(got.Metadata) != `{"b":[2]}` {
			t.Fatalf("a refused patch changed the metadata: %s", got.Metadata)
		}
	})
}
