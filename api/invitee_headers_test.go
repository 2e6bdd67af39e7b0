package api_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// rawCall sends a request as is and does not follow redirects: a redirect
// carrying a token must itself forbid caching and the referrer.
func (e *env) rawCall(method, path, contentType, body string, cookies ...*http.Cookie) *resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out := &resp{Status: res.StatusCode, Header: res.Header}
	out.Body, _ = io.ReadAll(res.Body)
	if strings.HasPrefix(path, "/v1/") {
		e.checkSpec(req, out)
	}
	return out
}

// private fails unless r may be neither stored by a cache nor let its URL
// out as a referrer.
func (r *resp) private(t *testing.T, what string, status int) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: status %d, want %d: %.200s", what, r.Status, status, r.Body)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s (%d): Cache-Control %q, want no-store", what, r.Status, got)
	}
	if got := r.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("%s (%d): Referrer-Policy %q, want no-referrer", what, r.Status, got)
	}
}

// stalled posts the start of a body that never comes whole, and reads the answer.
func stalled(t *testing.T, e *env, path string) *resp {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: invitd.test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":", path)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := &resp{Status: res.StatusCode, Header: res.Header}
	out.Body, _ = io.ReadAll(res.Body)
	return out
}

func TestInviteeAnswersAreNotCached(t *testing.T) {
	e := newEnv(t)
	org, key := e.org("Acme")
	base := "/v1/organizations/" + org + "/invitations"
	token := func(email string) string {
		t.Helper()
		created := e.call("POST", base, key, map[string]any{"email": email, "send_email": false})
		created.private(t, "a create answering its accept_url", http.StatusCreated)
		link := created.str(t, "accept_url")
		tok, ok := strings.CutPrefix(link, "http://invitd.test/i/")
		if !ok {
			t.Fatalf("accept_url %q", link)
		}
		return tok
	}
	const js = "application/json"
	unknown := strings.Repeat("A", 43)

	t.Run("api", func(t *testing.T) {
		tok, other := token("a@example.com"), token("b@example.com")
		inv := "/v1/invitations/"
		e.rawCall("GET", inv+tok, "", "").private(t, "GET", 200)
		e.rawCall("HEAD", inv+tok, "", "").private(t, "HEAD", 200)
		e.rawCall("GET", inv+unknown, "", "").private(t, "GET unknown", 404)
		e.rawCall("GET", inv+"not-a-token", "", "").private(t, "GET malformed", 404)
		e.rawCall("POST", inv+unknown+"/accept", js, `{"name":"X"}`).private(t, "accept unknown", 404)
		e.rawCall("POST", inv+unknown+"/decline", "", "").private(t, "decline unknown", 404)
		e.rawCall("POST", inv+tok+"/accept", js, `{"name":`).private(t, "accept bad JSON", 400)
		e.rawCall("POST", inv+tok+"/accept", "text/plain", `{"name":"X"}`).private(t, "accept text/plain", 415)
		e.rawCall("POST", inv+tok+"/accept", js, `{"name":"`+strings.Repeat("x", 300)+`"}`).private(t, "accept long name", 422)
		e.rawCall("POST", inv+tok+"/accept", js, `{"name":"`+strings.Repeat("x", 2<<20)+`"}`).private(t, "accept huge body", 413)
		e.rawCall("POST", inv+tok+"/accept", js, `{"name":"Ada"}`).private(t, "accept", 200)
		e.rawCall("POST", inv+tok+"/accept", js, `{"name":"Ada"}`).private(t, "accept again", 409)
		e.rawCall("POST", inv+tok+"/decline", "", "").private(t, "decline accepted", 409)
		e.rawCall("POST", inv+other+"/decline", "", "").private(t, "decline", 200)
		stalled(t, e, inv+token("s@example.com")+"/accept").private(t, "stalled body", 408)
		// Answers the router gives itself.
		e.rawCall("PUT", inv+tok, js, `{}`).private(t, "PUT, no such method", 405)
		e.rawCall("GET", "/v1/invitations/./"+tok, "", "").private(t, "a path the router cleans", 307)
	})

	t.Run("web", func(t *testing.T) {
		tok, other := token("c@example.com"), token("d@example.com")
		page := e.rawCall("GET", "/i/"+tok, "", "")
		page.private(t, "page", 200)
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page.Body)
		if m == nil {
			t.Fatalf("no CSRF field in the page: %.500s", page.Body)
		}
		cookie := &http.Cookie{Name: "invitd_csrf", Value: string(m[1])}
		form := func(v url.Values) string { return v.Encode() }
		const fe = "application/x-www-form-urlencoded"
		e.rawCall("HEAD", "/i/"+tok, "", "").private(t, "HEAD page", 200)
		e.rawCall("GET", "/i/"+unknown, "", "").private(t, "unknown page", 404)
		e.rawCall("GET", "/i/"+tok+"/accept", "", "").private(t, "GET accept", 303)
		e.rawCall("POST", "/i/"+tok+"/accept", fe, form(url.Values{"name": {"Ada"}})).private(t, "accept without CSRF", 403)
		e.rawCall("POST", "/i/"+tok+"/accept", fe, "%zz", cookie).private(t, "accept bad form", 400)
		e.rawCall("POST", "/i/"+tok+"/accept", fe, form(url.Values{"csrf": {string(m[1])}}), cookie).private(t, "accept without a name", 422)
		e.rawCall("POST", "/i/"+unknown+"/accept", fe, form(url.Values{"csrf": {string(m[1])}, "name": {"Ada"}}), cookie).private(t, "accept unknown", 404)
		e.rawCall("POST", "/i/"+tok+"/accept", fe, form(url.Values{"csrf": {string(m[1])}, "name": {"Ada"}}), cookie).private(t, "accept", 303)
		e.rawCall("GET", "/i/"+tok+"?done=accepted", "", "").private(t, "accepted page", 200)
		e.rawCall("DELETE", "/i/"+tok, "", "").private(t, "DELETE, no such route", 404)
		e.rawCall("GET", "/i/../i/"+tok, "", "").private(t, "a path the router cleans", 307)
		e.rawCall("POST", "/i/"+tok+"/decline", fe, form(url.Values{"csrf": {string(m[1])}}), cookie).private(t, "decline accepted", 409)
		e.rawCall("POST", "/i/"+other+"/decline", fe, form(url.Values{"csrf": {string(m[1])}}), cookie).private(t, "decline", 303)
		e.rawCall("GET", "/i/"+other, "", "").private(t, "declined page", 410)
		e.rawCall("DELETE", "/i/"+tok, "", "").private(t, "DELETE page", 404)
	})
}
