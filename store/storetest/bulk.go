package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/invitd/invitd/invite"
)

// bulkWant is what one row of a bulk create must come to.
type bulkWant struct {
	status string
	code   int
	detail string
}

func testBulk(t *testing.T, e *env) {
	t.Run("a 1,000-row CSV: every row's result in order, a dry run writes nothing", func(t *testing.T) {
		o := e.org(t, &invite.SettingsPatch{MaxInvitationsPerHour: ptr(invite.NoLimit),
			BlockedEmailDomains: &[]string{"blocked.example"}, Permissions: &[]string{"billing", "admin"}})
		member := e.email()
		if _, tok := e.quietWith(t, o.ID, invite.CreateInvitation{Email: member}); true {
			if _, _, err := e.acceptByToken(sys(t), tok, ""); err != nil {
				t.Fatal(err)
			}
		}
		pending := e.email()
		e.quietWith(t, o.ID, invite.CreateInvitation{Email: pending})

		var csv strings.Builder
		csv.WriteString("\ufeffEmail,role,permissions,locale,expires_in,metadata,redirect_url\n")
		wants := make([]bulkWant, 0, 1000)
		var good []int
		for i := range 1000 {
			email := fmt.Sprintf("bulk%d-%d@example.com", e.seq.Load(), i)
			row, w := fmt.Sprintf("%s,,,,,,", email), bulkWant{status: invite.BulkCreated}
			switch {
			case i%100 == 7:
				row, w = "not-an-address,,,,,,", bulkWant{invite.BulkError, 422, "must contain exactly one @"}
			case i%100 == 13:
				row, w = email+",owner,billing;admin,ja,7200,\"{\"\"plan\"\":\"\"pro\"\"}\",", bulkWant{status: invite.BulkCreated}
			case i%100 == 21:
				row, w = email+",boss,,,,,", bulkWant{invite.BulkError, 422, `role "boss" is not one of`}
			case i%100 == 22:
				row, w = email+",,,,soon,,", bulkWant{invite.BulkError, 422, `expires_in "soon" is not a whole number`}
			case i%100 == 23:
				row, w = email+",,,,,[1],", bulkWant{invite.BulkError, 422, "metadata must be a JSON object"}
			case i%100 == 31:
				// repeats the row before it
				row, w = fmt.Sprintf("bulk%d-%d@example.com,,,,,,", e.seq.Load(), i-1), bulkWant{invite.BulkSkipped, 409, fmt.Sprintf("repeats row %d", i-1)}
			case i == 41:
				row, w = member+",,,,,,", bulkWant{invite.BulkError, 409, "already a member"}
			case i == 42:
				row, w = pending+",,,,,,", bulkWant{invite.BulkError, 409, "a pending invitation for " + pending + " already exists"}
			case i%100 == 41:
				row, w = member+",,,,,,", bulkWant{invite.BulkSkipped, 409, "repeats row 41"}
			case i%100 == 51:
				row, w = fmt.Sprintf("x%d@blocked.example,,,,,,", i), bulkWant{invite.BulkError, 422, "blocked_email_domains"}
			case i%100 == 61:
				row, w = email+",,,,,,https://nowhere.example/", bulkWant{invite.BulkError, 422, "allows no redirect origins"}
			}
			if w.status == invite.BulkCreated {
				good = append(good, i)
			}
			csv.WriteString(row + "\n")
			wants = append(wants, w)
		}
		check := func(t *testing.T, b *invite.Bulk, dry bool) {
			t.Helper()
			v := b.View
			if len(v.Results) != 1000 || v.DryRun != dry {
				t.Fatalf("%d results, dry_run %v", len(v.Results), v.DryRun)
			}
			errs, skipped := 0, 0
			for i, r := range v.Results {
				w := wants[i]
				if r.Index != i || r.Status != w.status {
					t.Fatalf("row %d: index %d, status %s (%+v), want %s", i, r.Index, r.Status, r.Error, w.status)
				}
				switch w.status {
				case invite.BulkCreated:
					if r.Invitation == nil || r.Error != nil || r.Invitation.Email != r.Email {
						t.Fatalf("row %d created: %+v", i, r)
					}
				default:
					if r.Invitation != nil || r.Error == nil || r.Error.Status != w.code || !strings.Contains(r.Error.Detail, w.detail) {
						t.Fatalf("row %d: %+v (error %+v), want %d %q", i, r, r.Error, w.code, w.detail)
					}
					if w.status == invite.BulkSkipped {
						skipped++
					} else {
						errs++
					}
				}
			}
			if v.Created != len(good) || v.Errors != errs || v.Skipped != skipped {
				t.Fatalf("counts %d/%d/%d, want %d/%d/%d", v.Created, v.Skipped, v.Errors, len(good), skipped, errs)
			}
			if r := v.Results[13].Invitation; r.Role != "owner" || strings.Join(r.Permissions, ",") != "billing,admin" ||
				r.Locale != "ja" || string(r.Metadata) != `{"plan":"pro"}` {
				t.Fatalf("row 13 read as %+v", r)
			}
		}
		rows, err := invite.ParseCSV(strings.NewReader(csv.String()))
		if err != nil {
			t.Fatal(err)
		}
		before := e.count(t, invite.InvitationFilter{Org: o.ID})
		events, mails := len(e.events(t, o.ID)), e.depth(t)
		dry, err := e.svc.BulkCreate(sys(t), o.ID, rows, invite.BulkOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		check(t, dry, true)
		if n := e.count(t, invite.InvitationFilter{Org: o.ID}); n != before {
			t.Fatalf("a dry run left %d invitations, want %d", n, before)
		}
		if n, m := len(e.events(t, o.ID)), e.depth(t); n != events || m != mails {
			t.Fatalf("a dry run left %d events and %d mails, want %d and %d", n, m, events, mails)
		}

		rows, _ = invite.ParseCSV(strings.NewReader(csv.String()))
		res, err := e.svc.BulkCreate(sys(t), o.ID, rows, invite.BulkOptions{})
		if err != nil {
			t.Fatal(err)
		}
		check(t, res, false)
		if n := e.count(t, invite.InvitationFilter{Org: o.ID}); n != before+len(good) {
			t.Fatalf("%d invitations after the bulk, want %d", n, before+len(good))
		}
		if n := e.depth(t) - mails; n != len(good) {
			t.Fatalf("%d mails queued, want %d", n, len(good))
		}
		created := e.events(t, o.ID, invite.EventInvitationCreated)
		bySubject := map[string]int{}
		for _, ev := range created {
			bySubject[ev.Subject]++
		}
		for _, i := range good {
			id := res.View.Results[i].Invitation.ID
			if bySubject[id] != 1 {
				t.Fatalf("row %d's invitation %s has %d invitation.created events", i, id, bySubject[id])
			}
			if got := e.get(t, o.ID, mustUUID(t, id)); got.State != invite.StatePending || got.Email != res.View.Results[i].Email {
				t.Fatalf("row %d stored as %+v", i, got)
			}
		}
	})

	t.Run("seats, the hourly limit and force hold row by row", func(t *testing.T) {
		o := e.org(t, &invite.SettingsPatch{MaxMembers: ptr(4), MaxInvitationsPerHour: ptr(6)})
		old, _ := e.quiet(t, o.ID) // 1 pending: 3 seats left
		var rows []invite.BulkRow
		for range 4 {
			rows = append(rows, invite.BulkRow{Create: invite.CreateInvitation{Email: e.email(), NoEmail: true}})
		}
		// Replacing a pending invitation takes no new seat.
		rows = append(rows, invite.BulkRow{Create: invite.CreateInvitation{Email: old.Email, NoEmail: true, Force: true}})
		res, err := e.svc.BulkCreate(sys(t), o.ID, rows, invite.BulkOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := []string{}
		for _, r := range res.View.Results {
			got = append(got, r.Status)
		}
		if strings.Join(got, ",") != "created,created,created,error,created" {
			t.Fatalf("statuses %v", got)
		}
		if d := res.View.Results[3].Error.Detail; d != "seat limit reached: 4 of 4 seats used (0 members, 4 pending invitations)" {
			t.Fatalf("seat error %q", d)
		}
		if e.get(t, o.ID, old.ID).State != invite.StateCancelled {
			t.Fatal("the forced row did not cancel the pending invitation it replaced")
		}
		// 5 made this hour of 6: one more row passes, the next is 429.
		if _, err := e.svc.UpdateOrg(sys(t), o.ID, nil, &invite.SettingsPatch{MaxMembers: ptr(0)}); err != nil {
			t.Fatal(err)
		}
		res, err = e.svc.BulkCreate(sys(t), o.ID, []invite.BulkRow{
			{Create: invite.CreateInvitation{Email: e.email(), NoEmail: true}},
			{Create: invite.CreateInvitation{Email: e.email(), NoEmail: true}},
		}, invite.BulkOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r := res.View.Results; r[0].Status != invite.BulkCreated || r[1].Error == nil || r[1].Error.Status != 429 {
			t.Fatalf("hourly limit in a bulk: %+v %+v", r[0], r[1].Error)
		}
	})

	t.Run("the per-recipient mail limit holds row by row", func(t *testing.T) {
		o := e.org(t, &invite.SettingsPatch{MaxMailsPerRecipientPerDay: ptr(1)})
		x, z := e.email(), e.email()
		for _, email := range []string{x, z} {
			inv := e.invite(t, o.ID, invite.CreateInvitation{Email: email}).Invitation
			if _, err := e.svc.CancelInvitation(sys(t), o.ID, ref(inv.ID)); err != nil {
				t.Fatal(err)
			}
		}
		res, err := e.svc.BulkCreate(sys(t), o.ID, []invite.BulkRow{
			{Create: invite.CreateInvitation{Email: x}},
			{Create: invite.CreateInvitation{Email: e.email()}},
			{Create: invite.CreateInvitation{Email: z}},
			{Create: invite.CreateInvitation{Email: z + ".uk"}},
		}, invite.BulkOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range res.View.Results {
			got = append(got, r.Status)
		}
		if strings.Join(got, ",") != "error,created,error,created" || res.View.Results[0].Error.Status != 429 ||
			!strings.Contains(res.View.Results[2].Error.Detail, "has had 1 invitation mails") {
			t.Fatalf("statuses %v, errors %+v %+v", got, res.View.Results[0].Error, res.View.Results[2].Error)
		}
	})

	t.Run("Idempotency-Key gives the first answer", func(t *testing.T) {
		o := e.org(t, nil)
		rows := []invite.BulkRow{{Create: invite.CreateInvitation{Email: e.email()}}, {Create: invite.CreateInvitation{Email: "bad"}}}
		opts := invite.BulkOptions{IdempotencyKey: "k1", IdempotencyScope: "test"}
		first, err := e.svc.BulkCreate(sys(t), o.ID, rows, opts)
		if err != nil || first.Replayed {
			t.Fatal(err)
		}
		rows2 := []invite.BulkRow{{Create: invite.CreateInvitation{Email: rows[0].Create.Email}}, {Create: invite.CreateInvitation{Email: "bad"}}}
		again, err := e.svc.BulkCreate(sys(t), o.ID, rows2, opts)
		if err != nil || !again.Replayed || again.View.Results[0].Invitation.ID != first.View.Results[0].Invitation.ID {
			t.Fatalf("replay: %+v, %v", again, err)
		}
		if n := e.count(t, invite.InvitationFilter{Org: o.ID}); n != 1 {
			t.Fatalf("%d invitations after a replay, want 1", n)
		}
		_, err = e.svc.BulkCreate(sys(t), o.ID, rows2[:1], opts)
		wantKind(t, err, invite.KindInvalid, "already used with a different request")

		// Racing requests with one key: one makes the rows, every one gets its answer.
		race := []invite.BulkRow{{Create: invite.CreateInvitation{Email: e.email()}}, {Create: invite.CreateInvitation{Email: e.email()}}}
		opts.IdempotencyKey = "k2"
		answers := make([]*invite.Bulk, 6)
		errs := make([]error, len(answers))
		var wg sync.WaitGroup
		for i := range answers {
			wg.Go(func() { answers[i], errs[i] = e.svc.BulkCreate(sys(t), o.ID, race, opts) })
		}
		wg.Wait()
		for i, a := range answers {
			if errs[i] != nil || a.View.Created != 2 || a.View.Results[1].Invitation.ID != answers[0].View.Results[1].Invitation.ID {
				t.Fatalf("racing request %d: %+v, %v", i, a, errs[i])
			}
		}
		if n := e.count(t, invite.InvitationFilter{Org: o.ID}); n != 3 {
			t.Fatalf("%d invitations after racing requests with one key, want 3", n)
		}
	})

	t.Run("bounds", func(t *testing.T) {
		o := e.org(t, nil)
		_, err := e.svc.BulkCreate(sys(t), o.ID, make([]invite.BulkRow, invite.MaxBulkRows+1), invite.BulkOptions{})
		wantKind(t, err, invite.KindInvalid, "at most 1000 rows")
		_, err = e.svc.BulkCreate(sys(t), o.ID, nil, invite.BulkOptions{})
		wantKind(t, err, invite.KindInvalid, "at least one row")
		for csv, words := range map[string]string{
			"":                     "empty",
			"email,colour\na@b.co": `unknown column "colour"`,
			"role\nowner":          "no email column",
			"email\n":              "no rows",
			"email\n\"a@b.co":      "cannot be read",
		} {
			_, err := invite.ParseCSV(strings.NewReader(csv))
			if err == nil || !strings.Contains(err.Error(), words) {
				t.Errorf("ParseCSV(%q) = %v, want %q", csv, err, words)
			}
		}
		_, err = invite.ParseCSV(strings.NewReader("email\n" + strings.Repeat("a@b.co\n", invite.MaxBulkRows+1)))
		wantKind(t, err, invite.KindInvalid, "at most 1000 rows")
	})
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
