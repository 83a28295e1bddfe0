package store_test

import (
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/check"
	"github.com/kanade-fleet/kanade/internal/store"
)

// The trend of a check over four days, from its alerts: pc1 fails on day
// 1 and passes on day 2, pc2 fails from day 3 (today) on, pc3 always
// passes, pc4 has no verdict yet.
func TestCheckTrend(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		today := time.Date(t0.Year(), t0.Month(), t0.Day(), 0, 0, 0, 0, time.UTC)
		day := func(d int, h int) time.Time { return today.AddDate(0, 0, d-3).Add(time.Duration(h) * time.Hour) }
		at := func(r store.Result, when time.Time) store.Result { r.RecordedAt = when; return r }
		applyRes(t, db,
			at(checkRes("pc1", 1, check.Pass, 1), day(0, 1)),
			at(checkRes("pc3", 1, check.Pass, 1), day(0, 1)),
			at(checkRes("pc1", 2, check.Fail, 1), day(1, 9)),
			at(checkRes("pc2", 1, check.Pass, 1), day(1, 9)),
			at(checkRes("pc4", 1, check.None, 1), day(1, 9)),
			at(checkRes("pc1", 3, check.Pass, 1), day(2, 9)),
			at(checkRes("pc2", 2, check.Fail, 1), day(3, 1)),
		)
		now := day(3, 2)
		got, found, err := db.CheckTrend(ctx, "disk", 4, now)
		if err != nil || !found {
			t.Fatalf("trend: %v found=%v", err, found)
		}
		want := []apiv1.CheckTrendDay{
			{Day: day(0, 0).Format(time.DateOnly), Passing: 3, Failing: 0, Unknown: 1, PassingPct: 75},
			{Day: day(1, 0).Format(time.DateOnly), Passing: 2, Failing: 1, Unknown: 1, PassingPct: 50},
			{Day: day(2, 0).Format(time.DateOnly), Passing: 3, Failing: 0, Unknown: 1, PassingPct: 75},
			{Day: day(3, 0).Format(time.DateOnly), Passing: 2, Failing: 1, Unknown: 1, PassingPct: 50},
		}
		if got.CheckID != "disk" || len(got.Days) != len(want) {
			t.Fatalf("trend = %+v", got)
		}
		for i := range want {
			if got.Days[i] != want[i] {
				t.Errorf("day %d = %+v, want %+v", i, got.Days[i], want[i])
			}
		}
		// Today's row is the summary of GET /api/checks.
		l := mustT[store.Listing[apiv1.CheckSummary]](t)(db.PageChecks(ctx, store.Page{Limit: 10}))
		if c := l.Rows[0]; c.Passing != 2 || c.Failing != 1 || c.CompliancePct != got.Days[3].PassingPct {
			t.Errorf("summary %+v does not match today's trend %+v", c, got.Days[3])
		}
		// A day before the check first reported has no PCs, not today's.
		five, _, _ := db.CheckTrend(ctx, "disk", 5, now)
		if d := five.Days[0]; d != (apiv1.CheckTrendDay{Day: day(-1, 0).Format(time.DateOnly)}) {
			t.Errorf("the day before the first result = %+v", d)
		}
		if five.Days[1] != want[0] {
			t.Errorf("5 days: day 1 = %+v, want %+v", five.Days[1], want[0])
		}
		// The window is clamped; an unknown check is not found.
		if one, _, _ := db.CheckTrend(ctx, "disk", 0, now); len(one.Days) != 1 {
			t.Errorf("days=0 gave %d days", len(one.Days))
		}
		if _, found, err := db.CheckTrend(ctx, "nope", 7, now); err != nil || found {
			t.Errorf("unknown check: found=%v err=%v", found, err)
		}
	})
}
