package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/cursor"
	"github.com/kanade-fleet/kanade/internal/fanout"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// The HTTP helpers of every /api handler. (Package auth keeps private
// copies of the error writer and body reader for its own handlers and its
// 401/403 answers: it cannot import this package, which imports it.)

// RetryAfterBroker is the Retry-After (seconds) of a 503 for a broker
// that took nothing: reconnects are tried every second or two.
const RetryAfterBroker = "5"

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes the SPEC §7 error body {"error": msg, "field": field}.
// Errors are never cached (the same shape as auth's 401/403 answers).
func WriteError(w http.ResponseWriter, status int, msg, field string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(apiv1.ErrorBody{Error: msg, Field: field})
}

// fieldErr is a 422 naming the field.
func fieldErr(w http.ResponseWriter, field, msg string) {
	WriteError(w, http.StatusUnprocessableEntity, msg, field)
}

// errBadParam is a query parameter error naming the parameter (400).
type errBadParam struct{ field, msg string }

func (e errBadParam) Error() string { return e.field + ": " + e.msg }

// fail maps an error to a response: a bad query parameter → 400 naming it,
// a validation error → 422 naming the field, a body over the limit → 413,
// an unknown job → 404, a fan-out the broker cut short → 502 saying what
// was sent, a broker that took nothing → 503 with Retry-After, a cancelled
// request → nothing, anything else a logged 500.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var bp errBadParam
	var pe *cursor.ParamError
	var fe *wire.FieldError
	var mbe *http.MaxBytesError
	var fan *fanout.FanoutError
	var sf scopeFailure
	var rc *fanout.RolloutConflict
	switch {
	case errors.Is(err, fanout.ErrExecNotFound):
		WriteError(w, http.StatusNotFound, "no such execution", "exec_id")
	case errors.As(err, &rc):
		WriteError(w, http.StatusConflict, rc.Msg, "")
	case errors.As(err, &sf):
		WriteError(w, http.StatusForbidden, sf.msg, sf.field)
	case errors.As(err, &bp):
		WriteError(w, http.StatusBadRequest, bp.msg, bp.field)
	case errors.As(err, &pe):
		WriteError(w, http.StatusBadRequest, pe.Msg, pe.Field)
	case errors.As(err, &fe):
		field := fe.Field
		if field == "" {
			field = "body"
		}
		WriteError(w, http.StatusUnprocessableEntity, err.Error(), field)
	case errors.As(err, &mbe):
		WriteError(w, http.StatusRequestEntityTooLarge, "request body too large", "body")
	case errors.Is(err, kv.ErrJobNotFound):
		WriteError(w, http.StatusNotFound, "no such job", "job_id")
	case errors.As(err, &fan) && !fan.NothingSent():
		// Some PCs got the command: the execution exists and runs there.
		// Not retryable as is (it would run twice where it arrived).
		s.d.Log.Warn("exec fan-out cut short by the broker", "route", r.Pattern, "exec_id", fan.Resp.ExecID, "error", err)
		w.Header().Set("Cache-Control", "no-store")
		WriteJSON(w, http.StatusBadGateway, fan.Resp)
	case errors.Is(err, fanout.ErrBrokerUnavailable):
		// Nothing was sent: the same request can be retried.
		s.d.Log.Warn("broker unavailable", "route", r.Pattern, "error", err)
		w.Header().Set("Retry-After", RetryAfterBroker)
		body := apiv1.ErrorBody{Error: "the broker is unavailable; nothing was sent, retry later: " + err.Error()}
		if errors.As(err, &fan) {
			body = apiv1.ErrorBody{Error: fan.Resp.Error, ExecID: fan.Resp.ExecID}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(body)
	case errors.Is(err, context.Canceled):
	case brokerRejects(err):
		w.Header().Set("Retry-After", "10")
		WriteError(w, http.StatusServiceUnavailable, "the broker rejects writes: "+err.Error(), "")
	default:
		s.d.Log.Error("api request failed", "route", r.Pattern, "error", err)
		WriteError(w, http.StatusInternalServerError, "internal error", "")
	}
}

// readBody reads the request body (Harden has capped it): a body over the
// cap is the *http.MaxBytesError (413), other read errors name "body".
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, &wire.FieldError{Field: "body", Msg: "cannot read request body: " + err.Error()}
	}
	return b, nil
}

// decodeStrict decodes a small JSON body, rejecting unknown fields and
// trailing data with a *FieldError naming the field.
func decodeStrict(data []byte, v any) error {
	if len(strings.TrimSpace(string(data))) == 0 {
		return &wire.FieldError{Field: "body", Msg: "a JSON object is required"}
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var pe *time.ParseError
		if errors.As(err, &pe) {
			// encoding/json does not say which field held the bad time.
			return &wire.FieldError{Field: timeField(data, pe.Value), Msg: "must be an RFC 3339 time (e.g. 2027-01-05T09:00:00Z)"}
		}
		return jsonFieldError(err)
	}
	if dec.More() {
		return &wire.FieldError{Field: "body", Msg: "trailing data after the JSON object"}
	}
	return nil
}

// timeField names the top-level key of the JSON object whose string value
// is bad (the value a *time.ParseError reports), or "body".
func timeField(data []byte, bad string) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) == nil {
		for k, raw := range obj {
			var s string
			if json.Unmarshal(raw, &s) == nil && (s == bad || strconv.Quote(s) == bad) {
				return k
			}
		}
	}
	return "body"
}

func jsonFieldError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "body"
		}
		return &wire.FieldError{Field: field, Msg: fmt.Sprintf("must be a %s", te.Type)}
	}
	const unknown = `json: unknown field "`
	if msg := err.Error(); strings.HasPrefix(msg, unknown) {
		name := strings.TrimSuffix(strings.TrimPrefix(msg, unknown), `"`)
		if name == "" {
			name = "body"
		}
		return &wire.FieldError{Field: name, Msg: "unknown field"}
	}
	return &wire.FieldError{Field: "body", Msg: "malformed JSON: " + err.Error()}
}

// page reads limit (default 50, max 1000), offset (at most 10 000) and
// cursor (internal/cursor).
func page(r *http.Request) (store.Page, error) {
	return cursor.Parse(r)
}

// window cuts one page out of a whole list held in memory, by offset or
// after the cursor's key (after reports whether a row follows it).
func window[T any](all []T, p store.Page, key func(T) cursor.Key, after func(T, cursor.Key) bool) store.Listing[T] {
	rows, next := cursor.Window(all, p, key, after)
	return store.Listing[T]{Rows: rows, Total: len(all), Next: next}
}

// keyLen refuses a cursor whose key has not n parts (another list's).
func keyLen(p store.Page, n int) error {
	if p.After != nil && len(p.After) != n {
		return store.ErrBadCursor
	}
	return nil
}

// listed writes one page of a list with its paging headers (X-Total-Count,
// X-Total-Count-Estimated, X-Next-Cursor).
func listed[T any](w http.ResponseWriter, r *http.Request, l store.Listing[T]) {
	cursor.SetHeaders(w.Header(), r, l.Total, l.Estimated, l.Next)
	rows := l.Rows
	if rows == nil {
		rows = []T{}
	}
	WriteJSON(w, http.StatusOK, rows)
}

// one answers a single-row lookup: the row, a 404 naming the key, or a 500.
func one[T any](s *Server, w http.ResponseWriter, r *http.Request, row T, ok bool, err error, what, key string) {
	switch {
	case err != nil:
		s.fail(w, r, err)
	case !ok:
		WriteError(w, http.StatusNotFound, "no such "+what, key)
	default:
		WriteJSON(w, http.StatusOK, row)
	}
}

func sinceParam(r *http.Request) (time.Time, error) {
	v := r.URL.Query().Get("since")
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		if d, derr := time.ParseDuration(v); derr == nil && d > 0 {
			return time.Now().Add(-d), nil // "since=24h" is handy from a shell
		}
		return t, errBadParam{"since", "must be an RFC 3339 time or a duration such as 24h"}
	}
	return t, nil
}

func oneOf(r *http.Request, name string, allowed ...string) (string, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return "", nil
	}
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", errBadParam{name, "must be one of " + strings.Join(allowed, ", ")}
}

// Actor is the authenticated caller's name for audit and initiated_by.
func Actor(r *http.Request) string {
	if p, ok := auth.FromContext(r.Context()); ok {
		return p.Username
	}
	return "anonymous"
}

// ClientIP is the caller's address for audit.
func ClientIP(r *http.Request) string { return auth.ClientIP(r, nil) }

// auditf records a change by the caller (no-op without an auditor).
func (s *Server) auditf(r *http.Request, action, target string, payload any) {
	if s.d.Audit != nil {
		s.d.Audit.Audit(r.Context(), Actor(r), action, target, payload, ClientIP(r))
	}
}

// idPrefix is the id_prefix= list filter (the CLI's git-like short ids):
// subject-safe id characters only, so the store's key range is exact.
func idPrefix(r *http.Request) (string, error) {
	v := r.URL.Query().Get("id_prefix")
	if v != "" && !wire.ValidPCID(v) {
		return "", errBadParam{"id_prefix", "must be the start of an id (A-Z a-z 0-9 _ -)"}
	}
	return v, nil
}
