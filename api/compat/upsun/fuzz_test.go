package upsun_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/invitd/invitd/api/compat/internal/compattest"
	"github.com/invitd/invitd/api/compat/upsun"
	"github.com/invitd/invitd/invite"
)

// The create body and the list's query, as a client may send them: no
// input is a 5xx, every error is Upsun's error of its status, an ambiguous
// body is a 400, and what is taken is what was asked for. The store is made
// once per target; each input is one request to the handler.
func FuzzUpsunCreate(f *testing.F) {
	env := compattest.New(f, nil)
	h := upsun.New(env.Svc)
	path := "/organizations/" + env.Org.ID.String() + "/invitations"
	for _, s := range []string{
		`{"email":"a@example.com","permissions":["billing","members"]}`, `{"email":"b@example.com","permissions":[],"force":true}`,
		`{"email":"c@example.com"}`, `{"email":"a@example.com","permissions":[],"permissions":["admin"]}`,
		"{\"email\":\"d\xff@example.com\",\"permissions\":[]}", `{"email":"e@example.com","permissions":["\u0000"]}`,
		`{"email":"f@example.com","permissions":["\ud800"]}`, `[]`, `{"email":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, ok := compattest.Request(h, http.MethodPost, path, body, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+env.Key.Token) })
		if !ok {
			return
		}
		checkUpsunAnswer(t, string(body), r)
		if compattest.Ambiguous(body) && r.Status != http.StatusBadRequest {
			t.Fatalf("%q: %d, want 400: %s", body, r.Status, r.Body)
		}
		if r.Status != http.StatusCreated {
			return
		}
		var sent struct {
			Email       string
			Permissions []string
		}
		if err := json.Unmarshal(body, &sent); err != nil {
			t.Fatalf("%q was taken, but does not decode: %v", body, err)
		}
		var got struct {
			Email       string
			Permissions []string
		}
		r.JSON(t, &got)
		email, err := invite.NormalizeEmail(sent.Email)
		slices.Sort(sent.Permissions)
		slices.Sort(got.Permissions)
		if err != nil || got.Email != email || !slices.Equal(slices.Compact(sent.Permissions), got.Permissions) {
			t.Fatalf("%q: made %s (the address normalizes to %q, %v)", body, r.Body, email, err)
		}
	})
}

func FuzzUpsunListQuery(f *testing.F) {
	env := compattest.New(f, nil)
	h := upsun.New(env.Svc)
	for _, e := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		env.Invite(f, env.Org.ID, invite.CreateInvitation{Email: e})
	}
	path := "/organizations/" + env.Org.ID.String() + "/invitations"
	for _, s := range []string{"", "page[size]=1", "filter[state][in]=pending,cancelled&sort=-updated_at&page[size]=2",
		"filter[state]=processing", "page[after]=x", "filter[x]=1", "sort=updated_at&page[size]=1&page[before]=e30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		r, ok := compattest.Request(h, http.MethodGet, path+"?"+query, nil, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+env.Key.Token) })
		if !ok {
			return
		}
		checkUpsunAnswer(t, query, r)
		if r.Status != http.StatusOK {
			return
		}
		var items []json.RawMessage
		if err := json.Unmarshal(r.Body, &items); err != nil || items == nil || len(items) > upsun.MaxPageSize {
			t.Fatalf("%q: %s is not a page (%v)", query, r.Body, err)
		}
	})
}

// checkUpsunAnswer fails on a 5xx, and on an error not in Upsun's shape.
func checkUpsunAnswer(t *testing.T, what string, r *compattest.Response) {
	t.Helper()
	if r.Status >= 500 {
		t.Fatalf("%q: %d %s", what, r.Status, r.Body)
	}
	if r.Status < 400 {
		return
	}
	var e struct {
		Error, Status string
		Code          int
	}
	if err := json.Unmarshal(r.Body, &e); err != nil || e.Error == "" || e.Status != "error" || e.Code != r.Status {
		t.Fatalf("%q: %d answered %s, not in Upsun's shape (%v)", what, r.Status, r.Body, err)
	}
}
