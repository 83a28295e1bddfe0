package invtable

import (
	"errors"
	"strings"
	"testing"
)

var sw = Spec{Table: "software", Key: []string{"name"}, Columns: []string{"name", "version", "publisher"}}

func TestParse(t *testing.T) {
	rows, err := Parse(` [{"name":"Chrome","version":"120.0.1","publisher":"Google","extra":1},
		{"name":"7zip","version":23.01,"publisher":null},
		{"name":"Chrome","version":"999"},
		{"name":"x","version":true,"publisher":{"a": [1, 2]}}]
	`, sw)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("rows = %+v", rows)
	}
	if rows[0].Key != "Chrome" || rows[0].JSON != `{"name":"Chrome","version":"120.0.1","publisher":"Google"}` {
		t.Errorf("row 0 = %+v", rows[0])
	}
	if rows[1].Values[1] != "23.01" || rows[1].Values[2] != "" {
		t.Errorf("row 1 = %+v", rows[1])
	}
	if rows[2].Values[1] != "true" || rows[2].Values[2] != `{"a":[1,2]}` {
		t.Errorf("row 2 = %+v", rows[2])
	}
	m, err := Decode(rows[0].JSON)
	if err != nil || m["publisher"] != "Google" {
		t.Errorf("decode = %v %v", m, err)
	}
	composite := Spec{Key: []string{"name", "arch"}, Columns: []string{"name", "arch"}}
	rows, err = Parse(`[{"name":"a","arch":"x\u001fy"}]`, composite)
	if err != nil || rows[0].Key != `["a","x\u001fy"]` {
		t.Errorf("composite = %+v %v", rows, err)
	}
	if rows, err := Parse(`[]`, sw); err != nil || len(rows) != 0 {
		t.Errorf("empty = %v %v", rows, err)
	}
}

func TestParseMalformed(t *testing.T) {
	for _, out := range []string{
		``, `{}`, `"x"`, `[1]`, `[null]`, `[{"name":"a"}`, `[{"name":"a"}] x`, `[{"version":"1"}]`,
		`[{"name":null}]`, `[{"name":"a"},]`,
		`[{"name":"` + strings.Repeat("x", MaxRowBytes) + `"}]`,
		"[" + strings.Repeat(`{"name":"a"},`, MaxRows) + `{"name":"b"}]`,
	} {
		if _, err := Parse(out, sw); !errors.Is(err, ErrMalformed) {
			t.Errorf("%.40q: err = %v", out, err)
		}
	}
}
