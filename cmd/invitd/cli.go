package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/invitd/invitd/api"
	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/store"
	"github.com/invitd/invitd/webhook"
)

// cliFlags are the flags of each shell command, besides --db.
var cliFlags = map[string][]string{
	"org create":         {"name"},
	"key create":         {"org", "admin", "name", "scopes", "expires-in"},
	"invite create":      {"org", "email", "role", "permissions", "expires-in", "locale", "no-email"},
	"invite list":        {"org", "state", "email", "role", "sort", "limit", "cursor"},
	"invite get":         {"org", "id"},
	"invite cancel":      {"org", "id"},
	"invite resend":      {"org", "id"},
	"invite import":      {"org", "csv", "dry-run"},
	"events list":        {"org", "type", "after", "limit"},
	"webhook create":     {"org", "url", "events", "description"},
	"webhook list":       {"org"},
	"webhook get":        {"org", "id"},
	"webhook delete":     {"org", "id"},
	"webhook test":       {"org", "id"},
	"webhook deliveries": {"org", "id", "limit", "cursor"},
	"webhook retry":      {"org", "id", "event"},
}

// cli runs one of the shell commands directly on the database.
func cli(ctx context.Context, cmd string, args []string, stdout io.Writer) error {
	ctx = invite.WithPrincipal(ctx, invite.System) // the shell has the database itself
	all, db := newFlags(cmd)
	name := all.String("name", "", "name")
	org := all.String("org", "", "organization id")
	admin := all.Bool("admin", false, "key create: an admin key instead of an organization's")
	email := all.String("email", "", "invitee's email / list filter")
	role := all.String("role", "", "role / list filter")
	perms := all.String("permissions", "", "comma-separated permissions")
	expiresIn := all.Int64("expires-in", 0, "seconds until the invitation expires (default: the organization's TTL); key create: until the key expires (default: never)")
	scopes := all.String("scopes", "", "key create: comma-separated scopes (default: all but keys:read and keys:write)")
	locale := all.String("locale", "", "language of the mail, e.g. en or ja")
	noEmail := all.Bool("no-email", false, "send no mail; print the token to deliver the link yourself")
	id := all.String("id", "", "invitation id (UUID or number); webhook id for webhook commands")
	state := all.String("state", "", "list: only invitations in this state")
	sort := all.String("sort", "", "list: created_at, -created_at, updated_at or -updated_at")
	limit := all.Int("limit", 0, "list: page size, 1..100")
	cursor := all.String("cursor", "", "list: next_cursor of the previous page")
	types := all.String("type", "", "events list: comma-separated event types or prefix patterns such as invitation.*")
	after := all.String("after", "", "events list: next_cursor of an earlier page")
	hookURL := all.String("url", "", "webhook create: the endpoint's URL")
	events := all.String("events", "", "webhook create: comma-separated event types, prefix patterns or * (default: all)")
	description := all.String("description", "", "webhook create: what the endpoint is for")
	event := all.String("event", "", "webhook retry: the event id to send again")
	csvFile := all.String("csv", "", "invite import: the CSV file to invite (- for standard input)")
	dryRun := all.Bool("dry-run", false, "invite import: check every row and write nothing")
	// Each command shows and takes only its own flags.
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	for _, n := range append([]string{"db"}, cliFlags[cmd]...) {
		f := all.Lookup(n)
		fs.Var(f.Value, f.Name, f.Usage)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	// The shell may not register an endpoint that the API would refuse.
	allow, err := webhook.ParseAllow(env("INVITD_WEBHOOK_ALLOW_NETWORKS", ""))
	if err != nil {
		return fmt.Errorf("INVITD_WEBHOOK_ALLOW_NETWORKS: %w", err)
	}
	// The shell derives the links and seals webhook secrets as the server does.
	secret, err := store.Secret(*db, env("INVITD_SECRET", ""), env("INVITD_SECRET_PREVIOUS", ""))
	if err != nil {
		return err
	}
	svc, err := invite.NewService(st, invite.Config{CheckWebhookURL: (&webhook.Guard{Allow: allow}).Check, Secret: secret})
	if err != nil {
		return err
	}

	if cmd == "org create" {
		o, err := svc.CreateOrg(ctx, *name, nil)
		if err != nil {
			return err
		}
		return printJSON(stdout, invite.ViewOrganization(o))
	}
	var orgID *invite.OrgID
	if *org != "" {
		o, err := invite.ParseOrgID(*org)
		if err != nil {
			return err
		}
		orgID = &o
	}
	if orgID == nil && !(cmd == "key create" && *admin) {
		return errors.New("--org is required")
	}
	if cmd == "key create" {
		if *admin {
			orgID = nil
		}
		if *name == "" {
			*name = "cli"
		}
		in := invite.KeyInput{Name: *name}
		if *scopes != "" {
			in.Scopes = strings.Split(*scopes, ",")
		}
		if *expiresIn > 0 {
			t := time.Now().Add(time.Duration(*expiresIn) * time.Second)
			in.ExpiresAt = &t
		}
		k, err := svc.CreateKey(ctx, orgID, in)
		if err != nil {
			return err
		}
		return printJSON(stdout, api.ViewNewKey(k))
	}
	if cmd == "invite create" {
		c := invite.CreateInvitation{Email: *email, Role: *role, ExpiresIn: *expiresIn, Locale: *locale, NoEmail: *noEmail}
		if *perms != "" {
			c.Permissions = strings.Split(*perms, ",")
		}
		res, err := svc.CreateInvitation(ctx, *orgID, c)
		if err != nil {
			return err
		}
		v := invite.ViewInvitation(res.Invitation)
		if res.Token != "" {
			v.AcceptURL = acceptURL(res.Token)
		}
		return printJSON(stdout, v)
	}
	if cmd == "invite import" {
		return importCSV(ctx, svc, *orgID, *csvFile, *dryRun, stdout)
	}
	if cmd == "invite list" {
		page, err := svc.ListInvitations(ctx, *orgID, invite.ListParams{State: *state, Email: *email, Role: *role, Sort: *sort, Limit: *limit, Cursor: *cursor})
		if err != nil {
			return err
		}
		out := api.List[*api.Invitation]{Data: []*api.Invitation{}}
		for _, inv := range page.Items {
			out.Data = append(out.Data, invite.ViewInvitation(inv))
		}
		if page.NextCursor != "" {
			out.NextCursor = &page.NextCursor
		}
		return printJSON(stdout, out)
	}
	if cmd == "events list" {
		page, err := svc.ListEvents(ctx, *orgID, invite.EventParams{Types: []string{*types}, After: *after, Limit: *limit})
		if err != nil {
			return err
		}
		out := api.EventList{Data: []*api.Event{}, NextCursor: page.NextCursor}
		for _, e := range page.Items {
			out.Data = append(out.Data, invite.ViewEvent(e))
		}
		return printJSON(stdout, out)
	}
	if strings.HasPrefix(cmd, "webhook ") {
		h := hookFlags{url: *hookURL, events: *events, description: *description, id: *id, event: *event, limit: *limit, cursor: *cursor}
		return webhookCommand(ctx, svc, cmd, *orgID, h, stdout)
	}
	ref, err := invite.ParseInvitationRef(*id)
	if err != nil {
		return err
	}
	do := map[string]func(context.Context, invite.OrgID, invite.InvitationRef) (*invite.Invitation, error){
		"invite get": svc.GetInvitation, "invite cancel": svc.CancelInvitation, "invite resend": svc.ResendInvitation,
	}[cmd]
	inv, err := do(ctx, *orgID, ref)
	if err != nil {
		return err
	}
	return printJSON(stdout, invite.ViewInvitation(inv))
}

// importCSV invites the rows of a CSV file as one bulk create.
func importCSV(ctx context.Context, svc *invite.Service, org invite.OrgID, path string, dryRun bool, stdout io.Writer) error {
	if path == "" {
		return errors.New("--csv FILE is required")
	}
	in := io.Reader(os.Stdin)
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	rows, err := invite.ParseCSV(in)
	if err != nil {
		return err
	}
	res, err := svc.BulkCreate(ctx, org, rows, invite.BulkOptions{DryRun: dryRun})
	if err != nil {
		return err
	}
	for i, token := range res.Tokens {
		res.View.Results[i].Invitation.AcceptURL = acceptURL(token)
	}
	return printJSON(stdout, res.View)
}

// acceptURL is the link of token as serve, with the same environment, makes it.
func acceptURL(token string) string {
	base, _ := publicURL(env("INVITD_BASE_URL", ""), env("INVITD_ADDR", "127.0.0.1:8080"))
	return strings.TrimRight(base, "/") + "/i/" + token
}

// hookFlags are the flags of the webhook commands.
type hookFlags struct {
	url, events, description, id, event, cursor string
	limit                                       int
}

func webhookCommand(ctx context.Context, svc *invite.Service, cmd string, org invite.OrgID, f hookFlags, stdout io.Writer) error {
	switch cmd {
	case "webhook create":
		in := invite.WebhookInput{URL: &f.url, Description: &f.description}
		if f.events != "" {
			ev := strings.Split(f.events, ",")
			in.Events = &ev
		}
		w, err := svc.CreateWebhook(ctx, org, in)
		if err != nil {
			return err
		}
		v := invite.ViewWebhook(w)
		v.Secret = w.Secret // shown this once
		return printJSON(stdout, v)
	case "webhook list":
		list, err := svc.ListWebhooks(ctx, org)
		if err != nil {
			return err
		}
		out := api.List[*api.Webhook]{Data: []*api.Webhook{}}
		for _, w := range list {
			out.Data = append(out.Data, invite.ViewWebhook(w))
		}
		return printJSON(stdout, out)
	}
	if f.id == "" {
		return errors.New("--id is required")
	}
	switch cmd {
	case "webhook get":
		w, err := svc.GetWebhook(ctx, org, f.id)
		if err != nil {
			return err
		}
		return printJSON(stdout, invite.ViewWebhook(w))
	case "webhook delete":
		if err := svc.DeleteWebhook(ctx, org, f.id); err != nil {
			return err
		}
		return printJSON(stdout, map[string]any{"id": f.id, "deleted": true})
	case "webhook deliveries":
		page, err := svc.ListDeliveries(ctx, org, f.id, f.limit, f.cursor)
		if err != nil {
			return err
		}
		out := api.List[*api.Delivery]{Data: []*api.Delivery{}}
		for _, d := range page.Items {
			out.Data = append(out.Data, invite.ViewDelivery(d))
		}
		if page.NextCursor != "" {
			out.NextCursor = &page.NextCursor
		}
		return printJSON(stdout, out)
	case "webhook retry":
		if f.event == "" {
			return errors.New("--event is required")
		}
		d, err := svc.RetryDelivery(ctx, org, f.id, f.event)
		if err != nil {
			return err
		}
		return printJSON(stdout, invite.ViewDelivery(d))
	case "webhook test":
		e, err := svc.TestWebhook(ctx, org, f.id)
		if err != nil {
			return err
		}
		return printJSON(stdout, invite.ViewEvent(e))
	}
	return fmt.Errorf("unknown command %q", cmd)
}
