package client_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/invitd/invitd/client"
)

// serverURL is a real invitd the examples run against, started by TestMain.
var serverURL string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "invitd-client-examples")
	if err != nil {
		log.Fatal(err)
	}
	url, _, stop, err := launch(dir)
	if err != nil {
		log.Fatal(err)
	}
	serverURL = url
	code := m.Run()
	stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Invite someone, then list the organization's pending invitations.
func Example() {
	ctx := context.Background()
	admin := client.New(serverURL, adminKey)
	org, err := admin.CreateOrganization(ctx, "Acme", nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := admin.CreateInvitation(ctx, org.ID, client.CreateInvitation{
		Email: "bob@example.com", Role: "admin", Inviter: &client.Inviter{ID: "u_1", Name: "Alice"},
	}); err != nil {
		log.Fatal(err)
	}
	for inv, err := range admin.Invitations(ctx, org.ID, client.ListInvitations{State: "pending"}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(inv.Email, inv.Role, inv.State)
	}
	// Output: bob@example.com admin pending
}

// A problem the server answers is an *client.Error.
func ExampleError() {
	ctx := context.Background()
	admin := client.New(serverURL, adminKey)
	org, err := admin.CreateOrganization(ctx, "Errors", nil)
	if err != nil {
		log.Fatal(err)
	}
	_, err = admin.CreateInvitation(ctx, org.ID, client.CreateInvitation{Email: "bob@example.com", Role: "pilot"})
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Title)
	}
	// Output: 422 Unprocessable Entity
}

// A webhook receiver checks each delivery before it trusts it.
func ExampleVerifyWebhook() {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a secret of the endpoint, 32 bytes"))

	// What invitd sends (made here by hand, as the server would).
	body := []byte(`{"type":"invitation.accepted"}`)
	id, ts := "msg_1", strconv.FormatInt(time.Now().Unix(), 10)
	key, _ := base64.StdEncoding.DecodeString(secret[len("whsec_"):])
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	header := http.Header{}
	header.Set("webhook-id", id)
	header.Set("webhook-timestamp", ts)
	header.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))

	if err := client.VerifyWebhook(secret, header, body); err != nil {
		fmt.Println("refused:", err)
		return
	}
	fmt.Println("verified")
	if err := client.VerifyWebhook(secret, header, []byte(`{"type":"invitation.cancelled"}`)); err != nil {
		fmt.Println("a changed body is refused")
	}
	// Output:
	// verified
	// a changed body is refused
}
