package upsun

import (
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/invitd/invitd/api/compat/internal/wire"
	"github.com/invitd/invitd/invite"
)

// The list's query parameters, as Upsun's document names them. filter[state]
// is a StringFilter in the deepObject style (filter[state][eq]=…), and also
// taken plain (filter[state]=…), as Upsun's PHP SDK sends it.
const (
	paramState  = "filter[state]"
	paramSize   = "page[size]"
	paramBefore = "page[before]"
	paramAfter  = "page[after]"
	paramSort   = "sort"
)

// StateOperators are the StringFilter operators filter[state] takes; the
// others of StringFilter (between, contains, starts, ends) compare text,
// which an enum has no use for.
var StateOperators = []string{"eq", "ne", "in", "nin"}

// stringFilterOperators are all of StringFilter's operators.
var stringFilterOperators = []string{"eq", "ne", "in", "nin", "between", "contains", "starts", "ends"}

// listQuery is a parsed list request.
type listQuery struct {
	filter   invite.InvitationFilter
	none     bool // the states asked for have no native counterpart
	size     int
	sortName string
	after    *invite.Position
	before   *invite.Position
}

// checkParams refuses the bracketed parameters the list does not know, and
// repeats of the single-valued ones, so that a filter or page setting is
// never silently ignored. Other parameters are ignored.
func checkParams(q url.Values) *wire.Problem {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch {
		case k == paramState:
			continue // may be repeated: the states add up
		case k == paramSize || k == paramBefore || k == paramAfter || k == paramSort:
		case strings.HasPrefix(k, paramState+"["):
			op := strings.TrimSuffix(strings.TrimPrefix(k, paramState+"["), "]")
			switch {
			case slices.Contains(StateOperators, op):
			case slices.Contains(stringFilterOperators, op):
				return wire.BadRequest("%s: the operator %s is not supported for a state; use %s", k, op, strings.Join(StateOperators, ", "))
			default:
				return wire.BadRequest("%s: %q is not an operator of filter[state]; use %s", k, op, strings.Join(StateOperators, ", "))
			}
		case strings.HasPrefix(k, "filter["):
			return wire.BadRequest("%s is not a filter of this list; the only filter is filter[state]", k)
		case strings.HasPrefix(k, "page["):
			return wire.BadRequest("%s is not a parameter of this list; paging takes page[size], page[before] and page[after]", k)
		case strings.HasPrefix(k, "sort["):
			return wire.BadRequest("%s is not a parameter of this list; sort takes updated_at or -updated_at", k)
		default:
			continue
		}
		if len(q[k]) > 1 {
			return wire.BadRequest("%s is given more than once", k)
		}
	}
	return nil
}

// stateList splits a comma-separated list of Upsun states.
func stateList(param, v string) ([]string, *wire.Problem) {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(States, s) {
			return nil, wire.BadRequest("%s: %q is not a state; the states are %s", param, s, strings.Join(States, ", "))
		}
		out = append(out, s)
	}
	return out, nil
}

// parseStates reads filter[state] in both forms into the native states
// asked for. Every form given must hold: each narrows the states listed.
// none reports states asked for that have no native counterpart.
func parseStates(q url.Values) (states []invite.State, none bool, _ *wire.Problem) {
	want := slices.Clone(States)
	keep := func(names []string, in bool) {
		want = slices.DeleteFunc(want, func(s string) bool { return slices.Contains(names, s) != in })
	}
	given := false
	// Plain: one state or several, comma-separated or repeated. Empty is
	// as if absent.
	var plain []string
	for _, v := range q[paramState] {
		names, p := stateList(paramState, v)
		if p != nil {
			return nil, false, p
		}
		plain = append(plain, names...)
	}
	if len(plain) > 0 {
		given = true
		keep(plain, true)
	}
	for _, op := range StateOperators {
		param := paramState + "[" + op + "]"
		if _, ok := q[param]; !ok {
			continue
		}
		given = true
		single := op == "eq" || op == "ne"
		names, p := stateList(param, q.Get(param))
		switch {
		case p != nil:
			return nil, false, p
		case len(names) == 0 && single:
			return nil, false, wire.BadRequest("%s is empty; it takes a state", param)
		case len(names) == 0:
			return nil, false, wire.BadRequest("%s is empty; it takes a comma-separated list of states", param)
		case len(names) > 1 && single:
			return nil, false, wire.BadRequest("%s takes one state; use filter[state][in] for several", param)
		}
		keep(names, op == "eq" || op == "in")
	}
	if !given {
		want = []string{StatePending}
	}
	for _, n := range want {
		for _, s := range nativeStates[n] {
			if !slices.Contains(states, s) {
				states = append(states, s)
			}
		}
	}
	return states, len(states) == 0, nil
}

func parseList(q url.Values, org invite.OrgID) (*listQuery, *wire.Problem) {
	if p := checkParams(q); p != nil {
		return nil, p
	}
	lq := &listQuery{filter: invite.InvitationFilter{Org: org}}
	var p *wire.Problem
	if lq.filter.States, lq.none, p = parseStates(q); p != nil {
		return nil, p
	}
	if lq.size, p = wire.Int(q.Get(paramSize), paramSize, DefaultPageSize, 1, MaxPageSize); p != nil {
		return nil, p
	}
	switch s := q.Get(paramSort); s {
	case "":
		lq.sortName, lq.filter.Sort = "created_at", invite.SortCreatedAt
	case "updated_at":
		lq.sortName, lq.filter.Sort = s, invite.SortUpdatedAt
	case "-updated_at":
		lq.sortName, lq.filter.Sort, lq.filter.Desc = s, invite.SortUpdatedAt, true
	default:
		return nil, wire.BadRequest("sort must be updated_at or -updated_at")
	}
	after, before := q.Get(paramAfter), q.Get(paramBefore)
	if after != "" && before != "" {
		return nil, wire.BadRequest("page[after] and page[before] cannot be used together")
	}
	var err error
	if after != "" {
		if lq.after, err = invite.DecodeCursor(lq.sortName, after); err != nil {
			return nil, wire.BadRequest("page[after] is not a cursor of this list and sort")
		}
	}
	if before != "" {
		if lq.before, err = invite.DecodeCursor(lq.sortName, before); err != nil {
			return nil, wire.BadRequest("page[before] is not a cursor of this list and sort")
		}
	}
	return lq, nil
}
