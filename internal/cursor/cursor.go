// Package cursor is the paging of every list endpoint (SPEC §7, §18): the
// limit/offset/cursor query parameters, the opaque cursor itself and the
// X-Total-Count / X-Total-Count-Estimated / X-Next-Cursor headers.
//
// A cursor is base64url(JSON) of the sort key of the last row served (the
// store's keyset WHERE continues after it) and a fingerprint of the request
// it came from: the path and every query parameter except limit, offset,
// cursor and format. A cursor replayed with other filters or another sort would
// silently page through a different list, so it is refused (400, field
// cursor) instead. The cursor is opaque to clients: its layout may change.
//
// Only the standard library: the API handlers and auth's account list
// both use it.
package cursor

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

// The paging limits.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
	// MaxOffset is the largest offset served: OFFSET skips rows one by
	// one (about 1 µs each), so deep pages are the cursor's job.
	MaxOffset = 10000
)

// Headers of a list answer.
const (
	HeaderTotal     = "X-Total-Count"
	HeaderEstimated = "X-Total-Count-Estimated"
	HeaderNext      = "X-Next-Cursor"
)

// Key is the sort key of a row as text, the unique tiebreak last.
type Key []string

// Page is one list request's paging: After (from a cursor) or Offset.
type Page struct {
	Limit, Offset int
	After         Key // nil: from the start (or Offset)
}

// ParamError is a bad paging parameter: answered 400 naming Field.
type ParamError struct{ Field, Msg string }

func (e *ParamError) Error() string { return e.Field + ": " + e.Msg }

type body struct {
	F string   `json:"f"`
	K []string `json:"k"`
}

// Parse reads limit (default 50, capped at 1000), offset (at most
// MaxOffset) and cursor of r.
func Parse(r *http.Request) (Page, error) {
	p := Page{Limit: DefaultLimit}
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return p, &ParamError{"limit", "must be a positive integer"}
		}
		p.Limit = min(n, MaxLimit)
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, &ParamError{"offset", "must be a non-negative integer"}
		}
		if n > MaxOffset {
			return p, &ParamError{"offset", "must be at most " + strconv.Itoa(MaxOffset) +
				"; page deeper with cursor (each list answer's X-Next-Cursor header)"}
		}
		p.Offset = n
	}
	if v := q.Get("cursor"); v != "" {
		if p.Offset != 0 {
			return p, &ParamError{"offset", "cannot be combined with cursor"}
		}
		k, err := decode(v, Fingerprint(r))
		if err != nil {
			return p, err
		}
		p.After = k
	}
	return p, nil
}

func decode(s, fp string) (Key, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	var b body
	if err == nil {
		err = json.Unmarshal(raw, &b)
	}
	if err != nil || len(b.K) == 0 {
		return nil, &ParamError{"cursor", "malformed cursor; pass the X-Next-Cursor header of the previous page unchanged"}
	}
	if b.F != fp {
		return nil, &ParamError{"cursor", "cursor belongs to a list with other filters or sort; repeat the parameters of the request that returned it"}
	}
	return b.K, nil
}

// Encode returns the cursor that continues r's list after key.
func Encode(r *http.Request, key Key) string {
	raw, _ := json.Marshal(body{F: Fingerprint(r), K: key})
	return base64.RawURLEncoding.EncodeToString(raw)
}

// Fingerprint identifies the list r asks for, paging and format (JSON or
// CSV of the same rows) aside.
func Fingerprint(r *http.Request) string {
	q := url.Values{}
	for k, v := range r.URL.Query() {
		if k != "limit" && k != "offset" && k != "cursor" && k != "format" {
			q[k] = v
		}
	}
	sum := sha256.Sum256([]byte(r.URL.Path + "?" + q.Encode())) // Encode sorts by key
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// SetHeaders writes a list answer's paging headers: the total (flagged
// when estimated) and, unless this is the last page, the next cursor.
func SetHeaders(h http.Header, r *http.Request, total int, estimated bool, next Key) {
	h.Set(HeaderTotal, strconv.Itoa(total))
	if estimated {
		h.Set(HeaderEstimated, "true")
	}
	if len(next) > 0 {
		h.Set(HeaderNext, Encode(r, next))
	}
}

// Window cuts one page out of a whole list held in memory (the small
// lists: jobs, schedules, enrollment tokens): from Offset, or from the
// first row that after reports to follow the cursor's key in the list's
// order. It returns the page and the key of its last row when more rows
// follow (nil on the last page).
func Window[T any](all []T, p Page, key func(T) Key, after func(row T, k Key) bool) ([]T, Key) {
	start := min(p.Offset, len(all))
	if p.After != nil {
		start = len(all)
		for i, row := range all {
			if after(row, p.After) {
				start = i
				break
			}
		}
	}
	rest := all[start:]
	if len(rest) <= p.Limit {
		return rest, nil
	}
	return rest[:p.Limit], key(rest[p.Limit-1])
}
