package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/wire"
)

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
}

// ExecProgress is an executions row after a counter change.
type ExecProgress struct {
	ExecID       string `json:"exec_id"`
	JobID        string `json:"job_id"`
	Status       string `json:"status"`
	TargetCount  int    `json:"target_count"`
	SuccessCount int    `json:"success_count"`
	FailureCount int    `json:"failure_count"`
	SkippedCount int    `json:"skipped_count"`
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
}

// ResultStatus classifies a finished result for counters and the API.
func ResultStatus(exitCode int, skipped bool) string {
	switch {
	case skipped:
		return "skipped"
	case exitCode == 0:
		return "success"
	default:
		return "failure"
	}
}

// cleanText drops NUL bytes, which PostgreSQL TEXT refuses; scripts do print them.
func cleanText(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "")
}

type delta struct{ success, failure, skipped int }

// ApplyStarted projects a batch of events.started in one transaction:
// in-flight rows (first writer wins, so a redelivery or a started event that
// arrives after its result changes nothing) and pending → running promotion.
// It returns the rows actually inserted.
func (db *DB) ApplyStarted(ctx context.Context, batch []Started) ([]Started, error) {
	if db.Dialect == Postgres && !db.PGPerRow && len(batch) > 0 {
		return db.applyStartedPG(ctx, batch)
	}
	tx, err := db.Write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, db.Q(`INSERT INTO execution_results
		(result_id, request_id, exec_id, pc_id, job_id, version, started_at, recorded_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (result_id) DO NOTHING`))
	if err != nil {
		return nil, fmt.Errorf("prepare started insert: %w", err)
	}
	defer ins.Close()
	// recorded_at is the publish time of the earliest message about the run,
	// whichever projector saw it first, so a replay (where the two streams
	// may be projected in another order) reproduces it exactly. Nothing else
	// of an existing row is touched.
	earlier, err := tx.PrepareContext(ctx, db.Q(`UPDATE execution_results SET recorded_at = ? WHERE result_id = ? AND recorded_at > ?`))
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
		} else if _, err := earlier.ExecContext(ctx, TS(s.RecordedAt), s.ResultID, TS(s.RecordedAt)); err != nil {
			return nil, fmt.Errorf("date row result_id=%s: %w", s.ResultID, err)
		}
		if s.ExecID != "" {
			execs[s.ExecID] = true
		}
	}
	for id := range execs {
		// Only from pending: never resurrects expired, never undoes completed.
		if _, err := tx.ExecContext(ctx, db.Q(`UPDATE executions SET status = 'running' WHERE exec_id = ? AND status = 'pending'`), id); err != nil {
			return nil, fmt.Errorf("promote execution exec_id=%s: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit started batch: %w", err)
	}
	return inserted, nil
}

// ApplyResults projects a batch of ExecResults in one transaction. Per
// result_id: no row → insert a finished row; in-flight row → fill it and
// count; reaped row → fill it, clear reaped, do not count again (the reaper
// counted it as a failure); finished row → nothing (a redelivery).
func (db *DB) ApplyResults(ctx context.Context, batch []Result) (ResultOutcome, error) {
	if db.Dialect == Postgres && !db.PGPerRow && len(batch) > 0 {
		return db.applyResultsPG(ctx, batch)
	}
	var out ResultOutcome
	tx, err := db.Write.BeginTx(ctx, nil)
	if err != nil {
		return out, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, db.Q(`INSERT INTO execution_results
		(result_id, request_id, exec_id, pc_id, job_id, version, exit_code, stdout, stderr,
		 started_at, finished_at, recorded_at, skipped, timed_out, killed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (result_id) DO NOTHING`))
	if err != nil {
		return out, fmt.Errorf("prepare result insert: %w", err)
	}
	defer ins.Close()
	const set = `SET exit_code = ?, stdout = ?, stderr = ?, finished_at = ?, request_id = ?,
		skipped = ?, timed_out = ?, killed = ?, reaped = 0,
		job_id = CASE WHEN ? <> '' THEN ? ELSE job_id END,
		version = CASE WHEN ? <> '' THEN ? ELSE version END,
		exec_id = CASE WHEN exec_id = '' THEN ? ELSE exec_id END`
	fillInflight, err := tx.PrepareContext(ctx, db.Q(`UPDATE execution_results `+set+` WHERE result_id = ? AND finished_at IS NULL`))
	if err != nil {
		return out, fmt.Errorf("prepare result update: %w", err)
	}
	defer fillInflight.Close()
	fillReaped, err := tx.PrepareContext(ctx, db.Q(`UPDATE execution_results `+set+` WHERE result_id = ? AND reaped = 1`))
	if err != nil {
		return out, fmt.Errorf("prepare reaped update: %w", err)
	}
	defer fillReaped.Close()

	deltas := map[string]*delta{}
	var order []string
	for _, r := range batch {
		stdout, stderr := cleanText(r.Stdout), cleanText(r.Stderr)
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
			b2i(r.Skipped), b2i(r.TimedOut), b2i(r.Killed))
		if err != nil {
			return out, fmt.Errorf("insert result result_id=%s: %w", r.ResultID, err)
		}
		n, _ := res.RowsAffected()
		count := n > 0
		changed := count
		if !changed {
			args := []any{r.ExitCode, stdout, stderr, TS(finished), r.RequestID,
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
	progress, err := db.bumpCounters(ctx, tx, deltas, order)
	if err != nil {
		return out, err
	}
	out.Executions = progress
	if err := tx.Commit(); err != nil {
		return out, fmt.Errorf("commit result batch: %w", err)
	}
	return out, nil
}

// bumpCounters applies per-execution counter deltas (one UPDATE per
// execution per batch) and sets completed/running. SET expressions see the
// old column values on both SQLite and PostgreSQL.
func (db *DB) bumpCounters(ctx context.Context, tx *sql.Tx, deltas map[string]*delta, order []string) ([]ExecProgress, error) {
	var out []ExecProgress
	for _, id := range order {
		d := deltas[id]
		var p ExecProgress
		err := tx.QueryRowContext(ctx, db.Q(`UPDATE executions SET
			success_count = success_count + ?, failure_count = failure_count + ?, skipped_count = skipped_count + ?,
			status = CASE WHEN success_count + failure_count + skipped_count + ? >= target_count AND pending_waves = 0 THEN 'completed' ELSE 'running' END
			WHERE exec_id = ?
			RETURNING exec_id, job_id, status, target_count, success_count, failure_count, skipped_count`),
			d.success, d.failure, d.skipped, d.success+d.failure+d.skipped, id).
			Scan(&p.ExecID, &p.JobID, &p.Status, &p.TargetCount, &p.SuccessCount, &p.FailureCount, &p.SkippedCount)
		if err == sql.ErrNoRows {
			continue // ad-hoc run sent straight to NATS: no parent row
		}
		if err != nil {
			return nil, fmt.Errorf("bump counters exec_id=%s: %w", id, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Heartbeat is one agent heartbeat with the backend's receive time.
type Heartbeat struct {
	wire.Heartbeat
	ReceivedAt time.Time
}

// UpsertHeartbeats writes the newest heartbeat of each PC in one transaction.
func (db *DB) UpsertHeartbeats(ctx context.Context, hbs []Heartbeat) error {
	if db.Dialect == Postgres && !db.PGPerRow && len(hbs) > 0 {
		return db.upsertHeartbeatsPG(ctx, hbs)
	}
	tx, err := db.Write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, db.Q(`INSERT INTO agents
		(pc_id, hostname, os_family, os_version, arch, agent_version, last_heartbeat, agent_at, boot_time,
		 agent_rss_bytes, agent_cpu_pct, running, first_seen)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (pc_id) DO UPDATE SET
		 hostname = CASE WHEN excluded.hostname <> '' THEN excluded.hostname ELSE agents.hostname END,
		 os_family = CASE WHEN excluded.os_family <> '' THEN excluded.os_family ELSE agents.os_family END,
		 os_version = CASE WHEN excluded.os_version <> '' THEN excluded.os_version ELSE agents.os_version END,
		 arch = CASE WHEN excluded.arch <> '' THEN excluded.arch ELSE agents.arch END,
		 agent_version = excluded.agent_version, last_heartbeat = excluded.last_heartbeat,
		 agent_at = excluded.agent_at, boot_time = excluded.boot_time,
		 agent_rss_bytes = excluded.agent_rss_bytes, agent_cpu_pct = excluded.agent_cpu_pct,
		 running = excluded.running
		 WHERE excluded.last_heartbeat >= agents.last_heartbeat`))
	if err != nil {
		return fmt.Errorf("prepare heartbeat upsert: %w", err)
	}
	defer st.Close()
	for _, h := range hbs {
		if _, err := st.ExecContext(ctx, h.PCID, h.Hostname, h.OSFamily, h.OSVersion, h.Arch, h.AgentVersion,
			TS(h.ReceivedAt), NullTS(h.At), NullTS(h.BootTime), int64(h.AgentRSSBytes), h.AgentCPUPct, h.Running,
			TS(h.ReceivedAt)); err != nil {
			return fmt.Errorf("upsert agent pc_id=%s: %w", h.PCID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit heartbeats: %w", err)
	}
	return nil
}

// Audit is one audit event with its stream sequence.
type Audit struct {
	wire.AuditEvent
	Seq uint64
}

// InsertAudit projects audit events; the stream sequence makes it idempotent.
func (db *DB) InsertAudit(ctx context.Context, batch []Audit) error {
	if db.Dialect == Postgres && !db.PGPerRow && len(batch) > 0 {
		return db.insertAuditPG(ctx, batch)
	}
	tx, err := db.Write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, db.Q(`INSERT INTO audit_log
		(stream_seq, actor, action, target, payload, occurred_at, source_ip)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (stream_seq) DO NOTHING`))
	if err != nil {
		return fmt.Errorf("prepare audit insert: %w", err)
	}
	defer st.Close()
	for _, a := range batch {
		payload := string(a.Payload)
		if payload == "" || payload == "null" {
			payload = "{}"
		}
		if _, err := st.ExecContext(ctx, int64(a.Seq), a.Actor, a.Action, a.Target, cleanText(payload),
			TS(a.OccurredAt), a.SourceIP); err != nil {
			return fmt.Errorf("insert audit seq=%d: %w", a.Seq, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit audit: %w", err)
	}
	return nil
}

// TableEmpty reports whether a projection table has no rows (wipe detection).
func (db *DB) TableEmpty(ctx context.Context, table string) (bool, error) {
	switch table {
	case "execution_results", "audit_log", "agents", "executions":
	default:
		return false, fmt.Errorf("table %q is not a projection table", table)
	}
	var one int
	err := db.Read.QueryRowContext(ctx, "SELECT 1 FROM "+table+" LIMIT 1").Scan(&one)
	if err == sql.ErrNoRows {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("probe %s: %w", table, err)
	}
	return false, nil
}

// ReplaceAgentGroups sets the projected group membership of one PC.
func (db *DB) ReplaceAgentGroups(ctx context.Context, pc string, groups []string) error {
	tx, err := db.Write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, db.Q(`DELETE FROM agent_groups WHERE pc_id = ?`), pc); err != nil {
		return fmt.Errorf("clear groups pc_id=%s: %w", pc, err)
	}
	for _, g := range groups {
		if _, err := tx.ExecContext(ctx, db.Q(`INSERT INTO agent_groups (pc_id, group_name) VALUES (?, ?) ON CONFLICT DO NOTHING`), pc, g); err != nil {
			return fmt.Errorf("add group pc_id=%s group=%s: %w", pc, g, err)
		}
	}
	return tx.Commit()
}

// ReplaceAllAgentGroups replaces the whole group projection in one
// transaction (a full resync from KV), so a reader never sees it empty.
func (db *DB) ReplaceAllAgentGroups(ctx context.Context, groups map[string][]string) error {
	tx, err := db.Write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM agent_groups`); err != nil {
		return fmt.Errorf("clear agent groups: %w", err)
	}
	st, err := tx.PrepareContext(ctx, db.Q(`INSERT INTO agent_groups (pc_id, group_name) VALUES (?, ?) ON CONFLICT DO NOTHING`))
	if err != nil {
		return fmt.Errorf("prepare agent groups: %w", err)
	}
	defer st.Close()
	for pc, gs := range groups {
		for _, g := range gs {
			if _, err := st.ExecContext(ctx, pc, g); err != nil {
				return fmt.Errorf("add group pc_id=%s group=%s: %w", pc, g, err)
			}
		}
	}
	return tx.Commit()
}
