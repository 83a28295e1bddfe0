// Package invtable turns an inventory job's stdout into the rows of its
// table (SPEC §14): a JSON array of objects, each reduced to the declared
// columns with every value as a string, and identified by its key.
//
// Values are stringified the same way whatever the agent's OS printed:
// strings as they are, numbers as written (1.0 stays "1.0"), booleans
// "true"/"false", null or a missing column "", objects and arrays as
// compact JSON. A missing or null key column makes the whole output
// malformed, so a half-understood output never replaces good rows.
package invtable

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Bounds on one output.
const (
	MaxRows     = 20000
	MaxRowBytes = 16 << 10 // the row's JSON
)

// Spec is a table declaration (manifest.Inventory).
type Spec struct {
	Table   string
	Key     []string
	Columns []string
}

// Row is one parsed row: Values in Spec.Columns order, JSON the object
// stored in inventory_rows.row.
type Row struct {
	Key    string
	Values []string
	JSON   string
}

// ErrMalformed wraps every reason an output is refused.
var ErrMalformed = errors.New("malformed inventory output")

func bad(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}

// Parse decodes out. Rows come back in output order; a key seen again is
// ignored (the first object wins), since uninstall registries and package
// databases do list the same name twice.
func Parse(out string, s Spec) ([]Row, error) {
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, bad("not a JSON array: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, bad("not a JSON array of objects")
	}
	keyIdx := make([]int, len(s.Key))
	for i, k := range s.Key {
		for j, c := range s.Columns {
			if c == k {
				keyIdx[i] = j
			}
		}
	}
	var rows []Row
	seen := map[string]bool{}
	for n := 0; dec.More(); n++ {
		if n >= MaxRows {
			return nil, bad("more than %d rows", MaxRows)
		}
		var obj map[string]json.RawMessage
		if err := dec.Decode(&obj); err != nil {
			return nil, bad("element %d: not a JSON object: %v", n, err)
		}
		if obj == nil {
			return nil, bad("element %d: not a JSON object", n)
		}
		r := Row{Values: make([]string, len(s.Columns))}
		for j, c := range s.Columns {
			raw, ok := obj[c]
			v, null, err := text(raw)
			if err != nil {
				return nil, bad("element %d: column %s: %v", n, c, err)
			}
			if (!ok || null) && isKey(j, keyIdx) {
				return nil, bad("element %d: key column %s is missing", n, c)
			}
			r.Values[j] = v
		}
		r.Key = key(r.Values, keyIdx)
		r.JSON = rowJSON(s.Columns, r.Values)
		if len(r.JSON) > MaxRowBytes {
			return nil, bad("element %d: row is larger than %d bytes", n, MaxRowBytes)
		}
		if seen[r.Key] {
			continue
		}
		seen[r.Key] = true
		rows = append(rows, r)
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad("not a JSON array: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad("text after the JSON array")
	}
	return rows, nil
}

func isKey(j int, keyIdx []int) bool {
	for _, k := range keyIdx {
		if k == j {
			return true
		}
	}
	return false
}

// key is the value of a one-column key, or a JSON array of the values of
// a composite one (unambiguous whatever the values contain).
func key(vals []string, keyIdx []int) string {
	if len(keyIdx) == 1 {
		return vals[keyIdx[0]]
	}
	parts := make([]string, len(keyIdx))
	for i, k := range keyIdx {
		parts[i] = vals[k]
	}
	b, _ := json.Marshal(parts)
	return string(b)
}

// text stringifies one JSON value; null reports JSON null (or absence).
func text(raw json.RawMessage) (s string, null bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", true, nil
	}
	switch raw[0] {
	case '"':
		err = json.Unmarshal(raw, &s)
		return s, false, err
	case '{', '[':
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return "", false, err
		}
		return buf.String(), false, nil
	default: // number, true, false: as written
		return string(raw), false, nil
	}
}

// rowJSON is the stored row: an object of the columns in declared order.
func rowJSON(cols, vals []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, c := range cols {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(c)
		v, _ := json.Marshal(vals[i])
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.String()
}

// Decode reads a stored row back into a column → value map.
func Decode(row string) (map[string]string, error) {
	m := map[string]string{}
	if err := json.Unmarshal([]byte(row), &m); err != nil {
		return nil, fmt.Errorf("decode inventory row: %w", err)
	}
	return m, nil
}
