// Package client is a Go client of invitd's native API.
//
// A Client holds the server's address and one API key:
//
//	c := client.New("https://invite.example.com", os.Getenv("INVITD_KEY"))
//	inv, err := c.CreateInvitation(ctx, orgID, client.CreateInvitation{Email: "bob@example.com", Role: "admin"})
//
// Requests and answers are the package's own types. A problem the server
// answers is an *Error with its status, title and detail. Lists are
// iterators that follow the server's cursors:
//
//	for inv, err := range c.Invitations(ctx, orgID, client.ListInvitations{State: "pending"}) {
//		if err != nil { ... }
//	}
//
// Creates carry an Idempotency-Key (a random one unless given), so that the
// client's retries make one invitation. A 429 or 503 is tried again after
// the server's Retry-After, as is a 5xx or a lost connection when repeating
// the request is safe (WithRetries, WithMaxRetryWait).
//
// VerifyWebhook checks the signature of a webhook delivery.
package client
