package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// apiError is a non-2xx answer of the backend, turned into one line that
// says what failed and what to do.
type apiError struct {
	Method, Path string
	Status       int
	Msg, Field   string
}

func (e *apiError) Error() string {
	what := e.Method + " " + e.Path
	msg := e.Msg
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	switch {
	case e.Status == http.StatusUnauthorized:
		return fmt.Sprintf("%s: not authenticated (%s); run `kanade login` or set KANADE_AUTH_TOKEN", what, msg)
	case e.Status == http.StatusForbidden:
		return fmt.Sprintf("%s: permission denied (%s); ask an admin for a role that allows it", what, msg)
	case e.Status == http.StatusNotFound:
		return fmt.Sprintf("%s: not found: %s", what, msg)
	case e.Field != "":
		return fmt.Sprintf("%s: invalid %s: %s (HTTP %d)", what, e.Field, msg, e.Status)
	case e.Status >= 500:
		return fmt.Sprintf("%s: backend error (HTTP %d): %s; check the backend's log", what, e.Status, msg)
	default:
		return fmt.Sprintf("%s: %s (HTTP %d)", what, msg, e.Status)
	}
}

// response is a 2xx answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// authToken is --token / KANADE_AUTH_TOKEN, else the one `kanade login` stored.
func (a *app) authToken() string {
	if a.token != "" {
		return a.token
	}
	p, err := a.tokenPath()
	if err != nil {
		return ""
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (a *app) tokenPath() (string, error) {
	d, err := a.opt.ConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the user config dir: %w", err)
	}
	return filepath.Join(d, "token"), nil
}

// call sends one request. body may be nil, []byte (sent with contentType)
// or any value (sent as JSON).
func (a *app) call(ctx context.Context, method, path string, query url.Values, body any, contentType string) (*response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(j)
		contentType = "application/json"
	}
	u := a.backend + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, usagef("bad backend URL %q: %v", a.backend, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "kanade-cli")
	if t := a.authToken(); t != "" {
		req.Header.Set("Authorization", "Bearer "+t)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		var ne net.Error
		var oe *net.OpError
		switch {
		case errors.As(err, &oe) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne):
			return nil, fmt.Errorf("cannot reach the backend at %s (%s %s: %v); is kanade-backend running? set --backend or KANADE_BACKEND_URL", a.backend, method, path, rootCause(err))
		default:
			return nil, fmt.Errorf("%s %s%s: %w", method, a.backend, path, err)
		}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		e := &apiError{Method: method, Path: path, Status: res.StatusCode}
		var eb struct {
			Error string `json:"error"`
			Field string `json:"field"`
		}
		if json.Unmarshal(data, &eb) == nil {
			e.Msg, e.Field = eb.Error, eb.Field
		} else {
			e.Msg = strings.TrimSpace(string(data))
			if len(e.Msg) > 200 {
				e.Msg = e.Msg[:200] + "…"
			}
		}
		return nil, e
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: data}, nil
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// get is call(GET) decoding JSON into v (when not nil).
func (a *app) get(ctx context.Context, path string, q url.Values, v any) (*response, error) {
	res, err := a.call(ctx, http.MethodGet, path, q, nil, "")
	if err != nil {
		return nil, err
	}
	if v != nil {
		if err := json.Unmarshal(res.Body, v); err != nil {
			return nil, fmt.Errorf("GET %s: the backend sent unexpected JSON: %w", path, err)
		}
	}
	return res, nil
}

// listAll pages through a list route (limit/offset, X-Total-Count) up to max
// rows (0 = all), returning the concatenated raw JSON array.
func (a *app) listAll(ctx context.Context, path string, q url.Values, max int) (json.RawMessage, error) {
	if q == nil {
		q = url.Values{}
	}
	const pageSize = 1000
	var all []json.RawMessage
	offset := 0
	for {
		lim := pageSize
		if max > 0 && max-len(all) < lim {
			lim = max - len(all)
		}
		q.Set("limit", strconv.Itoa(lim))
		q.Set("offset", strconv.Itoa(offset))
		var rows []json.RawMessage
		res, err := a.get(ctx, path, q, &rows)
		if err != nil {
			return nil, err
		}
		all = append(all, rows...)
		offset += len(rows)
		total, terr := strconv.Atoi(res.Header.Get("X-Total-Count"))
		if len(rows) == 0 || terr != nil || offset >= total || (max > 0 && len(all) >= max) {
			break
		}
	}
	if all == nil {
		all = []json.RawMessage{}
	}
	return json.Marshal(all)
}

func pathEsc(s string) string { return url.PathEscape(s) }

// decodeBody decodes a 2xx JSON answer.
func decodeBody(res *response, path string, v any) error {
	if err := json.Unmarshal(res.Body, v); err != nil {
		return fmt.Errorf("%s: the backend sent unexpected JSON: %w", path, err)
	}
	return nil
}
