package compattest

import (
	"net/http"
	"path/filepath"
	"runtime"
)

// The vendors' own documents in api/compat/testdata, each made strict and
// read once: the contract of every answer of their surfaces, whichever
// test package asks.
var (
	// ClickHouseSpec defines 200, 400 and 500 only; an answer of another
	// status (401, 404, 405, 409, 413, 429) is checked against the 400
	// body, the shape every ClickHouse error has.
	ClickHouseSpec = Cached(VendorDocument("clickhouse-cloud-organization.openapi.json"), "/compat/clickhouse",
		SpecOptions{ErrorStatus: http.StatusBadRequest})
	// UpsunSpec: its Error lists only error; the fields the seeds add to it
	// are added to the schema, so that they are checked too. An answer the
	// document gives no schema for (a 401, a 400 of the list, a 404's body)
	// is checked against Error, via the 403 every operation documents.
	UpsunSpec = Cached(VendorDocument("upsun-organization-invitations.openapi.json"), "/compat/upsun", SpecOptions{
		Extra: map[string]string{"/components/schemas/Error": `{
		"status": {"type": "string"}, "code": {"type": "integer"}, "message": {"type": "string"},
		"title": {"type": "string"}, "detail": {"type": "object"}}`},
		ErrorStatus: http.StatusForbidden,
	})
)

// VendorDocument is the path of a vendor document in api/compat/testdata,
// from whichever package's tests run.
func VendorDocument(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", name)
}
