package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The agent runs on every endpoint: it must never link the broker, the
// databases or the backend's packages.
var forbidden = []string{
	"github.com/nats-io/nats-server",
	"modernc.org/sqlite",
	"github.com/jackc/pgx",
	"github.com/pressly/goose",
	"github.com/go-co-op/gocron",
	"github.com/kanade-fleet/kanade/internal/store",
	"github.com/kanade-fleet/kanade/internal/projector",
	"github.com/kanade-fleet/kanade/internal/api",
	"github.com/kanade-fleet/kanade/internal/server",
	"github.com/kanade-fleet/kanade/internal/kv", // the agent reads KV by direct get, never through package kv
	"github.com/kanade-fleet/kanade/internal/broker",
}

func TestAgentLinksNoServerCode(t *testing.T) {
	for _, goos := range []string{"linux", "windows", "darwin"} {
		cmd := exec.Command("go", "list", "-deps", ".")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list (%s): %v\n%s", goos, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, bad := range forbidden {
				if dep == bad || strings.HasPrefix(dep, bad+"/") {
					t.Errorf("GOOS=%s: kanade-agent depends on %s", goos, dep)
				}
			}
		}
	}
}

// TestCrossCompile keeps the Windows and macOS builds from breaking.
func TestCrossCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiling takes a while")
	}
	for _, target := range [][2]string{{"windows", "amd64"}, {"darwin", "arm64"}} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(t.TempDir(), "kanade-agent"), ".")
		cmd.Env = append(os.Environ(), "GOOS="+target[0], "GOARCH="+target[1], "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("GOOS=%s GOARCH=%s: %v\n%s", target[0], target[1], err, out)
		}
	}
}
