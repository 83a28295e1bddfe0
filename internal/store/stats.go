package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// Fleet history for the dashboard charts (GET /api/stats/...), derived from
// projected tables only, so a rebuild from the streams gives the same
// answer.

// maxOnlineAlerts bounds the offline alerts one agents-online series reads
// (newest first); beyond it the oldest hours overcount online PCs.
const maxOnlineAlerts = 200_000

// ExecutionStats counts the runs (results) recorded on each of the `days`
// UTC days ending today by outcome. Each count is a range of a covering
// index on recorded_at: results_recorded (all), results_success and
// results_failures (their partial WHERE repeated verbatim so the planner
// can use them); Other is all minus the two.
func (db *DB) ExecutionStats(ctx context.Context, days int, now time.Time) (apiv1.ExecStats, error) {
	days = min(max(days, 1), apiv1.MaxStatsDays)
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	from := today.AddDate(0, 0, 1-days)
	idx := map[string]int{}
	out := apiv1.ExecStats{Days: make([]apiv1.ExecStatsDay, days)}
	for i := range out.Days {
		d := from.AddDate(0, 0, i).Format(time.DateOnly)
		out.Days[i].Day = d
		idx[d] = i
	}
	var all = make([]int, days)
	count := func(what, cond string, dst func(i, n int)) error {
		// TS is fixed-width RFC 3339 UTC: its first 10 characters are the day.
		rows, err := db.read.QueryContext(ctx, db.q(`SELECT SUBSTR(recorded_at, 1, 10), COUNT(*) FROM execution_results
			WHERE recorded_at >= ?`+cond+` GROUP BY SUBSTR(recorded_at, 1, 10)`), TS(from))
		if err != nil {
			return fmt.Errorf("execution stats: %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			var day string
			var n int
			if err := rows.Scan(&day, &n); err != nil {
				return fmt.Errorf("execution stats: %s: %w", what, err)
			}
			if i, ok := idx[day]; ok {
				dst(i, n)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("execution stats: %s: %w", what, err)
		}
		return nil
	}
	if err := count("all", "", func(i, n int) { all[i] = n }); err != nil {
		return out, err
	}
	if err := count("ok", " AND exit_code = 0 AND skipped = 0", func(i, n int) { out.Days[i].OK = n }); err != nil {
		return out, err
	}
	if err := count("failed", " AND exit_code <> 0 AND skipped = 0", func(i, n int) { out.Days[i].Failed = n }); err != nil {
		return out, err
	}
	for i := range out.Days {
		out.Days[i].Other = max(0, all[i]-out.Days[i].OK-out.Days[i].Failed)
	}
	return out, nil
}

// AgentsOnlineHistory returns, once an hour over the last `hours` hours and
// now, the PCs known (first_seen by then; index agents_first_seen) and
// online (known minus the agent-offline alerts open then; index
// alerts_check, offline alerts having check_id ”). See
// apiv1.AgentsOnlinePoint for what the approximation misses.
func (db *DB) AgentsOnlineHistory(ctx context.Context, hours int, now time.Time) (apiv1.AgentsOnline, error) {
	hours = min(max(hours, 1), apiv1.MaxStatsHours)
	now = now.UTC().Truncate(time.Second)
	points := make([]time.Time, hours+1)
	for i := range points {
		points[i] = now.Add(time.Duration(i-hours) * time.Hour)
	}
	var total int
	if err := db.read.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM agents`)).Scan(&total); err != nil {
		return apiv1.AgentsOnline{}, fmt.Errorf("agents online: count agents: %w", err)
	}
	known := make([]int, len(points))
	for i := range known {
		known[i] = total
	}
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT first_seen FROM agents WHERE first_seen > ?`), TS(points[0]))
	if err != nil {
		return apiv1.AgentsOnline{}, fmt.Errorf("agents online: first seen: %w", err)
	}
	for rows.Next() {
		var fs string
		if err := rows.Scan(&fs); err != nil {
			rows.Close()
			return apiv1.AgentsOnline{}, fmt.Errorf("agents online: first seen: %w", err)
		}
		seen := ParseTS(fs)
		for i, p := range points {
			if seen.After(p) {
				known[i]--
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return apiv1.AgentsOnline{}, fmt.Errorf("agents online: first seen: %w", err)
	}

	offline := make([]int, len(points))
	rows, err = db.read.QueryContext(ctx, db.q(`SELECT opened_at, resolved_at FROM alerts
		WHERE check_id = '' AND opened_at <= ? AND kind = ? AND (resolved_at IS NULL OR resolved_at > ?)
		ORDER BY opened_at DESC, id DESC LIMIT ?`), TS(now), apiv1.AlertKindOffline, TS(points[0]), maxOnlineAlerts)
	if err != nil {
		return apiv1.AgentsOnline{}, fmt.Errorf("agents online: offline alerts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var opened string
		var resolved sql.NullString
		if err := rows.Scan(&opened, &resolved); err != nil {
			return apiv1.AgentsOnline{}, fmt.Errorf("agents online: offline alerts: %w", err)
		}
		o := ParseTS(opened)
		for i, p := range points {
			if !o.After(p) && (!resolved.Valid || ParseTS(resolved.String).After(p)) {
				offline[i]++
			}
		}
	}
	if err := rows.Err(); err != nil {
		return apiv1.AgentsOnline{}, fmt.Errorf("agents online: offline alerts: %w", err)
	}
	out := apiv1.AgentsOnline{Points: make([]apiv1.AgentsOnlinePoint, len(points))}
	for i, p := range points {
		out.Points[i] = apiv1.AgentsOnlinePoint{At: p.Format(time.RFC3339), Known: known[i], Online: max(0, known[i]-offline[i])}
	}
	return out, nil
}
