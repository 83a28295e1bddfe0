// Package webui serves the embedded dashboard (web/dist): hashed assets with
// a year-long immutable cache, index.html for every other path (deep links)
// with no-cache, precompressed gzip when the client accepts it, and strict
// security headers.
package webui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kanade-fleet/kanade/web"
)

// CSP allows only same-origin scripts, styles, images and connections (the
// API and the SSE stream); nothing may frame the console.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

type asset struct {
	body, gz []byte
	etag     string
	ctype    string
}

type site struct {
	files map[string]*asset // key: path without leading slash
}

var (
	once    sync.Once
	loaded  *site
	loadErr error
)

// Handler serves the dashboard. Mount it at "/" after the /api routes.
func Handler() http.Handler {
	once.Do(func() {
		sub, err := fs.Sub(web.Dist, "dist")
		if err != nil {
			loadErr = err
			return
		}
		loaded, loadErr = load(sub)
	})
	if loadErr != nil {
		// The embed is checked at build time, so this only happens with a
		// broken build; fail loudly on every request rather than at start.
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "dashboard assets unavailable: "+loadErr.Error(), http.StatusInternalServerError)
		})
	}
	return loaded
}

// NewHandler serves an arbitrary build output; used by tests.
func NewHandler(fsys fs.FS) (http.Handler, error) { return load(fsys) }

func load(fsys fs.FS) (*site, error) {
	s := &site{files: map[string]*asset{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".gz") {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		a := &asset{body: body}
		if gz, err := fs.ReadFile(fsys, p+".gz"); err == nil {
			a.gz = gz
		}
		sum := sha256.Sum256(body)
		a.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
		a.ctype = mime.TypeByExtension(path.Ext(p))
		if a.ctype == "" {
			a.ctype = http.DetectContentType(body)
		}
		s.files[p] = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.files["index.html"] == nil {
		return nil, fs.ErrNotExist
	}
	return s, nil
}

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	setSecurityHeaders(h)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if p == "api" || strings.HasPrefix(p, "api/") {
		// An unknown API route must not answer with the SPA's HTML.
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"not found"}` + "\n"))
		return
	}
	a, ok := s.files[p]
	switch {
	case ok && p != "index.html":
		if strings.HasPrefix(p, "assets/") {
			// Vite names these by content hash: they never change.
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
	case path.Ext(p) != "" && !ok:
		// A missing file (e.g. a chunk from an older build) gets a real
		// 404, not index.html, which the browser would reject as a script.
		h.Set("Cache-Control", "no-cache")
		http.NotFound(w, r)
		return
	default:
		a = s.files["index.html"]
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	body := a.body
	if a.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			body = a.gz
		}
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether gzip (or *) is listed with a non-zero q.
func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.TrimSpace(name)
		if !strings.EqualFold(name, "gzip") && name != "*" {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimSpace(params), "=")
		if ok && strings.TrimSpace(k) == "q" {
			if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && q <= 0 {
				return false
			}
		}
		return true
	}
	return false
}
