package store_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// upd is a heartbeat of version v in update state s (quarantined q).
func upd(pc, v, s, errText, q string, at time.Time) store.Heartbeat {
	h := hb(pc, "host-"+pc, at)
	h.AgentVersion, h.UpdateState, h.UpdateError, h.QuarantinedVersion = v, s, errText, q
	return h
}

func TestHeartbeatUpdateStateProjection(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		now := time.Now().UTC().Truncate(time.Microsecond)
		stale := now.Add(-5 * time.Minute)
		ok(t, db.UpsertHeartbeats(ctx, []store.Heartbeat{
			upd("pc-a", "1.0.0", wire.UpdateDownloading, "", "", now.Add(-2*time.Second)),
			upd("pc-b", "1.0.0", wire.UpdateFailed, "sha256 mismatch", "", now),
			upd("pc-c", "1.0.0", wire.UpdateQuarantined, "", "1.1.0", now),
			upd("pc-d", "1.1.0", wire.UpdateCurrent, "", "", stale),
			upd("pc-e", "0.9.0", "", "", "", now), // an agent older than self-update
			upd("pc-f", "1.10.0", wire.UpdateCurrent, "", "", now),
		}))
		// The newest heartbeat wins; one without update fields clears them
		// (the agent no longer reports a failure).
		ok(t, db.UpsertHeartbeats(ctx, []store.Heartbeat{upd("pc-a", "1.1.0", wire.UpdateCurrent, "", "", now)}))
		ok(t, db.UpsertHeartbeats(ctx, []store.Heartbeat{upd("pc-a", "1.0.0", wire.UpdateRestarting, "", "", now.Add(-time.Second))}))

		a, _, err := db.GetAgent(ctx, "pc-b", now)
		if err != nil || a.UpdateState != wire.UpdateFailed || a.UpdateError != "sha256 mismatch" || a.QuarantinedVersion != "" {
			t.Fatalf("pc-b: %v %+v", err, a)
		}
		if a, _, _ := db.GetAgent(ctx, "pc-a", now); a.UpdateState != wire.UpdateCurrent || a.AgentVersion != "1.1.0" {
			t.Fatalf("pc-a: an older heartbeat won: %+v", a)
		}
		if e, _, _ := db.GetAgent(ctx, "pc-e", now); e.UpdateState != "" || e.UpdateError != "" {
			t.Fatalf("pc-e (old agent): %+v", e)
		}

		list := func(f store.AgentFilter) []string {
			t.Helper()
			f.Now = now
			as, total, err := db.ListAgents(ctx, f, store.Page{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, a := range as {
				out = append(out, a.PCID)
			}
			if total != len(out) {
				t.Fatalf("%+v: total %d for %v", f, total, out)
			}
			return out
		}
		for _, c := range []struct {
			f    store.AgentFilter
			want []string
		}{
			{store.AgentFilter{UpdateState: wire.UpdateFailed}, []string{"pc-b"}},
			{store.AgentFilter{UpdateState: wire.UpdateCurrent}, []string{"pc-a", "pc-d", "pc-f"}},
			{store.AgentFilter{UpdateState: wire.UpdateCurrent, Status: "online"}, []string{"pc-a", "pc-f"}},
			{store.AgentFilter{Version: "1.0.0"}, []string{"pc-b", "pc-c"}},
			{store.AgentFilter{Version: "1.1.0", UpdateState: wire.UpdateCurrent}, []string{"pc-a", "pc-d"}},
			{store.AgentFilter{Quarantined: "1.1.0"}, []string{"pc-c"}},
			{store.AgentFilter{Quarantined: "1.0.0"}, nil},
			{store.AgentFilter{Sort: "agent_version"}, []string{"pc-e", "pc-b", "pc-c", "pc-a", "pc-d", "pc-f"}},
		} {
			if got := list(c.f); !slices.Equal(got, c.want) {
				t.Errorf("%+v: %v, want %v", c.f, got, c.want)
			}
		}

		got := mustT[[]apiv1.AgentVersion](t)(db.AgentVersions(ctx, now))
		states := func(kv ...any) map[string]int {
			m := map[string]int{}
			for _, s := range wire.UpdateStates {
				m[s] = 0
			}
			for i := 0; i < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1].(int)
			}
			return m
		}
		want := []apiv1.AgentVersion{
			{Version: "0.9.0", Agents: 1, Online: 1, States: states()},
			{Version: "1.0.0", Agents: 2, Online: 2, States: states(wire.UpdateFailed, 1, wire.UpdateQuarantined, 1)},
			{Version: "1.1.0", Agents: 2, Online: 1, States: states(wire.UpdateCurrent, 2), Quarantined: 1},
			{Version: "1.10.0", Agents: 1, Online: 1, States: states(wire.UpdateCurrent, 1)},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("versions:\n%+v\nwant\n%+v", got, want)
		}
		// A version every PC rolled back from is still listed.
		ok(t, db.UpsertHeartbeats(ctx, []store.Heartbeat{upd("pc-f", "1.1.0", wire.UpdateQuarantined, "", "2.0.0", now.Add(time.Second))}))
		got = mustT[[]apiv1.AgentVersion](t)(db.AgentVersions(ctx, now))
		if last := got[len(got)-1]; last.Version != "2.0.0" || last.Agents != 0 || last.Quarantined != 1 {
			t.Fatalf("only-quarantined version: %+v", got)
		}
	})
}

func TestCompareVersions(t *testing.T) {
	in := []string{"1.10.0", "1.9.2", "", "1.9.10", "v2", "1.9.2-rc1", "01.9.3", "dev"}
	slices.SortFunc(in, store.CompareVersions)
	want := []string{"", "1.9.2", "1.9.2-rc1", "01.9.3", "1.9.10", "1.10.0", "dev", "v2"}
	if !slices.Equal(in, want) {
		t.Fatalf("%q, want %q", in, want)
	}
}
