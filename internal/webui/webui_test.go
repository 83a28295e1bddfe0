package webui

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func testSite(t *testing.T) *httptest.Server {
	t.Helper()
	js := strings.Repeat("console.log(1);", 100)
	h, err := NewHandler(fstest.MapFS{
		"index.html":           {Data: []byte("<!doctype html><title>kanade</title>")},
		"index.html.gz":        {Data: gz(t, "<!doctype html><title>kanade</title>")},
		"favicon.svg":          {Data: []byte("<svg></svg>")},
		"assets/app-abc.js":    {Data: []byte(js)},
		"assets/app-abc.js.gz": {Data: gz(t, js)},
		"assets/app-abc.css":   {Data: []byte("body{}")},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// get disables the transport's transparent gzip so the test sees raw encoding.
func get(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestHashedAssetsCachedForever(t *testing.T) {
	srv := testSite(t)
	resp, body := get(t, srv.URL+"/assets/app-abc.js", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "console.log") {
		t.Fatalf("status %d body %q", resp.StatusCode, body[:20])
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
		t.Fatalf("cache-control %q", cc)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Fatalf("content-type %q", ct)
	}
	if resp.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip sent to a client that did not ask")
	}
}

func TestGzipWhenAccepted(t *testing.T) {
	srv := testSite(t)
	resp, body := get(t, srv.URL+"/assets/app-abc.js", map[string]string{"Accept-Encoding": "br, gzip"})
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("headers %v", resp.Header)
	}
	r, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(r)
	if !strings.HasPrefix(string(plain), "console.log(1);") {
		t.Fatalf("decoded %q", plain[:20])
	}
	resp, _ = get(t, srv.URL+"/assets/app-abc.js", map[string]string{"Accept-Encoding": "gzip;q=0"})
	if resp.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip;q=0 must refuse gzip")
	}
}

func TestDeepLinkFallsBackToIndex(t *testing.T) {
	srv := testSite(t)
	for _, p := range []string{"/", "/agents", "/agents/pc-01", "/activity/result/abc"} {
		resp, body := get(t, srv.URL+p, nil)
		if resp.StatusCode != 200 || !strings.Contains(string(body), "<title>kanade") {
			t.Fatalf("%s: %d %q", p, resp.StatusCode, body)
		}
		if resp.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("%s: cache-control %q", p, resp.Header.Get("Cache-Control"))
		}
	}
}

func TestMissingAssetIs404(t *testing.T) {
	srv := testSite(t)
	resp, _ := get(t, srv.URL+"/assets/old-chunk.js", nil)
	if resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	resp, body := get(t, srv.URL+"/api/nope", nil)
	if resp.StatusCode != 404 || strings.Contains(string(body), "<title>") {
		t.Fatalf("api fallthrough: %d %q", resp.StatusCode, body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	srv := testSite(t)
	resp, _ := get(t, srv.URL+"/jobs", nil)
	h := resp.Header
	if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
		!strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("csp %q", h.Get("Content-Security-Policy"))
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("headers %v", h)
	}
}

func TestConditionalGetAndMethods(t *testing.T) {
	srv := testSite(t)
	resp, _ := get(t, srv.URL+"/favicon.svg", nil)
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("headers %v", resp.Header)
	}
	resp, _ = get(t, srv.URL+"/favicon.svg", map[string]string{"If-None-Match": etag})
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("status %d", resp.StatusCode)
	}
	r, err := http.Post(srv.URL+"/", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST status %d", r.StatusCode)
	}
}

// The real embedded build must load and serve its index and every asset.
func TestEmbeddedDist(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	resp, body := get(t, srv.URL+"/agents", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `<div id="root">`) {
		t.Fatalf("index: %d %q", resp.StatusCode, body)
	}
	for _, m := range bytes.Split(body, []byte(`"`)) {
		if bytes.HasPrefix(m, []byte("/assets/")) {
			r, _ := get(t, srv.URL+string(m), map[string]string{"Accept-Encoding": "gzip"})
			if r.StatusCode != 200 {
				t.Fatalf("%s: %d", m, r.StatusCode)
			}
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	cases := map[string]bool{"": false, "gzip": true, "br, gzip;q=0.5": true, "gzip;q=0": false, "*": true, "identity": false, "GZIP": true, "gzip; q=0.000": false}
	for in, want := range cases {
		if got := acceptsGzip(in); got != want {
			t.Errorf("acceptsGzip(%q) = %v", in, got)
		}
	}
}
