package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/invitd/invitd/invite"
)

// ---- API keys

func testKeys(t *testing.T, e *env) {
	t.Run("OrgKey", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		k, err := e.svc.CreateKey(ctx, &o.ID, invite.KeyInput{Name: "  ci  "})
		if err != nil {
			t.Fatal(err)
		}
		if k.Name != "ci" || k.OrgID == nil || *k.OrgID != o.ID || k.Token != invite.KeyPrefix+k.ID+"_"+k.Secret {
			t.Errorf("new key %+v token %q", k.APIKey, k.Token)
		}
		for name, auth := range map[string]func() (*invite.Principal, error){
			"bearer":      func() (*invite.Principal, error) { return e.svc.Authenticate(ctx, k.Token) },
			"id+secret":   func() (*invite.Principal, error) { return e.svc.AuthenticateKey(ctx, k.ID, k.Secret) },
			"second time": func() (*invite.Principal, error) { return e.svc.Authenticate(ctx, k.Token) },
		} {
			p, err := auth()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if p.KeyID != k.ID || p.Org == nil || *p.Org != o.ID || p.IsAdmin() {
				t.Errorf("%s: principal %+v", name, p)
			}
			if p.Authorize(o.ID) != nil {
				t.Errorf("%s: the key may not manage its own org", name)
			}
			wantKind(t, p.RequireAdmin(), invite.KindForbidden)
		}

		bad := map[string]func() (*invite.Principal, error){
			"wrong secret": func() (*invite.Principal, error) {
				return e.svc.AuthenticateKey(ctx, k.ID, strings.Repeat("0", len(k.Secret)))
			},
			"wrong bearer secret": func() (*invite.Principal, error) {
				return e.svc.Authenticate(ctx, invite.KeyPrefix+k.ID+"_x"+k.Secret[1:])
			},
			"secret alone": func() (*invite.Principal, error) { return e.svc.Authenticate(ctx, k.Secret) },
			"no prefix":    func() (*invite.Principal, error) { return e.svc.Authenticate(ctx, k.ID+"_"+k.Secret) },
			"unknown id":   func() (*invite.Principal, error) { return e.svc.AuthenticateKey(ctx, "nosuchkey", k.Secret) },
			"empty":        func() (*invite.Principal, error) { return e.svc.Authenticate(ctx, "") },
			"id as secret": func() (*invite.Principal, error) { return e.svc.AuthenticateKey(ctx, k.ID, k.ID) },
			"truncated":    func() (*invite.Principal, error) { return e.svc.Authenticate(ctx, k.Token[:len(k.Token)-1]) },
		}
		for name, auth := range bad {
			p, err := auth()
			if p != nil {
				t.Errorf("%s: authenticated as %+v", name, p)
			}
			wantKind(t, err, invite.KindUnauthorized)
		}

		keys, err := e.svc.ListKeys(ctx, &o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 1 || keys[0].ID != k.ID || keys[0].Name != "ci" {
			t.Fatalf("ListKeys = %+v, want the one key", keys)
		}
		wantTime(t, "listed created_at", keys[0].CreatedAt, k.CreatedAt)
		if strings.Contains(string(keys[0].SecretHash), k.Secret) {
			t.Error("the secret is stored in clear")
		}
	})

	t.Run("AdminKey", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		orgKey, err := e.svc.CreateKey(ctx, &o.ID, invite.KeyInput{Name: "org"})
		if err != nil {
			t.Fatal(err)
		}
		k, err := e.svc.CreateKey(ctx, nil, invite.KeyInput{Name: "ops"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.svc.Authenticate(ctx, k.Token)
		if err != nil {
			t.Fatal(err)
		}
		if !p.IsAdmin() || p.RequireAdmin() != nil || p.Authorize(o.ID) != nil || p.Authorize(invite.NewOrgID()) != nil {
			t.Errorf("admin principal %+v", p)
		}
		admins, err := e.svc.ListKeys(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(admins, func(x *invite.APIKey) bool { return x.ID == k.ID }) ||
			slices.ContainsFunc(admins, func(x *invite.APIKey) bool { return x.ID == orgKey.ID || x.OrgID != nil }) {
			t.Errorf("admin keys %+v: want the admin key and no org key", admins)
		}
		orgs, err := e.svc.ListKeys(ctx, &o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(orgs) != 1 || orgs[0].ID != orgKey.ID {
			t.Errorf("org keys %+v: want only the org's key", orgs)
		}
		// An admin key is not deleted through an org, nor an org key as an admin key.
		wantKind(t, e.svc.DeleteKey(ctx, &o.ID, k.ID), invite.KindNotFound)
		wantKind(t, e.svc.DeleteKey(ctx, nil, orgKey.ID), invite.KindNotFound)
		if err := e.svc.DeleteKey(ctx, nil, k.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Authenticate(ctx, k.Token); invite.ErrorKind(err) != invite.KindUnauthorized {
			t.Errorf("a deleted admin key authenticates: %v", err)
		}
	})

	t.Run("DeleteRevokes", func(t *testing.T) {
		ctx := sys(t)
		o := e.org(t, nil)
		k1, err := e.svc.CreateKey(ctx, &o.ID, invite.KeyInput{Name: "one"})
		if err != nil {
			t.Fatal(err)
		}
		k2, err := e.svc.CreateKey(ctx, &o.ID, invite.KeyInput{Name: "two"})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.DeleteKey(ctx, &o.ID, k1.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Authenticate(ctx, k1.Token); invite.ErrorKind(err) != invite.KindUnauthorized {
			t.Errorf("a deleted key authenticates: %v", err)
		}
		if _, err := e.svc.AuthenticateKey(ctx, k1.ID, k1.Secret); invite.ErrorKind(err) != invite.KindUnauthorized {
			t.Errorf("a deleted key authenticates with id and secret: %v", err)
		}
		if _, err := e.svc.Authenticate(ctx, k2.Token); err != nil {
			t.Errorf("the other key: %v", err)
		}
		wantKind(t, e.svc.DeleteKey(ctx, &o.ID, k1.ID), invite.KindNotFound)
		keys, _ := e.svc.ListKeys(ctx, &o.ID)
		if len(keys) != 1 || keys[0].ID != k2.ID {
			t.Errorf("keys after delete: %+v", keys)
		}
	})

	t.Run("Rules", func(t *testing.T) {
		ctx := sys(t)
		_, err := e.svc.CreateKey(ctx, new(invite.NewOrgID()), invite.KeyInput{Name: "x"})
		wantKind(t, err, invite.KindNotFound)
		o := e.org(t, nil)
		_, err = e.svc.CreateKey(ctx, &o.ID, invite.KeyInput{Name: "bad\nname"})
		wantKind(t, err, invite.KindInvalid, "name")
		_, err = e.svc.ListKeys(ctx, new(invite.NewOrgID()))
		wantKind(t, err, invite.KindNotFound)
	})

	t.Run("ConfiguredAdminKey", func(t *testing.T) {
		ctx := sys(t)
		_, err := invite.NewService(e.store, invite.Config{AdminKey: "short"})
		wantKind(t, err, invite.KindInvalid)
		secret := strings.Repeat("s", invite.MinAdminKeyLen)
		svc, err := invite.NewService(e.store, invite.Config{AdminKey: secret, Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		p, err := svc.Authenticate(ctx, secret)
		if err != nil || !p.IsAdmin() {
			t.Fatalf("configured admin key: %+v, %v", p, err)
		}
		if _, err := svc.Authenticate(ctx, secret+"x"); invite.ErrorKind(err) != invite.KindUnauthorized {
			t.Errorf("a longer key authenticates: %v", err)
		}
		if _, err := e.svc.Authenticate(ctx, secret); invite.ErrorKind(err) != invite.KindUnauthorized {
			t.Errorf("a service without that admin key accepts it: %v", err)
		}
	})
}
