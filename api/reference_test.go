package api_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// /docs is the API reference, rendered from the served document: every
// operation and schema has its section, nothing is loaded from anywhere,
// and the one style block is allowed by its hash alone.
func TestReference(t *testing.T) {
	e := newEnv(t)
	r := e.call("GET", "/docs", "", nil).want(t, 200)
	page := string(r.Body)
	if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	var doc struct {
		Paths      map[string]map[string]struct{ OperationID string }
		Components struct{ Schemas map[string]any }
	}
	if err := json.Unmarshal(e.call("GET", "/openapi.json", "", nil).want(t, 200).Body, &doc); err != nil {
		t.Fatal(err)
	}
	ops := 0
	for path, methods := range doc.Paths {
		for method, op := range methods {
			ops++
			if !strings.Contains(page, `<article id="`+op.OperationID+`" class="op">`) {
				t.Errorf("no section for %s %s (%s)", strings.ToUpper(method), path, op.OperationID)
			}
		}
	}
	if ops < 30 || len(doc.Components.Schemas) < 20 {
		t.Fatalf("the document has %d operations and %d schemas: not the native API's", ops, len(doc.Components.Schemas))
	}
	for name := range doc.Components.Schemas {
		if !strings.Contains(page, `<article id="schema-`+name+`" class="schema">`) {
			t.Errorf("no section for the schema %s", name)
		}
	}
	// Every in-page link leads to a section that exists.
	for _, m := range regexp.MustCompile(`href="#([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if !strings.Contains(page, `id="`+m[1]+`"`) {
			t.Errorf("the link #%s leads nowhere", m[1])
		}
	}
	for _, s := range []string{"<script", " src=", `href="http`, "url(", "@import", `rel="stylesheet"`} {
		if strings.Contains(page, s) {
			t.Errorf("the page has %q: it must load nothing", s)
		}
	}
	if !strings.Contains(page, `<a href="openapi.json">`) || !strings.Contains(page, "Idempotency-Key") || !strings.Contains(page, "text/csv") {
		t.Error("the page lacks the document's link, a header parameter or the bulk create's CSV body")
	}
	styles := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllStringSubmatch(page, -1)
	if len(styles) != 1 {
		t.Fatalf("%d style blocks, want 1", len(styles))
	}
	sum := sha256.Sum256([]byte(styles[0][1]))
	want := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	if csp := r.Header.Get("Content-Security-Policy"); csp != want {
		t.Errorf("CSP %q, want %q", csp, want)
	}
}
