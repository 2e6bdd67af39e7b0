package main

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/invitd/invitd/api"
	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/store"
)

// cli runs one of the shell commands directly on the database.
func cli(ctx context.Context, cmd string, args []string, stdout io.Writer) error {
	ctx = invite.WithPrincipal(ctx, invite.System) // the shell has the database itself
	fs, db := newFlags(cmd)
	name := fs.String("name", "", "name")
	org := fs.String("org", "", "organization id")
	admin := fs.Bool("admin", false, "key create: an admin key instead of an organization's")
	email := fs.String("email", "", "invitee's email / list filter")
	role := fs.String("role", "", "role / list filter")
	perms := fs.String("permissions", "", "comma-separated permissions")
	expiresIn := fs.Int64("expires-in", 0, "seconds until the invitation expires (default: the organization's TTL)")
	locale := fs.String("locale", "", "language of the mail, e.g. en or ja")
	noEmail := fs.Bool("no-email", false, "send no mail; print the token to deliver the link yourself")
	id := fs.String("id", "", "invitation id (UUID or number)")
	state := fs.String("state", "", "list: only invitations in this state")
	sort := fs.String("sort", "", "list: created_at, -created_at, updated_at or -updated_at")
	limit := fs.Int("limit", 0, "list: page size, 1..100")
	cursor := fs.String("cursor", "", "list: next_cursor of the previous page")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, err := invite.NewService(st, invite.Config{})
	if err != nil {
		return err
	}

	if cmd == "org create" {
		o, err := svc.CreateOrg(ctx, *name, nil)
		if err != nil {
			return err
		}
		return printJSON(stdout, api.ViewOrganization(o))
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
		k, err := svc.CreateKey(ctx, orgID, *name)
		if err != nil {
			return err
		}
		return printJSON(stdout, api.NewAPIKey{ID: k.ID, Name: k.Name, Key: k.Token, Secret: k.Secret, CreatedAt: k.CreatedAt})
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
		v := api.ViewInvitation(res.Invitation)
		if res.Token != "" {
			v.AcceptURL = env("INVITD_BASE_URL", "http://"+env("INVITD_ADDR", "127.0.0.1:8080")) + "/i/" + res.Token
		}
		return printJSON(stdout, v)
	}
	if cmd == "invite list" {
		page, err := svc.ListInvitations(ctx, *orgID, invite.ListParams{State: *state, Email: *email, Role: *role, Sort: *sort, Limit: *limit, Cursor: *cursor})
		if err != nil {
			return err
		}
		out := api.List[*api.Invitation]{Data: []*api.Invitation{}}
		for _, inv := range page.Items {
			out.Data = append(out.Data, api.ViewInvitation(inv))
		}
		if page.NextCursor != "" {
			out.NextCursor = &page.NextCursor
		}
		return printJSON(stdout, out)
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
	return printJSON(stdout, api.ViewInvitation(inv))
}
