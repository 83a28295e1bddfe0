package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/cursor"
)

// CSV export of every list route (SPEC §14: "every list endpoint of the
// API also answers Accept: text/csv (or ?format=csv)"). One wrapper, put
// around each GET route whose apiv1.Endpoints entry is a list (List, or
// an array of objects), so no handler has CSV code: the wrapper calls the
// route's own handler for one page of at most cursor.MaxLimit rows at a
// time (same filters, same role: auth.Mux has already checked it), turns
// the page's JSON rows into CSV records and flushes them before asking
// for the next page by its X-Next-Cursor. Memory is one page, whatever
// the export's size.
//
// The rules (docs/api.md, "CSV"):
//   - ?format=csv or ?format=json decides; without format, an Accept
//     header preferring text/csv to application/json asks for CSV. Any
//     other format is a 400 naming format.
//   - The export is the whole filtered list from the request's offset or
//     cursor on, capped by limit when given (limit may exceed the JSON
//     page maximum) and always by CSVMaxRows. When the list's total is
//     known to exceed the cap before anything is written, the answer is
//     a 413 naming limit; rows added while streaming stop the export at
//     the cap, and the X-Next-Cursor trailer says where it stopped.
//   - Columns are the JSON names of the row type's fields, in field
//     order; values are the JSON values: strings unquoted, numbers and
//     true/false as written, null as an empty cell, arrays and objects as
//     their JSON text, times as RFC 3339.
//   - A string cell beginning with = + - @, tab or carriage return gets a
//     leading ' so spreadsheets do not run it as a formula (OWASP, "CSV
//     injection").

// CSVMaxRows is the most rows one CSV export streams.
const CSVMaxRows = 1_000_000

// Trailers of a CSV export (declared up front, set when they apply).
const (
	// TrailerExportError is set when a page after the first failed: the
	// status line had already gone out, so the CSV is incomplete.
	TrailerExportError = "X-Export-Error"
)

// wantCSV reports whether r asks for CSV: format=csv, or no format and
// an Accept header that prefers text/csv.
func wantCSV(r *http.Request) (bool, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "csv":
		return true, nil
	case "json":
		return false, nil
	case "":
		return acceptsCSV(r.Header.Values("Accept")), nil
	default:
		return false, errBadParam{"format", "must be json or csv (or leave it out and send Accept: text/csv)"}
	}
}

// acceptsCSV: text/csv is listed with a q at least that of
// application/json (and of */* when JSON is not listed).
func acceptsCSV(values []string) bool {
	csvQ, jsonQ := -1.0, -1.0
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			q := 1.0
			if s, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(s, 64); err == nil {
					q = f
				}
			}
			switch mt {
			case "text/csv":
				csvQ = max(csvQ, q)
			case "application/json", "*/*", "application/*":
				jsonQ = max(jsonQ, q)
			}
		}
	}
	return csvQ > 0 && csvQ >= jsonQ
}

// listRows maps "GET /api/..." of every list endpoint to its row type.
func listRows() map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for _, e := range apiv1.Endpoints {
		if e.Method != http.MethodGet || e.Resp == nil || e.Text || e.Binary {
			continue
		}
		t := reflect.TypeOf(e.Resp)
		if !e.List {
			if t.Kind() != reflect.Slice {
				continue
			}
			t = t.Elem()
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() == reflect.Struct || t.Kind() == reflect.Map {
			out[e.Method+" "+e.Path] = t
		}
	}
	return out
}

// csvList wraps a list route's handler with the CSV export.
func (s *Server) csvList(row reflect.Type, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		asCSV, err := wantCSV(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !asCSV {
			h(w, r)
			return
		}
		s.exportCSV(w, r, row, h)
	}
}

// pageWriter captures one page the handler writes.
type pageWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (p *pageWriter) Header() http.Header { return p.h }
func (p *pageWriter) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}
func (p *pageWriter) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	return p.body.Write(b)
}

func (p *pageWriter) reset() {
	p.h = http.Header{}
	p.status = 0
	p.body.Reset()
}

func (s *Server) exportCSV(w http.ResponseWriter, r *http.Request, row reflect.Type, h http.HandlerFunc) {
	if _, err := cursor.Parse(r); err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	want, bounded := s.csvMax(), false
	if v := q.Get("limit"); v != "" {
		n, _ := strconv.Atoi(v) // cursor.Parse checked it
		want, bounded = min(n, want), true
	}
	q.Del("format")
	inner := func(cur string) *http.Request {
		iq := url.Values{}
		for k, v := range q {
			iq[k] = v
		}
		iq.Set("limit", strconv.Itoa(min(want, cursor.MaxLimit)))
		if cur != "" {
			iq.Del("offset")
			iq.Set("cursor", cur)
		}
		r2 := r.Clone(r.Context())
		r2.URL.RawQuery = iq.Encode()
		r2.Header.Del("Accept")
		return r2
	}

	pw := &pageWriter{h: http.Header{}}
	h(pw, inner(q.Get("cursor")))
	if pw.status != http.StatusOK {
		// An error (a bad filter, a cursor of another list...): as the
		// JSON request would have answered it.
		for k, v := range pw.h {
			w.Header()[k] = v
		}
		w.WriteHeader(pw.status)
		_, _ = w.Write(pw.body.Bytes())
		return
	}
	if t := pw.h.Get(cursor.HeaderTotal); t != "" && !bounded {
		if n, err := strconv.Atoi(t); err == nil && n > want {
			WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf(
				"the list has %d rows, more than a CSV export streams (%d); narrow the filters, or export it in parts with limit and the X-Next-Cursor trailer", n, want), "limit")
			return
		}
	}

	hd := w.Header()
	for _, k := range []string{cursor.HeaderTotal, cursor.HeaderEstimated} {
		if v := pw.h.Get(k); v != "" {
			hd.Set(k, v)
		}
	}
	hd.Set("Content-Type", "text/csv; charset=utf-8")
	hd.Set("Content-Disposition", `attachment; filename="`+csvFilename(r.URL.Path)+`"`)
	hd.Set("Cache-Control", "no-store")
	hd.Set("Trailer", cursor.HeaderNext+", "+TrailerExportError)
	w.WriteHeader(http.StatusOK)

	cw := csv.NewWriter(w)
	rc := http.NewResponseController(w)
	var cols []string
	if row.Kind() == reflect.Struct {
		cols = columns(row)
	}
	written, cur := 0, ""
	record := []string{}
	fail := func(err error) {
		s.d.Log.Warn("csv export cut short", "route", r.Pattern, "rows", written, "error", err)
		cw.Flush()
		hd.Set(TrailerExportError, err.Error())
	}
	for page := 0; ; page++ {
		if page > 0 {
			if err := r.Context().Err(); err != nil {
				return
			}
			pw.reset()
			h(pw, inner(cur))
			if pw.status != http.StatusOK {
				fail(fmt.Errorf("page %d answered %d: %s", page+1, pw.status, strings.TrimSpace(pw.body.String())))
				return
			}
		}
		next := pw.h.Get(cursor.HeaderNext)
		rows, err := decodeRows(pw.body.Bytes())
		if err != nil {
			fail(err)
			return
		}
		if cols == nil {
			cols = mapColumns(rows)
		}
		if page == 0 {
			if err := cw.Write(cols); err != nil {
				return
			}
		}
		for _, obj := range rows {
			if written == want {
				break
			}
			record = record[:0]
			for _, c := range cols {
				record = append(record, cell(obj[c]))
			}
			if err := cw.Write(record); err != nil {
				return // the client went away
			}
			written++
		}
		cw.Flush()
		if cw.Error() != nil {
			return
		}
		_ = rc.Flush()
		if next == "" {
			return
		}
		if written >= want {
			// Stopped by limit or the cap: where the rest begins.
			hd.Set(cursor.HeaderNext, next)
			return
		}
		cur = next
	}
}

// decodeRows reads a page's JSON array of objects.
func decodeRows(body []byte) ([]map[string]json.RawMessage, error) {
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal(body, &rows); err != nil {
		return nil, fmt.Errorf("a list page is not an array of objects: %w", err)
	}
	return rows, nil
}

// cell is one JSON value as CSV text.
func cell(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] != '"' {
		return string(raw) // number, true/false, array or object (compact JSON)
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return Defuse(string(raw[1 : len(raw)-1])) // no escapes: the text itself
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return string(raw)
	}
	return Defuse(s)
}

// Defuse prefixes a cell a spreadsheet would read as a formula with '.
func Defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

var colCache sync.Map // reflect.Type → []string

// columns are the JSON names of t's fields in order, embedded structs'
// fields in their place (as encoding/json flattens them).
func columns(t reflect.Type) []string {
	if c, ok := colCache.Load(t); ok {
		return c.([]string)
	}
	var out []string
	seen := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
				walk(ft)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	walk(t)
	colCache.Store(t, out)
	return out
}

// mapColumns: rows without a struct type (maps) take their columns from
// the first page's keys, sorted.
func mapColumns(rows []map[string]json.RawMessage) []string {
	set := map[string]bool{}
	for _, r := range rows {
		for k := range r {
			set[k] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// csvFilename names the download after the route: /api/inventory/tables/
// software → inventory-tables-software.csv.
func csvFilename(path string) string {
	p := strings.Trim(strings.TrimPrefix(path, "/api/"), "/")
	p = unsafeName.ReplaceAllString(strings.ReplaceAll(p, "/", "-"), "_")
	if p == "" {
		p = "export"
	}
	return p + ".csv"
}

func (s *Server) csvMax() int {
	if s.d.CSVMaxRows > 0 {
		return s.d.CSVMaxRows
	}
	return CSVMaxRows
}
