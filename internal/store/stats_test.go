package store_test

import (
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Runs per day by outcome: today and yesterday, one run outside the window.
func TestExecutionStats(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 5, 20, 15, 0, 0, 0, time.UTC)
		yday := now.AddDate(0, 0, -1)
		skipped := res("r5", "e2", "pc2", 0, now)
		skipped.Skipped = true
		applyRes(t, db,
			res("r1", "e1", "pc1", 0, yday),
			res("r2", "e1", "pc2", 1, yday),
			res("r3", "e2", "pc1", 0, now),
			res("r4", "e2", "pc3", 0, now.Add(-time.Hour)),
			skipped,
			res("r0", "e0", "pc1", 1, now.AddDate(0, 0, -5)),
		)
		got := mustT[apiv1.ExecStats](t)(db.ExecutionStats(ctx, 3, now))
		want := []apiv1.ExecStatsDay{
			{Day: "2026-05-18"},
			{Day: "2026-05-19", OK: 1, Failed: 1},
			{Day: "2026-05-20", OK: 2, Other: 1},
		}
		if len(got.Days) != len(want) {
			t.Fatalf("days = %+v", got.Days)
		}
		for i := range want {
			if got.Days[i] != want[i] {
				t.Errorf("day %d = %+v, want %+v", i, got.Days[i], want[i])
			}
		}
	})
}

// Online over time: pc1 always there, pc2 offline from 5 h to 2 h ago, pc3
// first seen 3 h ago.
func TestAgentsOnlineHistory(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		now := time.Now().UTC().Truncate(time.Second)
		ok(t, db.UpsertHeartbeats(ctx, []store.Heartbeat{hb("pc1", "a", now.Add(-48*time.Hour)), hb("pc2", "b", now.Add(-48*time.Hour))}))
		ok(t, db.UpsertHeartbeats(ctx, []store.Heartbeat{hb("pc3", "c", now.Add(-3*time.Hour+time.Minute))}))
		_ = mustT[store.AlertOutcome](t)(db.ApplyAlertEvents(ctx, []wire.AlertEvent{
			{Kind: wire.AlertOfflineOpened, AlertID: "off-pc2-1", PCID: "pc2", At: now.Add(-5*time.Hour + time.Minute)},
		}))
		_ = mustT[store.AlertOutcome](t)(db.ApplyAlertEvents(ctx, []wire.AlertEvent{
			{Kind: wire.AlertOfflineResolved, AlertID: "off-pc2-1", PCID: "pc2", At: now.Add(-2*time.Hour + time.Minute)},
		}))
		got := mustT[apiv1.AgentsOnline](t)(db.AgentsOnlineHistory(ctx, 6, now))
		if len(got.Points) != 7 {
			t.Fatalf("points = %+v", got.Points)
		}
		// hours ago:          6  5  4  3  2  1  0
		wantKnown := []int{2, 2, 2, 2, 3, 3, 3}
		wantOnline := []int{2, 2, 1, 1, 2, 3, 3}
		for i, p := range got.Points {
			if p.Known != wantKnown[i] || p.Online != wantOnline[i] {
				t.Errorf("point %d (%s) = known %d online %d, want %d %d", i, p.At, p.Known, p.Online, wantKnown[i], wantOnline[i])
			}
		}
		if got.Points[6].At != now.Format(time.RFC3339) {
			t.Errorf("last point at %s, want now %s", got.Points[6].At, now.Format(time.RFC3339))
		}
	})
}
