package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/cursor"
)

// The agents table (written by heartbeats.go) and agent_groups (projected
// from KV), and the fleet counts over them.

// OnlineWindow: an agent is online if its last heartbeat (backend receive
// time) is younger than this.
const OnlineWindow = 2 * time.Minute

// AgentFilter selects agents.
type AgentFilter struct {
	Status string // online | offline | ""
	Q      string // substring of pc_id or hostname
	Group  string
	// IDPrefix keeps the pc_ids that start with it (the CLI's short ids).
	IDPrefix string
	// Self-update filters (SPEC §13), exact matches.
	UpdateState string // update_state ("" = any)
	Version     string // agent_version
	Quarantined string // quarantined_version
	Sort        string // pc_id | hostname | last_heartbeat | os_family | agent_version
	Desc        bool
	Scope       []string // a scoped caller's groups (scope.go); nil = all
	Now         time.Time
}

var agentSorts = map[string]string{"pc_id": "pc_id", "hostname": "hostname", "last_heartbeat": "last_heartbeat",
	"os_family": "os_family", "agent_version": "agent_version"}

// agentOrder is the order of ListAgents: the sort column, then pc_id (the
// unique tiebreak, ascending whatever the direction, as always).
func agentOrder(f AgentFilter) []sortCol {
	col := agentSorts[f.Sort]
	if col == "" {
		col = "pc_id"
	}
	if col == "pc_id" {
		return []sortCol{{col: "pc_id", desc: f.Desc}}
	}
	return []sortCol{{col: col, desc: f.Desc}, {col: "pc_id"}}
}

// agentKey is a row's key in the order of f.
func agentKey(f AgentFilter) func(apiv1.Agent) cursor.Key {
	order := agentOrder(f)
	return func(a apiv1.Agent) cursor.Key {
		var k cursor.Key
		for _, c := range order {
			switch c.col {
			case "pc_id":
				k = append(k, a.PCID)
			case "hostname":
				k = append(k, a.Hostname)
			case "last_heartbeat":
				k = append(k, TS(a.LastHeartbeat))
			case "os_family":
				k = append(k, a.OSFamily)
			case "agent_version":
				k = append(k, a.AgentVersion)
			}
		}
		return k
	}
}

// agentQueries builds the count and page queries of ListAgents (shared
// with the query-plan tests, so what is checked is what runs). A cursor
// key that does not fit the sort is left out here; ListAgents refuses it
// first (agentSeek). search builds the condition of a q= search
// (DB.agentSearchCond).
func agentQueries(f AgentFilter, p Page, search func(string) (string, []any)) (count string, countArgs []any, list string, listArgs []any, cutoff string) {
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
		cond, args := search(f.Q)
		w.add(cond, args...)
	}
	w.addIDPrefix("pc_id", f.IDPrefix)
	if f.Group != "" {
		w.add("pc_id IN (SELECT pc_id FROM agent_groups WHERE group_name = ?)", f.Group)
	}
	w.addScope("pc_id", f.Scope)
	if f.UpdateState != "" {
		w.add("update_state = ?", f.UpdateState)
	}
	if f.Version != "" {
		w.add("agent_version = ?", f.Version)
	}
	if f.Quarantined != "" {
		// The second term names the partial index's predicate, so both
		// databases may use it.
		w.add("quarantined_version = ? AND quarantined_version > ''", f.Quarantined)
	}
	order := agentOrder(f)
	seek := where{conds: slices.Clone(w.conds), args: slices.Clone(w.args)}
	if p.After != nil {
		_ = seek.seek(p.After, order...)
	}
	limit, offset := pageArgs(p)
	list = `SELECT ` + agentCols + ` FROM agents` + seek.sql() + orderBy(order...) + " LIMIT ? OFFSET ?"
	// The fleet is small (10 000s of rows): its count is exact.
	return countSQL("agents", w, countExact), w.args, list, append(seek.args, limit, offset), cutoff
}

// ListAgents returns one page of agents and the total matching.
func (db *DB) ListAgents(ctx context.Context, f AgentFilter, p Page) ([]apiv1.Agent, int, error) {
	l, err := db.PageAgents(ctx, f, p)
	return l.Rows, l.Total, err
}

// PageAgents returns one page of agents with the exact total and the next
// page's key.
func (db *DB) PageAgents(ctx context.Context, f AgentFilter, p Page) (Listing[apiv1.Agent], error) {
	var l Listing[apiv1.Agent]
	if p.After != nil {
		var probe where
		if err := probe.seek(p.After, agentOrder(f)...); err != nil {
			return l, err
		}
	}
	countQ, countArgs, listQ, listArgs, cutoff := agentQueries(f, p, db.agentSearchCond)
	rows, err := db.read.QueryContext(ctx, db.q(listQ), listArgs...)
	if err != nil {
		return l, fmt.Errorf("list agents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAgent(rows, cutoff)
		if err != nil {
			return l, err
		}
		l.Rows = append(l.Rows, a)
	}
	if err := rows.Err(); err != nil {
		return l, err
	}
	if n, ok := db.endKnown(p, len(l.Rows)); ok {
		l.Total = n
	} else if err := db.read.QueryRowContext(ctx, db.q(countQ), countArgs...).Scan(&l.Total); err != nil {
		return l, fmt.Errorf("count agents: %w", err)
	}
	trim(&l, p.Limit, agentKey(f))
	if err := db.fillGroups(ctx, l.Rows); err != nil {
		return l, err
	}
	return l, nil
}

// agentCols are the columns scanAgent reads.
const agentCols = `pc_id, hostname, os_family, os_version, arch, agent_version, last_heartbeat, boot_time,
		agent_rss_bytes, agent_cpu_pct, running, update_state, update_error, quarantined_version`

func scanAgent(s scanner, cutoff string) (apiv1.Agent, error) {
	var a apiv1.Agent
	var last string
	var boot sql.NullString
	if err := s.Scan(&a.PCID, &a.Hostname, &a.OSFamily, &a.OSVersion, &a.Arch, &a.AgentVersion, &last, &boot,
		&a.AgentRSSBytes, &a.AgentCPUPct, &a.Running, &a.UpdateState, &a.UpdateError, &a.QuarantinedVersion); err != nil {
		return a, fmt.Errorf("scan agent: %w", err)
	}
	a.LastHeartbeat = ParseTS(last)
	a.BootTime = nullTime(boot)
	a.Online = last >= cutoff
	a.Groups = []string{}
	return a, nil
}

func (db *DB) fillGroups(ctx context.Context, agents []apiv1.Agent) error {
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
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT pc_id, group_name FROM agent_groups WHERE pc_id IN (`+
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
func (db *DB) GetAgent(ctx context.Context, pc string, now time.Time) (apiv1.Agent, bool, error) {
	row := db.read.QueryRowContext(ctx, db.q(`SELECT `+agentCols+` FROM agents WHERE pc_id = ?`), pc)
	a, err := scanAgent(row, TS(now.Add(-OnlineWindow)))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return a, false, nil
		}
		return a, false, err
	}
	list := []apiv1.Agent{a}
	if err := db.fillGroups(ctx, list); err != nil {
		return a, false, err
	}
	return list[0], true, nil
}

// DeleteAgent forgets an agent (it reappears on its next heartbeat if
// its credential still works).
//
// Its inventory goes with it — the latest facts and every inventory job
// table's rows — so a forgotten PC stops matching fleet searches; its
// inventory history stays until retention, like its results. (A rebuild
// from the streams brings them back while the streams still hold them.)
func (db *DB) DeleteAgent(ctx context.Context, pc string) (bool, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("begin delete agent: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, db.q(`DELETE FROM agents WHERE pc_id = ?`), pc)
	if err != nil {
		return false, fmt.Errorf("delete agent pc_id=%s: %w", pc, err)
	}
	n, _ := res.RowsAffected()
	r, err := tx.ExecContext(ctx, db.q(`DELETE FROM agent_facts WHERE pc_id = ?`), pc)
	if err != nil {
		return false, fmt.Errorf("delete facts of pc_id=%s: %w", pc, err)
	}
	m, _ := r.RowsAffected()
	n += m
	// Its check states would count in compliance forever (its open alerts
	// are resolved through stream ALERTS: alerting.PublishForgotten).
	if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM check_status WHERE pc_id = ?`), pc); err != nil {
		return false, fmt.Errorf("delete check states of pc_id=%s: %w", pc, err)
	}
	// The inventory tables are keyed (table, pc, ...): one indexed
	// delete per table name (a handful) rather than a scan by pc.
	var tables []string
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT table_name FROM inventory_sources`)
	if err != nil {
		return false, fmt.Errorf("inventory tables: %w", err)
	}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return false, fmt.Errorf("scan inventory table: %w", err)
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("inventory tables: %w", err)
	}
	for _, t := range tables {
		for _, table := range []string{"inventory_values", "inventory_rows", "inventory_sources"} {
			if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM `+table+` WHERE table_name = ? AND pc_id = ?`), t, pc); err != nil {
				return false, fmt.Errorf("delete %s %s of pc_id=%s: %w", table, t, pc, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit delete agent pc_id=%s: %w", pc, err)
	}
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
	rows, err := db.read.QueryContext(ctx, db.q("SELECT pc_id FROM agents"+w.sql()+" ORDER BY pc_id"), w.args...)
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

// KnownPCs returns the pc_ids an exec could ever reach, online or not: every
// agent heard from (group ""), or every member of a group. It decides
// whether a target is empty (SPEC §17), so an offline PC still counts: it
// catches up on the retained command when it reconnects.
func (db *DB) KnownPCs(ctx context.Context, group string) ([]string, error) {
	q, args := `SELECT pc_id FROM agents ORDER BY pc_id`, []any(nil)
	if group != "" {
		q, args = db.q(`SELECT pc_id FROM agent_groups WHERE group_name = ? ORDER BY pc_id`), []any{group}
	}
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("known pcs of group %q: %w", group, err)
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

// ListGroups returns every group with its members.
func (db *DB) ListGroups(ctx context.Context) ([]apiv1.GroupMembers, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT group_name, pc_id FROM agent_groups ORDER BY group_name, pc_id`)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	defer rows.Close()
	out := []apiv1.GroupMembers{}
	for rows.Next() {
		var g, pc string
		if err := rows.Scan(&g, &pc); err != nil {
			return nil, err
		}
		if n := len(out); n == 0 || out[n-1].Group != g {
			out = append(out, apiv1.GroupMembers{Group: g})
		}
		out[len(out)-1].Members = append(out[len(out)-1].Members, pc)
	}
	return out, rows.Err()
}

// LiveAgentGroups returns every online agent (fresh heartbeat at now) with
// its groups (possibly none).
func (db *DB) LiveAgentGroups(ctx context.Context, now time.Time) (map[string][]string, error) {
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT a.pc_id, g.group_name FROM agents a
		LEFT JOIN agent_groups g ON g.pc_id = a.pc_id WHERE a.last_heartbeat >= ?`), TS(now.Add(-OnlineWindow)))
	if err != nil {
		return nil, fmt.Errorf("live agents: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var pc string
		var g sql.NullString
		if err := rows.Scan(&pc, &g); err != nil {
			return nil, err
		}
		if g.Valid {
			out[pc] = append(out[pc], g.String)
		} else if _, ok := out[pc]; !ok {
			out[pc] = nil
		}
	}
	return out, rows.Err()
}

// ReplaceAgentGroups sets the projected group membership of one PC.
func (db *DB) ReplaceAgentGroups(ctx context.Context, pc string, groups []string) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM agent_groups WHERE pc_id = ?`), pc); err != nil {
		return fmt.Errorf("clear groups pc_id=%s: %w", pc, err)
	}
	for _, g := range groups {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO agent_groups (pc_id, group_name) VALUES (?, ?) ON CONFLICT DO NOTHING`), pc, g); err != nil {
			return fmt.Errorf("add group pc_id=%s group=%s: %w", pc, g, err)
		}
	}
	return tx.Commit()
}

// ReplaceAllAgentGroups replaces the whole group projection in one
// transaction (a full resync from KV), so a reader never sees it empty.
func (db *DB) ReplaceAllAgentGroups(ctx context.Context, groups map[string][]string) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM agent_groups`); err != nil {
		return fmt.Errorf("clear agent groups: %w", err)
	}
	st, err := tx.PrepareContext(ctx, db.q(`INSERT INTO agent_groups (pc_id, group_name) VALUES (?, ?) ON CONFLICT DO NOTHING`))
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

// FleetCounts feeds /api/health/fleet.
type FleetCounts struct {
	Known, Online, Failures24h, RunningExecutions int
}

// Fleet counts agents and recent failures.
func (db *DB) Fleet(ctx context.Context, now time.Time) (FleetCounts, error) {
	var c FleetCounts
	err := db.read.QueryRowContext(ctx, db.q(`SELECT
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
