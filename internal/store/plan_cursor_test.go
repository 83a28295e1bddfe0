package store

import (
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/cursor"
)

// TestCursorQueryPlans: a cursor page deep in the table must be a range
// on an index (the keyset WHERE), never a full scan, and the bounded
// counts of the large tables must stop at CountCap+1 rows (their plan
// walks an index or the table under a LIMIT; checked for the absence of
// a sort of the whole table).
func TestCursorQueryPlans(t *testing.T) {
	db := openSeededForPlans(t, "")
	now := time.Now().UTC()
	deep := Page{Limit: 50, After: cursor.Key{TS(now), "r-00000500"}}
	type q struct {
		name, sql string
		args      []any
	}
	var qs []q
	for name, f := range map[string]ResultFilter{
		"results": {}, "results by exec_id": {ExecID: "exec-0001"}, "results by pc_id": {PCID: "pc-00001"},
		"results by job_id": {JobID: "job"}, "results failures since 24h": {Status: "failure", Since: now.Add(-24 * time.Hour)},
	} {
		l, la, err := resultPageSQL(f, deep)
		if err != nil {
			t.Fatal(err)
		}
		qs = append(qs, q{name + " (cursor page)", l, la})
	}
	for name, f := range map[string]ExecFilter{"executions": {}, "executions by job_id": {JobID: "job"}, "executions by status": {Status: "running"}} {
		_, l, la, err := execPageSQL(f, Page{Limit: 50, After: cursor.Key{TS(now), "exec-0001"}})
		if err != nil {
			t.Fatal(err)
		}
		qs = append(qs, q{name + " (cursor page)", l, la})
	}
	for name, f := range map[string]AuditFilter{"audit": {}, "audit by actor": {Actor: "alice"}, "audit by action": {Action: "exec"}} {
		_, l, la, err := auditPageSQL(f, Page{Limit: 50, After: cursor.Key{TS(now), "42"}})
		if err != nil {
			t.Fatal(err)
		}
		qs = append(qs, q{name + " (cursor page)", l, la})
	}
	for name, f := range map[string]AgentFilter{"agents": {}, "agents by last heartbeat": {Sort: "last_heartbeat", Desc: true},
		"agents by hostname": {Sort: "hostname"}} {
		f.Now = now
		key := cursor.Key{"pc-00100"}
		if f.Sort != "" {
			key = cursor.Key{"x", "pc-00100"}
		}
		_, _, l, la, _ := agentQueries(f, Page{Limit: 50, After: key}, db.agentSearchCond)
		qs = append(qs, q{name + " (cursor page)", l, la})
	}
	for _, c := range qs {
		plan := explainSQLite(t, db, c.sql, c.args)
		t.Logf("%s:\n%s", c.name, plan)
		for _, line := range strings.Split(plan, "\n") {
			for _, table := range []string{"execution_results", "executions", "audit_log", "agents"} {
				if (strings.Contains(line, "SCAN "+table+" ") || strings.HasSuffix(line, "SCAN "+table)) && !strings.Contains(line, "USING") {
					t.Errorf("%s: full scan of %s:\n%s\n%s", c.name, table, c.sql, plan)
				}
			}
			// A sort of every matching row (not just the ties of the
			// index's order) would make a deep page cost the table.
			if strings.Contains(line, "USE TEMP B-TREE FOR ORDER BY") {
				t.Errorf("%s: sorts all matching rows:\n%s\n%s", c.name, c.sql, plan)
			}
		}
	}
}
