package cursor

import (
	"errors"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestCursorRoundTripAndFingerprint(t *testing.T) {
	first := httptest.NewRequest("GET", "/api/results?status=failure&limit=5", nil)
	c := Encode(first, Key{"2026-01-01T00:00:00.000000Z", "r-1"})
	// Same filters in another order, another limit: the cursor fits.
	p, err := Parse(httptest.NewRequest("GET", "/api/results?limit=7&cursor="+c+"&status=failure", nil))
	if err != nil || !slices.Equal(p.After, Key{"2026-01-01T00:00:00.000000Z", "r-1"}) || p.Limit != 7 {
		t.Fatalf("%+v %v", p, err)
	}
	for _, u := range []string{
		"/api/results?status=success&cursor=" + c, // other filter
		"/api/results?cursor=" + c,                // filter dropped
		"/api/audit?status=failure&cursor=" + c,   // other list
		"/api/results?status=failure&cursor=x" + c,
	} {
		_, err := Parse(httptest.NewRequest("GET", u, nil))
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Field != "cursor" {
			t.Errorf("%s: %v, want a cursor error", u, err)
		}
	}
}

func TestOffsetBound(t *testing.T) {
	if _, err := Parse(httptest.NewRequest("GET", "/api/results?offset=10000", nil)); err != nil {
		t.Fatal(err)
	}
	_, err := Parse(httptest.NewRequest("GET", "/api/results?offset=10001", nil))
	var pe *ParamError
	if !errors.As(err, &pe) || pe.Field != "offset" {
		t.Fatalf("%v", err)
	}
}

func TestWindow(t *testing.T) {
	all := []string{"a", "b", "c", "d", "e"}
	key := func(s string) Key { return Key{s} }
	after := func(s string, k Key) bool { return s > k[0] }
	var got []string
	p := Page{Limit: 2}
	for {
		rows, next := Window(all, p, key, after)
		got = append(got, rows...)
		if next == nil {
			break
		}
		p.After = next
	}
	if !slices.Equal(got, all) {
		t.Fatalf("%v", got)
	}
}
