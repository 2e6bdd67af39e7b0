package invite

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
)

// CSVColumns are the columns a bulk create's CSV may have; email is required.
var CSVColumns = []string{"email", "role", "permissions", "locale", "expires_in", "metadata", "redirect_url"}

// ParseCSV reads a bulk create's CSV: a header row naming columns of
// CSVColumns in any order (a column with an empty name is ignored), then one
// invitation a row. Permissions are separated by spaces or semicolons;
// metadata is a JSON object. A cell that cannot be read makes its row an
// error row; a file that is not such a CSV is a KindBadRequest or
// KindInvalid error.
func ParseCSV(r io.Reader) ([]BulkRow, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBulkBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxBulkBytes {
		return nil, Invalid("the CSV is larger than %d bytes", MaxBulkBytes)
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a spreadsheet's byte order mark
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, Invalid("the CSV is empty: it needs a header row naming its columns (%s)", strings.Join(CSVColumns, ", "))
	}
	if err != nil {
		return nil, BadRequest("the CSV cannot be read: %v", err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue // a spreadsheet's trailing separator: a column of nothing
		}
		if !slices.Contains(CSVColumns, h) {
			return nil, Invalid("the CSV's header names an unknown column %q; the columns are %s", h, strings.Join(CSVColumns, ", "))
		}
		if _, dup := col[h]; dup {
			return nil, Invalid("the CSV's header names the column %q twice", h)
		}
		col[h] = i
	}
	if _, ok := col["email"]; !ok {
		return nil, Invalid("the CSV's header has no email column")
	}
	var rows []BulkRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, BadRequest("the CSV cannot be read: %v", err)
		}
		if len(rows) == MaxBulkRows {
			return nil, Invalid("a bulk create takes at most %d rows; the CSV has more", MaxBulkRows)
		}
		line, _ := cr.FieldPos(0)
		rows = append(rows, csvRow(rec, col, header, line))
	}
	if len(rows) == 0 {
		return nil, Invalid("the CSV has a header but no rows")
	}
	return rows, nil
}

// csvRow reads one record; line is its line in the file, for errors.
func csvRow(rec []string, col map[string]int, header []string, line int) BulkRow {
	cell := func(name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var row BulkRow
	c := &row.Create
	c.Email, c.Role, c.Locale, c.RedirectURL = cell("email"), cell("role"), cell("locale"), cell("redirect_url")
	fail := func(format string, args ...any) BulkRow {
		row.Err = Invalid("line %d: "+format, append([]any{line}, args...)...)
		return row
	}
	if len(rec) > len(header) {
		return fail("it has %d cells; the header names %d columns", len(rec), len(header))
	}
	if p := cell("permissions"); p != "" {
		c.Permissions = strings.FieldsFunc(p, func(r rune) bool { return r == ';' || r == ' ' || r == '\t' })
	}
	if e := cell("expires_in"); e != "" {
		n, err := strconv.ParseInt(e, 10, 64)
		if err != nil {
			return fail("expires_in %q is not a whole number of seconds", e)
		}
		c.ExpiresIn = n
	}
	if m := cell("metadata"); m != "" {
		if !json.Valid([]byte(m)) {
			return fail("metadata is not JSON")
		}
		c.Metadata = json.RawMessage(m)
	}
	return row
}
