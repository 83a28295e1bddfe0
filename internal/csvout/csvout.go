// Package csvout writes JSON rows as CSV, the same way for the API's CSV
// export (internal/api, ?format=csv) and the CLI's -o csv: one column per
// JSON field name of the row type, in field order; each cell the JSON
// value (strings unquoted, numbers and true/false as written, null as an
// empty cell, arrays and objects as their compact JSON text, times as the
// RFC 3339 strings JSON carries). A string cell a spreadsheet would read
// as a formula gets a leading ' (OWASP, "CSV injection").
//
// Only the standard library (encoding/csv does the quoting).
package csvout

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"sync"
)

var colCache sync.Map // reflect.Type → []string

// Columns are the JSON names of a struct type's fields in order, embedded
// structs' fields in their place (as encoding/json flattens them); nil for
// a type that is not a struct (or pointer to one). Cached per type.
func Columns(t reflect.Type) []string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
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

// KeyColumns are the keys of rows without a struct type (maps), sorted.
func KeyColumns(rows []map[string]json.RawMessage) []string {
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

// Cell is one JSON value as CSV text.
func Cell(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] != '"' {
		return string(raw) // number, true/false, array or object
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

// Defuse prefixes a cell a spreadsheet would read as a formula (it begins
// with = + - @, a tab or a carriage return) with '.
func Defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// Writer writes pages of JSON rows under one header row.
type Writer struct {
	cw     *csv.Writer
	cols   []string
	header bool
	rec    []string
	index  map[string]int // column → position (WritePage)
	Rows   int            // rows written so far
}

// NewWriter writes to w with cols (nil: the first page's keys).
func NewWriter(w io.Writer, cols []string) *Writer {
	return &Writer{cw: csv.NewWriter(w), cols: cols}
}

// DecodePage reads a JSON array of objects (one object alone is one row).
func DecodePage(body []byte) ([]map[string]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '{' {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(body, &one); err != nil {
			return nil, fmt.Errorf("not a JSON object: %w", err)
		}
		return []map[string]json.RawMessage{one}, nil
	}
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal(body, &rows); err != nil {
		return nil, fmt.Errorf("not an array of JSON objects: %w", err)
	}
	return rows, nil
}

// writeHeader writes the column names once, before the first row.
func (w *Writer) writeHeader() error {
	if w.header {
		return nil
	}
	w.header = true
	return w.cw.Write(w.cols)
}

// WriteRows writes the header (first time) and up to max rows (max < 0:
// all), then flushes. It returns how many rows it wrote.
func (w *Writer) WriteRows(rows []map[string]json.RawMessage, max int) (int, error) {
	if w.cols == nil {
		w.cols = KeyColumns(rows)
	}
	if err := w.writeHeader(); err != nil {
		return 0, err
	}
	n := 0
	for _, obj := range rows {
		if max >= 0 && n == max {
			break
		}
		w.rec = w.rec[:0]
		for _, c := range w.cols {
			w.rec = append(w.rec, Cell(obj[c]))
		}
		if err := w.cw.Write(w.rec); err != nil {
			return n, err
		}
		n++
	}
	w.Rows += n
	w.cw.Flush()
	return n, w.cw.Error()
}

// WritePage writes a page as encoding/json writes it (an array of
// objects, one object alone being one row): the header first time, then
// up to max rows (max < 0: all), and flushes. It scans the page in place
// instead of decoding it: an export spends most of its time here. Input
// that is not what encoding/json writes is decoded the slow way.
func (w *Writer) WritePage(page []byte, max int) (int, error) {
	if w.cols == nil {
		rows, err := DecodePage(page)
		if err != nil {
			return 0, err
		}
		return w.WriteRows(rows, max)
	}
	if w.index == nil {
		w.index = make(map[string]int, len(w.cols))
		for i, c := range w.cols {
			w.index[c] = i
		}
	}
	rows, ok := w.scan(page)
	if !ok {
		rows, err := DecodePage(page)
		if err != nil {
			return 0, err
		}
		return w.WriteRows(rows, max)
	}
	if err := w.writeHeader(); err != nil {
		return 0, err
	}
	n := 0
	for _, vals := range rows {
		if max >= 0 && n == max {
			break
		}
		w.rec = w.rec[:0]
		for _, v := range vals {
			w.rec = append(w.rec, Cell(v))
		}
		if err := w.cw.Write(w.rec); err != nil {
			return n, err
		}
		n++
	}
	w.Rows += n
	w.cw.Flush()
	return n, w.cw.Error()
}

// scan splits a JSON array of flat-keyed objects into each row's raw
// values in column order (missing keys nil, unknown keys dropped). The
// slices point into page. ok is false for anything it does not expect.
func (w *Writer) scan(page []byte) (rows [][]json.RawMessage, ok bool) {
	i := skipWS(page, 0)
	single := i < len(page) && page[i] == '{'
	if !single {
		if i >= len(page) || page[i] != '[' {
			return nil, false
		}
		i = skipWS(page, i+1)
		if i < len(page) && page[i] == ']' {
			return nil, skipWS(page, i+1) == len(page)
		}
	}
	for {
		if i >= len(page) || page[i] != '{' {
			return nil, false
		}
		vals := make([]json.RawMessage, len(w.cols))
		i = skipWS(page, i+1)
		if i < len(page) && page[i] == '}' {
			i++
		} else {
			for {
				if i >= len(page) || page[i] != '"' {
					return nil, false
				}
				end := stringEnd(page, i)
				if end < 0 {
					return nil, false
				}
				key := page[i+1 : end-1]
				if bytes.IndexByte(key, '\\') >= 0 {
					return nil, false // an escaped key: the slow way
				}
				i = skipWS(page, end)
				if i >= len(page) || page[i] != ':' {
					return nil, false
				}
				i = skipWS(page, i+1)
				vend := valueEnd(page, i)
				if vend < 0 {
					return nil, false
				}
				if c, known := w.index[string(key)]; known {
					vals[c] = page[i:vend]
				}
				i = skipWS(page, vend)
				if i < len(page) && page[i] == ',' {
					i = skipWS(page, i+1)
					continue
				}
				if i < len(page) && page[i] == '}' {
					i++
					break
				}
				return nil, false
			}
		}
		rows = append(rows, vals)
		i = skipWS(page, i)
		if single {
			return rows, i == len(page)
		}
		if i < len(page) && page[i] == ',' {
			i = skipWS(page, i+1)
			continue
		}
		if i < len(page) && page[i] == ']' {
			return rows, skipWS(page, i+1) == len(page)
		}
		return nil, false
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd is the index after the string starting at b[i] ('"'), or -1.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// valueEnd is the index after the JSON value starting at b[i], or -1.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e := stringEnd(b, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default: // number, true, false, null
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// WriteValues writes rows of any JSON-encodable type (a slice, or one
// value as one row) with the columns of its element type.
func WriteValues(out io.Writer, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	t := reflect.TypeOf(v)
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		t = t.Elem()
	}
	_, err = NewWriter(out, Columns(t)).WritePage(raw, -1)
	return err
}
