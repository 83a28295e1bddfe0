package api

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/csvout"
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
// The rules (docs/operations.md, "Exporting lists as CSV"):
//   - ?format=csv or ?format=json decides; without format, an Accept
//     header preferring text/csv to application/json asks for CSV. Any
//     other format is a 400 naming format.
//   - The export is the whole filtered list from the request's offset or
//     cursor on, capped by limit when given (limit may exceed the JSON
//     page maximum) and always by CSVMaxRows. When the list's total is
//     known to exceed the cap before anything is written, the answer is
//     a 413 naming limit; rows added while streaming stop the export at
//     the cap, and the X-Next-Cursor trailer says where it stopped.
//   - Columns and cells as package csvout writes them (the CLI's -o csv
//     too): the JSON field names of the row type, the JSON values, and a
//     leading ' on a string cell a spreadsheet would run as a formula.

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
	// inner is the JSON request of the page after cur, of at most left
	// rows: a page is never cut, so its X-Next-Cursor is where the rest
	// begins.
	inner := func(cur string, left int) *http.Request {
		iq := url.Values{}
		for k, v := range q {
			iq[k] = v
		}
		iq.Set("limit", strconv.Itoa(min(left, cursor.MaxLimit)))
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
	h(pw, inner(q.Get("cursor"), want))
	if pw.status == 0 {
		pw.status = http.StatusOK // wrote nothing: what net/http would send
	}
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

	cw := csvout.NewWriter(w, csvout.Columns(row))
	rc := http.NewResponseController(w)
	cur := ""
	fail := func(err error) {
		s.d.Log.Warn("csv export cut short", "route", r.Pattern, "rows", cw.Rows, "error", err)
		msg := strings.Join(strings.Fields(err.Error()), " ") // one header line
		if len(msg) > 500 {
			msg = msg[:500]
		}
		hd.Set(TrailerExportError, msg)
	}
	for page := 0; ; page++ {
		if page > 0 {
			if err := r.Context().Err(); err != nil {
				return
			}
			pw.reset()
			h(pw, inner(cur, want-cw.Rows))
			if pw.status != http.StatusOK {
				fail(fmt.Errorf("page %d answered %d: %s", page+1, pw.status, strings.TrimSpace(pw.body.String())))
				return
			}
		}
		next := pw.h.Get(cursor.HeaderNext)
		if _, err := cw.WritePage(pw.body.Bytes(), want-cw.Rows); err != nil {
			if r.Context().Err() == nil {
				fail(err)
			}
			return
		}
		_ = rc.Flush()
		if next == "" {
			return
		}
		if cw.Rows >= want {
			// Stopped by limit or the cap: where the rest begins.
			hd.Set(cursor.HeaderNext, next)
			return
		}
		cur = next
	}
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
