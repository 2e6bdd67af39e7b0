package upsun_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/invitd/invitd/api/compat/internal/compattest"
	"github.com/invitd/invitd/api/compat/upsun"
	"github.com/invitd/invitd/invite"
)

// filterFixture makes one invitation in each Upsun state invitd shows, a
// declined one among the cancelled, and returns their ids by name.
func filterFixture(t *testing.T, env *compattest.Env) map[string]string {
	t.Helper()
	ctx := compattest.System
	org := env.Org.ID
	ids := map[string]string{}
	for _, name := range []string{"pending", "accepted", "cancelled", "declined", "pending2"} {
		inv := env.Invite(t, org, invite.CreateInvitation{Email: name + "@example.com"})
		ref := invite.InvitationRef{ID: inv.ID}
		var err error
		switch name {
		case "accepted":
			_, _, err = env.Svc.AcceptInvitation(ctx, org, ref, invite.Accept{Email: name + "@example.com"})
		case "cancelled":
			_, err = env.Svc.CancelInvitation(ctx, org, ref)
		case "declined":
			_, err = env.Svc.DeclineInvitation(ctx, org, ref)
		}
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = inv.ID.String()
	}
	return ids
}

// Each client's encoding of filter[state], sent literally: the PHP SDK's
// plain form, the Node SDK's StringFilter deepObject, and the StringFilter
// operators that fit a state.
func TestStateFilterEncodings(t *testing.T) {
	env, c := setup(t, nil)
	id := filterFixture(t, env)
	cancelled := []string{id["cancelled"], id["declined"]}
	for _, tt := range []struct {
		name, raw string
		want      []string // ids in creation order
		states    []string // the states the answer may show
	}{
		{"none: pending", "", []string{id["pending"], id["pending2"]}, []string{"pending"}},
		{"php plain", "filter%5Bstate%5D=cancelled", cancelled, []string{"cancelled"}},
		{"plain, unencoded brackets", "filter[state]=accepted", []string{id["accepted"]}, []string{"accepted"}},
		{"plain list", "filter%5Bstate%5D=accepted%2Ccancelled", []string{id["accepted"], id["cancelled"], id["declined"]}, []string{"accepted", "cancelled"}},
		{"plain repeated", "filter%5Bstate%5D=accepted&filter%5Bstate%5D=cancelled", []string{id["accepted"], id["cancelled"], id["declined"]}, []string{"accepted", "cancelled"}},
		{"plain empty is absent", "filter%5Bstate%5D=", []string{id["pending"], id["pending2"]}, []string{"pending"}},
		{"node eq", "filter%5Bstate%5D%5Beq%5D=cancelled", cancelled, []string{"cancelled"}},
		{"node in", "filter%5Bstate%5D%5Bin%5D=pending%2Ccancelled", []string{id["pending"], id["cancelled"], id["declined"], id["pending2"]}, []string{"pending", "cancelled"}},
		{"in, spaces", "filter%5Bstate%5D%5Bin%5D=pending%2C%20accepted", []string{id["pending"], id["accepted"], id["pending2"]}, []string{"pending", "accepted"}},
		{"nin", "filter%5Bstate%5D%5Bnin%5D=pending", []string{id["accepted"], id["cancelled"], id["declined"]}, []string{"accepted", "cancelled"}},
		{"nin several", "filter%5Bstate%5D%5Bnin%5D=pending%2Ccancelled", []string{id["accepted"]}, []string{"accepted"}},
		{"ne", "filter%5Bstate%5D%5Bne%5D=cancelled", []string{id["pending"], id["accepted"], id["pending2"]}, []string{"pending", "accepted"}},
		{"ne processing is all", "filter%5Bstate%5D%5Bne%5D=processing", []string{id["pending"], id["accepted"], id["cancelled"], id["declined"], id["pending2"]}, upsun.States},
		{"eq processing is none", "filter%5Bstate%5D%5Beq%5D=processing", nil, nil},
		{"operators narrow each other", "filter%5Bstate%5D%5Bin%5D=pending%2Ccancelled&filter%5Bstate%5D%5Bne%5D=pending", cancelled, []string{"cancelled"}},
		{"plain and operator narrow each other", "filter%5Bstate%5D=accepted%2Cpending&filter%5Bstate%5D%5Bnin%5D=accepted", []string{id["pending"], id["pending2"]}, []string{"pending"}},
		{"disjoint is none", "filter%5Bstate%5D%5Beq%5D=accepted&filter%5Bstate%5D%5Bne%5D=accepted", nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := invPath(env.Org.ID)
			if tt.raw != "" {
				p += "?" + tt.raw
			}
			got := items(t, c.do(http.MethodGet, p, nil))
			if !slices.Equal(ids(got), tt.want) {
				t.Fatalf("got %v, want %v", ids(got), tt.want)
			}
			for _, it := range got {
				if !slices.Contains(tt.states, it["state"].(string)) {
					t.Errorf("%s listed in state %s", it["id"], it["state"])
				}
			}
		})
	}
}

// The Node SDK's encodings are those of Upsun's document: the document
// itself accepts them as requests. The plain form is not a deepObject; it
// is taken because the PHP SDK sends it.
func TestNodeEncodingsAreTheDocuments(t *testing.T) {
	spec := loadSpec(t)
	for _, raw := range []string{
		"filter%5Bstate%5D%5Beq%5D=cancelled",
		"filter%5Bstate%5D%5Bin%5D=pending%2Ccancelled",
		"filter%5Bstate%5D%5Bnin%5D=pending",
		"filter%5Bstate%5D%5Bne%5D=cancelled",
		"page%5Bsize%5D=10&sort=-updated_at",
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://h"+prefix+invPath(invite.NewOrgID())+"?"+raw, nil)
		if err := spec.CheckRequest(req, nil); err != nil {
			t.Errorf("%s: the document refuses it: %v", raw, err)
		}
	}
}

// An operator of StringFilter that does not fit a state, an operator that
// is none of StringFilter's, a filter or paging parameter the list does not
// have, and repeats of single-valued parameters are 400s that name them;
// none is ignored.
func TestListRefusesWhatItWouldIgnore(t *testing.T) {
	env, c := setup(t, nil)
	filterFixture(t, env)
	for _, tt := range []struct{ raw, names string }{
		{"filter%5Bstate%5D%5Blike%5D=pend", `"like"`},
		{"filter%5Bstate%5D%5Bcontains%5D=pend", "contains"},
		{"filter%5Bstate%5D%5Bstarts%5D=p", "starts"},
		{"filter%5Bstate%5D%5Bends%5D=d", "ends"},
		{"filter%5Bstate%5D%5Bbetween%5D=a%2Cz", "between"},
		{"filter%5Bstate%5D%5BEQ%5D=pending", `"EQ"`},
		{"filter%5Bstate%5D%5Bvalue%5D=pending&filter%5Bstate%5D%5Boperator%5D=IN", "operator"},
		{"filter%5Bstate%5D%5Beq%5D%5Bx%5D=pending", `"eq][x"`},
		{"filter%5Bstate%5D%5B%5D=pending", `""`},
		{"filter%5Bstate%5D%5Beq%5D=declined", `"declined"`},
		{"filter%5Bstate%5D%5Beq%5D=PENDING", `"PENDING"`},
		{"filter%5Bstate%5D%5Beq%5D=pending%2Ccancelled", "filter[state][in]"},
		{"filter%5Bstate%5D%5Bne%5D=pending%2Ccancelled", "one state"},
		{"filter%5Bstate%5D%5Beq%5D=", "filter[state][eq] is empty"},
		{"filter%5Bstate%5D%5Bin%5D=%2C", "filter[state][in] is empty"},
		{"filter%5Bstate%5D%5Bnin%5D=pending%2Cbogus", `"bogus"`},
		{"filter%5Bstate%5D%5Beq%5D=pending&filter%5Bstate%5D%5Beq%5D=accepted", "more than once"},
		{"filter%5Bstate%5D=expired", `"expired"`},
		{"filter%5Bemail%5D=a%40example.com", "filter[email]"},
		{"filter%5Bemail%5D%5Beq%5D=a%40example.com", "filter[email][eq]"},
		{"filter%5Bupdated_at%5D%5Bgt%5D=2020", "filter[updated_at][gt]"},
		{"page%5Bnumber%5D=2", "page[number]"},
		{"page%5Bsize%5D=5&page%5Bsize%5D=6", "more than once"},
		{"sort=updated_at&sort=-updated_at", "more than once"},
		{"sort%5Bupdated_at%5D=asc", "sort[updated_at]"},
	} {
		t.Run(tt.raw, func(t *testing.T) {
			msg := wantError(t, c.do(http.MethodGet, invPath(env.Org.ID, "?"+tt.raw), nil), http.StatusBadRequest)
			if !strings.Contains(msg, tt.names) {
				t.Errorf("message %q does not name %s", msg, tt.names)
			}
		})
	}
	// Parameters that are none of the list's brackets are ignored, as a
	// cache buster would be.
	if got := items(t, c.do(http.MethodGet, invPath(env.Org.ID, "?_=123"), nil)); len(got) != 2 {
		t.Errorf("with an unrelated parameter: %d items", len(got))
	}
}
