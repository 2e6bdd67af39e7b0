package e2e_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/invitd/invitd/server"
)

// The API refuses webhook URLs that reach the server's own networks, saying
// which address, unless the operator allowed that network.
func TestWebhookURLsToPrivateNetworksAreRefused(t *testing.T) {
	refused := []struct{ url, addr string }{
		{"http://127.0.0.1/", "127.0.0.1"},
		{"http://10.0.0.1/", "10.0.0.1"},
		{"http://169.254.169.254/latest/meta-data/", "169.254.169.254"},
		{"http://[::1]/", "::1"},
		{"http://[::ffff:127.0.0.1]:8080/", "127.0.0.1"},
	}
	create := func(t *testing.T, n *node, org, u string) (int, string) {
		t.Helper()
		status, b, err := n.call("", "POST", "/v1/organizations/"+org+"/webhooks", obj{"url": u}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var p struct{ Detail string }
		_ = json.Unmarshal(b, &p)
		return status, p.Detail
	}
	count := func(t *testing.T, n *node, org string) int {
		var l struct{ Data []hook }
		n.must(t, http.StatusOK, "GET", "/v1/organizations/"+org+"/webhooks", nil, &l)
		return len(l.Data)
	}

	t.Run("by default", func(t *testing.T) {
		n := startServer(t, server.Config{})
		org := n.createOrg(t)
		for _, c := range refused {
			status, detail := create(t, n, org, c.url)
			if status != http.StatusUnprocessableEntity || !strings.Contains(detail, c.addr) {
				t.Errorf("%s: %d %q, want 422 naming %s", c.url, status, detail, c.addr)
			}
		}
		if got := count(t, n, org); got != 0 {
			t.Errorf("%d endpoints stored after the refusals", got)
		}
	})

	t.Run("with loopback allowed", func(t *testing.T) {
		n := startServer(t, server.Config{WebhookAllow: loopback})
		org := n.createOrg(t)
		var h hook
		n.must(t, http.StatusCreated, "POST", "/v1/organizations/"+org+"/webhooks", obj{"url": "http://127.0.0.1:9/"}, &h)
		// A change of URL is checked as a new one is.
		status, b, err := n.call("", "PATCH", "/v1/organizations/"+org+"/webhooks/"+h.ID, obj{"url": "http://169.254.169.254/"}, nil)
		if err != nil || status != http.StatusUnprocessableEntity || !strings.Contains(string(b), "169.254.169.254") {
			t.Errorf("changing the URL to the metadata address: %d %s %v, want 422 naming it", status, b, err)
		}
		for _, c := range refused[1:4] { // outside the allowed network
			if status, detail := create(t, n, org, c.url); status != http.StatusUnprocessableEntity || !strings.Contains(detail, c.addr) {
				t.Errorf("%s: %d %q, want 422 naming %s", c.url, status, detail, c.addr)
			}
		}
		if got := count(t, n, org); got != 1 {
			t.Errorf("%d endpoints stored, want the one allowed", got)
		}
	})
}
