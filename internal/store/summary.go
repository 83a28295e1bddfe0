package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// The execution summary (GET /api/executions/{id}/summary, SPEC §17): an
// execution's finished results grouped by how they ended and what they
// printed. The grouping runs in SQL over results_exec_groups (exec_id,
// exit_code, stdout_hash, pc_id); stdout_hash is computed when a result is
// projected (outgroup.Hash, migration 23), so 10 000 results are grouped
// without reading their output. Each group then reads its first PCs from
// the same index and one sample row by primary key.

// SummaryPCs is how many PCs a group lists (the first by pc_id).
const SummaryPCs = 20

// outcomeExpr classifies a finished row: results without a real exit code
// of their script (skipped, reaped, killed, timed out) group by that
// reason, whatever exit code they carry, so "timed out" never mixes with
// "exited 1". The precedence follows the results table's status column.
const outcomeExpr = `CASE WHEN skipped = 1 THEN 'skipped' WHEN reaped = 1 THEN 'reaped' WHEN killed = 1 THEN 'killed'
	WHEN timed_out = 1 THEN 'timed_out' WHEN exit_code = 0 THEN 'success' ELSE 'failure' END`

// SummaryFilter selects the results of one summary.
type SummaryFilter struct {
	ExecID string
	Scope  []string // a scoped caller's groups (scope.go); nil = all
	Limit  int      // the largest groups returned (<= 0: all)
}

// ExecSummary groups the finished results of one execution by (outcome,
// exit_code, stdout_hash), largest group first (then by exit code, then by
// the group's first PC, so the order is stable and readable), and returns at most f.Limit groups
// and how many groups there are. Results still running are not grouped
// (they have no output yet; the execution's counters say how many).
func (db *DB) ExecSummary(ctx context.Context, f SummaryFilter) ([]apiv1.ResultGroup, int, error) {
	var w where
	w.add("exec_id = ?", f.ExecID)
	w.add("finished_at IS NOT NULL")
	w.addScope("pc_id", f.Scope)
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT `+outcomeExpr+` AS outcome, exit_code, stdout_hash, COUNT(*) AS n,
		MIN(pc_id) AS first_pc FROM execution_results`+w.sql()+` GROUP BY outcome, exit_code, stdout_hash
		ORDER BY n DESC, exit_code, first_pc, outcome, stdout_hash`), w.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("summary exec_id=%s: %w", f.ExecID, err)
	}
	type key struct {
		outcome, hash string
		code          int
	}
	var keys []key
	var counts []int
	for rows.Next() {
		var k key
		var n int
		var first string
		if err := rows.Scan(&k.outcome, &k.code, &k.hash, &n, &first); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("summary exec_id=%s: %w", f.ExecID, err)
		}
		keys, counts = append(keys, k), append(counts, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("summary exec_id=%s: %w", f.ExecID, err)
	}
	total := len(keys)
	if f.Limit > 0 && len(keys) > f.Limit {
		keys, counts = keys[:f.Limit], counts[:f.Limit]
	}
	out := make([]apiv1.ResultGroup, 0, len(keys))
	for i, k := range keys {
		g := apiv1.ResultGroup{ExitCode: k.code, Count: counts[i], StdoutHash: k.hash, PCs: []string{}}
		switch k.outcome {
		case "success", "failure", "skipped":
			g.Status = apiv1.ResultStatus(k.outcome)
		default:
			g.Status, g.Reason = apiv1.ResultFailure, k.outcome
		}
		var gw where
		gw.add("exec_id = ?", f.ExecID)
		gw.add("exit_code = ?", k.code)
		gw.add("stdout_hash = ?", k.hash)
		gw.add("finished_at IS NOT NULL")
		gw.add(outcomeExpr+" = ?", k.outcome)
		gw.addScope("pc_id", f.Scope)
		pcs, err := db.read.QueryContext(ctx, db.q(`SELECT pc_id, result_id FROM execution_results`+gw.sql()+
			` ORDER BY pc_id, result_id LIMIT ?`), append(slices.Clone(gw.args), SummaryPCs)...)
		if err != nil {
			return nil, 0, fmt.Errorf("summary group pcs exec_id=%s: %w", f.ExecID, err)
		}
		for pcs.Next() {
			var pc, id string
			if err := pcs.Scan(&pc, &id); err != nil {
				pcs.Close()
				return nil, 0, fmt.Errorf("summary group pcs exec_id=%s: %w", f.ExecID, err)
			}
			if g.SampleResultID == "" {
				g.SampleResultID = id
			}
			g.PCs = append(g.PCs, pc)
		}
		pcs.Close()
		if err := pcs.Err(); err != nil {
			return nil, 0, fmt.Errorf("summary group pcs exec_id=%s: %w", f.ExecID, err)
		}
		// The sample is the first PC's output as the result carries it (the
		// others of the group print the same after normalisation).
		if g.SampleResultID != "" {
			if err := db.read.QueryRowContext(ctx, db.q(`SELECT stdout, stderr FROM execution_results WHERE result_id = ?`),
				g.SampleResultID).Scan(&g.SampleStdout, &g.SampleStderr); err != nil {
				return nil, 0, fmt.Errorf("summary sample result_id=%s: %w", g.SampleResultID, err)
			}
		}
		out = append(out, g)
	}
	return out, total, nil
}
