package client_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/invitd/invitd/client"
)

// operations maps each native operation to the client method that calls
// it; an endpoint added to the server without a method here fails the test.
var operations = map[string]string{
	"list-organizations": "Organizations", "create-organization": "CreateOrganization",
	"get-organization": "GetOrganization", "update-organization": "UpdateOrganization", "delete-organization": "DeleteOrganization",
	"create-invitation": "CreateInvitation", "bulk-create-invitations": "BulkCreate", "list-invitations": "Invitations",
	"list-address-invitations": "AddressInvitations", "get-invitation": "GetInvitation", "cancel-invitation": "CancelInvitation",
	"delete-invitation": "CancelInvitation", "resend-invitation": "ResendInvitation", "decline-invitation": "DeclineInvitation",
	"accept-invitation": "AcceptInvitation", "list-invitation-events": "InvitationEvents",
	"get-invitation-by-token": "GetByToken", "accept-invitation-by-token": "AcceptByToken", "decline-invitation-by-token": "DeclineByToken",
	"list-members": "Members", "get-member": "GetMember", "update-member": "UpdateMember", "delete-member": "RemoveMember",
	"list-api-keys": "APIKeys", "create-api-key": "CreateAPIKey", "delete-api-key": "RevokeAPIKey",
	"list-webhooks": "Webhooks", "create-webhook": "CreateWebhook", "get-webhook": "GetWebhook", "update-webhook": "UpdateWebhook",
	"delete-webhook": "DeleteWebhook", "rotate-webhook-secret": "RotateWebhookSecret", "test-webhook": "TestWebhook",
	"list-webhook-deliveries": "Deliveries", "retry-webhook-delivery": "RedeliverEvent",
	"list-events": "Events", "get-event": "GetEvent",
}

func TestEveryOperationHasAMethod(t *testing.T) {
	res, err := http.Get(serverURL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	ct := reflect.TypeFor[*client.Client]()
	seen := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			seen[op.OperationID] = true
			name, ok := operations[op.OperationID]
			if !ok {
				t.Errorf("%s %s (%s) has no client method", method, path, op.OperationID)
				continue
			}
			if _, ok := ct.MethodByName(name); !ok {
				t.Errorf("%s: no method %s", op.OperationID, name)
			}
		}
	}
	for id := range operations {
		if !seen[id] {
			t.Errorf("the server has no operation %s", id)
		}
	}
}
