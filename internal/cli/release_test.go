package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/release/exe/exetest"
)

func TestRelease(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	linux := write("kanade-agent", exetest.ELF("amd64", []byte("1.4.0")...))
	win := write("kanade-agent.exe", exetest.PE("arm64"))
	mac := write("kanade-agent-darwin", exetest.Universal("amd64", "arm64"))
	key := e.b.Signer.KeyID()

	// os and arch come from the header.
	golden(t, "release_upload", normalize(e.ok("release", "upload", linux, "--version", "1.4.0"), key, "<key>"))
	var rel apiv1.Release
	e.jsonOK(&rel, "release", "upload", win, "--version", "1.4.0")
	if rel.OS != "windows" || rel.Arch != "arm64" || rel.KeyID != key {
		t.Fatalf("windows upload: %+v", rel)
	}
	// A universal binary needs --arch; then it is uploaded per arch.
	if r := e.cli("release", "upload", mac, "--version", "1.4.0"); r.code != 2 || !strings.Contains(r.err, "give --arch") {
		t.Fatalf("universal without --arch: %d %s", r.code, r.err)
	}
	e.ok("release", "upload", mac, "--version", "1.4.0", "--arch", "arm64")
	e.ok("release", "upload", linux, "--version", "1.5.0-rc.1")

	golden(t, "release_list", normalize(e.ok("release", "list"), key, "<key>"))
	var rows []apiv1.Release
	e.jsonOK(&rows, "release", "list")
	if len(rows) != 4 || rows[0].Version != "1.5.0-rc.1" || len(rows[0].SHA256) != 64 {
		t.Fatalf("list: %+v", rows)
	}

	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"release", "upload", linux}, 2, "--version is required"},
		{[]string{"release", "upload", linux, "--version", "1/2"}, 2, "--version"},
		{[]string{"release", "upload", win, "--version", "2.0.0", "--os", "linux"}, 2, "--os linux, but"},
		{[]string{"release", "upload", linux, "--version", "2.0.0", "--arch", "arm64"}, 2, "--arch arm64, but"},
		{[]string{"release", "upload", write("notes.txt", []byte("release notes\n")), "--version", "2.0.0"}, 2, "not an agent binary"},
		{[]string{"release", "upload", filepath.Join(dir, "missing"), "--version", "2.0.0"}, 1, "no such file"},
		{[]string{"release", "upload", linux, "--version", "1.4.0"}, 1, "immutable"},
		{[]string{"release", "delete", "9.9.9"}, 1, "not found"},
	} {
		if r := e.cli(tc.args...); r.code != tc.code || !strings.Contains(r.err, tc.says) {
			t.Errorf("kanade %s: exit %d, want %d saying %q: %s", strings.Join(tc.args, " "), r.code, tc.code, tc.says, r.err)
		}
	}

	// Deleting a version a scope still targets works, with a warning.
	e.ok("config", "set", "target_version=1.4.0", "--group", "canary")
	r := e.cli("release", "delete", "1.4.0")
	if r.code != 0 || r.out != "deleted release 1.4.0 (darwin/arm64, linux/amd64, windows/arm64)\n" ||
		!strings.Contains(r.err, "still the target_version of groups.canary") {
		t.Fatalf("delete: %d\n%s\n%s", r.code, r.out, r.err)
	}
	e.jsonOK(&rows, "release", "list")
	if len(rows) != 1 || rows[0].Version != "1.5.0-rc.1" {
		t.Fatalf("after delete: %+v", rows)
	}
}
