package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/job"
	"github.com/invitd/invitd/mail"
	"github.com/invitd/invitd/mail/mailtest"
	"github.com/invitd/invitd/server"
)

// Behind a proxy that serves invitd under /invites and strips it, the
// mailed link, the page's form, its redirect and its cookie all carry the
// prefix, so an invitee goes from the mail to a membership through the
// proxy alone.
func TestBehindAProxyWithAPathPrefix(t *testing.T) {
	smtp := mailtest.Start(t, mailtest.Options{})
	proxyLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + proxyLn.Addr().String() + "/invites"
	ctx, cancel := context.WithCancel(invite.WithPrincipal(context.Background(), invite.System))
	defer cancel()
	srv, err := server.Open(ctx, server.Config{DB: "sqlite:" + filepath.Join(t.TempDir(), "x.db"), AdminKey: adminKey,
		BaseURL: base + "/", Mail: mail.Config{SMTPURL: smtp.URL()}, Jobs: job.Config{PollInterval: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ctx, ln)
	backend := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(backend)
		r.Out.URL.Path = strings.TrimPrefix(r.In.URL.Path, "/invites")
		r.Out.URL.RawPath = ""
		r.SetXForwarded()
	}}
	front := http.NewServeMux()
	front.Handle("/invites/", proxy) // anything else is the proxy's 404
	go http.Serve(proxyLn, front)

	o, err := srv.Service.CreateOrg(ctx, "Acme", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, url: base}
	status, body := c.do("POST", "/v1/organizations/"+o.ID.String()+"/invitations", map[string]any{"email": "grace@example.com"},
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+adminKey) })
	if status != 201 {
		t.Fatalf("create through the proxy: %d %s", status, body)
	}
	link, _ := smtp.Wait(t, 1, 10*time.Second)[0].Link()
	if !strings.HasPrefix(link, base+"/i/") {
		t.Fatalf("the mailed link %q does not start with %s/i/", link, base)
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) (*http.Response, string) {
		res, err := browser.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	res, page := get(link)
	if res.StatusCode != 200 {
		t.Fatalf("the link through the proxy: %d", res.StatusCode)
	}
	token := strings.TrimPrefix(link, base+"/i/")
	action := regexp.MustCompile(`<form method="post" action="([^"]+)" class="accept">`).FindStringSubmatch(page)
	if action == nil || action[1] != "/invites/i/"+token+"/accept" {
		t.Fatalf("the accept form posts to %v, want /invites/i/%s/accept", action, token)
	}
	cookies := res.Cookies()
	if len(cookies) != 1 || cookies[0].Path != "/invites/i/" {
		t.Fatalf("the page's cookie %v, want one with Path /invites/i/", cookies)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if csrf == nil {
		t.Fatal("no form token on the page")
	}
	u, _ := url.Parse(link)
	res, err = browser.PostForm(u.Scheme+"://"+u.Host+action[1], url.Values{"csrf": {csrf[1]}, "name": {"Grace"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || loc != "/invites/i/"+token+"?done=accepted" {
		t.Fatalf("accept: %d to %q, want 303 to /invites/i/%s?done=accepted", res.StatusCode, loc, token)
	}
	if res, page := get(u.Scheme + "://" + u.Host + loc); res.StatusCode != 200 || !strings.Contains(page, `data-page="accepted"`) {
		t.Fatalf("after the redirect: %d\n%s", res.StatusCode, page)
	}
	ms, err := srv.Service.ListMembers(ctx, o.ID, invite.MemberParams{})
	if err != nil || len(ms.Items) != 1 || ms.Items[0].Email != "grace@example.com" {
		b, _ := json.Marshal(ms)
		t.Fatalf("members %s %v", b, err)
	}
}
