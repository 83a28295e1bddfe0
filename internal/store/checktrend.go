package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// maxTrendAlerts bounds the alerts one trend reads (newest first): a check
// flapping on a large fleet for a year must not make the chart read
// unbounded history. Beyond it the oldest days undercount failures.
const maxTrendAlerts = 200_000

// CheckTrend returns check checkID's trend over the `days` UTC days ending
// today (see apiv1.CheckTrendDay), derived without a table of its own: a
// check alert is open exactly while its (check, PC) is failing (ApplyResults
// opens it on the transition to failing and resolves it on the next pass),
// so the alerts of the check answer "how many PCs failed at the end of day
// d" from index alerts_check. found is false for a check that never
// reported.
func (db *DB) CheckTrend(ctx context.Context, checkID string, days int, now time.Time) (apiv1.CheckTrend, bool, error) {
	out := apiv1.CheckTrend{CheckID: checkID, Days: []apiv1.CheckTrendDay{}}
	var one int
	switch err := db.read.QueryRowContext(ctx, db.q(`SELECT 1 FROM checks WHERE check_id = ?`), checkID).Scan(&one); {
	case err == sql.ErrNoRows:
		return out, false, nil
	case err != nil:
		return out, false, fmt.Errorf("check trend %s: %w", checkID, err)
	}
	days = min(max(days, 1), apiv1.MaxTrendDays)
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	// points[i] is the instant day i is judged at: its end, or now for today.
	points := make([]time.Time, days)
	for i := range points {
		points[i] = today.AddDate(0, 0, i-days+1).Add(24*time.Hour - time.Nanosecond)
	}
	points[days-1] = now

	var total, unknown int
	var firstSince sql.NullString
	if err := db.read.QueryRowContext(ctx, db.q(`SELECT COUNT(*), COALESCE(SUM(CASE WHEN state = ? THEN 1 ELSE 0 END), 0), MIN(since)
		FROM check_status WHERE check_id = ?`), apiv1.CheckUnknown, checkID).Scan(&total, &unknown, &firstSince); err != nil {
		return out, false, fmt.Errorf("check trend %s: count PCs: %w", checkID, err)
	}
	// When the check first reported: its oldest result still kept (index
	// results_job), or the oldest state's start. Days that ended before
	// have no PCs rather than today's all passing.
	var firstResult sql.NullString
	if err := db.read.QueryRowContext(ctx, db.q(`SELECT MIN(recorded_at) FROM execution_results WHERE job_id = ?`), checkID).Scan(&firstResult); err != nil {
		return out, false, fmt.Errorf("check trend %s: first result: %w", checkID, err)
	}
	first := now
	for _, v := range []sql.NullString{firstSince, firstResult} {
		if v.Valid && v.String != "" {
			if ts := ParseTS(v.String); ts.Before(first) {
				first = ts
			}
		}
	}

	// The alerts open at some point of the window: opened by its end, not
	// resolved before its first point.
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT opened_at, resolved_at FROM alerts
		WHERE check_id = ? AND opened_at <= ? AND kind = ? AND (resolved_at IS NULL OR resolved_at > ?)
		ORDER BY opened_at DESC, id DESC LIMIT ?`),
		checkID, TS(now), apiv1.AlertKindCheck, TS(points[0]), maxTrendAlerts)
	if err != nil {
		return out, false, fmt.Errorf("check trend %s: alerts: %w", checkID, err)
	}
	defer rows.Close()
	failing := make([]int, days)
	for rows.Next() {
		var opened string
		var resolved sql.NullString
		if err := rows.Scan(&opened, &resolved); err != nil {
			return out, false, fmt.Errorf("check trend %s: scan alert: %w", checkID, err)
		}
		o := ParseTS(opened)
		for i, p := range points {
			if !o.After(p) && (!resolved.Valid || ParseTS(resolved.String).After(p)) {
				failing[i]++
			}
		}
	}
	if err := rows.Err(); err != nil {
		return out, false, fmt.Errorf("check trend %s: alerts: %w", checkID, err)
	}
	for i, p := range points {
		if p.Before(first) {
			out.Days = append(out.Days, apiv1.CheckTrendDay{Day: p.Format(time.DateOnly)})
			continue
		}
		f := min(failing[i], total-unknown)
		d := apiv1.CheckTrendDay{Day: p.Format(time.DateOnly), Failing: f, Unknown: unknown, Passing: total - unknown - f}
		if total > 0 {
			d.PassingPct = math.Round(1000*float64(d.Passing)/float64(total)) / 10
		}
		out.Days = append(out.Days, d)
	}
	return out, true, nil
}
