package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitd/invitd/internal/browsertest"
	"github.com/invitd/invitd/internal/testnode"
	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/mail/mailtest"
)

// tab is a Chromium tab on the console of a node.
type tab struct {
	t   *testing.T
	ctx context.Context
	n   *node
}

func newTab(t *testing.T, n *node) *tab {
	return &tab{t: t, ctx: browsertest.Chrome(t), n: n}
}

// open loads path (or a whole URL) and returns its status.
func (b *tab) open(path string) int64 {
	b.t.Helper()
	if !strings.HasPrefix(path, "http") {
		path = b.n.URL + path
	}
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(path))
	if err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	return resp.Status
}

// click clicks sel and returns the status of the page it leads to.
func (b *tab) click(sel string) int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
	return resp.Status
}

// fill types text into the field sel, replacing what it held.
func (b *tab) fill(sel, text string) {
	b.t.Helper()
	clear := chromedp.Evaluate[chromedp.Void](`document.querySelector(` + strconv.Quote(sel) + `).value = ""`)
	if err := chromedp.Do(b.ctx, chromedp.WaitVisible(chromedp.CSS(sel)), clear, chromedp.SendKeys(chromedp.CSS(sel), text)); err != nil {
		b.t.Fatalf("fill %s: %v", sel, err)
	}
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// want fails unless the page has status and sel's text holds every one of words.
func (b *tab) want(status, want int64, sel string, words ...string) {
	b.t.Helper()
	if status != want {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		b.t.Fatalf("%s answered %d, want %d: %s", loc, status, want, b.text("main"))
	}
	got := b.text(sel)
	for _, w := range words {
		if !strings.Contains(got, w) {
			b.t.Errorf("%s shows %q, which lacks %q", sel, got, w)
		}
	}
}

func (b *tab) shot(name string) { b.t.Helper(); browsertest.Screenshot(b.t, b.ctx, "console-"+name) }

// fits tells whether the page fits a phone's width, with no sideways scrolling.
func (b *tab) fits() bool {
	b.t.Helper()
	ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
	if err != nil {
		b.t.Fatal(err)
	}
	return ok
}

// TestBrowserConsole goes through every page of the console as an
// operator with the admin key, doing each page's actions.
func TestBrowserConsole(t *testing.T) {
	clock := &testnode.Clock{}
	n := startNode(t, options{clock: clock})
	b := newTab(t, n)
	svc := n.srv.Service

	// Sign in with the keyboard alone: the key, then Enter.
	b.want(b.open("/console/"), 200, "h1", "Sign in")
	styled, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("button")).backgroundColor`))
	if err != nil || styled == "" || styled == "rgb(239, 239, 239)" {
		t.Errorf("the embedded style sheet is not applied (CSP?): %q %v", styled, err)
	}
	b.shot("01-signin")
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Focus(chromedp.ID("key")), chromedp.SendKeys(chromedp.ID("key"), adminKey+"\r"))
	if err != nil {
		t.Fatal(err)
	}
	b.want(resp.Status, 200, "h1", "Organizations")

	// Organizations: make one.
	b.fill("#name", "Acme & Co")
	b.want(b.click(`form[action$="/orgs"] button`), 200, "h1", "Settings")
	orgs, err := svc.ListOrgs(sys(t), nil, 10)
	if err != nil || len(orgs) != 1 || orgs[0].Name != "Acme & Co" {
		t.Fatalf("organizations after the form: %v %v", orgs, err)
	}
	acme := orgs[0]
	base := "/console/orgs/" + acme.ID.String()
	b.want(b.open("/console/orgs"), 200, "table", "Acme & Co")
	b.shot("02-organizations")

	// Settings: a seat limit and a display name; a bad colour is refused
	// with the field named and the form kept.
	b.open(base + "/settings")
	b.fill("#s-display_name", "Acme Invites")
	b.fill("#s-max_members", "25")
	b.fill("#s-brand_color", "red")
	b.want(b.click(`form.settings button`), 422, "#error", "brand_color")
	if v, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.ID("s-display_name"))); v != "Acme Invites" {
		t.Errorf("the refused form lost its display name: %q", v)
	}
	b.fill("#s-brand_color", "#0a7f5c")
	b.want(b.click(`form.settings button`), 200, "#flash", "Settings saved.")
	got, err := svc.GetOrg(sys(t), acme.ID)
	if err != nil || got.Settings.DisplayName != "Acme Invites" || got.Settings.MaxMembers != 25 || got.Settings.BrandColor != "#0a7f5c" {
		t.Fatalf("settings after saving: %+v %v", got.Settings, err)
	}
	b.shot("03-settings")

	// Invitations: invite one, with a role and a permission.
	b.want(b.open(base+"/invitations"), 200, "main", "No invitation matches.", "Seats: 0 members and 0 pending of 25")
	b.fill("#email", "grace@example.com")
	if err := chromedp.Do(b.ctx, chromedp.SetValue(chromedp.ID("role"), "admin"),
		chromedp.Click(chromedp.CSS(`input[name=permissions][value=billing]`))); err != nil {
		t.Fatal(err)
	}
	b.want(b.click(`form[method=post][action$="/invitations"] button`), 200, "#flash", "Invitation created.")
	b.want(200, 200, "#inv-state", "pending")
	b.want(200, 200, "#timeline", "invitation.created", "configured admin key")
	list, err := svc.ListInvitations(sys(t), acme.ID, invite.ListParams{})
	if err != nil || len(list.Items) != 1 || list.Items[0].Role != "admin" || strings.Join(list.Items[0].Permissions, ",") != "billing" {
		t.Fatalf("invitations after the form: %+v %v", list, err)
	}
	b.shot("04-invitation")

	// Resend (a minute after the first mail, as a resend must be), then
	// cancel: each an event on the timeline.
	clock.Advance(time.Minute)
	b.want(b.click("#resend"), 200, "#flash", "Invitation sent again.")
	b.want(b.click("#cancel"), 200, "#flash", "Invitation cancelled.")
	b.want(200, 200, "#inv-state", "cancelled")
	b.want(200, 200, "#timeline", "invitation.resent", "invitation.cancelled")
	b.shot("05-invitation-cancelled")

	// A refused invite says why, on the list page, keeping the address.
	b.open(base + "/invitations")
	b.fill("#email", "not-an-address")
	if err := chromedp.Do(b.ctx, chromedp.SetAttributeValue(chromedp.ID("email"), "type", "text")); err != nil {
		t.Fatal(err)
	}
	b.want(b.click(`form[method=post][action$="/invitations"] button`), 422, "#error", "email")

	// The list filters by state.
	for i, addr := range []string{"a@example.com", "b@example.com"} {
		if _, err := svc.CreateInvitation(sys(t), acme.ID, invite.CreateInvitation{Email: addr, NoEmail: true, Role: []string{"member", "restricted"}[i]}); err != nil {
			t.Fatal(err)
		}
	}
	b.want(b.open(base+"/invitations?state=cancelled"), 200, "#invitations", "grace@example.com")
	if s := b.text("#invitations"); strings.Contains(s, "a@example.com") {
		t.Errorf("the cancelled filter shows a pending invitation: %s", s)
	}
	b.want(b.open(base+"/invitations?role=restricted"), 200, "#invitations", "b@example.com")
	b.shot("06-invitations-filtered")

	// CSV import: a good row, a bad address, a repeat.
	csv := filepath.Join(t.TempDir(), "people.csv")
	if err := os.WriteFile(csv, []byte("email,role\ncsv1@example.com,member\nnope,member\ncsv1@example.com,member\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b.open(base + "/invitations")
	if err := chromedp.Do(b.ctx, chromedp.SetUploadFiles(chromedp.ID("csv"), []string{csv})); err != nil {
		t.Fatal(err)
	}
	b.want(b.click(`form[action$="/import"] button`), 200, "#summary", "1 created, 1 skipped, 1 errors")
	b.want(200, 200, "#results", "csv1@example.com", "created", "error", "skipped")
	b.shot("07-import")
	b.want(b.open(base+"/invitations"), 200, "#invitations", "csv1@example.com", "grace@example.com", "a@example.com")

	// A form whose token is taken out is refused, and writes nothing.
	b.fill("#email", "forged@example.com")
	if err := chromedp.Do(b.ctx, chromedp.Evaluate[chromedp.Void](
		`document.querySelector('form[method=post][action$="/invitations"] input[name=csrf]').remove()`)); err != nil {
		t.Fatal(err)
	}
	b.want(b.click(`form[method=post][action$="/invitations"] button`), 403, "#error", "form had expired")
	if c, _ := svc.CountInvitations(sys(t), invite.InvitationFilter{Org: acme.ID, Email: "forged@example.com"}); c != 0 {
		t.Errorf("a form without its token made %d invitations", c)
	}

	// Members: change a role, remove one.
	ada := n.member(t, acme.ID, "ada@example.com", "Ada Lovelace", "member")
	n.member(t, acme.ID, "bob@example.com", "Bob", "member")
	b.want(b.open(base+"/members"), 200, "#members", "Ada Lovelace", "Bob")
	if err := chromedp.Do(b.ctx, chromedp.SetValue(chromedp.ID("role-"+ada.ID.String()), "admin")); err != nil {
		t.Fatal(err)
	}
	b.want(b.click(`form[action$="/members/`+ada.ID.String()+`/role"] button`), 200, "#flash", "Role changed.")
	if m, err := svc.GetMember(sys(t), acme.ID, ada.ID); err != nil || m.Role != "admin" {
		t.Errorf("Ada after the role change: %+v %v", m, err)
	}
	b.shot("08-members")
	b.want(b.click(`button[aria-label="Remove bob@example.com"]`), 200, "#flash", "Member removed.")
	if s := b.text("#members"); strings.Contains(s, "bob@example.com") {
		t.Errorf("a removed member is still listed: %s", s)
	}

	// API keys: made with chosen scopes, shown once, revoked.
	b.open(base + "/keys")
	b.fill("#key-name", "CI reader")
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(`input[name=scopes][value="invitations:read"]`))); err != nil {
		t.Fatal(err)
	}
	b.want(b.click(`form[action$="/keys"] button`), 201, "#new-key", invite.KeyPrefix)
	token := b.text("#new-key")
	p, err := svc.Authenticate(t.Context(), token)
	if err != nil || strings.Join(p.Scopes, ",") != "invitations:read" {
		t.Fatalf("the key the console showed: %+v %v", p, err)
	}
	b.shot("09-key-created")
	b.want(b.open(base+"/keys"), 200, "#keys", "CI reader", "invitations:read")
	if strings.Contains(b.text("main"), token) {
		t.Error("the key is shown again")
	}
	b.want(b.click(`button[aria-label="Revoke CI reader"]`), 200, "#flash", "API key revoked.")
	if _, err := svc.Authenticate(t.Context(), token); invite.ErrorKind(err) != invite.KindUnauthorized {
		t.Errorf("the revoked key still authenticates: %v", err)
	}

	// Webhooks: an endpoint on a real receiver; its secret shown once; a
	// test event delivered and shown; a redelivery.
	var hits atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		hits.Add(1)
	}))
	t.Cleanup(recv.Close)
	b.open(base + "/webhooks")
	b.fill("#wh-url", recv.URL+"/hook")
	b.fill("#wh-desc", "the app")
	b.want(b.click(`form[action$="/webhooks"] button`), 201, "#new-secret", "whsec_")
	firstSecret := b.text("#new-secret")
	b.shot("10-webhook-created")
	b.click(`#webhooks a`)
	b.want(b.click("#send-test"), 200, "#flash", "Test event sent.")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.text("#deliveries"), "succeeded") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if _, err := chromedp.Run(b.ctx, chromedp.Reload()); err != nil {
			t.Fatal(err)
		}
	}
	b.want(200, 200, "#deliveries", "webhook.test", "succeeded", "200")
	before := hits.Load()
	b.want(b.click(`#deliveries form button`), 200, "#flash", "Delivery queued again.")
	for hits.Load() == before && time.Now().Before(deadline.Add(5*time.Second)) {
		time.Sleep(20 * time.Millisecond)
	}
	if hits.Load() == before {
		t.Error("the redelivery never arrived")
	}
	b.shot("11-webhook-deliveries")

	// Off and on again, a new secret shown once, then gone.
	hookOf := func() *invite.Webhook {
		t.Helper()
		hooks, err := svc.ListWebhooks(sys(t), acme.ID)
		if err != nil || len(hooks) > 1 {
			t.Fatalf("webhooks: %v %v", hooks, err)
		}
		if len(hooks) == 0 {
			return nil
		}
		return hooks[0]
	}
	b.want(b.click("#toggle"), 200, "#flash", "Endpoint disabled")
	if hookOf().Enabled {
		t.Error("the endpoint is still enabled")
	}
	b.want(b.click("#toggle"), 200, "#flash", "Endpoint enabled.")
	b.want(b.click("#rotate"), 200, "#new-secret", "whsec_")
	if s := b.text("#new-secret"); s == firstSecret || hookOf().Secret != s {
		t.Errorf("the new secret %q: the first was %q, the endpoint signs with %q", s, firstSecret, hookOf().Secret)
	}
	b.want(b.click("#delete"), 200, "#flash", "Endpoint deleted.")
	if h := hookOf(); h != nil {
		t.Errorf("the deleted endpoint is still there: %+v", h)
	}

	// The event log, filtered by type.
	b.want(b.open(base+"/events"), 200, "#events", "invitation.created", "member.updated", "api_key.created")
	b.fill("#type", "invitation.*")
	b.want(b.click(`form.filters button`), 200, "#events", "invitation.created")
	if s := b.text("#events"); strings.Contains(s, "member.") || strings.Contains(s, "api_key.") {
		t.Errorf("the invitation.* filter shows other events: %s", s)
	}
	b.shot("12-events")

	// The pages fit a phone.
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/invitations", "/members", "/settings"} {
		b.open(base + p)
		if !b.fits() {
			t.Errorf("%s is wider than a phone", p)
		}
	}
	b.shot("13-invitations-phone")
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(1024, 900)); err != nil {
		t.Fatal(err)
	}

	// Sign out.
	b.want(b.click(`form[action$="/signout"] button`), 200, "#flash", "You are signed out.")
	b.want(b.open(base+"/members"), 200, "h1", "Sign in")
}

// TestBrowserMemberSignIn signs an owner in with a mailed link, refuses a
// plain member the same way a stranger is, and carries the session to
// another node of the same database.
func TestBrowserMemberSignIn(t *testing.T) {
	smtp := mailtest.Start(t, mailtest.Options{})
	db := "sqlite:" + filepath.Join(t.TempDir(), "shared.db")
	n := startNode(t, options{db: db, smtp: smtp})
	other := startNode(t, options{db: db, smtp: smtp}) // either node may send the mail
	acme := n.org(t, "Acme")
	n.member(t, acme.ID, "olivia@example.com", "Olivia Owner", "owner")
	n.member(t, acme.ID, "mo@example.com", "Mo Member", "member")
	b := newTab(t, n)

	b.open("/console/signin")
	b.fill("#email", "mo@example.com")
	b.want(b.click(`form[action$="/signin/email"] button`), 200, "#sent", "a sign-in link is on its way")
	b.open("/console/signin")
	b.fill("#email", "olivia@example.com")
	b.want(b.click(`form[action$="/signin/email"] button`), 200, "#sent", "a sign-in link is on its way")
	b.shot("member-1-link-sent")
	m, link := signInMail(t, smtp, 1)
	if m.To[0] != "olivia@example.com" {
		t.Fatalf("the first sign-in mail went to %v: a plain member got one", m.To)
	}
	time.Sleep(200 * time.Millisecond)
	if len(smtp.Messages()) != 1 {
		t.Errorf("%d mails; the plain member must get none", len(smtp.Messages()))
	}

	b.want(b.open(link), 200, "main", "Sign in to the console")
	b.shot("member-2-link")
	b.want(b.click("#continue"), 200, "#who", "Olivia Owner", "olivia@example.com")
	b.want(200, 200, "nav", "Invitations", "Members", "Settings")
	if strings.Contains(b.text("nav"), "Organizations") {
		t.Error("a member sees the organizations of everyone")
	}
	b.shot("member-3-signed-in")

	// The same session on the other node (the browser sends the cookie to
	// 127.0.0.1 whatever the port).
	b.want(b.open(other.URL+"/console/orgs/"+acme.ID.String()+"/members"), 200, "#members", "Olivia Owner", "Mo Member")
	b.open(other.URL + "/console/orgs/" + acme.ID.String() + "/invitations")
	b.fill("#email", "from-b@example.com")
	b.want(b.click(`form[method=post][action$="/invitations"] button`), 200, "#flash", "Invitation created.")
	b.want(200, 200, "#timeline", "Olivia Owner")
	b.shot("member-4-other-node")

	// The link is spent.
	b.want(b.open(link), 200, "main", "Sign in")
	b.want(b.click("#continue"), 401, "#error", "was used already")
}
