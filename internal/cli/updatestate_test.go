package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// TestAgentUpdateState: agents list -o wide, the self-update filters and
// agents versions over heartbeats sent through the real broker, and the
// rollout's start and halt with config set/unset target_version.
func TestAgentUpdateState(t *testing.T) {
	e := newEnv(t, nil)
	send := func(hb wire.Heartbeat) {
		t.Helper()
		hb.Hostname, hb.OSFamily, hb.OSVersion, hb.Arch, hb.At = "host-"+hb.PCID, "linux", "12", "amd64", time.Now().UTC()
		data, _ := json.Marshal(hb)
		if err := e.b.NC.Publish(bus.Heartbeat(hb.PCID), data); err != nil {
			t.Fatal(err)
		}
	}
	// Heartbeats are core NATS: sent again until the projector, which
	// subscribes as the backend starts, has all five.
	testenv.Eventually(t, 10*time.Second, "five agents", func() bool {
		send(wire.Heartbeat{PCID: "pc-1", AgentVersion: "1.4.0", UpdateState: wire.UpdateCurrent})
		send(wire.Heartbeat{PCID: "pc-2", AgentVersion: "1.3.0", UpdateState: wire.UpdateFailed,
			UpdateError: "download kanade-agent/1.4.0/linux-amd64: sha256 is 9f2c… but the release says 41ab…, the binary was refused"})
		send(wire.Heartbeat{PCID: "pc-3", AgentVersion: "1.3.0", UpdateState: wire.UpdateQuarantined, QuarantinedVersion: "1.4.0"})
		send(wire.Heartbeat{PCID: "pc-4", AgentVersion: "1.3.0", UpdateState: wire.UpdateDownloading})
		send(wire.Heartbeat{PCID: "pc-5", AgentVersion: "1.2.0"}) // older than self-update
		var rows []apiv1.Agent
		e.jsonOK(&rows, "agents", "list")
		return len(rows) == 5
	})

	golden(t, "agents_list_wide", normalize(e.ok("agents", "list", "-o", "wide")))
	golden(t, "agents_versions", e.ok("agents", "versions"))
	golden(t, "agents_show_failed", normalize(e.ok("agents", "show", "pc-2")))
	// Tables without a wide form print as -o table.
	if a, b := e.ok("groups", "list", "-o", "wide"), e.ok("groups", "list"); a != b {
		t.Errorf("groups list -o wide differs from the table:\n%s\n%s", a, b)
	}
	for args, want := range map[string]string{
		"--update-state failed":                 "pc-2\n",
		"--update-state quarantined":            "pc-3\n",
		"--version 1.3.0":                       "pc-2\npc-3\npc-4\n",
		"--version 1.3.0 --update-state failed": "pc-2\n",
		"--quarantined 1.4.0":                   "pc-3\n",
		"--quarantined 1.3.0":                   "",
	} {
		if got := e.ok(append([]string{"agents", "list", "-q"}, strings.Fields(args)...)...); got != want {
			t.Errorf("agents list -q %s = %q, want %q", args, got, want)
		}
	}
	if r := e.cli("agents", "list", "--update-state", "broken"); r.code != 2 || !strings.Contains(r.err, "--update-state") {
		t.Errorf("bad --update-state: %+v", r)
	}
	var vs []apiv1.AgentVersion
	e.jsonOK(&vs, "agents", "versions")
	if len(vs) != 3 || vs[2].Version != "1.4.0" || vs[2].Quarantined != 1 || vs[1].States[wire.UpdateFailed] != 1 {
		t.Errorf("agents versions -o json: %+v", vs)
	}

	// Start on canary, widen to global, halt by unsetting.
	e.ok("config", "set", "target_version=1.4.0", "--group", "canary")
	e.ok("config", "set", "target_version=1.4.0")
	e.ok("config", "set", "target_version=1.3.0", "--pc", "pc-2")
	for _, scope := range [][]string{{"--group", "canary"}, nil, {"--pc", "pc-2"}} {
		if got := e.ok(append([]string{"config", "get"}, scope...)...); !strings.Contains(got, "target_version") {
			t.Errorf("config get %v: %s", scope, got)
		}
		e.ok(append([]string{"config", "unset", "target_version"}, scope...)...)
		if got := e.ok(append([]string{"config", "get"}, scope...)...); strings.Contains(got, "target_version") {
			t.Errorf("config get %v after unset: %s", scope, got)
		}
	}
	for _, bad := range []string{"target_version=", "target_version=1.4/x", "target_version=-rc"} {
		r := e.cli("config", "set", bad, "--group", "canary")
		if r.code != 2 || !strings.Contains(r.err, "target_version") {
			t.Errorf("config set %s: %+v", bad, r)
		}
	}
}
