package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The agent runs on every endpoint: it must never link the broker, the
// databases or the backend's packages. Each entry says why.
var forbidden = []struct{ pkg, why string }{
	{"github.com/nats-io/nats-server", "the broker runs in the backend, not on endpoints"},
	{"modernc.org/sqlite", "the agent keeps its state in files (ledger, outbox), not SQL"},
	{"github.com/jackc/pgx", "PostgreSQL is the backend's store"},
	{"github.com/pressly/goose", "schema migrations are the backend's"},
	{"github.com/go-co-op/gocron", "schedules fire in the backend's scheduler"},
	{"github.com/kanade-fleet/kanade/internal/store", "the SQL projection is the backend's"},
	{"github.com/kanade-fleet/kanade/internal/projector", "projection runs in the backend"},
	{"github.com/kanade-fleet/kanade/internal/api", "the HTTP API is the backend's"},
	{"github.com/kanade-fleet/kanade/internal/server", "the backend's composition root"},
	{"github.com/kanade-fleet/kanade/internal/broker", "the embedded broker"},
	{"github.com/kanade-fleet/kanade/internal/scheduler", "schedules fire in the backend (leader only)"},
	{"github.com/kanade-fleet/kanade/internal/fanout", "dispatch is the backend's (fanout/command, the ad-hoc protocol, is allowed)"},
	{"github.com/kanade-fleet/kanade/internal/auth", "API accounts and tokens are the backend's"},
	{"github.com/kanade-fleet/kanade/internal/kv", "KV buckets are owned by the backend; the agent reads its few keys through its own watchers"},
	{"github.com/kanade-fleet/kanade/internal/cli", "the operator CLI is a separate binary"},
	{"github.com/kanade-fleet/kanade/internal/sim", "the load simulator is a test tool"},
}

// allowed are packages under a forbidden prefix that the agent may link.
var allowed = []string{
	"github.com/kanade-fleet/kanade/internal/fanout/command",
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
			if slices.Contains(allowed, dep) {
				continue
			}
			for _, bad := range forbidden {
				if dep == bad.pkg || strings.HasPrefix(dep, bad.pkg+"/") {
					t.Errorf("GOOS=%s: kanade-agent depends on %s (%s)", goos, dep, bad.why)
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
