package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
)

// PostgreSQL projection path. SQLite is fastest with one prepared statement
// per row on its single writer; PostgreSQL pays a network round trip per
// statement, so here a whole batch is a handful of set-based statements
// over arrays (unnest), each of which is its own snapshot under READ
// COMMITTED. Semantics are those of the SQLite path, and stay correct when
// several backends project concurrently:
//
//   - INSERT … ON CONFLICT DO NOTHING waits for a concurrent uncommitted
//     insert of the same key and then does nothing; the UPDATE that follows
//     is a new statement, so it sees that row (a single CTE statement would
//     not, and would lose the result).
//   - UPDATE re-checks its WHERE on the newest row version after waiting for
//     a lock (finished_at IS NULL / reaped = 1), so two backends can never
//     both fill — and count — the same row.
//   - Rows are locked in one global order (result_id, then exec_id), so two
//     backends projecting overlapping batches queue instead of deadlocking.
//
// Measured against pipelined per-row statements and COPY into a staging
// table: see docs/benchmarks.md ("PostgreSQL").

// pgText is a text[] parameter.
type pgText = []string

func (db *DB) applyStartedPG(ctx context.Context, batch []Started) ([]Started, error) {
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
	tx, err := db.Write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
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
	var oldIDs, oldRec pgText
	for i, s := range rows {
		if got[s.ResultID] {
			inserted = append(inserted, s)
		} else {
			oldIDs, oldRec = append(oldIDs, ids[i]), append(oldRec, rec[i])
		}
	}
	if len(oldIDs) > 0 {
		// Keep the earliest publish time (see ApplyStarted).
		if _, err := tx.ExecContext(ctx, `UPDATE execution_results e SET recorded_at = u.rec
			FROM unnest($1::text[], $2::text[]) AS u(id, rec)
			WHERE e.result_id = u.id AND e.recorded_at > u.rec`, oldIDs, oldRec); err != nil {
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

func (db *DB) applyResultsPG(ctx context.Context, batch []Result) (ResultOutcome, error) {
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
		st[i], fin[i], rec[i] = TS(started), TS(finished), TS(r.RecordedAt)
		code[i], skipped[i], timedOut[i], killed[i] = int64(r.ExitCode), int64(b2i(r.Skipped)), int64(b2i(r.TimedOut)), int64(b2i(r.Killed))
	}
	tx, err := db.Write.BeginTx(ctx, nil)
	if err != nil {
		return out, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	const cols = `unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
		$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::bigint[], $15::bigint[])
		AS u(id, req, exec, pc, job, ver, code, stdout, stderr, st, fin, rec, skipped, timed_out, killed)`
	args := []any{ids, req, exec, pc, job, ver, code, stdout, stderr, st, fin, rec, skipped, timedOut, killed}
	inserted, err := queryIDs(ctx, tx, `INSERT INTO execution_results
		(result_id, request_id, exec_id, pc_id, job_id, version, exit_code, stdout, stderr,
		 started_at, finished_at, recorded_at, skipped, timed_out, killed)
		SELECT u.id, u.req, u.exec, u.pc, u.job, u.ver, u.code, u.stdout, u.stderr, u.st, u.fin, u.rec,
			u.skipped, u.timed_out, u.killed FROM `+cols+`
		ON CONFLICT (result_id) DO NOTHING RETURNING result_id`, args...)
	if err != nil {
		return out, fmt.Errorf("insert results: %w", err)
	}
	counted, changed := inserted, map[string]bool{}
	if len(inserted) < n {
		const fill = `UPDATE execution_results e SET exit_code = u.code, stdout = u.stdout, stderr = u.stderr,
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
	deltas := map[string]*delta{}
	var order []string
	for _, r := range rows { // batch order, for the live events
		count := counted[r.ResultID]
		if !count && !changed[r.ResultID] {
			continue
		}
		status := ResultStatus(r.ExitCode, r.Skipped)
		out.Changed = append(out.Changed, ResultChange{ResultID: r.ResultID, ExecID: r.ExecID, PCID: r.PCID,
			JobID: r.ManifestID, Status: status, ExitCode: r.ExitCode})
		if !count || r.ExecID == "" {
			continue
		}
		d := deltas[r.ExecID]
		if d == nil {
			d = &delta{}
			deltas[r.ExecID] = d
			order = append(order, r.ExecID)
		}
		switch status {
		case "success":
			d.success++
		case "failure":
			d.failure++
		default:
			d.skipped++
		}
	}
	if out.Executions, err = db.bumpCountersPG(ctx, tx, deltas, order); err != nil {
		return out, err
	}
	if err := tx.Commit(); err != nil {
		return out, fmt.Errorf("commit result batch: %w", err)
	}
	return out, nil
}

// bumpCountersPG is bumpCounters in two statements: lock the executions in
// exec_id order (so concurrent backends queue, never deadlock), then apply
// every delta at once. Progress is returned in order.
func (db *DB) bumpCountersPG(ctx context.Context, tx *sql.Tx, deltas map[string]*delta, order []string) ([]ExecProgress, error) {
	if len(order) == 0 {
		return nil, nil
	}
	ids := slices.Clone(order)
	slices.Sort(ids)
	s, f, k := make([]int64, len(ids)), make([]int64, len(ids)), make([]int64, len(ids))
	for i, id := range ids {
		d := deltas[id]
		s[i], f[i], k[i] = int64(d.success), int64(d.failure), int64(d.skipped)
	}
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM executions WHERE exec_id = ANY($1::text[])
		ORDER BY exec_id FOR UPDATE`, ids); err != nil {
		return nil, fmt.Errorf("lock executions: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `UPDATE executions x SET
		success_count = x.success_count + d.s, failure_count = x.failure_count + d.f, skipped_count = x.skipped_count + d.k,
		status = CASE WHEN x.success_count + x.failure_count + x.skipped_count + d.s + d.f + d.k >= x.target_count
			AND x.pending_waves = 0 THEN 'completed' ELSE 'running' END
		FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS d(id, s, f, k)
		WHERE x.exec_id = d.id
		RETURNING x.exec_id, x.job_id, x.status, x.target_count, x.success_count, x.failure_count, x.skipped_count`,
		ids, s, f, k)
	if err != nil {
		return nil, fmt.Errorf("bump counters: %w", err)
	}
	defer rows.Close()
	byID := map[string]ExecProgress{}
	for rows.Next() {
		var p ExecProgress
		if err := rows.Scan(&p.ExecID, &p.JobID, &p.Status, &p.TargetCount, &p.SuccessCount, &p.FailureCount, &p.SkippedCount); err != nil {
			return nil, fmt.Errorf("bump counters: %w", err)
		}
		byID[p.ExecID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("bump counters: %w", err)
	}
	var out []ExecProgress
	for _, id := range order {
		if p, ok := byID[id]; ok { // no row: an ad-hoc run without a parent
			out = append(out, p)
		}
	}
	return out, nil
}

// upsertHeartbeatsPG writes the newest heartbeat per PC in one statement.
func (db *DB) upsertHeartbeatsPG(ctx context.Context, hbs []Heartbeat) error {
	// ON CONFLICT DO UPDATE may touch a row once per statement: keep the
	// newest heartbeat of each PC, in pc_id order (lock order).
	newest := map[string]Heartbeat{}
	for _, h := range hbs {
		if o, ok := newest[h.PCID]; !ok || !h.ReceivedAt.Before(o.ReceivedAt) {
			newest[h.PCID] = h
		}
	}
	pcs := make([]string, 0, len(newest))
	for pc := range newest {
		pcs = append(pcs, pc)
	}
	slices.Sort(pcs)
	n := len(pcs)
	host, osf, osv, arch, ver, last, at, boot := make(pgText, n), make(pgText, n), make(pgText, n), make(pgText, n),
		make(pgText, n), make(pgText, n), make(pgText, n), make(pgText, n)
	rss, running := make([]int64, n), make([]int64, n)
	cpu := make([]float64, n)
	for i, pc := range pcs {
		h := newest[pc]
		host[i], osf[i], osv[i], arch[i], ver[i] = h.Hostname, h.OSFamily, h.OSVersion, h.Arch, h.AgentVersion
		last[i], at[i], boot[i] = TS(h.ReceivedAt), NullTS(h.At).String, NullTS(h.BootTime).String
		rss[i], cpu[i], running[i] = int64(h.AgentRSSBytes), h.AgentCPUPct, int64(h.Running)
	}
	_, err := db.Write.ExecContext(ctx, `INSERT INTO agents
		(pc_id, hostname, os_family, os_version, arch, agent_version, last_heartbeat, agent_at, boot_time,
		 agent_rss_bytes, agent_cpu_pct, running, first_seen)
		SELECT u.pc, u.host, u.osf, u.osv, u.arch, u.ver, u.last, NULLIF(u.at, ''), NULLIF(u.boot, ''),
			u.rss, u.cpu, u.running, u.last
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::text[], $10::bigint[], $11::float8[], $12::bigint[])
			AS u(pc, host, osf, osv, arch, ver, last, at, boot, rss, cpu, running)
		ON CONFLICT (pc_id) DO UPDATE SET
		 hostname = CASE WHEN excluded.hostname <> '' THEN excluded.hostname ELSE agents.hostname END,
		 os_family = CASE WHEN excluded.os_family <> '' THEN excluded.os_family ELSE agents.os_family END,
		 os_version = CASE WHEN excluded.os_version <> '' THEN excluded.os_version ELSE agents.os_version END,
		 arch = CASE WHEN excluded.arch <> '' THEN excluded.arch ELSE agents.arch END,
		 agent_version = excluded.agent_version, last_heartbeat = excluded.last_heartbeat,
		 agent_at = excluded.agent_at, boot_time = excluded.boot_time,
		 agent_rss_bytes = excluded.agent_rss_bytes, agent_cpu_pct = excluded.agent_cpu_pct,
		 running = excluded.running
		 WHERE excluded.last_heartbeat >= agents.last_heartbeat`,
		pcs, host, osf, osv, arch, ver, last, at, boot, rss, cpu, running)
	if err != nil {
		return fmt.Errorf("upsert %d agents: %w", n, err)
	}
	return nil
}

// insertAuditPG projects audit events in one statement.
func (db *DB) insertAuditPG(ctx context.Context, batch []Audit) error {
	n := len(batch)
	seq := make([]int64, n)
	actor, action, target, payload, at, ip := make(pgText, n), make(pgText, n), make(pgText, n), make(pgText, n),
		make(pgText, n), make(pgText, n)
	for i, a := range batch {
		p := string(a.Payload)
		if p == "" || p == "null" {
			p = "{}"
		}
		seq[i], actor[i], action[i], target[i], payload[i], at[i], ip[i] = int64(a.Seq), a.Actor, a.Action, a.Target,
			cleanText(p), TS(a.OccurredAt), a.SourceIP
	}
	_, err := db.Write.ExecContext(ctx, `INSERT INTO audit_log
		(stream_seq, actor, action, target, payload, occurred_at, source_ip)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
		ON CONFLICT (stream_seq) DO NOTHING`, seq, actor, action, target, payload, at, ip)
	if err != nil {
		return fmt.Errorf("insert %d audit events: %w", n, err)
	}
	return nil
}

// queryIDs runs a statement returning one text column and collects it.
func queryIDs(ctx context.Context, tx *sql.Tx, q string, args ...any) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

func distinctSorted(in []string) []string {
	var out []string
	for _, s := range in {
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
