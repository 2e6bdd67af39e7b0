package api_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/invitd/invitd/invite"
)

// The served OpenAPI document describes every organization setting (as
// the organization shows them and as an update takes them) and the policy
// endpoints, each with its text.
func TestOpenAPICoversSettingsAndEndpoints(t *testing.T) {
	e := newEnv(t)
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Description string `json:"description"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(e.call("GET", "/openapi.json", "", nil).want(t, 200).Body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ schema string }{{"Settings"}, {"SettingsPatch"}} {
		s, ok := doc.Components.Schemas[c.schema]
		if !ok {
			names := make([]string, 0, len(doc.Components.Schemas))
			for n := range doc.Components.Schemas {
				names = append(names, n)
			}
			t.Fatalf("no schema %s among %v", c.schema, names)
		}
		rt := reflect.TypeFor[invite.Settings]()
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			p, ok := s.Properties[name]
			if !ok {
				t.Errorf("%s has no property %s", c.schema, name)
			} else if p.Description == "" {
				t.Errorf("%s.%s has no description", c.schema, name)
			}
		}
	}
	for path, method := range map[string]string{
		"/v1/organizations/{org_id}/invitations/bulk": "post",
		"/v1/invitations": "get",
		"/v1/organizations/{org_id}/members/{member_id}":                "patch",
		"/v1/organizations/{org_id}":                                    "get",
		"/v1/organizations/{org_id}/invitations/{invitation_id}/resend": "post",
	} {
		if _, ok := doc.Paths[path][method]; !ok {
			t.Errorf("the document has no %s %s", strings.ToUpper(method), path)
		}
	}
	var bulk struct {
		RequestBody struct {
			Content map[string]json.RawMessage `json:"content"`
		} `json:"requestBody"`
		Parameters []struct {
			Name string `json:"name"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(doc.Paths["/v1/organizations/{org_id}/invitations/bulk"]["post"], &bulk); err != nil {
		t.Fatal(err)
	}
	if _, ok := bulk.RequestBody.Content["text/csv"]; !ok {
		t.Errorf("the bulk create's body types are %v, want text/csv among them", bulk.RequestBody.Content)
	}
	if _, ok := bulk.RequestBody.Content["application/json"]; !ok {
		t.Errorf("the bulk create's body types are %v, want application/json among them", bulk.RequestBody.Content)
	}
}
