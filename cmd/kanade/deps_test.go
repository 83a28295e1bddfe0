package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The CLI talks to the backend over HTTP (internal/apiv1) and to the broker
// over NATS; it must not link the backend's code: the store (and its SQL
// drivers), the server wiring, the broker, the fanout (only fanout/command,
// the ad-hoc protocol, is shared).
var forbidden = []struct{ pkg, why string }{
	{"github.com/kanade-fleet/kanade/internal/store", "SQL is the backend's; the CLI reads rows through apiv1"},
	{"github.com/kanade-fleet/kanade/internal/backend", "backend wiring"},
	{"github.com/kanade-fleet/kanade/internal/server", "backend wiring"},
	{"github.com/kanade-fleet/kanade/internal/api", "the HTTP server side of the contract"},
	{"github.com/kanade-fleet/kanade/internal/broker", "the embedded broker"},
	{"github.com/kanade-fleet/kanade/internal/projector", "projection runs in the backend"},
	{"github.com/kanade-fleet/kanade/internal/fanout", "dispatch is the backend's (fanout/command is allowed)"},
	{"github.com/kanade-fleet/kanade/internal/scheduler", "schedules fire in the backend"},
	{"github.com/kanade-fleet/kanade/internal/auth", "accounts and tokens are the backend's"},
	{"github.com/nats-io/nats-server", "the broker"},
	{"modernc.org/sqlite", "a database driver"},
	{"github.com/jackc/pgx", "a database driver"},
}

// allowed are packages under a forbidden prefix that the CLI may link.
var allowed = map[string]bool{"github.com/kanade-fleet/kanade/internal/fanout/command": true}

func TestCLILinksNoServerCode(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if allowed[dep] {
			continue
		}
		for _, bad := range forbidden {
			if dep == bad.pkg || strings.HasPrefix(dep, bad.pkg+"/") {
				t.Errorf("kanade depends on %s (%s)", dep, bad.why)
			}
		}
	}
}
