package api_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Self-update state (SPEC §13) travels from heartbeats on the real broker
// through the heartbeat projector to GET /api/agents, its filters and GET
// /api/agents/versions.
func TestUpdateStateFromHeartbeats(t *testing.T) {
	b := start(t, "", "")
	publish := func(hb any, pc string) {
		t.Helper()
		data, err := json.Marshal(hb)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.NC.Publish(bus.Heartbeat(pc), data); err != nil {
			t.Fatal(err)
		}
	}
	beat := func(pc, version, state, errText, quarantined string) wire.Heartbeat {
		return wire.Heartbeat{PCID: pc, Hostname: "host-" + pc, OSFamily: "linux", Arch: "amd64", AgentVersion: version,
			At: time.Now().UTC(), UpdateState: state, UpdateError: errText, QuarantinedVersion: quarantined}
	}
	agents := func(q string) []apiv1.Agent {
		t.Helper()
		var as []apiv1.Agent
		must(t, call(t, b, "GET", "/api/agents?"+q, "", nil), 200).json(t, &as)
		return as
	}
	// Heartbeats are core NATS: sent again until the projector, which
	// subscribes as the backend starts, has them.
	testenv.Eventually(t, 10*time.Second, "five agents projected", func() bool {
		publish(beat("pc-cur", "1.1.0", wire.UpdateCurrent, "", ""), "pc-cur")
		publish(beat("pc-dl", "1.0.0", wire.UpdateDownloading, "", ""), "pc-dl")
		publish(beat("pc-fail", "1.0.0", wire.UpdateFailed, "signature does not verify", ""), "pc-fail")
		publish(beat("pc-quar", "1.0.0", wire.UpdateQuarantined, "", "1.1.0"), "pc-quar")
		// An agent older than self-update sends none of the fields.
		publish(map[string]any{"pc_id": "pc-old", "hostname": "host-old", "agent_version": "0.9.0",
			"at": time.Now().UTC().Format(time.RFC3339Nano)}, "pc-old")
		// A state no agent may report is dropped, not projected.
		publish(map[string]any{"pc_id": "pc-bad", "agent_version": "1.0.0", "update_state": "exploded",
			"at": time.Now().UTC().Format(time.RFC3339Nano)}, "pc-bad")
		return len(agents("")) == 5
	})
	byPC := map[string]apiv1.Agent{}
	for _, a := range agents("") {
		byPC[a.PCID] = a
	}
	if a := byPC["pc-fail"]; a.UpdateState != "failed" || a.UpdateError != "signature does not verify" {
		t.Errorf("pc-fail: %+v", a)
	}
	if a := byPC["pc-quar"]; a.UpdateState != "quarantined" || a.QuarantinedVersion != "1.1.0" {
		t.Errorf("pc-quar: %+v", a)
	}
	if a := byPC["pc-old"]; a.UpdateState != "" || a.UpdateError != "" || a.QuarantinedVersion != "" {
		t.Errorf("pc-old: %+v", a)
	}
	var one apiv1.Agent
	must(t, call(t, b, "GET", "/api/agents/pc-quar", "", nil), 200).json(t, &one)
	if one.QuarantinedVersion != "1.1.0" || one.UpdateState != "quarantined" {
		t.Errorf("GET /api/agents/pc-quar: %+v", one)
	}

	pcs := func(q string) string {
		t.Helper()
		var out []string
		for _, a := range agents(q) {
			out = append(out, a.PCID)
		}
		return fmt.Sprint(out)
	}
	for q, want := range map[string]string{
		"update_state=failed":                 "[pc-fail]",
		"update_state=current":                "[pc-cur]",
		"version=1.0.0":                       "[pc-dl pc-fail pc-quar]",
		"version=1.0.0&update_state=failed":   "[pc-fail]",
		"quarantined=1.1.0":                   "[pc-quar]",
		"quarantined=1.0.0":                   "[]",
		"version=0.9.0&status=online":         "[pc-old]",
		"update_state=quarantined&group=none": "[]",
	} {
		if got := pcs(q); got != want {
			t.Errorf("GET /api/agents?%s: %s, want %s", q, got, want)
		}
	}
	r := must(t, call(t, b, "GET", "/api/agents?update_state=exploded", "", nil), 400)
	if f := r.field(t); f != "update_state" {
		t.Errorf("bad update_state names %q", f)
	}

	var vs []apiv1.AgentVersion
	must(t, call(t, b, "GET", "/api/agents/versions", "", nil), 200).json(t, &vs)
	got := map[string]apiv1.AgentVersion{}
	for _, v := range vs {
		got[v.Version] = v
	}
	if len(vs) != 3 || vs[0].Version != "0.9.0" || vs[2].Version != "1.1.0" {
		t.Fatalf("versions %+v", vs)
	}
	if v := got["1.0.0"]; v.Agents != 3 || v.Online != 3 || v.States["downloading"] != 1 || v.States["failed"] != 1 ||
		v.States["quarantined"] != 1 || v.States["current"] != 0 || v.Quarantined != 0 {
		t.Errorf("1.0.0: %+v", v)
	}
	if v := got["1.1.0"]; v.Agents != 1 || v.States["current"] != 1 || v.Quarantined != 1 {
		t.Errorf("1.1.0: %+v", v)
	}
	if v := got["0.9.0"]; v.Agents != 1 || v.Online != 1 || len(v.States) != len(wire.UpdateStates) || v.States["current"] != 0 {
		t.Errorf("0.9.0 (no update_state): %+v", v)
	}

	// The failure clears once the agent says so.
	publish(beat("pc-fail", "1.1.0", wire.UpdateCurrent, "", ""), "pc-fail")
	testenv.Eventually(t, 10*time.Second, "pc-fail current on 1.1.0", func() bool { return pcs("update_state=failed") == "[]" })
	if got := pcs("version=" + url.QueryEscape("1.1.0")); got != "[pc-cur pc-fail]" {
		t.Errorf("1.1.0 after the update: %s", got)
	}
}

// Halting a rollout: target_version is set and unset on each scope, and a
// value that is not a release version is refused naming the field.
func TestTargetVersionSetAndUnset(t *testing.T) {
	b := start(t, "", "")
	for _, scope := range []string{"/api/config", "/api/groups/canary/config", "/api/pcs/pc-1/config"} {
		var sc apiv1.ConfigScope
		must(t, call(t, b, "PATCH", scope, "", map[string]any{"target_version": "1.2.0", "heartbeat_interval": "20s"}), 200).json(t, &sc)
		if sc.TargetVersion == nil || *sc.TargetVersion != "1.2.0" {
			t.Fatalf("%s: %+v", scope, sc)
		}
		for _, bad := range []string{"", "1.2/../x", "-1", "1 2", string(make([]byte, 65))} {
			r := must(t, call(t, b, "PATCH", scope, "", map[string]any{"target_version": bad}), 422)
			if f := r.field(t); f != "target_version" {
				t.Errorf("%s target_version=%q: field %q", scope, bad, f)
			}
			r = must(t, call(t, b, "PUT", scope, "", map[string]any{"target_version": bad}), 422)
			if f := r.field(t); f != "target_version" {
				t.Errorf("PUT %s target_version=%q: field %q", scope, bad, f)
			}
		}
		// Unset (null): the rollout stops here, the other field stays.
		sc = apiv1.ConfigScope{}
		must(t, call(t, b, "PATCH", scope, "", `{"target_version":null}`), 200).json(t, &sc)
		if sc.TargetVersion != nil || sc.HeartbeatInterval == nil {
			t.Fatalf("%s after unset: %+v", scope, sc)
		}
		sc = apiv1.ConfigScope{}
		must(t, call(t, b, "GET", scope, "", nil), 200).json(t, &sc)
		if sc.TargetVersion != nil {
			t.Fatalf("%s still has a target: %+v", scope, sc)
		}
	}
	// What a PC resolves: the group's target over the global one, and none
	// once both are unset.
	must(t, call(t, b, "PUT", "/api/agents/pc-1/groups", "", map[string]any{"groups": []string{"canary"}}), 200)
	must(t, call(t, b, "PATCH", "/api/config", "", map[string]any{"target_version": "1.1.0"}), 200)
	must(t, call(t, b, "PATCH", "/api/groups/canary/config", "", map[string]any{"target_version": "1.2.0"}), 200)
	effective := func() string {
		var e apiv1.EffectiveView
		must(t, call(t, b, "GET", "/api/agents/pc-1/effective_config", "", nil), 200).json(t, &e)
		return e.Effective.TargetVersion
	}
	testenv.Eventually(t, 10*time.Second, "pc-1 resolves the canary target", func() bool { return effective() == "1.2.0" })
	must(t, call(t, b, "PATCH", "/api/groups/canary/config", "", `{"target_version":null}`), 200)
	if got := effective(); got != "1.1.0" {
		t.Errorf("after unsetting canary: %q, want the global 1.1.0", got)
	}
	must(t, call(t, b, "PATCH", "/api/config", "", `{"target_version":null}`), 200)
	if got := effective(); got != "" {
		t.Errorf("after unsetting global: %q, want none", got)
	}
}
