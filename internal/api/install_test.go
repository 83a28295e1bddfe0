package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/release"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// installBackend starts a backend (trusting loopback as a proxy when
// trust) with one signed windows/amd64 release of version 2.0.0 and a
// usable enrollment token.
func installBackend(t *testing.T, trust bool) (*server.Server, string) {
	t.Helper()
	b := testenv.Backend(t, func(c *server.Config) {
		c.Auth = auth.Config{Disabled: true}
		if trust {
			c.Auth.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		}
	})
	ctx := context.Background()
	bin := []byte("MZ not really a windows binary")
	sum := sha256.Sum256(bin)
	st := release.Statement{Version: "2.0.0", OS: "windows", Arch: "amd64", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(bin))}
	if _, err := b.KV.Releases.Put(ctx, st, release.Sign(b.Signer, st), bytes.NewReader(bin)); err != nil {
		t.Fatal(err)
	}
	tok, err := (&apiv1.Client{Base: b.HTTPURL()}).CreateEnrollmentToken(ctx, apiv1.CreateEnrollmentTokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return b, tok.Token
}

func getWith(t *testing.T, method, url string, hdr map[string]string) resp {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, body, res.Header}
}

// The server URL baked into a script is the one the request came to;
// forwarded headers count only from a trusted proxy, and a host that is
// not a plain host:port is refused.
func TestInstallScriptServerURL(t *testing.T) {
	t.Parallel()
	trusted, tok := installBackend(t, true)
	untrusted, tok2 := installBackend(t, false)
	fwd := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "kanade.example:8443, proxy.internal"}
	cases := []struct {
		b    *server.Server
		tok  string
		hdr  map[string]string
		want string
	}{
		{trusted, tok, nil, "$KanadeServer = '" + trusted.HTTPURL() + "'"},
		{trusted, tok, fwd, "$KanadeServer = 'https://kanade.example:8443'"},
		{untrusted, tok2, fwd, "$KanadeServer = '" + untrusted.HTTPURL() + "'"},
	}
	for i, c := range cases {
		r := getWith(t, "GET", c.b.HTTPURL()+"/api/install/windows?token="+c.tok, c.hdr)
		if r.status != 200 || !strings.Contains(string(r.body), c.want) || r.hdr.Get("Content-Type") != "text/plain; charset=utf-8" ||
			r.hdr.Get("Cache-Control") != "no-store" || r.hdr.Get("X-Kanade-Version") != "2.0.0" {
			t.Errorf("case %d: %d %v, want a script with %s\n%.400s", i, r.status, r.hdr, c.want, r.body)
		}
	}
	for _, h := range []string{"evil'$(id)", "a b", "x/y"} {
		r := getWith(t, "GET", trusted.HTTPURL()+"/api/install/windows?token="+tok, map[string]string{"X-Forwarded-Host": h})
		if r.status != http.StatusBadRequest || strings.Contains(string(r.body), "KanadeToken") {
			t.Errorf("forwarded host %q: %d %s, want 400", h, r.status, r.body)
		}
	}
	// The script installs only what exists: no linux release here.
	if r := getWith(t, "GET", trusted.HTTPURL()+"/api/install/linux?token="+tok, nil); r.status != http.StatusConflict {
		t.Errorf("linux without a release: %d %s", r.status, r.body)
	}
}

// The download's headers: digest, signature, filename; HEAD sends them
// without the body; with auth disabled no credential is needed.
func TestReleaseDownloadHeaders(t *testing.T) {
	t.Parallel()
	b, tok := installBackend(t, false)
	for _, q := range []string{"", "?token=" + tok} {
		r := getWith(t, "GET", b.HTTPURL()+"/api/releases/2.0.0/windows-amd64"+q, nil)
		if r.status != 200 || string(r.body) != "MZ not really a windows binary" || r.hdr.Get("Content-Type") != "application/octet-stream" ||
			r.hdr.Get("Content-Disposition") != `attachment; filename="kanade-agent.exe"` || len(r.hdr.Get("X-Kanade-Sha256")) != 64 ||
			r.hdr.Get("Kanade-Key-Id") != b.Signer.KeyID() || r.hdr.Get("Kanade-Signature") == "" || r.hdr.Get("Content-Length") != "30" {
			t.Errorf("download%s: %d %v %q", q, r.status, r.hdr, r.body)
		}
	}
	if r := getWith(t, "HEAD", b.HTTPURL()+"/api/releases/2.0.0/windows-amd64", nil); r.status != 200 || len(r.body) != 0 || r.hdr.Get("Content-Length") != "30" {
		t.Errorf("HEAD: %d %v %d bytes", r.status, r.hdr, len(r.body))
	}
	for path, want := range map[string]int{"/api/releases/2.0.0/windows-386": 400, "/api/releases/2.0.0/windows": 400,
		"/api/releases/x%2Fy/windows-amd64": 400, "/api/releases/2.0.1/windows-amd64": 404, "/api/releases/2.0.0/linux-amd64": 404} {
		if r := getWith(t, "GET", b.HTTPURL()+path, nil); r.status != want {
			t.Errorf("GET %s: %d %s, want %d", path, r.status, r.body, want)
		}
	}
}
