package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/invitd/invitd/internal/testnode"
	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/job"
	"github.com/invitd/invitd/mail"
	"github.com/invitd/invitd/mail/mailtest"
	"github.com/invitd/invitd/server"
	"github.com/invitd/invitd/webhook"
)

const adminKey = testnode.AdminKey

// node is a whole invitd, in process, serving real HTTP on loopback.
type node struct {
	URL string
	srv *server.Server
}

// options shape a node.
type options struct {
	db      string // a DSN; "" for a new SQLite file
	smtp    *mailtest.Server
	baseURL string // "" for the node's own address
	clock   *testnode.Clock
}

func startNode(t *testing.T, o options) *node {
	t.Helper()
	if o.db == "" {
		o.db = "sqlite:" + filepath.Join(t.TempDir(), "console.db")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &node{URL: "http://" + ln.Addr().String()}
	if o.baseURL == "" {
		o.baseURL = n.URL
	}
	allow, err := webhook.ParseAllow("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{DB: o.db, AdminKey: adminKey, Secret: testnode.Secret, BaseURL: o.baseURL,
		Jobs: job.Config{PollInterval: 20 * time.Millisecond}, WebhookAllow: allow,
		Webhooks: webhook.HandlerConfig{Schedule: []time.Duration{50 * time.Millisecond}}}
	if o.clock != nil {
		cfg.Now = o.clock.Now
	}
	if o.smtp != nil {
		cfg.Mail = mail.Config{SMTPURL: o.smtp.URL(), MinBackoff: 20 * time.Millisecond}
	}
	n.srv, err = server.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done; n.srv.Close() })
	return n
}

// sys is the system's context, for setting up what a test needs.
func sys(t *testing.T) context.Context { return invite.WithPrincipal(t.Context(), invite.System) }

// org makes an organization with a key for the API.
func (n *node) org(t *testing.T, name string) *invite.Organization {
	t.Helper()
	o, err := n.srv.Service.CreateOrg(sys(t), name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// member makes a member of org with role, through an accepted invitation.
func (n *node) member(t *testing.T, org invite.OrgID, email, name, role string) *invite.Member {
	t.Helper()
	c, err := n.srv.Service.CreateInvitation(sys(t), org, invite.CreateInvitation{Email: email, Role: role, NoEmail: true})
	if err != nil {
		t.Fatal(err)
	}
	v, err := n.srv.Service.AcceptByToken(t.Context(), c.Token, name)
	if err != nil {
		t.Fatal(err)
	}
	return v.Member
}

// events lists org's events of the given types.
func (n *node) events(t *testing.T, org invite.OrgID, types ...string) []*invite.Event {
	t.Helper()
	p, err := n.srv.Service.ListEvents(sys(t), org, invite.EventParams{Types: types, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return p.Items
}

// browser is an HTTP client that keeps cookies and follows redirects, as a
// browser without script does; it remembers the last page's form token.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
	csrf string
	// Last is the last answer's body; Status its status.
	Last   string
	Status int
	URL    string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}, base: base}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) int {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	b.Last, b.Status, b.URL = string(body), resp.StatusCode, resp.Request.URL.String()
	if m := csrfField.FindStringSubmatch(b.Last); m != nil {
		b.csrf = m[1]
	}
	return resp.StatusCode
}

// get loads path (on the browser's node unless it is a whole URL).
func (b *browser) get(path string) int {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.abs(path), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post submits a form to path with the last page's token, as a browser
// submitting that page's form does.
func (b *browser) post(path string, form url.Values) int {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, set := form["csrf"]; !set {
		form.Set("csrf", b.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, b.abs(path), strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *browser) abs(path string) string {
	if strings.HasPrefix(path, "http") {
		return path
	}
	return b.base + path
}

// signInWithKey signs in with key from the sign-in page.
func (b *browser) signInWithKey(key string) {
	b.t.Helper()
	b.get("/console/signin")
	if st := b.post("/console/signin/key", url.Values{"key": {key}}); st != http.StatusOK {
		b.t.Fatalf("signing in with a key: %d\n%s", st, b.Last)
	}
}

// wantPage fails unless the last answer had status and holds every one of words.
func (b *browser) wantPage(status int, words ...string) {
	b.t.Helper()
	if b.Status != status {
		b.t.Fatalf("%s answered %d, want %d\n%s", b.URL, b.Status, status, b.Last)
	}
	for _, w := range words {
		if !strings.Contains(b.Last, w) {
			b.t.Errorf("%s does not show %q\n%s", b.URL, w, b.Last)
		}
	}
}

// apiGet reads a native API answer with the admin key.
func apiGet(t *testing.T, base, path string, into any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatal(err)
	}
}

// signInMail waits for the nth mail and returns its sign-in link.
func signInMail(t *testing.T, smtp *mailtest.Server, n int) (*mailtest.Message, string) {
	t.Helper()
	m := smtp.Wait(t, n, 10*time.Second)[n-1]
	link := regexp.MustCompile(`https?://\S+/console/signin/[A-Za-z0-9_-]+`).FindString(m.Text)
	if link == "" {
		t.Fatalf("mail %q has no sign-in link:\n%s", m.Subject, m.Text)
	}
	return m, link
}
