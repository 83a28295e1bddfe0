package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/check"
	"github.com/kanade-fleet/kanade/internal/cursor"
)

// The checks and check_status tables (SPEC §15), written by ApplyResults in
// the transaction of the result itself: a result that changes nothing
// (a redelivery) changes no check either, and a replay after a wipe walks
// the same results in the same stream order to the same states.

// CheckEval is what the projector judged a check job's result to say.
type CheckEval struct {
	Verdict       check.Verdict
	Severity      string
	FlapThreshold int
}

// checkAlertID is the id of the alert a failing result opens: derived from
// the result, so a replay opens the same alert.
func checkAlertID(resultID string) string { return "chk-" + resultID }

// applyChecks applies the check verdicts of the results of a batch that
// really changed a row, in batch (stream) order, inside tx. It returns the
// alert transitions it wrote.
func (db *DB) applyChecks(ctx context.Context, tx *sql.Tx, rs []Result) ([]AlertTransition, error) {
	var out []AlertTransition
	for _, r := range rs {
		if r.Check == nil || r.ManifestID == "" {
			continue
		}
		ts, err := db.applyCheck(ctx, tx, r)
		if err != nil {
			return nil, fmt.Errorf("check %s on %s (result_id=%s): %w", r.ManifestID, r.PCID, r.ResultID, err)
		}
		out = append(out, ts...)
	}
	return out, nil
}

func (db *DB) applyCheck(ctx context.Context, tx *sql.Tx, r Result) ([]AlertTransition, error) {
	c := r.Check
	thr := max(c.FlapThreshold, 1)
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO checks (check_id, severity, flap_threshold) VALUES (?, ?, ?)
		ON CONFLICT (check_id) DO UPDATE SET severity = excluded.severity, flap_threshold = excluded.flap_threshold`),
		r.ManifestID, c.Severity, thr); err != nil {
		return nil, fmt.Errorf("upsert checks: %w", err)
	}
	at := r.RecordedAt
	var state, since, last string
	var consecutive int
	lock := ""
	if db.d == postgres {
		lock = " FOR UPDATE" // replicas share the results consumer: serialise one (check, PC)
	}
	err := tx.QueryRowContext(ctx, db.q(`SELECT state, since, last_result_id, consecutive FROM check_status
		WHERE check_id = ? AND pc_id = ?`+lock), r.ManifestID, r.PCID).Scan(&state, &since, &last, &consecutive)
	exists := err == nil
	if err != nil && err != sql.ErrNoRows {
		return nil, fmt.Errorf("read check_status: %w", err)
	}
	if exists && last == r.ResultID {
		return nil, nil // applied already
	}
	if !exists {
		state, since = apiv1.CheckUnknown, TS(at)
	}
	newState, newCons := state, consecutive
	switch c.Verdict {
	case check.None:
		if exists {
			return nil, nil // a skip or a reserved exit code: no change at all
		}
		newCons = 0
	case check.Pass:
		newState, newCons = apiv1.CheckPassing, 0
	case check.Fail:
		newCons = consecutive + 1
		if newCons >= thr {
			newState = apiv1.CheckFailing
		}
	}
	if newState != state {
		since = TS(at)
	}
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO check_status
		(check_id, pc_id, state, since, last_result_id, last_at, consecutive) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (check_id, pc_id) DO UPDATE SET state = excluded.state, since = excluded.since,
			last_result_id = excluded.last_result_id, last_at = excluded.last_at, consecutive = excluded.consecutive`),
		r.ManifestID, r.PCID, newState, since, r.ResultID, TS(at), newCons); err != nil {
		return nil, fmt.Errorf("upsert check_status: %w", err)
	}
	switch {
	case newState == apiv1.CheckFailing && state != apiv1.CheckFailing:
		t, err := db.openAlert(ctx, tx, openAlert{ID: checkAlertID(r.ResultID), Kind: apiv1.AlertKindCheck,
			CheckID: r.ManifestID, PCID: r.PCID, Severity: c.Severity, At: at})
		if err != nil || t == nil {
			return nil, err
		}
		return []AlertTransition{*t}, nil
	case newState == apiv1.CheckPassing && state == apiv1.CheckFailing:
		return db.resolveAlerts(ctx, tx, `kind = ? AND check_id = ? AND pc_id = ?`,
			[]any{apiv1.AlertKindCheck, r.ManifestID, r.PCID}, at)
	}
	return nil, nil
}

// CheckStatusFilter selects check_status rows.
type CheckStatusFilter struct {
	CheckID, PCID, State string
	Scope                []string // a scoped caller's groups (scope.go); nil = all
}

// checkStatusOrder is the order of ListCheckStatus; (check_id, pc_id) is
// the primary key, so the pair is unique.
var checkStatusOrder = []sortCol{{col: "check_id"}, {col: "pc_id"}}

const checkStatusCols = `check_id, pc_id, state, since, last_result_id, last_at, consecutive`

func checkStatusFilter(f CheckStatusFilter) where {
	var w where
	if f.CheckID != "" {
		w.add("check_id = ?", f.CheckID)
	}
	if f.PCID != "" {
		w.add("pc_id = ?", f.PCID)
	}
	if f.State != "" {
		w.add("state = ?", f.State)
	}
	w.addScope("pc_id", f.Scope)
	return w
}

// checkStatusQueries builds the count and page queries of ListCheckStatus
// (shared with the query-plan tests).
func checkStatusQueries(f CheckStatusFilter, p Page) (count string, countArgs []any, list string, listArgs []any, err error) {
	w := checkStatusFilter(f)
	count, countArgs = countSQL("check_status", w, countBounded), slices.Clone(w.args)
	if p.After != nil {
		if err := w.seek(p.After, checkStatusOrder...); err != nil {
			return "", nil, "", nil, err
		}
	}
	limit, offset := pageArgs(p)
	return count, countArgs, "SELECT " + checkStatusCols + " FROM check_status" + w.sql() + orderBy(checkStatusOrder...) + " LIMIT ? OFFSET ?",
		append(slices.Clone(w.args), limit, offset), nil
}

// PageCheckStatus returns one page of check_status in (check_id, pc_id) order.
func (db *DB) PageCheckStatus(ctx context.Context, f CheckStatusFilter, p Page) (Listing[apiv1.CheckStatus], error) {
	l := Listing[apiv1.CheckStatus]{Rows: []apiv1.CheckStatus{}}
	_, _, q, args, err := checkStatusQueries(f, p)
	if err != nil {
		return l, err
	}
	rows, err := db.read.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return l, fmt.Errorf("list check_status: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s apiv1.CheckStatus
		var since, lastAt string
		if err := rows.Scan(&s.CheckID, &s.PCID, &s.State, &since, &s.LastResultID, &lastAt, &s.Consecutive); err != nil {
			return l, fmt.Errorf("scan check_status: %w", err)
		}
		s.Since, s.LastAt = ParseTS(since), ParseTS(lastAt)
		l.Rows = append(l.Rows, s)
	}
	if err := rows.Err(); err != nil {
		return l, fmt.Errorf("list check_status: %w", err)
	}
	if n, ok := db.endKnown(p, len(l.Rows)); ok {
		l.Total = n
	} else if l.Total, l.Estimated, err = db.count(ctx, "check_status", checkStatusFilter(f), countBounded); err != nil {
		return l, err
	}
	trim(&l, p.Limit, func(s apiv1.CheckStatus) cursor.Key { return cursor.Key{s.CheckID, s.PCID} })
	return l, nil
}

// PageChecks returns one page of checks in id order, with their counts.
func (db *DB) PageChecks(ctx context.Context, p Page) (Listing[apiv1.CheckSummary], error) {
	l := Listing[apiv1.CheckSummary]{Rows: []apiv1.CheckSummary{}}
	var w where
	if p.After != nil {
		if err := w.seek(p.After, sortCol{col: "check_id"}); err != nil {
			return l, err
		}
	}
	limit, offset := pageArgs(p)
	rows, err := db.read.QueryContext(ctx, db.q("SELECT check_id, severity, flap_threshold FROM checks"+w.sql()+
		" ORDER BY check_id LIMIT ? OFFSET ?"), append(w.args, limit, offset)...)
	if err != nil {
		return l, fmt.Errorf("list checks: %w", err)
	}
	for rows.Next() {
		var c apiv1.CheckSummary
		if err := rows.Scan(&c.ID, &c.Severity, &c.FlapThreshold); err != nil {
			rows.Close()
			return l, fmt.Errorf("scan checks: %w", err)
		}
		l.Rows = append(l.Rows, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return l, fmt.Errorf("list checks: %w", err)
	}
	if n, ok := db.endKnown(p, len(l.Rows)); ok {
		l.Total = n
	} else if l.Total, l.Estimated, err = db.count(ctx, "checks", where{}, countExact); err != nil {
		return l, err
	}
	trim(&l, p.Limit, func(c apiv1.CheckSummary) cursor.Key { return cursor.Key{c.ID} })
	if len(l.Rows) == 0 {
		return l, nil
	}
	// The counts of the page's checks, from the (check_id, state, pc_id)
	// index: one range per check.
	ids := make([]any, len(l.Rows))
	at := map[string]int{}
	for i, c := range l.Rows {
		ids[i], at[c.ID] = c.ID, i
	}
	crow, err := db.read.QueryContext(ctx, db.q(`SELECT check_id, state, COUNT(*) FROM check_status WHERE check_id IN (`+
		strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")+`) GROUP BY check_id, state`), ids...)
	if err != nil {
		return l, fmt.Errorf("count check states: %w", err)
	}
	defer crow.Close()
	for crow.Next() {
		var id, state string
		var n int
		if err := crow.Scan(&id, &state, &n); err != nil {
			return l, fmt.Errorf("scan check states: %w", err)
		}
		c := &l.Rows[at[id]]
		switch state {
		case apiv1.CheckPassing:
			c.Passing = n
		case apiv1.CheckFailing:
			c.Failing = n
		default:
			c.Unknown = n
		}
	}
	if err := crow.Err(); err != nil {
		return l, fmt.Errorf("count check states: %w", err)
	}
	for i := range l.Rows {
		c := &l.Rows[i]
		if total := c.Passing + c.Failing + c.Unknown; total > 0 {
			c.CompliancePct = math.Round(1000*float64(c.Passing)/float64(total)) / 10
		}
	}
	return l, nil
}
