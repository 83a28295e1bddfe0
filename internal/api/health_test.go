package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// GET /api/health/fleet answers from a shared snapshot, and a change
// shows once it is refreshed (a second), never after the stale bound.
func TestFleetHealthSnapshotIsSharedAndRefreshed(t *testing.T) {
	b := testenv.Backend(t, nil)
	u := b.HTTPURL() + "/api/health/fleet"
	known := func() int {
		var fleet map[string]any
		if code, _ := get(t, u, &fleet); code != 200 {
			t.Fatalf("health: %d %v", code, fleet)
		}
		return int(fleet["agents_known"].(float64))
	}
	before := known()
	hb := store.Heartbeat{Heartbeat: wire.Heartbeat{PCID: "pc-new", Hostname: "NEW", OSFamily: "linux", AgentVersion: "1"},
		ReceivedAt: time.Now().UTC()}
	if err := b.DB.UpsertHeartbeats(context.Background(), []store.Heartbeat{hb}); err != nil {
		t.Fatal(err)
	}
	// A snapshot older than 10 s is never served, so this bound holds on
	// any machine.
	testenv.Eventually(t, 15*time.Second, "the new agent counted", func() bool { return known() == before+1 })
}
