package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLIErr runs a command that must fail and returns its error's text.
func runCLIErr(t *testing.T, db string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), append(args, "--db", db), &out, &errb)
	if err == nil {
		t.Fatalf("invitd %v succeeded: %s", args, out.String())
	}
	return err.Error()
}

func items(t *testing.T, m map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, it := range m["data"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

func TestCLIEvents(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "cli.db")
	org := runCLI(t, db, "org", "create", "--name", "Shell Co")["id"].(string)
	a := runCLI(t, db, "invite", "create", "--org", org, "--email", "a@example.com")["id"].(string)
	runCLI(t, db, "invite", "create", "--org", org, "--email", "b@example.com")
	runCLI(t, db, "invite", "cancel", "--org", org, "--id", a)

	all := runCLI(t, db, "events", "list", "--org", org)
	evs := items(t, all)
	var got []string
	for _, ev := range evs {
		got = append(got, ev["type"].(string))
	}
	if strings.Join(got, " ") != "invitation.created invitation.created invitation.cancelled" {
		t.Fatalf("events list: %v", got)
	}
	// The shell is the system, and no request made these.
	if act := evs[0]["actor"].(map[string]any); act["type"] != "system" || act["id"] != "system" || evs[0]["request_id"] != nil {
		t.Fatalf("actor of a shell change: %v", evs[0])
	}
	if c, _ := all["next_cursor"].(string); c == "" {
		t.Fatalf("no cursor: %v", all)
	}

	if l := items(t, runCLI(t, db, "events", "list", "--org", org, "--type", "invitation.cancelled")); len(l) != 1 || l[0]["data"].(map[string]any)["id"] != a {
		t.Fatalf("--type: %v", l)
	}
	if l := items(t, runCLI(t, db, "events", "list", "--org", org, "--type", "member.*,invitation.cancelled")); len(l) != 1 {
		t.Fatalf("--type list: %v", l)
	}
	first := runCLI(t, db, "events", "list", "--org", org, "--limit", "2")
	if len(items(t, first)) != 2 {
		t.Fatalf("--limit 2: %v", first)
	}
	rest := runCLI(t, db, "events", "list", "--org", org, "--after", first["next_cursor"].(string))
	if l := items(t, rest); len(l) != 1 || l[0]["type"] != "invitation.cancelled" {
		t.Fatalf("--after: %v", rest)
	}
	// At the end the page is empty and the cursor stays.
	end := runCLI(t, db, "events", "list", "--org", org, "--after", rest["next_cursor"].(string))
	if len(items(t, end)) != 0 || end["next_cursor"] != rest["next_cursor"] {
		t.Fatalf("end of the log: %v", end)
	}

	if err := runCLIErr(t, db, "events", "list", "--org", org, "--type", "bogus"); !strings.Contains(err, "bogus") {
		t.Fatalf("unknown type: %s", err)
	}
	if err := runCLIErr(t, db, "events", "list", "--org", org, "--after", "garbage"); !strings.Contains(err, "cursor") {
		t.Fatalf("bad cursor: %s", err)
	}
	if err := runCLIErr(t, db, "events", "list"); !strings.Contains(err, "--org") {
		t.Fatalf("no org: %s", err)
	}
}

func TestCLIWebhooks(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "cli.db")
	org := runCLI(t, db, "org", "create", "--name", "Shell Co")["id"].(string)

	c := runCLI(t, db, "webhook", "create", "--org", org, "--url", "https://93.184.215.14/hooks",
		"--events", "invitation.*,member.created", "--description", "CRM")
	id, secret := c["id"].(string), c["secret"].(string)
	if !strings.HasPrefix(id, "wh_") || !strings.HasPrefix(secret, "whsec_") || c["enabled"] != true ||
		c["description"] != "CRM" || len(c["events"].([]any)) != 2 {
		t.Fatalf("webhook create: %v", c)
	}
	g := runCLI(t, db, "webhook", "get", "--org", org, "--id", id)
	if _, ok := g["secret"]; ok || g["id"] != id {
		t.Fatalf("webhook get: %v", g)
	}
	if l := items(t, runCLI(t, db, "webhook", "list", "--org", org)); len(l) != 1 || l[0]["secret"] != nil {
		t.Fatalf("webhook list: %v", l)
	}

	ev := runCLI(t, db, "webhook", "test", "--org", org, "--id", id)
	if ev["type"] != "webhook.test" || !strings.HasPrefix(ev["id"].(string), "evt_") {
		t.Fatalf("webhook test: %v", ev)
	}
	dl := runCLI(t, db, "webhook", "deliveries", "--org", org, "--id", id, "--limit", "10")
	if d := items(t, dl); len(d) != 1 || d[0]["event_id"] != ev["id"] || d[0]["state"] != "pending" || dl["next_cursor"] != nil {
		t.Fatalf("webhook deliveries: %v", dl)
	}
	if r := runCLI(t, db, "webhook", "retry", "--org", org, "--id", id, "--event", ev["id"].(string)); r["event_id"] != ev["id"] || r["state"] != "pending" {
		t.Fatalf("webhook retry: %v", r)
	}
	if err := runCLIErr(t, db, "webhook", "retry", "--org", org, "--id", id, "--event", "evt_01JZZZZZZZZZZZZZZZZZZZZZZZ"); !strings.Contains(err, "no delivery") {
		t.Fatalf("retry of an unknown event: %s", err)
	}
	if err := runCLIErr(t, db, "webhook", "retry", "--org", org, "--id", id); !strings.Contains(err, "--event") {
		t.Fatalf("retry without --event: %s", err)
	}
	if err := runCLIErr(t, db, "webhook", "get", "--org", org); !strings.Contains(err, "--id") {
		t.Fatalf("get without --id: %s", err)
	}
	if err := runCLIErr(t, db, "webhook", "create", "--org", org, "--url", "https://93.184.215.14/", "--events", "bogus.*"); !strings.Contains(err, "bogus") {
		t.Fatalf("bad events: %s", err)
	}

	if d := runCLI(t, db, "webhook", "delete", "--org", org, "--id", id); d["deleted"] != true {
		t.Fatalf("webhook delete: %v", d)
	}
	if err := runCLIErr(t, db, "webhook", "get", "--org", org, "--id", id); !strings.Contains(err, "not found") {
		t.Fatalf("get after delete: %s", err)
	}
	if err := runCLIErr(t, db, "webhook", "frobnicate", "--org", org); !strings.Contains(err, "unknown command") {
		t.Fatalf("unknown subcommand: %s", err)
	}
}

// The shell refuses the URLs the API refuses, and allows what
// INVITD_WEBHOOK_ALLOW_NETWORKS allows, as serve does.
func TestCLIWebhookURLGuard(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "cli.db")
	org := runCLI(t, db, "org", "create", "--name", "Shell Co")["id"].(string)
	t.Setenv("INVITD_WEBHOOK_ALLOW_NETWORKS", "")
	for _, u := range []string{"http://127.0.0.1:8080/hook", "http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]/"} {
		if err := runCLIErr(t, db, "webhook", "create", "--org", org, "--url", u); !strings.Contains(err, "refused") && !strings.Contains(err, "address") {
			t.Errorf("%s: %s", u, err)
		}
	}
	if l := items(t, runCLI(t, db, "webhook", "list", "--org", org)); len(l) != 0 {
		t.Fatalf("a refused URL was stored: %v", l)
	}

	t.Setenv("INVITD_WEBHOOK_ALLOW_NETWORKS", "10.1.0.0/16, 127.0.0.1")
	runCLI(t, db, "webhook", "create", "--org", org, "--url", "http://10.1.2.3/hook")
	runCLI(t, db, "webhook", "create", "--org", org, "--url", "http://127.0.0.1:8080/hook")
	runCLIErr(t, db, "webhook", "create", "--org", org, "--url", "http://127.0.0.2:8080/hook")
	if l := items(t, runCLI(t, db, "webhook", "list", "--org", org)); len(l) != 2 {
		t.Fatalf("allowed networks: %v", l)
	}

	t.Setenv("INVITD_WEBHOOK_ALLOW_NETWORKS", "not-a-network")
	if err := runCLIErr(t, db, "webhook", "list", "--org", org); !strings.Contains(err, "INVITD_WEBHOOK_ALLOW_NETWORKS") {
		t.Fatalf("bad allow list: %s", err)
	}
}

func TestCLIImport(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "cli.db")
	org := runCLI(t, db, "org", "create", "--name", "Shell Co")["id"].(string)
	csv := filepath.Join(dir, "people.csv")
	if err := os.WriteFile(csv, []byte("email,role\nann@example.com,admin\nbad,\nann@example.com,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		return len(items(t, runCLI(t, db, "invite", "list", "--org", org)))
	}
	dry := runCLI(t, db, "invite", "import", "--org", org, "--csv", csv, "--dry-run")
	if dry["dry_run"] != true || dry["created"] != 1.0 || dry["errors"] != 1.0 || dry["skipped"] != 1.0 || count() != 0 {
		t.Fatalf("dry run: %v (%d invitations stored)", dry, count())
	}
	res := runCLI(t, db, "invite", "import", "--org", org, "--csv", csv)
	rows := res["results"].([]any)
	if res["created"] != 1.0 || len(rows) != 3 || rows[0].(map[string]any)["invitation"].(map[string]any)["role"] != "admin" || count() != 1 {
		t.Fatalf("import: %v (%d invitations stored)", res, count())
	}
	if err := runCLIErr(t, db, "invite", "import", "--org", org); !strings.Contains(err, "--csv") {
		t.Fatalf("no --csv: %s", err)
	}
	if err := runCLIErr(t, db, "invite", "import", "--org", org, "--csv", filepath.Join(dir, "missing.csv")); !strings.Contains(err, "missing.csv") {
		t.Fatalf("missing file: %s", err)
	}
}
