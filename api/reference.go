package api

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
)

// The API reference at /docs is rendered on the server from the OpenAPI
// document itself: no script and no asset from another host, so its CSP can
// be as strict as the invitee page's.

//go:embed reference/reference.html
var referenceHTML string

//go:embed reference/reference.css
var referenceCSS string

var referenceTmpl = template.Must(template.New("reference").Parse(referenceHTML))

type refDoc struct {
	Title, Version, Description string
	CSS                         template.CSS
	Security                    []refField
	Tags                        []refTag
	Schemas                     []refSchema
}

type refTag struct {
	Name, Anchor string
	Ops          []refOp
}

type refOp struct {
	ID, Method, Path, Summary, Description string
	Params                                 []refField
	BodyTypes                              []string
	Body                                   refType
	Responses                              []refField
}

type refSchema struct {
	Name, Description string
	Fields            []refField
	Enum              string
}

// refField is a parameter, property, response or scheme: a name, where or
// whether it is needed, its type and its text.
type refField struct {
	Name, In, Description string
	Required              bool
	Type                  refType
}

// refType is a schema written as a type: its text and, for a named schema,
// the anchor of its section.
type refType struct {
	Text, Anchor string
}

// referenceHandler serves the reference of api's document, rendered once on
// the first request (the document is complete once every operation is
// registered).
func referenceHandler(api huma.API) http.Handler {
	var (
		once sync.Once
		page []byte
		csp  string
		err  error
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() {
			var b bytes.Buffer
			if err = referenceTmpl.Execute(&b, buildReference(api.OpenAPI())); err != nil {
				return
			}
			page = b.Bytes()
			sum := sha256.Sum256([]byte(referenceCSS))
			csp = fmt.Sprintf("default-src 'none'; style-src 'sha256-%s'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
				base64.StdEncoding.EncodeToString(sum[:]))
		})
		if err != nil {
			http.Error(w, "the API reference could not be rendered", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Write(page)
	})
}

func buildReference(o *huma.OpenAPI) refDoc {
	d := refDoc{Title: o.Info.Title, Version: o.Info.Version, Description: o.Info.Description, CSS: template.CSS(referenceCSS)}
	for _, name := range sortedKeys(o.Components.SecuritySchemes) {
		s := o.Components.SecuritySchemes[name]
		d.Security = append(d.Security, refField{Name: name, In: s.Type + " " + s.Scheme, Description: s.Description})
	}
	tags := map[string]*refTag{}
	var order []string
	for _, path := range sortedKeys(o.Paths) {
		item := o.Paths[path]
		for _, m := range []struct {
			method string
			op     *huma.Operation
		}{{"GET", item.Get}, {"POST", item.Post}, {"PUT", item.Put}, {"PATCH", item.Patch}, {"DELETE", item.Delete}} {
			if m.op == nil {
				continue
			}
			tag := "Other"
			if len(m.op.Tags) > 0 {
				tag = m.op.Tags[0]
			}
			if tags[tag] == nil {
				tags[tag] = &refTag{Name: tag, Anchor: "tag-" + strings.ToLower(strings.ReplaceAll(tag, " ", "-"))}
				order = append(order, tag)
			}
			tags[tag].Ops = append(tags[tag].Ops, buildOp(m.method, path, m.op))
		}
	}
	for _, t := range order {
		d.Tags = append(d.Tags, *tags[t])
	}
	if o.Components.Schemas != nil {
		all := o.Components.Schemas.Map()
		for _, name := range sortedKeys(all) {
			s := all[name]
			rs := refSchema{Name: name, Description: s.Description, Enum: enumText(s.Enum)}
			for _, p := range sortedKeys(s.Properties) {
				ps := s.Properties[p]
				rs.Fields = append(rs.Fields, refField{Name: p, Required: slices.Contains(s.Required, p),
					Type: typeOf(ps), Description: ps.Description})
			}
			d.Schemas = append(d.Schemas, rs)
		}
	}
	return d
}

func buildOp(method, path string, op *huma.Operation) refOp {
	r := refOp{ID: op.OperationID, Method: method, Path: path, Summary: op.Summary, Description: op.Description}
	for _, p := range op.Parameters {
		r.Params = append(r.Params, refField{Name: p.Name, In: p.In, Required: p.Required, Type: typeOf(p.Schema), Description: p.Description})
	}
	if op.RequestBody != nil {
		r.BodyTypes = sortedKeys(op.RequestBody.Content)
		if mt := op.RequestBody.Content["application/json"]; mt != nil {
			r.Body = typeOf(mt.Schema)
		}
	}
	for _, code := range sortedKeys(op.Responses) {
		resp := op.Responses[code]
		f := refField{Name: code, Description: resp.Description}
		for _, ct := range sortedKeys(resp.Content) {
			f.In = ct
			if t := typeOf(resp.Content[ct].Schema); t.Text != "" {
				f.Type = t
			}
			break
		}
		r.Responses = append(r.Responses, f)
	}
	return r
}

// typeOf writes s as a type: a named schema by its name, an array by its
// items, else its type and format.
func typeOf(s *huma.Schema) refType {
	if s == nil {
		return refType{}
	}
	if s.Ref != "" {
		name := s.Ref[strings.LastIndex(s.Ref, "/")+1:]
		return refType{Text: name, Anchor: "schema-" + name}
	}
	if s.Type == "array" {
		t := typeOf(s.Items)
		t.Text = "array of " + t.Text
		return t
	}
	t := s.Type
	if s.Format != "" {
		t += " (" + s.Format + ")"
	}
	if e := enumText(s.Enum); e != "" {
		t += ": " + e
	}
	if s.Nullable {
		t += ", or null"
	}
	return refType{Text: t}
}

func enumText(enum []any) string {
	if len(enum) == 0 {
		return ""
	}
	parts := make([]string, len(enum))
	for i, v := range enum {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
