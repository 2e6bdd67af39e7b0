package api

import (
	"context"

	"github.com/danielgtaylor/huma/v2"

	"github.com/invitd/invitd/invite"
)

// EventList is one page of the event log. Unlike List, its cursor is never
// null: the log has no last page, and a consumer polls with the last
// cursor it got to see what happened since.
type EventList struct {
	Data       []*Event `json:"data"`
	NextCursor string   `json:"next_cursor" doc:"Pass as after for the events that follow; the same cursor again when nothing new has happened"`
}

// EventQuery is the query of every event list.
type EventQuery struct {
	Type  string `query:"type" maxLength:"2000" doc:"Comma-separated event types or prefix patterns such as invitation.*; all types when empty"`
	After string `query:"after" doc:"next_cursor of an earlier page; the start of the log when empty"`
	Limit int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
}

func (p EventQuery) core() invite.EventParams {
	ep := invite.EventParams{After: p.After, Limit: p.Limit}
	if p.Type != "" {
		ep.Types = []string{p.Type} // the core splits the comma list
	}
	return ep
}

type listEventsInput struct {
	OrgPath
	EventQuery
}

type EventPath struct {
	OrgPath
	EventID string `path:"event_id" doc:"evt_..."`
}

type invitationEventsInput struct {
	InvitationPath
	EventQuery
}

func eventList(page *invite.EventPage) *body[*EventList] {
	l := &EventList{Data: make([]*Event, 0, len(page.Items)), NextCursor: page.NextCursor}
	for _, e := range page.Items {
		l.Data = append(l.Data, invite.ViewEvent(e))
	}
	return &body[*EventList]{l}
}

func (h *handlers) registerEvents(api huma.API) {
	const tag = "Events"
	huma.Register(api, op("GET", "/v1/organizations/{org_id}/events", "list-events", "List an organization's events, oldest first", tag, 0, true),
		func(ctx context.Context, in *listEventsInput) (*body[*EventList], error) {
			org, err := orgFor(in.OrgID)
			if err != nil {
				return nil, err
			}
			page, err := h.svc.ListEvents(ctx, org, in.core())
			if err != nil {
				return nil, problem(err)
			}
			return eventList(page), nil
		})

	huma.Register(api, op("GET", "/v1/organizations/{org_id}/events/{event_id}", "get-event", "Get an event", tag, 0, true),
		func(ctx context.Context, in *EventPath) (*body[*Event], error) {
			org, err := orgFor(in.OrgID)
			if err != nil {
				return nil, err
			}
			e, err := h.svc.GetEvent(ctx, org, in.EventID)
			if err != nil {
				return nil, problem(err)
			}
			return &body[*Event]{invite.ViewEvent(e)}, nil
		})

	huma.Register(api, op("GET", "/v1/organizations/{org_id}/invitations/{invitation_id}/events", "list-invitation-events", "List one invitation's events, oldest first", tag, 0, true),
		func(ctx context.Context, in *invitationEventsInput) (*body[*EventList], error) {
			org, err := orgFor(in.OrgID)
			if err != nil {
				return nil, err
			}
			ref, err := invite.ParseInvitationRef(in.ID)
			if err != nil {
				return nil, problem(err)
			}
			page, err := h.svc.InvitationEvents(ctx, org, ref, in.core())
			if err != nil {
				return nil, problem(err)
			}
			return eventList(page), nil
		})
}
