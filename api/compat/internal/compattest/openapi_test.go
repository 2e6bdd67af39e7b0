package compattest

import (
	"net/http"
	"strings"
	"testing"
)

const upsunDoc = "../../testdata/upsun-organization-invitations.openapi.json"

func TestSpecCheck(t *testing.T) {
	s := LoadSpec(t, upsunDoc, "/compat/upsun", SpecOptions{
		Extra:       map[string]string{"/components/schemas/Error": `{"code": {"type": "integer"}}`},
		ErrorStatus: 403,
	})
	const list = "http://127.0.0.1:1/compat/upsun/organizations/01ARZ3NDEKTSV4RRFFQ69G5FAV/invitations"
	inv := `{"id":"97f46eca-6276-4993-bfeb-bbb53cba6f08","state":"pending","organization_id":"01ARZ3NDEKTSV4RRFFQ69G5FAV",
		"email":"bob@example.com","owner":{"id":"497f6eca-6276-4993-bfeb-53cbbbba6f08","display_name":"Alice"%s},
		"created_at":"2019-08-24T14:15:22Z","updated_at":"2019-08-24T14:15:22Z","finished_at":null,"permissions":["members"]%s}`
	json := http.Header{"Content-Type": {"application/json"}}
	for _, tt := range []struct {
		name, method, url string
		status            int
		body, fails       string // fails: "" if allowed, else a part of the error
	}{
		{"list", "GET", list, 200, "[" + strings.Replace(strings.Replace(inv, "%s", "", 1), "%s", "", 1) + "]", ""},
		{"extra field", "GET", list, 200, "[" + strings.Replace(strings.Replace(inv, "%s", "", 1), "%s", `,"role":"x"`, 1) + "]", "role"},
		{"extra nested field", "GET", list, 200, "[" + strings.Replace(strings.Replace(inv, "%s", `,"email":"a@b.c"`, 1), "%s", "", 1) + "]", "email"},
		{"bad uuid", "GET", list, 200, `[{"id":"12"}]`, "uuid"},
		{"bad enum", "GET", list, 200, `[{"state":"declined"}]`, "state"},
		{"not null", "GET", list, 200, `[{"email":null}]`, "email"},
		{"envelope", "GET", list, 200, `{"data":[]}`, "array"},
		{"created", "POST", list, 201, "{}", ""},
		{"undocumented success", "POST", list, 200, "{}", "not documented"},
		{"documented error", "POST", list, 409, `{"error":"x","code":409}`, ""},
		{"error without error", "POST", list, 409, `{"code":409}`, "error"},
		{"error with another field", "POST", list, 400, `{"error":"x","title":"t"}`, "title"},
		{"undocumented error, as 403", "GET", list, 400, `{"error":"x","code":400}`, ""},
		{"undocumented error, wrong shape", "GET", list, 401, `{"message":"x"}`, "error"},
		{"documented without a body", "DELETE", list + "/x", 404, `{"error":"x"}`, ""},
		{"documented without a body, wrong shape", "DELETE", list + "/x", 404, `{"msg":"x"}`, "msg"},
		{"no body", "DELETE", list + "/x", 204, "", ""},
		{"no operation", "GET", "http://127.0.0.1:1/compat/upsun/organizations", 404, `{"error":"x"}`, ""},
		{"no such method", "PUT", list, 405, `{"nope":1}`, "nope"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, tt.url, nil)
			err := s.check(req, &Response{Status: tt.status, Header: json, Body: []byte(tt.body)})
			switch {
			case tt.fails == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.fails != "" && err == nil:
				t.Errorf("allowed, want a failure about %q", tt.fails)
			case tt.fails != "" && !strings.Contains(err.Error(), tt.fails):
				t.Errorf("error %v does not name %q", err, tt.fails)
			}
		})
	}
	req, _ := http.NewRequest("GET", list, nil)
	if err := s.check(req, &Response{Status: 200, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("[]")}); err == nil {
		t.Errorf("text/plain allowed")
	}
}

func TestSpecCheckRequest(t *testing.T) {
	s := LoadSpec(t, upsunDoc, "/compat/upsun", SpecOptions{})
	const list = "http://h/compat/upsun/organizations/01ARZ3NDEKTSV4RRFFQ69G5FAV/invitations"
	for q, ok := range map[string]bool{
		"":                            true,
		"filter%5Bstate%5D%5Beq%5D=x": true,
		"filter%5Bstate%5D%5Bin%5D=a%2Cb&sort=-updated_at&page%5Bsize%5D=5": true,
		"sort=created_at":  false,
		"page%5Bsize%5D=0": false,
	} {
		req, _ := http.NewRequest("GET", list+"?"+q, nil)
		if err := s.CheckRequest(req, nil); (err == nil) != ok {
			t.Errorf("%s: %v, want allowed=%v", q, err, ok)
		}
	}
	req, _ := http.NewRequest("POST", list, nil)
	req.Header.Set("Content-Type", "application/json")
	if err := s.CheckRequest(req, []byte(`{"email":"a@example.com","permissions":["admin"]}`)); err != nil {
		t.Errorf("create: %v", err)
	}
	if err := s.CheckRequest(req, []byte(`{"email":"a@example.com"}`)); err == nil {
		t.Errorf("create without permissions allowed")
	}
}

// Cached reads the document once: every test gets the same Spec.
func TestCached(t *testing.T) {
	load := Cached(upsunDoc, "/compat/upsun", SpecOptions{})
	first := load(t)
	if first == nil || load(t) != first {
		t.Fatal("Cached loaded the document again")
	}
}
