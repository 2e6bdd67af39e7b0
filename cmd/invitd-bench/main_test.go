package main

import (
	"net/http"
	"testing"

	"github.com/invitd/invitd/server"
)

// The bench's client closes an idle connection before invitd does: a
// soak's create once failed with "connection reset by peer", sent on a
// connection invitd was closing after two minutes idle.
func TestClientIdlesLessThanTheServer(t *testing.T) {
	idle := newClient(4).Transport.(*http.Transport).IdleConnTimeout
	if idle <= 0 || idle >= server.IdleTimeout {
		t.Fatalf("the client keeps idle connections %v; invitd closes them after %v", idle, server.IdleTimeout)
	}
}
