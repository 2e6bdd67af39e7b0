package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/invitd/invitd/internal/input"
	"github.com/invitd/invitd/invite"
)

// BulkBody is a bulk create sent as JSON.
type BulkBody struct {
	Invitations []CreateBody `json:"invitations" maxItems:"1000" doc:"At most 1,000 create bodies"`
	DryRun      bool         `json:"dry_run,omitempty" doc:"true: check every row and write nothing"`
}

type bulkInput struct {
	OrgPath
	DryRun         bool   `query:"dry_run" doc:"true: check every row and write nothing (for a CSV body; a JSON body may say dry_run itself)"`
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Retrying with the same key and body within 24 hours returns the first answer"`
	ContentType    string `header:"Content-Type"`
	RawBody        []byte `contentType:"text/csv"`
}

func (h *handlers) registerBulk(api huma.API) {
	o := op("POST", "/v1/organizations/{org_id}/invitations/bulk", "bulk-create-invitations",
		"Invite up to 1,000 addresses in one request, from JSON or CSV, with a result per row", "Invitations", http.StatusOK, true)
	o.Description = "A JSON body is `{\"invitations\": [<create bodies>], \"dry_run\": false}`. " +
		"A `text/csv` body has a header row naming its columns, of `" + strings.Join(invite.CSVColumns, ", ") + "` (email required); " +
		"permissions are separated by spaces or semicolons, metadata is a JSON object; `?dry_run=true` checks without writing. " +
		"Every row is held to the rules of a single create: a row that cannot be invited is an `error` row " +
		"(with the status and detail a single create would answer) and does not stop the others; a row repeating an earlier " +
		"row's address is `skipped`. At most 1,000 rows and 1 MiB."
	reg := api.OpenAPI().Components.Schemas
	schema := reg.Schema(reflect.TypeFor[BulkBody](), true, "BulkBody")
	o.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"application/json": {Schema: schema}}}
	// The body is read here, as its Content-Type says; a JSON one is
	// checked against its schema as huma checks every other.
	o.SkipValidateBody = true
	validate := func(v any) error {
		res := &huma.ValidateResult{}
		pb := huma.NewPathBuffer([]byte{}, 0)
		pb.Push("body")
		huma.Validate(reg, reg.SchemaFromRef(schema.Ref), pb, huma.ModeWriteToServer, v, res)
		if len(res.Errors) > 0 {
			return huma.Error422UnprocessableEntity("validation failed", res.Errors...)
		}
		return nil
	}
	huma.Register(api, o, func(ctx context.Context, in *bulkInput) (*body[*invite.BulkView], error) {
		org, err := orgFor(in.OrgID)
		if err != nil {
			return nil, err
		}
		rows, dryRun, err := bulkRows(in, validate)
		if err != nil {
			return nil, err
		}
		res, err := h.svc.BulkCreate(ctx, org, rows, invite.BulkOptions{DryRun: dryRun,
			IdempotencyKey: in.IdempotencyKey, IdempotencyScope: invite.PrincipalFrom(ctx).KeyID})
		if err != nil {
			return nil, problem(err)
		}
		for i, token := range res.Tokens {
			res.View.Results[i].Invitation.AcceptURL = h.baseURL + "/i/" + token
		}
		return &body[*invite.BulkView]{res.View}, nil
	})
	// huma documents a raw body as binary, in a form OpenAPI 3.0 lacks.
	api.OpenAPI().Paths[o.Path].Post.RequestBody.Content["text/csv"] = &huma.MediaType{Schema: &huma.Schema{
		Type: "string", Description: "A header row, then one invitation a row"}}
}

// bulkRows reads a bulk create's body as its Content-Type says; a JSON
// body is checked by validate first.
func bulkRows(in *bulkInput, validate func(any) error) ([]invite.BulkRow, bool, error) {
	if mediaType(in.ContentType) == "text/csv" {
		rows, err := invite.ParseCSV(bytes.NewReader(in.RawBody))
		return rows, in.DryRun, problem(err)
	}
	var v any
	if err := input.Unmarshal(in.RawBody, &v); err != nil {
		return nil, false, huma.Error400BadRequest(err.Error())
	}
	if err := validate(v); err != nil {
		return nil, false, err
	}
	var b BulkBody
	if err := json.Unmarshal(in.RawBody, &b); err != nil {
		return nil, false, huma.Error400BadRequest(err.Error())
	}
	rows := make([]invite.BulkRow, len(b.Invitations))
	for i := range b.Invitations {
		rows[i].Create = b.Invitations[i].create()
	}
	return rows, b.DryRun || in.DryRun, nil
}
