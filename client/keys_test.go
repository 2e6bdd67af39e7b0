package client_test

import (
	"errors"
	"testing"
	"time"

	"github.com/invitd/invitd/client"
)

func TestAPIKeys(t *testing.T) {
	e := start(t)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	k, err := e.c.CreateAPIKey(e.ctx, e.org, client.CreateAPIKey{Name: "reader", Scopes: []string{"invitations:read"}, ExpiresAt: &exp})
	ok(t, err)
	if k.Key == "" || k.ExpiresAt == nil || !k.ExpiresAt.Equal(exp) || len(k.Scopes) != 1 {
		t.Fatalf("new key %+v", k)
	}
	reader := client.New(e.url, k.Key)
	if _, err := collectErr(reader.Invitations(e.ctx, e.org, client.ListInvitations{})); err != nil {
		t.Fatalf("the reader cannot list: %v", err)
	}
	_, err = reader.CreateInvitation(e.ctx, e.org, client.CreateInvitation{Email: "x@example.com"})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 403 {
		t.Fatalf("the reader invited: %v", err)
	}
	keys, err := e.c.APIKeys(e.ctx, e.org)
	ok(t, err)
	found := false
	for _, kk := range keys {
		found = found || (kk.ID == k.ID && kk.Name == "reader" && kk.LastUsedAt != nil)
	}
	if len(keys) != 2 || !found {
		t.Fatalf("keys %+v", keys)
	}
	ok(t, e.c.RevokeAPIKey(e.ctx, e.org, k.ID))
	if _, err := collectErr(reader.Invitations(e.ctx, e.org, client.ListInvitations{})); !errors.As(err, &ce) || ce.Status != 401 {
		t.Fatalf("a revoked key: %v", err)
	}
}

// collectErr drains an iterator and returns its error.
func collectErr[T any](seq func(func(T, error) bool)) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}
