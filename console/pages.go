package console

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/invitd/invitd/invite"
)

func (h *handler) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/{$}", h.home)
	mux.HandleFunc("GET /console/signin", h.signIn)
	mux.HandleFunc("POST /console/signin/email", h.signInEmail)
	mux.HandleFunc("POST /console/signin/key", h.signInKey)
	mux.HandleFunc("GET /console/signin/{token}", h.linkPage)
	mux.HandleFunc("POST /console/signin/{token}", h.signInLink)
	mux.HandleFunc("POST /console/signout", h.signOut)

	mux.HandleFunc("GET /console/orgs", h.orgs)
	mux.HandleFunc("POST /console/orgs", h.createOrg)
	mux.HandleFunc("GET /console/orgs/{org}/{$}", h.orgHome)
	mux.HandleFunc("GET /console/orgs/{org}/invitations", h.invitations)
	mux.HandleFunc("POST /console/orgs/{org}/invitations", h.invite)
	mux.HandleFunc("POST /console/orgs/{org}/invitations/import", h.importCSV)
	mux.HandleFunc("GET /console/orgs/{org}/invitations/{id}", h.invitation)
	mux.HandleFunc("POST /console/orgs/{org}/invitations/{id}/{action}", h.invitationAction)
	mux.HandleFunc("GET /console/orgs/{org}/members", h.members)
	mux.HandleFunc("POST /console/orgs/{org}/members/{id}/{action}", h.memberAction)
	mux.HandleFunc("GET /console/orgs/{org}/keys", h.keys)
	mux.HandleFunc("POST /console/orgs/{org}/keys", h.createKey)
	mux.HandleFunc("POST /console/orgs/{org}/keys/{id}/revoke", h.revokeKey)
	mux.HandleFunc("GET /console/orgs/{org}/webhooks", h.webhooks)
	mux.HandleFunc("POST /console/orgs/{org}/webhooks", h.createWebhook)
	mux.HandleFunc("GET /console/orgs/{org}/webhooks/{id}", h.webhook)
	mux.HandleFunc("POST /console/orgs/{org}/webhooks/{id}/{action}", h.webhookAction)
	mux.HandleFunc("GET /console/orgs/{org}/settings", h.settings)
	mux.HandleFunc("POST /console/orgs/{org}/settings", h.saveSettings)
	mux.HandleFunc("GET /console/orgs/{org}/events", h.events)
	mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, nil, http.StatusNotFound, "There is no such page.")
	})
}

// request is a signed-in request: its caller in ctx, its page's view.
type request struct {
	ctx   context.Context
	token string
	v     *view
	org   invite.OrgID
}

// signed checks the session, and for a post the form and its token; nil
// with the answer written when the request may not go on.
func (h *handler) signed(w http.ResponseWriter, r *http.Request, post bool) *request {
	cc, token := h.session(w, r)
	if cc == nil {
		return nil
	}
	q := &request{ctx: invite.WithPrincipal(r.Context(), cc.Principal), token: token,
		v: &view{Caller: cc, CSRF: formToken(token)}}
	if post {
		if !h.parseForm(w, r) {
			return nil
		}
		if !checkToken(r, q.v.CSRF) {
			h.fail(w, r, q.v, http.StatusForbidden, "The form had expired or came from elsewhere, so it was not sent; reload the page and try again.")
			return nil
		}
	}
	return q
}

// inOrg is signed for a page of one organization, which it loads.
func (h *handler) inOrg(w http.ResponseWriter, r *http.Request, post bool, nav string) *request {
	q := h.signed(w, r, post)
	if q == nil {
		return nil
	}
	id, err := invite.ParseOrgID(r.PathValue("org"))
	if err != nil {
		h.fail(w, r, q.v, http.StatusNotFound, "There is no such organization.")
		return nil
	}
	o, err := h.svc.GetOrgWithSeats(q.ctx, id)
	if err != nil {
		h.failErr(w, r, q.v, err)
		return nil
	}
	q.org, q.v.Org, q.v.Nav, q.v.OrgBase = id, o, nav, h.base+"/orgs/"+id.String()
	q.v.Flash = flashes[r.URL.Query().Get("done")]
	return q
}

// flashes are the notes shown after an action's redirect.
var flashes = map[string]string{
	"created":   "Invitation created.",
	"resent":    "Invitation sent again.",
	"cancelled": "Invitation cancelled.",
	"role":      "Role changed.",
	"removed":   "Member removed.",
	"revoked":   "API key revoked.",
	"saved":     "Settings saved.",
	"tested":    "Test event sent.",
	"retried":   "Delivery queued again.",
	"enabled":   "Endpoint enabled.",
	"disabled":  "Endpoint disabled: nothing is sent to it until it is enabled again.",
	"deleted":   "Endpoint deleted.",
}

// done redirects to page with a note of what was done.
func (h *handler) done(w http.ResponseWriter, r *http.Request, page, what string) {
	http.Redirect(w, r, page+"?done="+what, http.StatusSeeOther)
}

func (h *handler) home(w http.ResponseWriter, r *http.Request) {
	q := h.signed(w, r, false)
	if q == nil {
		return
	}
	if q.v.Admin() {
		http.Redirect(w, r, h.base+"/orgs", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, h.base+"/orgs/"+q.v.Caller.Org.String()+"/invitations", http.StatusSeeOther)
}

func (h *handler) orgHome(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, h.base+"/orgs/"+r.PathValue("org")+"/invitations", http.StatusSeeOther)
}

// ---- organizations

func (h *handler) orgs(w http.ResponseWriter, r *http.Request) {
	q := h.signed(w, r, false)
	if q == nil {
		return
	}
	h.orgsPage(w, r, q, http.StatusOK, "")
}

func (h *handler) orgsPage(w http.ResponseWriter, r *http.Request, q *request, status int, errMsg string) {
	var after *invite.OrgID
	if a := r.URL.Query().Get("after"); a != "" {
		if id, err := invite.ParseOrgID(a); err == nil {
			after = &id
		}
	}
	const limit = 50
	list, err := h.svc.ListOrgs(q.ctx, after, limit)
	if err != nil {
		h.failErr(w, r, q.v, err)
		return
	}
	next := ""
	if len(list) == limit {
		next = list[len(list)-1].ID.String()
	}
	q.v.Title, q.v.Nav, q.v.Status, q.v.Error = "Organizations", "orgs", status, errMsg
	q.v.Data = struct {
		Orgs []*invite.Organization
		Next string
	}{list, next}
	h.render(w, r, "orgs", q.v)
}

func (h *handler) createOrg(w http.ResponseWriter, r *http.Request) {
	q := h.signed(w, r, true)
	if q == nil {
		return
	}
	o, err := h.svc.CreateOrg(q.ctx, r.PostForm.Get("name"), nil)
	if status, msg, ok := refused(err); ok {
		h.orgsPage(w, r, q, status, msg)
		return
	}
	if err != nil {
		h.failErr(w, r, q.v, err)
		return
	}
	http.Redirect(w, r, h.base+"/orgs/"+o.ID.String()+"/settings", http.StatusSeeOther)
}

// ---- invitations

type invitationsData struct {
	Items                    []*invite.Invitation
	State, Email, Role, Next string
	States                   []string
	// Form refills the invite form after a refusal.
	Form struct{ Email, Role string }
}

func (h *handler) invitations(w http.ResponseWriter, r *http.Request) {
	q := h.inOrg(w, r, false, "invitations")
	if q == nil {
		return
	}
	h.invitationsPage(w, r, q, http.StatusOK, "")
}

func (h *handler) invitationsPage(w http.ResponseWriter, r *http.Request, q *request, status int, errMsg string) {
	qs := r.URL.Query()
	d := &invitationsData{State: qs.Get("state"), Email: qs.Get("email"), Role: qs.Get("role"),
		States: []string{"pending", "accepted", "declined", "expired", "cancelled", "error"}}
	if r.Method == http.MethodPost {
		d.Form.Email, d.Form.Role = r.PostForm.Get("email"), r.PostForm.Get("role")
	}
	page, err := h.svc.ListInvitations(q.ctx, q.org, invite.ListParams{State: d.State, Email: d.Email, Role: d.Role,
		Limit: 25, Cursor: qs.Get("cursor")})
	if st, msg, ok := refused(err); ok {
		status, errMsg = st, msg
	} else if err != nil {
		h.failErr(w, r, q.v, err)
		return
	} else {
		d.Items, d.Next = page.Items, page.NextCursor
	}
	q.v.Title, q.v.Status, q.v.Error, q.v.Data = "Invitations", status, errMsg, d
	h.render(w, r, "invitations", q.v)
}

func (h *handler) invite(w http.ResponseWriter, r *http.Request) {
	q := h.inOrg(w, r, true, "invitations")
	if q == nil {
		return
	}
	in := invite.CreateInvitation{Email: r.PostForm.Get("email"), Role: r.PostForm.Get("role"),
		Permissions: r.PostForm["permissions"], Locale: r.PostForm.Get("locale")}
	if c := q.v.Caller; c.Type == invite.ActorMember {
		in.Inviter = invite.Inviter{ID: c.KeyID, Name: c.Name}
	}
	n, err := days(r, "expires_days")
	if err == nil && n > 0 {
		in.ExpiresIn = int64(n) * 86400
	}
	var c *invite.Created
	if err == nil {
		c, err = h.svc.CreateInvitation(q.ctx, q.org, in)
	}
	if status, msg, ok := refused(err); ok {
		h.invitationsPage(w, r, q, status, msg)
		return
	}
	if err != nil {
		h.failErr(w, r, q.v, err)
		return
	}
	h.done(w, r, q.v.OrgBase+"/invitations/"+c.Invitation.ID.String(), "created")
}

func (h *handler) importCSV(w http.ResponseWriter, r *http.Request) {
	q := h.inOrg(w, r, true, "invitations")
	if q == nil {
		return
	}
	f, _, err := r.FormFile("csv")
	if err != nil {
		h.invitationsPage(w, r, q, http.StatusBadRequest, "Choose a CSV file to upload.")
		return
	}
	defer f.Close()
	rows, err := invite.ParseCSV(f)
	if err == nil {
		var b *invite.Bulk
		if b, err = h.svc.BulkCreate(q.ctx, q.org, rows, invite.BulkOptions{DryRun: r.PostForm.Get("dry_run") != ""}); err == nil {
			q.v.Title, q.v.Data = "Import", b.View
			h.render(w, r, "bulk", q.v)
			return
		}
	}
	if status, msg, ok := refused(err); ok {
		h.invitationsPage(w, r, q, status, msg)
		return
	}
	h.failErr(w, r, q.v, err)
}

func (h *handler) invitation(w http.ResponseWriter, r *http.Request) {
	q := h.inOrg(w, r, false, "invitations")
	if q == nil {
		return
	}
	ref, err := invite.ParseInvitationRef(r.PathValue("id"))
	if err != nil {
		h.failErr(w, r, q.v, err)
		return
	}
	inv, err := h.svc.GetInvitation(q.ctx, q.org, ref)
	if err != nil {
		h.failErr(w, r, q.v, err)
		return
	}
	var events []*invite.Event
	if q.v.Caller.Has(invite.ScopeEventsRead) {
		p, err := h.svc.InvitationEvents(q.ctx, q.org, ref, invite.EventParams{Limit: invite.MaxLimit})
		if err != nil {
			h.failErr(w, r, q.v, err)
			return
		}
		events = p.Items
	}
	q.v.Title = "Invitation to " + inv.Email
	q.v.Data = struct {
		Inv    *invite.Invitation
		Events []*invite.Event
	}{inv, events}
	h.render(w, r, "invitation", q.v)
}

func (h *handler) invitationAction(w http.ResponseWriter, r *http.Request) {
	q := h.inOrg(w, r, true, "invitations")
	if q == nil {
		return
	}
	ref, err := invite.ParseInvitationRef(r.PathValue("id"))
	if err == nil {
		switch r.PathValue("action") {
		case "resend":
			_, err = h.svc.ResendInvitation(q.ctx, q.org, ref)
		case "cancel":
			_, err = h.svc.CancelInvitation(q.ctx, q.org, ref)
		default:
			h.fail(w, r, q.v, http.StatusNotFound, "There is no such action.")
			return
		}
	}
	if err != nil {
		h.failErr(w, r, q.v, err)
		return
	}
	what := map[string]string{"resend": "resent", "cancel": "cancelled"}[r.PathValue("action")]
	h.done(w, r, q.v.OrgBase+"/invitations/"+r.PathValue("id"), what)
}

// ---- members

func (h *handler) members(w http.ResponseWriter, r *http.Request) {
	q := h.inOrg(w, r, false, "members")
	if q == nil {
		return
	}
	p, err := h.svc.ListMembers(q.ctx, q.org, invite.MemberParams{Limit: 50, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		h.failErr(w, r, q.v, err)
		return
	}
	q.v.Title = "Members"
	q.v.Data = struct {
		Items []*invite.Member
		Next  string
	}{p.Items, p.NextCursor}
	h.render(w, r, "members", q.v)
}

func (h *handler) memberAction(w http.ResponseWriter, r *http.Request) {
	q := h.inOrg(w, r, true, "members")
	if q == nil {
		return
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		h.fail(w, r, q.v, http.StatusNotFound, "There is no such member.")
		return
	}
	var what string
	switch r.PathValue("action") {
	case "role":
		role := r.PostForm.Get("role")
		what = "role"
		_, err = h.svc.UpdateMember(q.ctx, q.org, id, invite.MemberPatch{Role: &role})
	case "remove":
		err, what = h.svc.DeleteMember(q.ctx, q.org, id), "removed"
	default:
		h.fail(w, r, q.v, http.StatusNotFound, "There is no such action.")
		return
	}
	if err != nil {
		h.failErr(w, r, q.v, err)
		return
	}
	h.done(w, r, q.v.OrgBase+"/members", what)
}

// ---- API keys

type keysData struct {
	Items  []*invite.APIKey
	Scopes []string
	// New is the key just made, shown this once.
	New *invite.NewKey
}

func (h *handler) keys(w http.ResponseWriter, r *http.Request) {
	q := h.inOrg(w, r, false, "keys")
	if q == nil {
		return
	}
	h.keysPage(w, r, q, http.StatusOK, nil)
}

func (h *handler) keysPage(w http.ResponseWriter, r *http.Request, q *request, status int, created *invite.NewKey) {
	list, err := h.svc.ListKeys(q.ctx, &q.org)
	if err != nil {
		h.failErr(w, r, q.v, err)
		return
	}
	q.v.Title, q.v.Status = "API keys", status
	q.v.Data = &keysData{Items: list, Scopes: invite.AllScopes, New: created}
	h.render(w, r, "keys", q.v)
}

func (h *handler) createKey(w http.ResponseWriter, r *http.Request) {
	q := h.inOrg(w, r, true, "keys")
	if q == nil {
		return
	}
	in := invite.KeyInput{Name: r.PostForm.Get("name"), Scopes: r.PostForm["scopes"]}
	if in.Scopes == nil {
		in.Scopes = []string{}
	}
	n, err := days(r, "expires_days")
	if err == nil && n > 0 {
		t := h.svc.Now().AddDate(0, 0, n)
		in.ExpiresAt = &t
	}
	var k *invite.NewKey
	if err == nil {
		k, err = h.svc.CreateKey(q.ctx, &q.org, in)
	}
	if status, msg, ok := refused(err); ok {
		q.v.Error = msg
		h.keysPage(w, r, q, status, nil)
		return
	}
	if err != nil {
		h.failErr(w, r, q.v, err)
		return
	}
	h.keysPage(w, r, q, http.StatusCreated, k)
}

func (h *handler) revokeKey(w http.ResponseWriter, r *http.Request) {
	q := h.inOrg(w, r, true, "keys")
	if q == nil {
		return
	}
	if err := h.svc.DeleteKey(q.ctx, &q.org, r.PathValue("id")); err != nil {
		h.failErr(w, r, q.v, err)
		return
	}
	h.done(w, r, q.v.OrgBase+"/keys", "revoked")
}

// ---- webhooks

type webhooksData struct {
	Items []*invite.Webhook
	// New is the endpoint just made, its secret shown this once.
	New *invite.Webhook
}

func (h *handler) webhooks(w http.ResponseWriter, r *http.Request) {
	q := h.inOrg(w, r, false, "webhooks")
	if q == nil {
		return
	}
	h.webhooksPage(w, r, q, http.StatusOK, nil)
}

func (h *handler) webhooksPage(w http.ResponseWriter, r *http.Request, q *request, status int, created *invite.Webhook) {
	list, err := h.svc.ListWebhooks(q.ctx, q.org)
	if err != nil {
		h.failErr(w, r, q.v, err)
		return
	}
	q.v.Title, q.v.Status, q.v.Data = "Webhooks", status, &webhooksData{Items: list, New: created}
	h.render(w, r, "webhooks", q.v)
}

func (h *handler) createWebhook(w http.ResponseWriter, r *http.Request) {
	q := h.inOrg(w, r, true, "webhooks")
	if q == nil {
		return
	}
	url, desc := strings.TrimSpace(r.PostForm.Get("url")), r.PostForm.Get("description")
	events := splitList(r.PostForm.Get("events"))
	if len(events) == 0 {
		events = []string{"*"}
	}
	wh, err := h.svc.CreateWebhook(q.ctx, q.org, invite.WebhookInput{URL: &url, Events: &events, Description: &desc})
	if status, msg, ok := refused(err); ok {
		q.v.Error = msg
		h.webhooksPage(w, r, q, status, nil)
		return
	}
	if err != nil {
		h.failErr(w, r, q.v, err)
		return
	}
	h.webhooksPage(w, r, q, http.StatusCreated, wh)
}

func (h *handler) webhook(w http.ResponseWriter, r *http.Request) {
	q := h.inOrg(w, r, false, "webhooks")
	if q == nil {
		return
	}
	h.webhookPage(w, r, q, "")
}

// webhookPage shows an endpoint with its deliveries, and secret, a new
// signing secret, this once.
func (h *handler) webhookPage(w http.ResponseWriter, r *http.Request, q *request, secret string) {
	id := r.PathValue("id")
	wh, err := h.svc.GetWebhook(q.ctx, q.org, id)
	if err != nil {
		h.failErr(w, r, q.v, err)
		return
	}
	p, err := h.svc.ListDeliveries(q.ctx, q.org, id, 50, r.URL.Query().Get("cursor"))
	if err != nil {
		h.failErr(w, r, q.v, err)
		return
	}
	q.v.Title = "Webhook " + wh.URL
	q.v.Data = struct {
		Hook       *invite.Webhook
		Deliveries []*invite.Delivery
		Next       string
		Secret     string
	}{wh, p.Items, p.NextCursor, secret}
	h.render(w, r, "webhook", q.v)
}

// webhookAction does what an endpoint's page asks: a test event, a
// redelivery, turning it on or off, a new signing secret (the old one
// signs alongside for a day), or its removal.
func (h *handler) webhookAction(w http.ResponseWriter, r *http.Request) {
	q := h.inOrg(w, r, true, "webhooks")
	if q == nil {
		return
	}
	id := r.PathValue("id")
	page := q.v.OrgBase + "/webhooks/" + id
	var (
		err  error
		what string
	)
	switch action := r.PathValue("action"); action {
	case "test":
		_, err = h.svc.TestWebhook(q.ctx, q.org, id)
		what = "tested"
	case "redeliver":
		_, err = h.svc.RetryDelivery(q.ctx, q.org, id, r.PostForm.Get("event"))
		what = "retried"
	case "enable", "disable":
		on := action == "enable"
		_, err = h.svc.UpdateWebhook(q.ctx, q.org, id, invite.WebhookInput{Enabled: &on})
		what = action + "d"
	case "rotate":
		var wh *invite.Webhook
		if wh, err = h.svc.RotateWebhookSecret(q.ctx, q.org, id); err == nil {
			q.v.Flash = "New signing secret made; the old one signs alongside it for a day."
			h.webhookPage(w, r, q, wh.Secret)
			return
		}
	case "delete":
		err, what, page = h.svc.DeleteWebhook(q.ctx, q.org, id), "deleted", q.v.OrgBase+"/webhooks"
	default:
		h.fail(w, r, q.v, http.StatusNotFound, "There is no such action.")
		return
	}
	if err != nil {
		h.failErr(w, r, q.v, err)
		return
	}
	h.done(w, r, page, what)
}

// ---- events

func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	q := h.inOrg(w, r, false, "events")
	if q == nil {
		return
	}
	qs := r.URL.Query()
	typ := strings.TrimSpace(qs.Get("type"))
	p := invite.EventParams{After: qs.Get("cursor"), Limit: 50}
	if typ != "" {
		p.Types = []string{typ}
	}
	page, err := h.svc.ListEvents(q.ctx, q.org, p)
	status := http.StatusOK
	var items []*invite.Event
	next := ""
	if st, msg, ok := refused(err); ok {
		status, q.v.Error = st, msg
	} else if err != nil {
		h.failErr(w, r, q.v, err)
		return
	} else if items = page.Items; len(items) == p.Limit {
		next = page.NextCursor
	}
	q.v.Title, q.v.Status = "Event log", status
	q.v.Data = struct {
		Items      []*invite.Event
		Type, Next string
	}{items, typ, next}
	h.render(w, r, "events", q.v)
}

// refused tells an error that is the request's own (a value a rule
// refuses, a conflict, a missing scope), which a page shows beside its form,
// from one that is not: a failure, or a session that ended.
func refused(err error) (status int, msg string, ok bool) {
	switch k := invite.ErrorKind(err); {
	case err == nil, k == invite.KindInternal, k == invite.KindUnavailable, k == invite.KindUnauthorized:
		return 0, "", false
	default:
		return k.HTTPStatus(), invite.ErrorMessage(err), true
	}
}

// days reads a form's count of days; 0 when the field is empty.
func days(r *http.Request, field string) (int, error) {
	raw := strings.TrimSpace(r.PostForm.Get(field))
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n <= 0 || n > 3650 {
		return 0, invite.Invalid("expires in must be a whole number of days, 1 to 3650")
	}
	return n, nil
}

// splitList reads a list typed into one field, separated by commas,
// spaces or new lines.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

func itoa(n int) string { return strconv.Itoa(n) }
