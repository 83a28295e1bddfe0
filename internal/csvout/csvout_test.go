package csvout

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"
)

type inner struct {
	B string `json:"b"`
}

type row struct {
	ID     string            `json:"id"`
	inner                    // flattened, as encoding/json does
	N      *int              `json:"n,omitempty"`
	OK     bool              `json:"ok"`
	At     time.Time         `json:"at"`
	Tags   []string          `json:"tags"`
	Meta   map[string]string `json:"meta,omitempty"`
	Skip   string            `json:"-"`
	hidden string
}

func TestWriteValues(t *testing.T) {
	if got := Columns(reflect.TypeOf(row{})); !slices.Equal(got, []string{"id", "b", "n", "ok", "at", "tags", "meta"}) {
		t.Fatalf("columns %v", got)
	}
	n := -3
	at := time.Date(2027, 1, 5, 9, 0, 0, 0, time.UTC)
	rows := []row{
		{ID: "=1+1", inner: inner{B: `say "hi", then go`}, N: &n, OK: true, At: at, Tags: []string{"a", "b"}, Meta: map[string]string{"k": "v"}},
		{ID: "@SUM(A1)", inner: inner{B: "-x\n<&>"}, At: at},
	}
	var buf bytes.Buffer
	if err := WriteValues(&buf, rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"id", "b", "n", "ok", "at", "tags", "meta"},
		{"'=1+1", `say "hi", then go`, "-3", "true", "2027-01-05T09:00:00Z", `["a","b"]`, `{"k":"v"}`},
		{"'@SUM(A1)", "'-x\n<&>", "", "false", "2027-01-05T09:00:00Z", "null", ""},
	}
	want[2][5] = "" // a nil slice is JSON null: an empty cell
	if !reflect.DeepEqual(recs, want) {
		t.Fatalf("got  %q\nwant %q", recs, want)
	}
	// No rows: the header alone, so the columns are visible.
	buf.Reset()
	if err := WriteValues(&buf, []row{}); err != nil || buf.String() != "id,b,n,ok,at,tags,meta\n" {
		t.Fatalf("%q %v", buf.String(), err)
	}
}

// FuzzWritePage: the in-place scan writes what decoding the page writes,
// for any valid JSON; anything else is refused or written, never a panic.
func FuzzWritePage(f *testing.F) {
	for _, s := range []string{`[]`, `[{"id":"a","b":"x\"y","n":1,"tags":["a",{"k":"]"}],"meta":{"x":[1,2]}}]`,
		`{"id":"=1","ok":true,"at":null}`, ` [ {"id" : "a" , "zz":1} , {} ] `, `[{"i\u0064":"esc"}]`, `null`, `[{"id":-1.5e3}]`} {
		f.Add([]byte(s))
	}
	cols := Columns(reflect.TypeOf(row{}))
	f.Fuzz(func(t *testing.T, page []byte) {
		var fast bytes.Buffer
		_, ferr := NewWriter(&fast, cols).WritePage(page, -1)
		if !json.Valid(page) {
			return
		}
		rows, err := DecodePage(page)
		if err != nil {
			return
		}
		var slow bytes.Buffer
		if _, err := NewWriter(&slow, cols).WriteRows(rows, -1); err != nil || ferr != nil {
			t.Fatalf("errors: slow %v fast %v", err, ferr)
		}
		if fast.String() != slow.String() {
			t.Fatalf("page %q:\nfast %q\nslow %q", page, fast.String(), slow.String())
		}
	})
}
