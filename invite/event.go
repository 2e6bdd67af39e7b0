package invite

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// The event types.
const (
	EventInvitationCreated   = "invitation.created"
	EventInvitationSent      = "invitation.sent"
	EventInvitationResent    = "invitation.resent"
	EventInvitationAccepted  = "invitation.accepted"
	EventInvitationDeclined  = "invitation.declined"
	EventInvitationCancelled = "invitation.cancelled"
	EventInvitationExpired   = "invitation.expired"
	EventInvitationFailed    = "invitation.failed"
	EventInvitationReminded  = "invitation.reminded"
	EventMemberCreated       = "member.created"
	EventMemberUpdated       = "member.updated"
	EventMemberDeleted       = "member.deleted"
	EventAPIKeyCreated       = "api_key.created"
	EventAPIKeyDeleted       = "api_key.deleted"
	EventOrganizationUpdated = "organization.updated"
	EventWebhookTest         = "webhook.test"
)

// EventTypes lists every event type, in the order documentation shows them.
var EventTypes = []string{
	EventInvitationCreated, EventInvitationSent, EventInvitationResent, EventInvitationAccepted,
	EventInvitationDeclined, EventInvitationCancelled, EventInvitationExpired, EventInvitationFailed,
	EventInvitationReminded, EventMemberCreated, EventMemberUpdated, EventMemberDeleted,
	EventAPIKeyCreated, EventAPIKeyDeleted, EventOrganizationUpdated, EventWebhookTest,
}

// Event is one entry of the append-only log of changes.
type Event struct {
	ID        string // evt_<ULID>
	Type      string
	OrgID     OrgID
	Subject   string // the id of the object the event is about
	CreatedAt time.Time
	Actor     Actor
	RequestID string
	Data      json.RawMessage // the object as the native API shows it after the change
	// Position is where the event stands in the log; the store sets it on read.
	Position EventPosition

	// only, when set, is the one webhook endpoint the event goes to (a test).
	only string
}

// EventPosition orders the log. Tx is the writing transaction's id on
// stores whose transactions commit concurrently (0 elsewhere); Seq orders
// events within it and across the log.
type EventPosition struct {
	Tx  int64
	Seq int64
}

// Less tells whether p comes before q in the log.
func (p EventPosition) Less(q EventPosition) bool {
	return p.Tx < q.Tx || (p.Tx == q.Tx && p.Seq < q.Seq)
}

// EventFilter selects events of one organization, in log order.
type EventFilter struct {
	Org OrgID
	// Types and Prefixes: an event matches when its type is one of Types or
	// starts with one of Prefixes (e.g. "invitation."); both empty match all.
	Types    []string
	Prefixes []string
	Subject  string // only events about this object, when set
	After    EventPosition
	Limit    int
}

func newEventID() string { return "evt_" + ulid.Make().String() }

// EventSelector is a parsed list of event types, "prefix.*" patterns and "*".
type EventSelector struct {
	Types    []string
	Prefixes []string
	All      bool
}

// ParseEventSelector reads types, "invitation.*" style prefixes and "*";
// an unknown type or a prefix that matches none is refused.
func ParseEventSelector(items []string) (EventSelector, error) {
	var s EventSelector
	for _, it := range items {
		it = strings.TrimSpace(it)
		switch {
		case it == "":
			continue
		case it == "*":
			s.All = true
		case strings.HasSuffix(it, ".*"):
			p := strings.TrimSuffix(it, "*")
			if !anyType(func(t string) bool { return strings.HasPrefix(t, p) }) {
				return s, Invalid("event pattern %q matches no event type", it)
			}
			s.Prefixes = append(s.Prefixes, p)
		default:
			if !anyType(func(t string) bool { return t == it }) {
				return s, Invalid("unknown event type %q", it)
			}
			s.Types = append(s.Types, it)
		}
	}
	if s.All {
		s.Types, s.Prefixes = nil, nil
	}
	return s, nil
}

func anyType(match func(string) bool) bool {
	for _, t := range EventTypes {
		if match(t) {
			return true
		}
	}
	return false
}

// Matches tells whether an event of type typ is selected; an empty selector matches all.
func (s EventSelector) Matches(typ string) bool {
	if s.All || (len(s.Types) == 0 && len(s.Prefixes) == 0) {
		return true
	}
	for _, t := range s.Types {
		if t == typ {
			return true
		}
	}
	for _, p := range s.Prefixes {
		if strings.HasPrefix(typ, p) {
			return true
		}
	}
	return false
}
