package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/cursor"
	"github.com/kanade-fleet/kanade/internal/outgroup"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// The execution_results table: one row per run of a job on a PC, written
// by the started and result projectors (first in flight, then finished)
// and by the reaper (retention.go).

// Started is one events.started message ready to project.
type Started struct {
	wire.EventStarted
	RecordedAt time.Time  // JetStream publish time
	ExpiresAt  *time.Time // nil when the job's timeout is unknown
}

// Result is one ExecResult ready to project.
type Result struct {
	wire.ExecResult
	RecordedAt time.Time // JetStream publish time
	// Check is the verdict of a check job's result (nil: not a check),
	// applied to check_status in the result's transaction when the result
	// really changes its row.
	Check *CheckEval
}

// ResultChange describes one result that really changed a row.
type ResultChange struct {
	ResultID string `json:"result_id"`
	ExecID   string `json:"exec_id"`
	PCID     string `json:"pc_id"`
	JobID    string `json:"job_id"`
	Status   string `json:"status"`
	ExitCode int    `json:"exit_code"`
}

// ResultOutcome is what a batch of results changed.
type ResultOutcome struct {
	Changed    []ResultChange
	Executions []ExecProgress
	// Transitions are the alerts the batch's check results opened or resolved.
	Transitions []AlertTransition
}

// ResultStatus classifies a finished result for counters and the API.
func ResultStatus(exitCode int, skipped bool) apiv1.ResultStatus {
	switch {
	case skipped:
		return apiv1.ResultSkipped
	case exitCode == 0:
		return apiv1.ResultSuccess
	default:
		return apiv1.ResultFailure
	}
}

// ApplyStarted projects a batch of events.started in one transaction:
// in-flight rows (first writer wins, so a redelivery or a started event that
// arrives after its result changes nothing) and pending → running promotion.
// It returns the rows actually inserted.
func (db *DB) ApplyStarted(ctx context.Context, batch []Started) ([]Started, error) {
	return db.d.applyStarted(ctx, db, batch)
}

// ApplyResults projects a batch of ExecResults in one transaction. Per
// result_id: no row → insert a finished row; in-flight row → fill it and
// count; reaped row → fill it, clear reaped, do not count again (the reaper
// counted it as a failure); finished row → nothing (a redelivery).
func (db *DB) ApplyResults(ctx context.Context, batch []Result) (ResultOutcome, error) {
	return db.d.applyResults(ctx, db, batch)
}

// applyStartedRows is ApplyStarted one prepared statement per row.
func (db *DB) applyStartedRows(ctx context.Context, batch []Started) ([]Started, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := db.lockExecs(ctx, tx, startedExecs(batch)); err != nil {
		return nil, err
	}
	ins, err := tx.PrepareContext(ctx, db.q(`INSERT INTO execution_results
		(result_id, request_id, exec_id, pc_id, job_id, version, started_at, recorded_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (result_id) DO NOTHING`))
	if err != nil {
		return nil, fmt.Errorf("prepare started insert: %w", err)
	}
	defer ins.Close()
	// recorded_at is the publish time of the earliest message about the run,
	// whichever projector saw it first, so a replay (where the two streams
	// may be projected in another order) reproduces it exactly; expires_at
	// comes from the started event whichever arrived first, for the same
	// reason. Nothing else of an existing row is touched.
	earlier, err := tx.PrepareContext(ctx, db.q(`UPDATE execution_results SET
		recorded_at = CASE WHEN recorded_at > ? THEN ? ELSE recorded_at END, expires_at = COALESCE(expires_at, CAST(? AS TEXT))
		WHERE result_id = ? AND (recorded_at > ? OR (expires_at IS NULL AND CAST(? AS TEXT) IS NOT NULL))`))
	if err != nil {
		return nil, fmt.Errorf("prepare recorded_at update: %w", err)
	}
	defer earlier.Close()
	var inserted []Started
	execs := map[string]bool{}
	for _, s := range batch {
		var exp sql.NullString
		if s.ExpiresAt != nil {
			exp = sql.NullString{String: TS(*s.ExpiresAt), Valid: true}
		}
		res, err := ins.ExecContext(ctx, s.ResultID, s.RequestID, s.ExecID, s.PCID, s.ManifestID, s.Version,
			TS(s.StartedAt), TS(s.RecordedAt), exp)
		if err != nil {
			return nil, fmt.Errorf("insert in-flight row result_id=%s: %w", s.ResultID, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			inserted = append(inserted, s)
		} else if _, err := earlier.ExecContext(ctx, TS(s.RecordedAt), TS(s.RecordedAt), exp, s.ResultID, TS(s.RecordedAt), exp); err != nil {
			return nil, fmt.Errorf("date row result_id=%s: %w", s.ResultID, err)
		}
		if s.ExecID != "" {
			execs[s.ExecID] = true
		}
	}
	if len(execs) > 0 {
		// Only from pending: never resurrects expired, never undoes completed.
		promote, err := tx.PrepareContext(ctx, db.q(`UPDATE executions SET status = 'running' WHERE exec_id = ? AND status = 'pending'`))
		if err != nil {
			return nil, fmt.Errorf("prepare promote: %w", err)
		}
		defer promote.Close()
		for id := range execs {
			if _, err := promote.ExecContext(ctx, id); err != nil {
				return nil, fmt.Errorf("promote execution exec_id=%s: %w", id, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit started batch: %w", err)
	}
	return inserted, nil
}

// applyResultsRows is ApplyResults one prepared statement per row.
func (db *DB) applyResultsRows(ctx context.Context, batch []Result) (ResultOutcome, error) {
	var out ResultOutcome
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return out, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := db.lockExecs(ctx, tx, resultExecs(batch)); err != nil {
		return out, err
	}
	ins, err := tx.PrepareContext(ctx, db.q(`INSERT INTO execution_results
		(result_id, request_id, exec_id, pc_id, job_id, version, exit_code, stdout, stderr,
		 started_at, finished_at, recorded_at, skipped, timed_out, killed, stdout_hash, stderr_excerpt)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (result_id) DO NOTHING`))
	if err != nil {
		return out, fmt.Errorf("prepare result insert: %w", err)
	}
	defer ins.Close()
	const set = `SET exit_code = ?, stdout = ?, stderr = ?, stdout_hash = ?, stderr_excerpt = ?, finished_at = ?, request_id = ?,
		skipped = ?, timed_out = ?, killed = ?, reaped = 0,
		job_id = CASE WHEN ? <> '' THEN ? ELSE job_id END,
		version = CASE WHEN ? <> '' THEN ? ELSE version END,
		exec_id = CASE WHEN exec_id = '' THEN ? ELSE exec_id END`
	fillInflight, err := tx.PrepareContext(ctx, db.q(`UPDATE execution_results `+set+` WHERE result_id = ? AND finished_at IS NULL`))
	if err != nil {
		return out, fmt.Errorf("prepare result update: %w", err)
	}
	defer fillInflight.Close()
	fillReaped, err := tx.PrepareContext(ctx, db.q(`UPDATE execution_results `+set+` WHERE result_id = ? AND reaped = 1`))
	if err != nil {
		return out, fmt.Errorf("prepare reaped update: %w", err)
	}
	defer fillReaped.Close()

	var t tally
	var checked []Result
	for _, r := range batch {
		stdout, stderr := cleanText(r.Stdout), cleanText(r.Stderr)
		hash, excerpt := outgroup.Hash(stdout), outgroup.StderrExcerpt(stderr)
		finished := r.FinishedAt
		if finished.IsZero() {
			finished = r.RecordedAt
		}
		started := r.StartedAt
		if started.IsZero() {
			started = finished
		}
		res, err := ins.ExecContext(ctx, r.ResultID, r.RequestID, r.ExecID, r.PCID, r.ManifestID, r.Version,
			r.ExitCode, stdout, stderr, TS(started), TS(finished), TS(r.RecordedAt),
			b2i(r.Skipped), b2i(r.TimedOut), b2i(r.Killed), hash, excerpt)
		if err != nil {
			return out, fmt.Errorf("insert result result_id=%s: %w", r.ResultID, err)
		}
		n, _ := res.RowsAffected()
		count := n > 0
		changed := count
		if !changed {
			args := []any{r.ExitCode, stdout, stderr, hash, excerpt, TS(finished), r.RequestID,
				b2i(r.Skipped), b2i(r.TimedOut), b2i(r.Killed),
				r.ManifestID, r.ManifestID, r.Version, r.Version, r.ExecID, r.ResultID}
			if res, err = fillInflight.ExecContext(ctx, args...); err != nil {
				return out, fmt.Errorf("fill in-flight result_id=%s: %w", r.ResultID, err)
			}
			if n, _ = res.RowsAffected(); n > 0 {
				changed, count = true, true
			} else {
				if res, err = fillReaped.ExecContext(ctx, args...); err != nil {
					return out, fmt.Errorf("fill reaped result_id=%s: %w", r.ResultID, err)
				}
				n, _ = res.RowsAffected()
				changed = n > 0
			}
		}
		if !changed {
			continue
		}
		status := ResultStatus(r.ExitCode, r.Skipped)
		out.Changed = append(out.Changed, ResultChange{ResultID: r.ResultID, ExecID: r.ExecID, PCID: r.PCID,
			JobID: r.ManifestID, Status: string(status), ExitCode: r.ExitCode})
		if count {
			t.add(r.ExecID, status)
		}
		if r.Check != nil {
			checked = append(checked, r)
		}
	}
	progress, err := db.bumpCountersRows(ctx, tx, t.by, t.order)
	if err != nil {
		return out, err
	}
	if out.Transitions, err = db.applyChecks(ctx, tx, checked); err != nil {
		return out, err
	}
	out.Executions = progress
	if err := tx.Commit(); err != nil {
		return out, fmt.Errorf("commit result batch: %w", err)
	}
	return out, nil
}

func startedExecs(b []Started) []string {
	out := make([]string, len(b))
	for i, s := range b {
		out[i] = s.ExecID
	}
	return out
}

func resultExecs(b []Result) []string {
	out := make([]string, len(b))
	for i, r := range b {
		out[i] = r.ExecID
	}
	return out
}

// applyStartedSets is ApplyStarted in three set-based statements (see
// postgresDialect).
func (db *DB) applyStartedSets(ctx context.Context, batch []Started) ([]Started, error) {
	// One entry per result_id, in result_id order: the first message keeps
	// its fields, recorded_at is the earliest of the duplicates.
	first := map[string]int{}
	var rows []Started
	for _, s := range batch {
		if i, ok := first[s.ResultID]; ok {
			if s.RecordedAt.Before(rows[i].RecordedAt) {
				rows[i].RecordedAt = s.RecordedAt
			}
			continue
		}
		first[s.ResultID] = len(rows)
		rows = append(rows, s)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].ResultID < rows[j].ResultID })
	n := len(rows)
	ids, req, exec, pc, job, ver, st, rec, exp := make(pgText, n), make(pgText, n), make(pgText, n), make(pgText, n),
		make(pgText, n), make(pgText, n), make(pgText, n), make(pgText, n), make(pgText, n)
	for i, s := range rows {
		ids[i], req[i], exec[i], pc[i], job[i], ver[i] = s.ResultID, s.RequestID, s.ExecID, s.PCID, s.ManifestID, s.Version
		st[i], rec[i] = TS(s.StartedAt), TS(s.RecordedAt)
		if s.ExpiresAt != nil {
			exp[i] = TS(*s.ExpiresAt)
		}
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := db.lockExecs(ctx, tx, exec); err != nil { // see lockExecs: a row being created by the executions projector
		return nil, err
	}
	got, err := queryIDs(ctx, tx, `INSERT INTO execution_results
		(result_id, request_id, exec_id, pc_id, job_id, version, started_at, recorded_at, expires_at)
		SELECT u.id, u.req, u.exec, u.pc, u.job, u.ver, u.st, u.rec, NULLIF(u.exp, '')
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
			AS u(id, req, exec, pc, job, ver, st, rec, exp)
		ON CONFLICT (result_id) DO NOTHING RETURNING result_id`,
		ids, req, exec, pc, job, ver, st, rec, exp)
	if err != nil {
		return nil, fmt.Errorf("insert in-flight rows: %w", err)
	}
	var inserted []Started
	var oldIDs, oldRec, oldExp pgText
	for i, s := range rows {
		if got[s.ResultID] {
			inserted = append(inserted, s)
		} else {
			oldIDs, oldRec, oldExp = append(oldIDs, ids[i]), append(oldRec, rec[i]), append(oldExp, exp[i])
		}
	}
	if len(oldIDs) > 0 {
		// Keep the earliest publish time, fill expires_at (see applyStartedRows).
		if _, err := tx.ExecContext(ctx, `UPDATE execution_results e SET recorded_at = LEAST(e.recorded_at, u.rec),
			expires_at = COALESCE(e.expires_at, NULLIF(u.exp, ''))
			FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, rec, exp)
			WHERE e.result_id = u.id AND (e.recorded_at > u.rec OR (e.expires_at IS NULL AND u.exp <> ''))`, oldIDs, oldRec, oldExp); err != nil {
			return nil, fmt.Errorf("date existing rows: %w", err)
		}
	}
	if execs := distinctSorted(exec); len(execs) > 0 {
		// Only from pending: never resurrects expired, never undoes completed.
		if _, err := tx.ExecContext(ctx, `UPDATE executions SET status = 'running'
			WHERE exec_id = ANY($1::text[]) AND status = 'pending'`, execs); err != nil {
			return nil, fmt.Errorf("promote executions: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit started batch: %w", err)
	}
	// Callers see inserted rows in batch order, as on SQLite.
	order := map[string]int{}
	for i, s := range batch {
		if _, ok := order[s.ResultID]; !ok {
			order[s.ResultID] = i
		}
	}
	sort.SliceStable(inserted, func(i, j int) bool { return order[inserted[i].ResultID] < order[inserted[j].ResultID] })
	return inserted, nil
}

// applyResultsSets is ApplyResults in four set-based statements (see
// postgresDialect).
func (db *DB) applyResultsSets(ctx context.Context, batch []Result) (ResultOutcome, error) {
	var out ResultOutcome
	// The first message of a result_id wins; later copies in the same batch
	// are redeliveries of a now-finished row (no change), as on SQLite.
	seen := map[string]bool{}
	var rows []Result
	for _, r := range batch {
		if !seen[r.ResultID] {
			seen[r.ResultID] = true
			rows = append(rows, r)
		}
	}
	sorted := slices.Clone(rows)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].ResultID < sorted[j].ResultID })
	n := len(sorted)
	ids, req, exec, pc, job, ver, stdout, stderr, st, fin, rec := make(pgText, n), make(pgText, n), make(pgText, n),
		make(pgText, n), make(pgText, n), make(pgText, n), make(pgText, n), make(pgText, n), make(pgText, n),
		make(pgText, n), make(pgText, n)
	code, skipped, timedOut, killed := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	hash, excerpt := make(pgText, n), make(pgText, n)
	for i, r := range sorted {
		finished := r.FinishedAt
		if finished.IsZero() {
			finished = r.RecordedAt
		}
		started := r.StartedAt
		if started.IsZero() {
			started = finished
		}
		ids[i], req[i], exec[i], pc[i], job[i], ver[i] = r.ResultID, r.RequestID, r.ExecID, r.PCID, r.ManifestID, r.Version
		stdout[i], stderr[i] = cleanText(r.Stdout), cleanText(r.Stderr)
		hash[i], excerpt[i] = outgroup.Hash(stdout[i]), outgroup.StderrExcerpt(stderr[i])
		st[i], fin[i], rec[i] = TS(started), TS(finished), TS(r.RecordedAt)
		code[i], skipped[i], timedOut[i], killed[i] = int64(r.ExitCode), int64(b2i(r.Skipped)), int64(b2i(r.TimedOut)), int64(b2i(r.Killed))
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return out, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := db.lockExecs(ctx, tx, exec); err != nil { // see lockExecs: count into a row being created, or let it count us
		return out, err
	}
	const cols = `unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
		$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::bigint[], $15::bigint[],
		$16::text[], $17::text[])
		AS u(id, req, exec, pc, job, ver, code, stdout, stderr, st, fin, rec, skipped, timed_out, killed, hash, excerpt)`
	args := []any{ids, req, exec, pc, job, ver, code, stdout, stderr, st, fin, rec, skipped, timedOut, killed, hash, excerpt}
	inserted, err := queryIDs(ctx, tx, `INSERT INTO execution_results
		(result_id, request_id, exec_id, pc_id, job_id, version, exit_code, stdout, stderr,
		 started_at, finished_at, recorded_at, skipped, timed_out, killed, stdout_hash, stderr_excerpt)
		SELECT u.id, u.req, u.exec, u.pc, u.job, u.ver, u.code, u.stdout, u.stderr, u.st, u.fin, u.rec,
			u.skipped, u.timed_out, u.killed, u.hash, u.excerpt FROM `+cols+`
		ON CONFLICT (result_id) DO NOTHING RETURNING result_id`, args...)
	if err != nil {
		return out, fmt.Errorf("insert results: %w", err)
	}
	counted, changed := inserted, map[string]bool{}
	if len(inserted) < n {
		const fill = `UPDATE execution_results e SET exit_code = u.code, stdout = u.stdout, stderr = u.stderr,
			stdout_hash = u.hash, stderr_excerpt = u.excerpt,
			finished_at = u.fin, request_id = u.req, skipped = u.skipped, timed_out = u.timed_out,
			killed = u.killed, reaped = 0,
			job_id = CASE WHEN u.job <> '' THEN u.job ELSE e.job_id END,
			version = CASE WHEN u.ver <> '' THEN u.ver ELSE e.version END,
			exec_id = CASE WHEN e.exec_id = '' THEN u.exec ELSE e.exec_id END
			FROM ` + cols + ` WHERE e.result_id = u.id AND `
		// In flight → fill and count.
		filled, err := queryIDs(ctx, tx, fill+`e.finished_at IS NULL RETURNING e.result_id`, args...)
		if err != nil {
			return out, fmt.Errorf("fill in-flight rows: %w", err)
		}
		for id := range filled {
			counted[id] = true
		}
		// Reaped → fill, already counted as a failure by the reaper. A row
		// filled just above has reaped = 0 and is not touched again.
		if len(counted) < n {
			if changed, err = queryIDs(ctx, tx, fill+`e.reaped = 1 RETURNING e.result_id`, args...); err != nil {
				return out, fmt.Errorf("fill reaped rows: %w", err)
			}
		}
	}
	var t tally
	var checked []Result
	for _, r := range rows { // batch order, for the live events
		count := counted[r.ResultID]
		if !count && !changed[r.ResultID] {
			continue
		}
		status := ResultStatus(r.ExitCode, r.Skipped)
		out.Changed = append(out.Changed, ResultChange{ResultID: r.ResultID, ExecID: r.ExecID, PCID: r.PCID,
			JobID: r.ManifestID, Status: string(status), ExitCode: r.ExitCode})
		if count {
			t.add(r.ExecID, status)
		}
		if r.Check != nil {
			checked = append(checked, r)
		}
	}
	if out.Executions, err = db.bumpCountersSets(ctx, tx, t.by, t.order); err != nil {
		return out, err
	}
	if out.Transitions, err = db.applyChecks(ctx, tx, checked); err != nil {
		return out, err
	}
	if err := tx.Commit(); err != nil {
		return out, fmt.Errorf("commit result batch: %w", err)
	}
	return out, nil
}

// ResultFilter selects results.
type ResultFilter struct {
	ExecID, JobID, PCID, Status string
	// IDPrefix keeps the result_ids that start with it (the CLI's short ids).
	IDPrefix string
	Since    time.Time
	Scope    []string // a scoped caller's groups (scope.go); nil = all
}

const resultCols = `result_id, request_id, exec_id, pc_id, job_id, version, exit_code, started_at, finished_at,
	recorded_at, expires_at, reaped, skipped, timed_out, killed, inventory_error, stderr_excerpt`

func scanResult(s scanner, extra ...any) (apiv1.Result, error) {
	var r apiv1.Result
	var code sql.NullInt64
	var started, recorded string
	var finished, expires sql.NullString
	var reaped, skipped, timedOut, killed int
	dest := append([]any{&r.ResultID, &r.RequestID, &r.ExecID, &r.PCID, &r.JobID, &r.Version, &code, &started,
		&finished, &recorded, &expires, &reaped, &skipped, &timedOut, &killed, &r.InventoryError, &r.StderrExcerpt}, extra...)
	if err := s.Scan(dest...); err != nil {
		return r, err
	}
	if code.Valid {
		c := int(code.Int64)
		r.ExitCode = &c
	}
	r.StartedAt, r.RecordedAt = ParseTS(started), ParseTS(recorded)
	r.FinishedAt, r.ExpiresAt = nullTime(finished), nullTime(expires)
	r.Reaped, r.Skipped, r.TimedOut, r.Killed = reaped == 1, skipped == 1, timedOut == 1, killed == 1
	switch {
	case r.FinishedAt == nil:
		r.Status = apiv1.ResultRunning
	case r.ExitCode == nil:
		r.Status = apiv1.ResultFailure
	default:
		r.Status = ResultStatus(*r.ExitCode, r.Skipped)
	}
	return r, nil
}

// resultOrder is the order of ListResults, newest first; result_id breaks
// ties (and is the cursor's unique tiebreak).
var resultOrder = []sortCol{{col: "recorded_at", desc: true}, {col: "result_id"}}

func resultKey(r apiv1.Result) cursor.Key { return cursor.Key{TS(r.RecordedAt), r.ResultID} }

// resultFilter is the WHERE of ListResults and how its total is counted.
func resultFilter(f ResultFilter) (where, countMode) {
	var w where
	mode := countBounded
	if f.ExecID != "" {
		w.add("exec_id = ?", f.ExecID)
		mode = countExact // at most one row per targeted PC
	}
	if f.JobID != "" {
		w.add("job_id = ?", f.JobID)
	}
	if f.PCID != "" {
		w.add("pc_id = ?", f.PCID)
		mode = countExact // one PC's retained history
	}
	if !f.Since.IsZero() {
		w.add("recorded_at >= ?", TS(f.Since))
	}
	w.addIDPrefix("result_id", f.IDPrefix)
	w.addScope("pc_id", f.Scope)
	switch f.Status {
	case "running":
		w.add("finished_at IS NULL")
	case "success":
		w.add("exit_code = 0 AND skipped = 0 AND finished_at IS NOT NULL")
	case "failure":
		w.add("exit_code <> 0 AND skipped = 0")
	case "skipped":
		w.add("skipped = 1")
	}
	return w, mode
}

// resultPageSQL is the page query of ListResults.
func resultPageSQL(f ResultFilter, p Page) (string, []any, error) {
	w, _ := resultFilter(f)
	if p.After != nil {
		if err := w.seek(p.After, resultOrder...); err != nil {
			return "", nil, err
		}
	}
	limit, offset := pageArgs(p)
	return "SELECT " + resultCols + " FROM execution_results" + w.sql() + orderBy(resultOrder...) + " LIMIT ? OFFSET ?",
		append(slices.Clone(w.args), limit, offset), nil
}

// resultQueries builds the count and page queries of ListResults (shared
// with the query-plan tests, so what is checked is what runs).
func resultQueries(f ResultFilter, p Page) (count string, countArgs []any, list string, listArgs []any) {
	w, mode := resultFilter(f)
	list, listArgs, _ = resultPageSQL(f, p)
	return countSQL("execution_results", w, mode), w.args, list, listArgs
}

// ListResults returns one page of results, newest first, and the total.
func (db *DB) ListResults(ctx context.Context, f ResultFilter, p Page) ([]apiv1.Result, int, error) {
	l, err := db.PageResults(ctx, f, p)
	return l.Rows, l.Total, err
}

// PageResults returns one page of results, newest first, with its total
// (see count) and the key of the next page.
func (db *DB) PageResults(ctx context.Context, f ResultFilter, p Page) (Listing[apiv1.Result], error) {
	l := Listing[apiv1.Result]{Rows: []apiv1.Result{}}
	listQ, listArgs, err := resultPageSQL(f, p)
	if err != nil {
		return l, err
	}
	rows, err := db.read.QueryContext(ctx, db.q(listQ), listArgs...)
	if err != nil {
		return l, fmt.Errorf("list results: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanResult(rows)
		if err != nil {
			return l, fmt.Errorf("scan result: %w", err)
		}
		l.Rows = append(l.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return l, fmt.Errorf("list results: %w", err)
	}
	if n, ok := db.endKnown(p, len(l.Rows)); ok {
		l.Total = n
	} else {
		w, mode := resultFilter(f)
		if l.Total, l.Estimated, err = db.count(ctx, "execution_results", w, mode); err != nil {
			return l, err
		}
	}
	trim(&l, p.Limit, resultKey)
	return l, nil
}

// GetResult returns one result with its output.
func (db *DB) GetResult(ctx context.Context, id string) (apiv1.Result, bool, error) {
	var stdout, stderr string
	r, err := scanResult(db.read.QueryRowContext(ctx, db.q("SELECT "+resultCols+", stdout, stderr FROM execution_results WHERE result_id = ?"), id),
		&stdout, &stderr)
	if err == sql.ErrNoRows {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("get result result_id=%s: %w", id, err)
	}
	r.Stdout, r.Stderr = &stdout, &stderr
	return r, true, nil
}
