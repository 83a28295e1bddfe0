package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// OnlineWindow: an agent is online if its last heartbeat (backend receive
// time) is younger than this.
const OnlineWindow = 2 * time.Minute

// Page is limit/offset paging.
type Page struct{ Limit, Offset int }

// Agent is an agents row for the API.
type Agent struct {
	PCID          string     `json:"pc_id"`
	Hostname      string     `json:"hostname"`
	OSFamily      string     `json:"os_family"`
	OSVersion     string     `json:"os_version"`
	Arch          string     `json:"arch"`
	AgentVersion  string     `json:"agent_version"`
	LastHeartbeat time.Time  `json:"last_heartbeat"`
	BootTime      *time.Time `json:"boot_time"`
	AgentRSSBytes int64      `json:"agent_rss_bytes"`
	AgentCPUPct   float64    `json:"agent_cpu_pct"`
	Running       int        `json:"running"`
	Online        bool       `json:"online"`
	Groups        []string   `json:"groups"`
}

// AgentFilter selects agents.
type AgentFilter struct {
	Status string // online | offline | ""
	Q      string // substring of pc_id or hostname
	Group  string
	Sort   string // pc_id | hostname | last_heartbeat | os_family | agent_version
	Desc   bool
	Now    time.Time
}

var agentSorts = map[string]string{"pc_id": "pc_id", "hostname": "hostname", "last_heartbeat": "last_heartbeat",
	"os_family": "os_family", "agent_version": "agent_version"}

// where accumulates conditions and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// agentQueries builds the count and page queries of ListAgents (shared
// with the query-plan test, so what is checked is what runs).
func agentQueries(f AgentFilter, p Page) (count string, countArgs []any, list string, listArgs []any, cutoff string) {
	if f.Now.IsZero() {
		f.Now = time.Now()
	}
	cutoff = TS(f.Now.Add(-OnlineWindow))
	var w where
	switch f.Status {
	case "online":
		w.add("last_heartbeat >= ?", cutoff)
	case "offline":
		w.add("last_heartbeat < ?", cutoff)
	}
	if f.Q != "" {
		l := likeEscape(strings.ToLower(f.Q))
		w.add(`(lower(pc_id) LIKE ? ESCAPE '\' OR lower(hostname) LIKE ? ESCAPE '\')`, l, l)
	}
	if f.Group != "" {
		w.add("pc_id IN (SELECT pc_id FROM agent_groups WHERE group_name = ?)", f.Group)
	}
	col := agentSorts[f.Sort]
	if col == "" {
		col = "pc_id"
	}
	dir := "ASC"
	if f.Desc {
		dir = "DESC"
	}
	order := col + " " + dir
	if col != "pc_id" {
		order += ", pc_id"
	}
	list = `SELECT pc_id, hostname, os_family, os_version, arch, agent_version, last_heartbeat, boot_time,
		agent_rss_bytes, agent_cpu_pct, running FROM agents` + w.sql() + " ORDER BY " + order + " LIMIT ? OFFSET ?"
	return "SELECT COUNT(*) FROM agents" + w.sql(), w.args, list, append(slices.Clone(w.args), p.Limit, p.Offset), cutoff
}

// ListAgents returns one page of agents and the total matching.
func (db *DB) ListAgents(ctx context.Context, f AgentFilter, p Page) ([]Agent, int, error) {
	countQ, countArgs, listQ, listArgs, cutoff := agentQueries(f, p)
	var total int
	if err := db.Read.QueryRowContext(ctx, db.Q(countQ), countArgs...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count agents: %w", err)
	}
	rows, err := db.Read.QueryContext(ctx, db.Q(listQ), listArgs...)
	if err != nil {
		return nil, 0, fmt.Errorf("list agents: %w", err)
	}
	defer rows.Close()
	var out []Agent
	for rows.Next() {
		a, err := scanAgent(rows, cutoff)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if err := db.fillGroups(ctx, out); err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

type scanner interface{ Scan(...any) error }

func scanAgent(s scanner, cutoff string) (Agent, error) {
	var a Agent
	var last string
	var boot sql.NullString
	if err := s.Scan(&a.PCID, &a.Hostname, &a.OSFamily, &a.OSVersion, &a.Arch, &a.AgentVersion, &last, &boot,
		&a.AgentRSSBytes, &a.AgentCPUPct, &a.Running); err != nil {
		return a, fmt.Errorf("scan agent: %w", err)
	}
	a.LastHeartbeat = ParseTS(last)
	a.BootTime = nullTime(boot)
	a.Online = last >= cutoff
	a.Groups = []string{}
	return a, nil
}

func (db *DB) fillGroups(ctx context.Context, agents []Agent) error {
	if len(agents) == 0 {
		return nil
	}
	idx := make(map[string]int, len(agents))
	ph := make([]string, len(agents))
	args := make([]any, len(agents))
	for i, a := range agents {
		idx[a.PCID] = i
		ph[i] = "?"
		args[i] = a.PCID
	}
	rows, err := db.Read.QueryContext(ctx, db.Q(`SELECT pc_id, group_name FROM agent_groups WHERE pc_id IN (`+
		strings.Join(ph, ",")+`) ORDER BY group_name`), args...)
	if err != nil {
		return fmt.Errorf("agent groups: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pc, g string
		if err := rows.Scan(&pc, &g); err != nil {
			return err
		}
		if i, ok := idx[pc]; ok {
			agents[i].Groups = append(agents[i].Groups, g)
		}
	}
	return rows.Err()
}

// GetAgent returns one agent; ok is false when unknown.
func (db *DB) GetAgent(ctx context.Context, pc string, now time.Time) (Agent, bool, error) {
	row := db.Read.QueryRowContext(ctx, db.Q(`SELECT pc_id, hostname, os_family, os_version, arch, agent_version,
		last_heartbeat, boot_time, agent_rss_bytes, agent_cpu_pct, running FROM agents WHERE pc_id = ?`), pc)
	a, err := scanAgent(row, TS(now.Add(-OnlineWindow)))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return a, false, nil
		}
		return a, false, err
	}
	list := []Agent{a}
	if err := db.fillGroups(ctx, list); err != nil {
		return a, false, err
	}
	return list[0], true, nil
}

// DeleteAgent forgets an agent (it reappears on its next heartbeat).
func (db *DB) DeleteAgent(ctx context.Context, pc string) (bool, error) {
	res, err := db.Write.ExecContext(ctx, db.Q(`DELETE FROM agents WHERE pc_id = ?`), pc)
	if err != nil {
		return false, fmt.Errorf("delete agent pc_id=%s: %w", pc, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// OnlinePCs returns the pc_ids among candidates (all known agents when
// candidates is nil) whose heartbeat is fresh: the "known live PCs" an exec
// counts as its target.
func (db *DB) OnlinePCs(ctx context.Context, now time.Time, group string) ([]string, error) {
	var w where
	w.add("last_heartbeat >= ?", TS(now.Add(-OnlineWindow)))
	if group != "" {
		w.add("pc_id IN (SELECT pc_id FROM agent_groups WHERE group_name = ?)", group)
	}
	rows, err := db.Read.QueryContext(ctx, db.Q("SELECT pc_id FROM agents"+w.sql()+" ORDER BY pc_id"), w.args...)
	if err != nil {
		return nil, fmt.Errorf("online pcs: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var pc string
		if err := rows.Scan(&pc); err != nil {
			return nil, err
		}
		out = append(out, pc)
	}
	return out, rows.Err()
}

// GroupMembers is one group and its members.
type GroupMembers struct {
	Group   string   `json:"group"`
	Members []string `json:"members"`
}

// ListGroups returns every group with its members.
func (db *DB) ListGroups(ctx context.Context) ([]GroupMembers, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT group_name, pc_id FROM agent_groups ORDER BY group_name, pc_id`)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	defer rows.Close()
	out := []GroupMembers{}
	for rows.Next() {
		var g, pc string
		if err := rows.Scan(&g, &pc); err != nil {
			return nil, err
		}
		if n := len(out); n == 0 || out[n-1].Group != g {
			out = append(out, GroupMembers{Group: g})
		}
		out[len(out)-1].Members = append(out[len(out)-1].Members, pc)
	}
	return out, rows.Err()
}

// ExecFilter selects executions.
type ExecFilter struct{ JobID, Status string }

const execCols = `exec_id, job_id, version, initiated_by, initiated_at, target_count, success_count, failure_count, skipped_count, status, pending_waves`

func scanExec(s scanner) (Execution, error) {
	var e Execution
	var at string
	err := s.Scan(&e.ExecID, &e.JobID, &e.Version, &e.InitiatedBy, &at, &e.TargetCount, &e.SuccessCount,
		&e.FailureCount, &e.SkippedCount, &e.Status, &e.PendingWaves)
	e.InitiatedAt = ParseTS(at)
	return e, err
}

// ListExecutions returns executions, newest first.
func (db *DB) ListExecutions(ctx context.Context, f ExecFilter, p Page) ([]Execution, int, error) {
	var w where
	if f.JobID != "" {
		w.add("job_id = ?", f.JobID)
	}
	if f.Status != "" {
		w.add("status = ?", f.Status)
	}
	var total int
	if err := db.Read.QueryRowContext(ctx, db.Q("SELECT COUNT(*) FROM executions"+w.sql()), w.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count executions: %w", err)
	}
	rows, err := db.Read.QueryContext(ctx, db.Q("SELECT "+execCols+" FROM executions"+w.sql()+
		" ORDER BY initiated_at DESC, exec_id LIMIT ? OFFSET ?"), append(w.args, p.Limit, p.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list executions: %w", err)
	}
	defer rows.Close()
	out := []Execution{}
	for rows.Next() {
		e, err := scanExec(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("scan execution: %w", err)
		}
		out = append(out, e)
	}
	return out, total, rows.Err()
}

// GetExecution returns one execution.
func (db *DB) GetExecution(ctx context.Context, execID string) (Execution, bool, error) {
	e, err := scanExec(db.Read.QueryRowContext(ctx, db.Q("SELECT "+execCols+" FROM executions WHERE exec_id = ?"), execID))
	if err == sql.ErrNoRows {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("get execution exec_id=%s: %w", execID, err)
	}
	return e, true, nil
}

// ResultRow is an execution_results row for the API.
type ResultRow struct {
	ResultID   string     `json:"result_id"`
	RequestID  string     `json:"request_id"`
	ExecID     string     `json:"exec_id"`
	PCID       string     `json:"pc_id"`
	JobID      string     `json:"job_id"`
	Version    string     `json:"version"`
	ExitCode   *int       `json:"exit_code"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	RecordedAt time.Time  `json:"recorded_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	Reaped     bool       `json:"reaped"`
	Skipped    bool       `json:"skipped"`
	TimedOut   bool       `json:"timed_out"`
	Killed     bool       `json:"killed"`
	Status     string     `json:"status"`
	Stdout     *string    `json:"stdout,omitempty"`
	Stderr     *string    `json:"stderr,omitempty"`
}

// ResultFilter selects results.
type ResultFilter struct {
	ExecID, JobID, PCID, Status string
	Since                       time.Time
}

const resultCols = `result_id, request_id, exec_id, pc_id, job_id, version, exit_code, started_at, finished_at,
	recorded_at, expires_at, reaped, skipped, timed_out, killed`

func scanResult(s scanner, extra ...any) (ResultRow, error) {
	var r ResultRow
	var code sql.NullInt64
	var started, recorded string
	var finished, expires sql.NullString
	var reaped, skipped, timedOut, killed int
	dest := append([]any{&r.ResultID, &r.RequestID, &r.ExecID, &r.PCID, &r.JobID, &r.Version, &code, &started,
		&finished, &recorded, &expires, &reaped, &skipped, &timedOut, &killed}, extra...)
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
		r.Status = "running"
	case r.ExitCode == nil:
		r.Status = "failure"
	default:
		r.Status = ResultStatus(*r.ExitCode, r.Skipped)
	}
	return r, nil
}

// resultQueries builds the count and page queries of ListResults.
func resultQueries(f ResultFilter, p Page) (count string, countArgs []any, list string, listArgs []any) {
	var w where
	if f.ExecID != "" {
		w.add("exec_id = ?", f.ExecID)
	}
	if f.JobID != "" {
		w.add("job_id = ?", f.JobID)
	}
	if f.PCID != "" {
		w.add("pc_id = ?", f.PCID)
	}
	if !f.Since.IsZero() {
		w.add("recorded_at >= ?", TS(f.Since))
	}
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
	list = "SELECT " + resultCols + " FROM execution_results" + w.sql() + " ORDER BY recorded_at DESC, result_id LIMIT ? OFFSET ?"
	return "SELECT COUNT(*) FROM execution_results" + w.sql(), w.args, list, append(slices.Clone(w.args), p.Limit, p.Offset)
}

// ListResults returns results, newest first.
func (db *DB) ListResults(ctx context.Context, f ResultFilter, p Page) ([]ResultRow, int, error) {
	countQ, countArgs, listQ, listArgs := resultQueries(f, p)
	var total int
	if err := db.Read.QueryRowContext(ctx, db.Q(countQ), countArgs...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count results: %w", err)
	}
	rows, err := db.Read.QueryContext(ctx, db.Q(listQ), listArgs...)
	if err != nil {
		return nil, 0, fmt.Errorf("list results: %w", err)
	}
	defer rows.Close()
	out := []ResultRow{}
	for rows.Next() {
		r, err := scanResult(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("scan result: %w", err)
		}
		out = append(out, r)
	}
	return out, total, rows.Err()
}

// GetResult returns one result with its output.
func (db *DB) GetResult(ctx context.Context, id string) (ResultRow, bool, error) {
	var stdout, stderr string
	r, err := scanResult(db.Read.QueryRowContext(ctx, db.Q("SELECT "+resultCols+", stdout, stderr FROM execution_results WHERE result_id = ?"), id),
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

// AuditRow is an audit_log row.
type AuditRow struct {
	ID         int64           `json:"id"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	Target     string          `json:"target"`
	Payload    json.RawMessage `json:"payload"`
	OccurredAt time.Time       `json:"occurred_at"`
	SourceIP   string          `json:"source_ip"`
}

// AuditFilter selects audit rows.
type AuditFilter struct {
	Actor, Action string
	Since         time.Time
}

// ListAudit returns audit rows, newest first.
func (db *DB) ListAudit(ctx context.Context, f AuditFilter, p Page) ([]AuditRow, int, error) {
	var w where
	if f.Actor != "" {
		w.add("actor = ?", f.Actor)
	}
	if f.Action != "" {
		w.add("action = ?", f.Action)
	}
	if !f.Since.IsZero() {
		w.add("occurred_at >= ?", TS(f.Since))
	}
	var total int
	if err := db.Read.QueryRowContext(ctx, db.Q("SELECT COUNT(*) FROM audit_log"+w.sql()), w.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count audit: %w", err)
	}
	rows, err := db.Read.QueryContext(ctx, db.Q("SELECT stream_seq, actor, action, target, payload, occurred_at, source_ip FROM audit_log"+
		w.sql()+" ORDER BY occurred_at DESC, stream_seq DESC LIMIT ? OFFSET ?"), append(w.args, p.Limit, p.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	out := []AuditRow{}
	for rows.Next() {
		var a AuditRow
		var payload, at string
		if err := rows.Scan(&a.ID, &a.Actor, &a.Action, &a.Target, &payload, &at, &a.SourceIP); err != nil {
			return nil, 0, fmt.Errorf("scan audit: %w", err)
		}
		a.Payload = json.RawMessage(payload)
		if !json.Valid(a.Payload) {
			a.Payload = json.RawMessage("{}")
		}
		a.OccurredAt = ParseTS(at)
		out = append(out, a)
	}
	return out, total, rows.Err()
}

// FleetCounts feeds /api/health/fleet.
type FleetCounts struct {
	Known, Online, Failures24h, RunningExecutions int
}

// Fleet counts agents and recent failures.
func (db *DB) Fleet(ctx context.Context, now time.Time) (FleetCounts, error) {
	var c FleetCounts
	err := db.Read.QueryRowContext(ctx, db.Q(`SELECT
		(SELECT COUNT(*) FROM agents),
		(SELECT COUNT(*) FROM agents WHERE last_heartbeat >= ?),
		(SELECT COUNT(*) FROM execution_results WHERE exit_code <> 0 AND skipped = 0 AND recorded_at >= ?),
		(SELECT COUNT(*) FROM executions WHERE status IN ('pending', 'running'))`),
		TS(now.Add(-OnlineWindow)), TS(now.Add(-24*time.Hour))).Scan(&c.Known, &c.Online, &c.Failures24h, &c.RunningExecutions)
	if err != nil {
		return c, fmt.Errorf("fleet counts: %w", err)
	}
	return c, nil
}
