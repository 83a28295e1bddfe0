package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/invtable"
	"github.com/kanade-fleet/kanade/internal/testenv/testdb"
)

// The query-plan test (SPEC §18: every filter is served by an index). It
// calls the store's real read functions — the ones the API handlers call,
// with every filter of §7 — through a reader pool that records each
// statement and its arguments, then asks the database how it would run
// each recorded statement. What is checked is what runs, so a list
// function that changes its SQL is checked again without touching this
// file.
//
// A case fails when any of its statements reads a big table in full
// (SQLite "SCAN t" without an index; PostgreSQL "Seq Scan on t" with
// sequential scans disabled, so the plan shows whether an index *can*
// serve the query at all — a tiny test table would otherwise always be
// scanned), and, on SQLite, when its page query does not use the index
// named for it: a filter that silently moves to another index (say, from
// a partial index to walking the whole table in time order) fails here.

// bigTables may never be read in full by a listed filter.
// r and v0..v3 are the aliases of inventory_rows and inventory_values in
// the inventory queries (SQLite plans name a table by its alias).
var bigTables = []string{"execution_results", "agents", "executions", "audit_log", "agent_facts", "inventory_history", "inventory_rows", "inventory_values",
	"check_status", "alerts", "alert_transitions", "notification_deliveries", "r", "v0", "v1", "v2", "v3"}

type planCase struct {
	name string
	// index the page (or only) statement must use on SQLite ("" = any).
	index string
	// mayScan explains why this case may read a table in full.
	mayScan string
	run     func(ctx context.Context, db *DB) error
}

func planCases(now time.Time) []planCase {
	page := Page{Limit: 50}
	inv := func(name, index string, f InventoryRowFilter) planCase {
		return planCase{name: "inventory " + name, index: index, run: func(ctx context.Context, db *DB) error {
			_, err := db.PageInventoryRows(ctx, f, page)
			return err
		}}
	}
	res := func(name, index string, f ResultFilter) planCase {
		return planCase{name: "results " + name, index: index, run: func(ctx context.Context, db *DB) error {
			_, _, err := db.ListResults(ctx, f, page)
			return err
		}}
	}
	agents := func(name, index string, f AgentFilter) planCase {
		f.Now = now
		return planCase{name: "agents " + name, index: index, run: func(ctx context.Context, db *DB) error {
			_, _, err := db.ListAgents(ctx, f, page)
			return err
		}}
	}
	execs := func(name, index string, f ExecFilter) planCase {
		return planCase{name: "executions " + name, index: index, run: func(ctx context.Context, db *DB) error {
			_, _, err := db.ListExecutions(ctx, f, page)
			return err
		}}
	}
	notif := func(name, index string, f NotificationFilter) planCase {
		return planCase{name: "notifications " + name, index: index, run: func(ctx context.Context, db *DB) error {
			_, err := db.PageNotifications(ctx, f, page)
			return err
		}}
	}
	audit := func(name, index string, f AuditFilter) planCase {
		return planCase{name: "audit " + name, index: index, run: func(ctx context.Context, db *DB) error {
			_, _, err := db.ListAudit(ctx, f, page)
			return err
		}}
	}
	facts := func(name, index string, f FactsFilter) planCase {
		return planCase{name: "facts " + name, index: index, run: func(ctx context.Context, db *DB) error {
			_, err := db.PageFacts(ctx, f, page)
			return err
		}}
	}
	hist := func(name, index string, f HistoryFilter) planCase {
		return planCase{name: "inventory history " + name, index: index, run: func(ctx context.Context, db *DB) error {
			_, err := db.PageHistory(ctx, f, page)
			return err
		}}
	}
	cstat := func(name, index string, f CheckStatusFilter) planCase {
		return planCase{name: "check status " + name, index: index, run: func(ctx context.Context, db *DB) error {
			_, err := db.PageCheckStatus(ctx, f, page)
			return err
		}}
	}
	alerts := func(name, index string, f AlertFilter) planCase {
		return planCase{name: "alerts " + name, index: index, run: func(ctx context.Context, db *DB) error {
			_, err := db.PageAlerts(ctx, f, page)
			return err
		}}
	}
	day := now.Add(-24 * time.Hour)
	cs := []planCase{
		// GET /api/results: exec_id, job_id, pc_id, status, since (SPEC §7).
		res("newest page", "results_recorded", ResultFilter{}),
		res("by exec_id", "results_exec", ResultFilter{ExecID: "exec-0001"}),
		res("by pc_id", "results_pc", ResultFilter{PCID: "pc-00001"}),
		res("by job_id", "results_job", ResultFilter{JobID: "job"}),
		res("since 24h", "results_recorded", ResultFilter{Since: day}),
		res("running", "results_inflight", ResultFilter{Status: "running"}),
		// Without results_success SQLite walked results_job_success (its
		// predicate matches) and sorted every success of the table.
		res("success", "results_success", ResultFilter{Status: "success"}),
		res("failure", "results_failures", ResultFilter{Status: "failure"}),
		res("skipped", "results_skipped", ResultFilter{Status: "skipped"}),
		res("failures since 24h", "results_failures", ResultFilter{Status: "failure", Since: day}),
		res("success since 24h", "results_success", ResultFilter{Status: "success", Since: day}),
		res("of one exec, failures", "", ResultFilter{ExecID: "exec-0001", Status: "failure"}),
		res("of one exec, success", "results_exec", ResultFilter{ExecID: "exec-0001", Status: "success"}),
		res("of one pc, running", "", ResultFilter{PCID: "pc-00001", Status: "running"}),
		res("of one job since 24h", "results_job", ResultFilter{JobID: "job", Since: day}),
		// id_prefix (the CLI's short ids): a range of the primary key.
		res("by id prefix", "sqlite_autoindex_execution_results_1", ResultFilter{IDPrefix: "r-0000012"}),
		execs("by id prefix", "sqlite_autoindex_executions_1", ExecFilter{IDPrefix: "exec-00"}),
		agents("by id prefix", "sqlite_autoindex_agents_1", AgentFilter{IDPrefix: "pc-0001"}),
		// GET /api/agents: status, q, group, sort (SPEC §7).
		agents("first page", "", AgentFilter{}),
		// The page walks pc_id order and filters (bounded by the fleet
		// size); the count is a range of agents_last_heartbeat.
		agents("online", "", AgentFilter{Status: "online"}),
		agents("offline", "", AgentFilter{Status: "offline"}),
		agents("by group", "agent_groups_group", AgentFilter{Group: "canary"}),
		// Group scopes (SPEC §16): the scope's subquery reads agent_groups_group.
		agents("scoped", "", AgentFilter{Scope: []string{"canary", "lab"}}),
		res("scoped newest page", "", ResultFilter{Scope: []string{"canary"}}),
		res("scoped by exec_id", "results_exec", ResultFilter{ExecID: "exec-0001", Scope: []string{"canary"}}),
		execs("scoped newest page", "", ExecFilter{Scope: []string{"canary"}}),
		agents("sorted by hostname", "agents_hostname", AgentFilter{Sort: "hostname"}),
		agents("sorted by last heartbeat", "agents_last_heartbeat", AgentFilter{Sort: "last_heartbeat", Desc: true}),
		// SQLite: the trigram index (search.go); PostgreSQL scans.
		{name: "agents search", index: "agents_search",
			mayScan: "PostgreSQL: a substring match (ILIKE '%q%') has no index without pg_trgm; bounded by the fleet size",
			run: func(ctx context.Context, db *DB) error {
				_, _, err := db.ListAgents(ctx, AgentFilter{Q: "host-0004", Now: now}, page)
				return err
			}},
		{name: "agents search, 2 characters", mayScan: "a trigram index needs 3 characters; bounded by the fleet size",
			run: func(ctx context.Context, db *DB) error {
				_, _, err := db.ListAgents(ctx, AgentFilter{Q: "-0", Now: now}, page)
				return err
			}},
		// Self-update filters (SPEC §13), each a walk of its index in
		// pc_id order.
		agents("by update_state", "agents_update_state", AgentFilter{UpdateState: "failed"}),
		agents("by version", "agents_version", AgentFilter{Version: "1.1.0"}),
		agents("by quarantined version", "agents_quarantined", AgentFilter{Quarantined: "1.2.0"}),
		agents("online by update_state", "agents_update_state", AgentFilter{UpdateState: "current", Status: "online"}),
		// GET /api/agents/versions: a GROUP BY walking agents_version (in
		// its order, so no sort) and a range of agents_quarantined. No
		// page statement: the full-scan check is what guards it.
		{name: "agent versions", run: func(ctx context.Context, db *DB) error {
			_, err := db.AgentVersions(ctx, now)
			return err
		}},
		{name: "agents sorted by os_family", mayScan: "a display sort of the whole fleet (bounded by the fleet size); an index per sortable column would tax every heartbeat",
			run: func(ctx context.Context, db *DB) error {
				_, _, err := db.ListAgents(ctx, AgentFilter{Sort: "os_family", Now: now}, page)
				return err
			}},
		// The version filter's index serves this sort too.
		agents("sorted by agent_version", "agents_version", AgentFilter{Sort: "agent_version"}),
		// GET /api/executions: job_id, status (SPEC §7).
		execs("newest page", "executions_initiated", ExecFilter{}),
		execs("by job_id", "executions_job", ExecFilter{JobID: "job"}),
		execs("by status", "executions_status", ExecFilter{Status: "running"}),
		// GET /api/notifications: channel, status.
		notif("newest page", "notification_deliveries_at", NotificationFilter{}),
		notif("by channel", "notification_deliveries_channel", NotificationFilter{Channel: "ch-3"}),
		notif("by status", "notification_deliveries_status", NotificationFilter{Status: "failed"}),
		// GET /api/audit: actor, action, since.
		audit("newest page", "audit_occurred", AuditFilter{}),
		audit("by actor", "audit_actor", AuditFilter{Actor: "alice"}),
		audit("by action", "audit_action", AuditFilter{Action: "exec"}),
		audit("since 24h", "audit_occurred", AuditFilter{Since: day}),
		// GET /api/inventory/facts: pc_id, q, group (SPEC §14).
		facts("first page", "", FactsFilter{}),
		facts("by pc_id", "", FactsFilter{PCID: "pc-00004"}),
		facts("by group", "agent_groups_group", FactsFilter{Group: "canary"}),
		{name: "facts search", mayScan: "a substring of pc_id or hostname has no index; one row per PC, bounded by the fleet size",
			run: func(ctx context.Context, db *DB) error {
				_, err := db.PageFacts(ctx, FactsFilter{Q: "host-0004"}, page)
				return err
			}},
		// GET /api/inventory/history: pc_id, table, since, newest first.
		hist("newest page", "inventory_history_at", HistoryFilter{}),
		hist("by pc_id", "inventory_history_pc", HistoryFilter{PCID: "pc-00004"}),
		hist("by table", "inventory_history_table", HistoryFilter{Table: "facts"}),
		hist("since 24h", "inventory_history_at", HistoryFilter{Since: day}),
		hist("by pc_id since 24h", "inventory_history_pc", HistoryFilter{PCID: "pc-00004", Since: day}),
		// GET /api/health/fleet: index-only counts.
		{name: "fleet health", run: func(ctx context.Context, db *DB) error {
			_, err := db.Fleet(ctx, now)
			return err
		}},
		// GET /api/inventory/tables/{table} (SPEC §14).
		inv("all rows", "", InventoryRowFilter{Table: "software"}),
		inv("one PC", "", InventoryRowFilter{Table: "software", PCID: "pc-1"}),
		inv("where eq", "inventory_values_sort", InventoryRowFilter{Table: "software", Where: []InventoryCond{{"name", "eq", "Chrome"}}}),
		inv("where lt version", "inventory_values_sort", InventoryRowFilter{Table: "software", Where: []InventoryCond{{"version", "lt", "120.0.1"}}}),
		inv("where eq and lt", "inventory_values_sort", InventoryRowFilter{Table: "software", Where: []InventoryCond{
			{"version", "lt", "120.0.1"}, {"name", "eq", "Chrome"}}}),
		inv("where eq, group", "inventory_values_sort", InventoryRowFilter{Table: "software", Group: "g1", Where: []InventoryCond{{"name", "eq", "Chrome"}}}),
		{name: "inventory where eq, next page", index: "inventory_values_sort", run: func(ctx context.Context, db *DB) error {
			_, err := db.PageInventoryRows(ctx, InventoryRowFilter{Table: "software", Where: []InventoryCond{{"name", "eq", "Chrome"}}},
				Page{Limit: 50, After: []string{SortKey("Chrome"), "pc-1", "Chrome"}})
			return err
		}},
		// Substring searches read inventory_terms (the distinct values)
		// first, then only the matching values' rows.
		inv("q", "", InventoryRowFilter{Table: "software", Q: "chr"}),
		inv("q, one PC", "", InventoryRowFilter{Table: "software", Q: "chr", PCID: "pc-1"}),
		inv("where contains", "inventory_values_sort", InventoryRowFilter{Table: "software", Where: []InventoryCond{{"name", "contains", "hro"}}}),
		inv("where contains and lt", "inventory_values_sort", InventoryRowFilter{Table: "software", Where: []InventoryCond{
			{"name", "contains", "hro"}, {"version", "lt", "120.0.1"}}}),
		{name: "inventory tables", run: func(ctx context.Context, db *DB) error {
			_, err := db.InventoryTables(ctx)
			return err
		}},
		// GET /api/checks, /api/check-status, /api/alerts (SPEC §15).
		{name: "checks", run: func(ctx context.Context, db *DB) error {
			_, err := db.PageChecks(ctx, page)
			return err
		}},
		cstat("first page", "", CheckStatusFilter{}),
		cstat("by check_id", "", CheckStatusFilter{CheckID: "disk"}),
		cstat("by check_id and state", "check_status_state", CheckStatusFilter{CheckID: "disk", State: "failing"}),
		cstat("by pc_id", "check_status_pc", CheckStatusFilter{PCID: "pc-00001"}),
		cstat("by state", "check_status_state", CheckStatusFilter{State: "failing"}),
		cstat("by pc_id and state", "check_status_pc", CheckStatusFilter{PCID: "pc-00001", State: "failing"}),
		alerts("newest page", "alerts_opened", AlertFilter{}),
		alerts("open", "alerts_open_opened", AlertFilter{State: "open"}),
		alerts("resolved", "alerts_resolved_opened", AlertFilter{State: "resolved"}),
		alerts("by check_id", "alerts_check", AlertFilter{CheckID: "disk"}),
		alerts("by pc_id", "alerts_pc", AlertFilter{PCID: "pc-00001"}),
		alerts("open by check_id", "alerts_check", AlertFilter{CheckID: "disk", State: "open"}),
		alerts("open by pc_id", "alerts_pc", AlertFilter{PCID: "pc-00001", State: "open"}),
		// GET /api/checks/{id}/trend: the check's alerts of the window.
		{name: "check trend", index: "alerts_check", run: func(ctx context.Context, db *DB) error {
			_, _, err := db.CheckTrend(ctx, "disk", 30, now)
			return err
		}},
		{name: "alert transitions since", index: "alert_transitions_at", run: func(ctx context.Context, db *DB) error {
			_, err := db.AlertTransitionsSince(ctx, TS(day), "k", 100)
			return err
		}},
		// GET /api/stats/executions and /api/stats/agents-online (dashboard charts).
		{name: "execution stats", run: func(ctx context.Context, db *DB) error {
			_, err := db.ExecutionStats(ctx, 30, now)
			return err
		}},
		{name: "agents online history", run: func(ctx context.Context, db *DB) error {
			_, err := db.AgentsOnlineHistory(ctx, 24, now)
			return err
		}},
		// The offline-alert detector, every few seconds on the leader.
		{name: "silent agents without an alert", index: "agents_last_heartbeat", run: func(ctx context.Context, db *DB) error {
			_, err := db.SilentWithoutAlert(ctx, now.Add(-10*time.Minute), 500)
			return err
		}},
		{name: "offline alerts back online", run: func(ctx context.Context, db *DB) error {
			_, err := db.BackOnline(ctx, now.Add(-10*time.Minute))
			return err
		}},
		// GET /api/executions/{id}/summary: the grouping reads one
		// execution's rows; each group's first PCs come in index order.
		{name: "execution summary", index: "results_exec_groups", run: func(ctx context.Context, db *DB) error {
			_, _, err := db.ExecSummary(ctx, SummaryFilter{ExecID: "exec-0001", Limit: 100})
			return err
		}},
		{name: "execution summary scoped", index: "results_exec_groups", run: func(ctx context.Context, db *DB) error {
			_, _, err := db.ExecSummary(ctx, SummaryFilter{ExecID: "exec-0001", Scope: []string{"canary"}, Limit: 100})
			return err
		}},
		// The scheduler's per_pc count_manual question, every minute.
		{name: "job successes", index: "results_job_success", run: func(ctx context.Context, db *DB) error {
			_, err := db.JobSuccesses(ctx, "job")
			return err
		}},
	}
	return cs
}

func TestHotQueryPlans(t *testing.T) {
	for _, kind := range testdb.Kinds() {
		t.Run(kind, func(t *testing.T) {
			dsn := ""
			if kind == "postgres" {
				dsn = testdb.NewPostgres(t)
			}
			ctx := context.Background()
			db := openSeededForPlans(t, dsn)
			db.alwaysCount = true // the seeded pages are short: explain their counts too
			rec := traceReads(t, db, dsn)
			explain := explainSQLite
			if db.d == postgres {
				explain = explainPostgres
			}
			for _, c := range planCases(time.Now()) {
				rec.reset()
				if err := c.run(ctx, db); err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				stmts := rec.take()
				if len(stmts) == 0 {
					t.Fatalf("%s: no statement recorded", c.name)
				}
				var pagePlan string
				for i, s := range stmts {
					plan := explain(t, db, s.query, s.args)
					t.Logf("%s [%d]: %s\n%s", c.name, i, oneLine(s.query), plan)
					if table := fullScan(plan); table != "" {
						if c.mayScan != "" {
							t.Logf("  allowed: %s", c.mayScan)
						} else {
							t.Errorf("%s: reads all of %s:\n%s\n%s", c.name, table, s.query, plan)
						}
					}
					// The page is the statement with a LIMIT that is not
					// a capped count or a term lookup (a lone statement
					// otherwise).
					if pagePlan == "" && (len(stmts) == 1 || strings.Contains(s.query, "LIMIT") && !strings.HasPrefix(s.query, "SELECT COUNT") &&
						!strings.Contains(s.query, "FROM inventory_terms")) {
						pagePlan = plan
					}
				}
				if db.d == sqlite && c.index != "" && !regexp.MustCompile(`INDEX `+c.index+`\b|`+c.index+` VIRTUAL TABLE INDEX`).MatchString(pagePlan) {
					t.Errorf("%s: the page does not use index %s:\n%s", c.name, c.index, pagePlan)
				}
			}
		})
	}
}

// fullScan returns the big table a plan reads in full, or "".
func fullScan(plan string) string {
	for _, line := range strings.Split(plan, "\n") {
		for _, table := range bigTables {
			// SQLite: "SCAN t" is a table scan; "SCAN t USING [COVERING]
			// INDEX i" walks an index in order (bounded by LIMIT or a
			// partial index) and is fine.
			if strings.Contains(line, "SCAN "+table) && !strings.Contains(line, "USING") {
				rest := strings.TrimPrefix(line[strings.Index(line, "SCAN "+table)+len("SCAN "+table):], " ")
				if rest == "" || strings.HasPrefix(rest, "AS ") || !isIdentChar(rest[0]) {
					return table
				}
			}
			if strings.Contains(line, "Seq Scan on "+table+" ") || strings.HasSuffix(line, "Seq Scan on "+table) {
				return table
			}
		}
	}
	return ""
}

func isIdentChar(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func oneLine(q string) string { return strings.Join(strings.Fields(q), " ") }

func explainSQLite(t *testing.T, db *DB, query string, args []any) string {
	t.Helper()
	rows, err := db.write.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, "  "+detail)
	}
	return strings.Join(lines, "\n")
}

// explainPostgres explains with sequential scans disabled: the planner
// then scans a table only when no index can answer the query.
func explainPostgres(t *testing.T, db *DB, query string, args []any) string {
	t.Helper()
	ctx := context.Background()
	conn, err := db.write.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, "RESET enable_seqscan") //nolint:errcheck // the connection goes back to the pool
	rows, err := conn.QueryContext(ctx, "EXPLAIN "+query, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, "  "+line)
	}
	return strings.Join(lines, "\n")
}

// A recorder of the statements a pool prepares, with their arguments.
type recorded struct {
	query string
	args  []any
}

type recorder struct {
	mu    sync.Mutex
	stmts []recorded
}

func (r *recorder) reset() { r.mu.Lock(); r.stmts = nil; r.mu.Unlock() }

func (r *recorder) add(q string, args []driver.NamedValue) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := make([]any, len(args))
	for i, v := range args {
		a[i] = v.Value
	}
	r.stmts = append(r.stmts, recorded{q, a})
}

func (r *recorder) take() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.stmts)
}

// traceReads replaces db's reader pool with one that records every
// statement it runs. The driver's connections only prepare (no
// QueryerContext), so database/sql routes every query through Prepare.
func traceReads(t *testing.T, db *DB, dsn string) *recorder {
	t.Helper()
	name, src := "pgx", dsn
	if db.d == sqlite {
		name, src = "sqlite", "file:"+db.path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)"
	}
	probe, err := sql.Open(name, src)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	pool := sql.OpenDB(traceConnector{drv: probe.Driver(), dsn: src, rec: rec})
	probe.Close()
	if db.read != db.write {
		db.read.Close()
	}
	db.read = pool
	t.Cleanup(func() { pool.Close() })
	return rec
}

type traceConnector struct {
	drv driver.Driver
	dsn string
	rec *recorder
}

func (c traceConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return traceConn{Conn: conn, rec: c.rec}, nil
}

func (c traceConnector) Driver() driver.Driver { return c.drv }

type traceConn struct {
	driver.Conn
	rec *recorder
}

func (c traceConn) Prepare(q string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), q)
}

func (c traceConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if pc, ok := c.Conn.(driver.ConnPrepareContext); ok {
		st, err = pc.PrepareContext(ctx, q)
	} else {
		st, err = c.Conn.Prepare(q)
	}
	if err != nil {
		return nil, err
	}
	return traceStmt{Stmt: st, q: q, rec: c.rec}, nil
}

// CheckNamedValue lets the driver convert its own argument types.
func (c traceConn) CheckNamedValue(v *driver.NamedValue) error {
	if nc, ok := c.Conn.(driver.NamedValueChecker); ok {
		return nc.CheckNamedValue(v)
	}
	return driver.ErrSkip
}

type traceStmt struct {
	driver.Stmt
	q   string
	rec *recorder
}

func (s traceStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.rec.add(s.q, args)
	if sq, ok := s.Stmt.(driver.StmtQueryContext); ok {
		return sq.QueryContext(ctx, args)
	}
	return nil, fmt.Errorf("driver statement without QueryContext")
}

func (s traceStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.rec.add(s.q, args)
	if se, ok := s.Stmt.(driver.StmtExecContext); ok {
		return se.ExecContext(ctx, args)
	}
	return nil, fmt.Errorf("driver statement without ExecContext")
}

// planTemplate is a SQLite file seeded once per test binary: the seed
// takes ~20 s under -race, and two tests read the same data.
var planTemplate struct {
	once   sync.Once
	dir    string
	seeded bool // false after a seed that stopped half-way (t.Fatal)
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if planTemplate.dir != "" {
		_ = os.RemoveAll(planTemplate.dir)
	}
	os.Exit(code)
}

// openSeededForPlans opens a database holding seedForPlans' rows: a copy of
// the seeded template on SQLite, a freshly seeded one on PostgreSQL.
func openSeededForPlans(t *testing.T, dsn string) *DB {
	t.Helper()
	ctx := context.Background()
	if dsn != "" {
		db, err := Open(ctx, dsn, t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		seedForPlans(t, db)
		return db
	}
	planTemplate.once.Do(func() {
		dir, err := os.MkdirTemp("", "kanade-plan-seed-")
		if err != nil {
			planTemplate.err = err
			return
		}
		planTemplate.dir = dir
		db, err := Open(ctx, "", dir, nil)
		if err != nil {
			planTemplate.err = err
			return
		}
		seedForPlans(t, db)
		// Fold the WAL into the file so one file is the whole database.
		if _, err := db.write.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			planTemplate.err = err
		}
		if err := db.Close(); err != nil && planTemplate.err == nil {
			planTemplate.err = err
		}
		planTemplate.seeded = true
	})
	if planTemplate.err != nil {
		t.Fatalf("seeding the plan template: %v", planTemplate.err)
	}
	if !planTemplate.seeded {
		t.Fatal("the plan template failed to seed in an earlier test")
	}
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(planTemplate.dir, "backend.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "backend.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, "", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// seedForPlans writes a little data so the tables are not empty. No
// ANALYZE: the backend never runs it on SQLite, so the planner's defaults
// are what production gets.
func seedForPlans(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// One prepared statement per shape: re-parsing each of ~70 000
	// inserts cost about a third of this seed's time under -race.
	stmts := map[string]*sql.Stmt{}
	exec := func(q string, args ...any) {
		t.Helper()
		st, ok := stmts[q]
		if !ok {
			var err error
			if st, err = tx.PrepareContext(ctx, db.q(q)); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			stmts[q] = st
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	now := time.Now().UTC()
	for i := range 2000 {
		last := now
		if i%10 == 0 {
			last = now.Add(-time.Hour)
		}
		state, quar := []string{"current", "current", "current", "downloading", "failed"}[i%5], ""
		if i%50 == 0 {
			state, quar = "quarantined", "1.2.0"
		}
		exec(`INSERT INTO agents (pc_id, hostname, last_heartbeat, first_seen, agent_version, update_state, quarantined_version)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			fmt.Sprintf("pc-%05d", i), fmt.Sprintf("HOST-%05d", i), TS(last), TS(now), fmt.Sprintf("1.%d.0", i%3), state, quar)
		if i%5 == 0 {
			exec(`INSERT INTO agent_groups (pc_id, group_name) VALUES (?, 'canary')`, fmt.Sprintf("pc-%05d", i))
		}
	}
	for i := range 100 {
		exec(`INSERT INTO executions (exec_id, job_id, initiated_at, status) VALUES (?, 'job', ?, 'running')`,
			fmt.Sprintf("exec-%04d", i), TS(now.Add(time.Duration(i)*time.Second)))
	}
	for i := range 20000 {
		code, skipped := 0, 0
		switch {
		case i%20 == 0:
			code = 1
		case i%97 == 0:
			code, skipped = 126, 1
		}
		exec(`INSERT INTO execution_results (result_id, request_id, exec_id, pc_id, job_id, version,
			exit_code, skipped, started_at, finished_at, recorded_at) VALUES (?, ?, ?, ?, 'job', '1', ?, ?, ?, ?, ?)`,
			fmt.Sprintf("r-%08d", i), fmt.Sprintf("req-%04d", i%100), fmt.Sprintf("exec-%04d", i%100), fmt.Sprintf("pc-%05d", i/100),
			code, skipped, TS(now), TS(now), TS(now.Add(time.Duration(i)*time.Millisecond)))
	}
	for i := range 100 {
		exec(`INSERT INTO execution_results (result_id, exec_id, pc_id, job_id, started_at, recorded_at, expires_at)
			VALUES (?, 'exec-0001', ?, 'job', ?, ?, ?)`, fmt.Sprintf("f-%08d", i), fmt.Sprintf("pc-%05d", i), TS(now), TS(now), TS(now.Add(time.Hour)))
	}
	for i := range 5000 {
		exec(`INSERT INTO audit_log (stream_seq, actor, action, occurred_at) VALUES (?, ?, ?, ?)`,
			i+1, fmt.Sprintf("user-%d", i%10), fmt.Sprintf("action-%d", i%30), TS(now.Add(time.Duration(i)*time.Second)))
	}
	for i := range 3000 {
		status := "delivered"
		if i%7 == 0 {
			status = "failed"
		}
		exec(`INSERT INTO notification_deliveries (stream_seq, delivery_id, channel_id, attempt, status, at) VALUES (?, ?, ?, 1, ?, ?)`,
			i+1, fmt.Sprintf("n-%05d", i), fmt.Sprintf("ch-%d", i%10), status, TS(now.Add(time.Duration(i)*time.Second)))
	}
	for i := range 2000 {
		exec(`INSERT INTO agent_facts (pc_id, stream_seq, collected_at, hostname) VALUES (?, ?, ?, ?)`,
			fmt.Sprintf("pc-%05d", i), i+1, TS(now), fmt.Sprintf("HOST-%05d", i))
	}
	for i := range 5000 {
		table := "facts"
		if i%3 == 0 {
			table = "software"
		}
		exec(`INSERT INTO inventory_history (stream, stream_seq, table_name, item_key, field, pc_id, change, at)
			VALUES ('INVENTORY', ?, ?, '', 'os_version', ?, 'changed', ?)`,
			i+1, table, fmt.Sprintf("pc-%05d", i%2000), TS(now.Add(-time.Duration(i)*time.Minute)))
	}
	// Checks: 5 checks × 2000 PCs, one in 10 failing, with an alert each
	// (half of them resolved) and their transitions.
	for c := range 5 {
		check := fmt.Sprintf("check-%d", c)
		if c == 0 {
			check = "disk"
		}
		exec(`INSERT INTO checks (check_id, severity, flap_threshold) VALUES (?, 'warning', 1)`, check)
		for i := range 2000 {
			pc, state := fmt.Sprintf("pc-%05d", i), []string{"passing", "passing", "passing", "unknown", "passing"}[i%5]
			if i%10 == 0 {
				state = "failing"
				id := fmt.Sprintf("chk-%s-%d", check, i)
				var resolved any
				if i%20 == 0 {
					resolved = TS(now)
				}
				exec(`INSERT INTO alerts (id, kind, check_id, pc_id, severity, opened_at, resolved_at) VALUES (?, 'check', ?, ?, 'warning', ?, ?)`,
					id, check, pc, TS(now.Add(-time.Duration(i)*time.Second)), resolved)
				exec(`INSERT INTO alert_transitions (key, alert_id, transition, kind, check_id, pc_id, severity, at)
					VALUES (?, ?, 'opened', 'check', ?, ?, 'warning', ?)`, id+":opened", id, check, pc, TS(now.Add(-time.Duration(i)*time.Second)))
			}
			exec(`INSERT INTO check_status (check_id, pc_id, state, since, last_result_id, last_at, consecutive) VALUES (?, ?, ?, ?, ?, ?, 0)`,
				check, pc, state, TS(now), "r", TS(now))
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// Inventory rows through the projection's own path (it keeps
	// inventory_values and inventory_terms with them).
	var batch []InventoryResult
	for p := range 200 {
		r := InventoryResult{Table: "software", Columns: []string{"name", "version", "publisher"}, PCID: fmt.Sprintf("pc-%d", p),
			ResultID: fmt.Sprintf("inv-%d", p), Seq: uint64(p + 1), FinishedAt: now}
		for j := range 20 {
			name, ver := fmt.Sprintf("app-%03d", (p+j)%300), fmt.Sprintf("%d.%d", j, p%7)
			if j == 0 {
				name, ver = "Chrome", fmt.Sprintf("12%d.0.%d", p%3, p)
			}
			r.Rows = append(r.Rows, invtable.Row{Key: name, Values: []string{name, ver, "Vendor"},
				JSON: fmt.Sprintf(`{"name":%q,"version":%q,"publisher":"Vendor"}`, name, ver)})
		}
		batch = append(batch, r)
	}
	if err := db.ApplyInventory(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
}
