package server_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/server"
)

// stall sends a request whose body never arrives past its first byte and
// returns the status it is answered with, and when.
func stall(t *testing.T, addr, head string) (int, time.Duration, error) {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	if _, err := fmt.Fprintf(c, "%sContent-Length: 100\r\n\r\n{", head); err != nil {
		return 0, 0, err
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, time.Since(start), err
	}
	res.Body.Close()
	return res.StatusCode, time.Since(start), nil
}

// A body that stops arriving is cut on every route family, 200 at once on
// each, while other requests are answered; a shutdown does not wait for
// stalled bodies beyond the deadline.
func TestStalledBodiesAreCut(t *testing.T) {
	const deadline = 2 * time.Second
	ctx := context.Background()
	srv, err := server.Open(ctx, server.Config{DB: "sqlite:" + filepath.Join(t.TempDir(), "x.db"), AdminKey: adminKey,
		BodyTimeout: deadline})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	sys := invite.WithPrincipal(ctx, invite.System)
	// 200 requests at once with one key: more than its limits let through.
	noLimit := invite.NoLimit
	org, err := srv.Service.CreateOrg(sys, "Acme", &invite.SettingsPatch{MaxRequestsPerSecond: &noLimit})
	if err != nil {
		t.Fatal(err)
	}
	key, err := srv.Service.CreateKey(sys, &org.ID, invite.KeyInput{Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	created, err := srv.Service.CreateInvitation(sys, org.ID, invite.CreateInvitation{Email: "bob@example.com", NoEmail: true})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	addr := ln.Addr().String()

	basic := base64.StdEncoding.EncodeToString([]byte(key.ID + ":" + key.Secret))
	post := func(path, headers string) string {
		return "POST " + path + " HTTP/1.1\r\nHost: invitd\r\nContent-Type: application/json\r\n" + headers
	}
	families := []struct {
		name, head string
		within     time.Duration // the native API's operations cut their bodies at 5s
	}{
		{"native", post("/v1/organizations/"+org.ID.String()+"/invitations", "Authorization: Bearer "+key.Token+"\r\n"), 5 * time.Second},
		{"jicoo", post("/compat/jicoo/v1/organization_invitations", "X-Jicoo-Api-Key: "+key.Token+"\r\n"), deadline},
		{"clickhouse", post("/compat/clickhouse/v1/organizations/"+org.ID.UUID()+"/invitations", "Authorization: Basic "+basic+"\r\n"), deadline},
		{"upsun", post("/compat/upsun/organizations/"+org.ID.String()+"/invitations", "Authorization: Bearer "+key.Token+"\r\n"), deadline},
		{"invitee page", "POST /i/" + created.Token + "/accept HTTP/1.1\r\nHost: invitd\r\nContent-Type: application/x-www-form-urlencoded\r\n", deadline},
	}
	const each = 200
	type answer struct {
		family string
		status int
		took   time.Duration
		err    error
	}
	answers := make(chan answer, each*len(families))
	var wg sync.WaitGroup
	for _, f := range families {
		for range each {
			wg.Go(func() {
				status, took, err := stall(t, addr, f.head)
				answers <- answer{f.name, status, took, err}
			})
		}
	}
	// While they stall, the service answers.
	time.Sleep(deadline / 5)
	c := &http.Client{Timeout: 5 * time.Second}
	start := time.Now()
	res, err := c.Get("http://" + addr + "/healthz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("healthz while bodies stall: %v %v", res, err)
	}
	res.Body.Close()
	if took := time.Since(start); took > deadline*3/4 {
		t.Errorf("healthz took %v while bodies stalled, not answered before they were cut", took)
	}
	wg.Wait()
	close(answers)
	within := map[string]time.Duration{}
	for _, f := range families {
		within[f.name] = f.within
	}
	bad := map[string]int{}
	for a := range answers {
		// Slack for a loaded machine; a body held for good is cut never.
		if a.err != nil || a.status != http.StatusRequestTimeout || a.took > within[a.family]+3*time.Second {
			if bad[a.family]++; bad[a.family] == 1 {
				t.Errorf("%s: a stalled body was answered %d after %v (%v), want 408 within %v", a.family, a.status, a.took, a.err, within[a.family])
			}
		}
	}

	// A shutdown with bodies stalled waits for them no longer than the deadline.
	var held []net.Conn
	for range 20 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "%sContent-Length: 100\r\n\r\n{", families[1].head)
		held = append(held, c)
	}
	time.Sleep(deadline / 5)
	start = time.Now()
	stop()
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if took := time.Since(start); took > deadline+3*time.Second {
		t.Errorf("the shutdown took %v with %d bodies stalled", took, len(held))
	}
}
