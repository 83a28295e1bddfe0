package store_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/invtable"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

func TestSortKeyIsVersionOrder(t *testing.T) {
	vals := []string{"", "1", "1.9", "1.10", "1.10.0", "01.9", "120.0.1", "120.0.10", "120.0.9", "9", "10", "a", "ab",
		"a1", "a.1", "a-1", "1a", "1.0-beta", "1.0", "1.0.0", "Chrome", "chrome", "v2", "v10", "2024-01-05", "2024-1-5",
		"0", "00", "0.0", "x 1", "x!", "1.2.3.4.5.6", "99999999999999999999", "100000000000000000000"}
	r := rand.New(rand.NewPCG(1, 2))
	alpha := "0123456789.-a_ Bz!"
	for range 3000 {
		n := r.IntN(8)
		var b strings.Builder
		for range n {
			b.WriteByte(alpha[r.IntN(len(alpha))])
		}
		vals = append(vals, b.String())
	}
	sign := func(n int) int { return min(max(n, -1), 1) }
	for i, a := range vals {
		for _, b := range vals[max(0, i-40) : i+1] {
			want := sign(store.CompareVersions(a, b))
			if got := sign(strings.Compare(store.SortKey(a), store.SortKey(b))); got != want {
				t.Fatalf("%q vs %q: sort keys compare %d, CompareVersions %d", a, b, got, want)
			}
		}
	}
	if !(store.SortKey("1.10") > store.SortKey("1.9")) || !(store.SortKey("120.0.1") < store.SortKey("120.0.10")) {
		t.Fatal("version order")
	}
}

var swSpec = invtable.Spec{Table: "software", Key: []string{"name"}, Columns: []string{"name", "version", "publisher"}}

func invResult(t *testing.T, pc, result string, seq uint64, at time.Time, out string) store.InventoryResult {
	t.Helper()
	r := store.InventoryResult{Table: "software", Columns: swSpec.Columns, PCID: pc, ResultID: result, Seq: seq, FinishedAt: at}
	rows, err := invtable.Parse(out, swSpec)
	if err != nil {
		r.Err = err.Error()
	}
	r.Rows = rows
	return r
}

func invRows(t *testing.T, db *store.DB, f store.InventoryRowFilter) []string {
	t.Helper()
	var out []string
	var p store.Page
	p.Limit = 2
	for {
		l := mustT[store.Listing[apiv1.InventoryRow]](t)(db.PageInventoryRows(ctx, f, p))
		for _, r := range l.Rows {
			out = append(out, r.PCID+"/"+r.Key+"="+r.Row["version"])
		}
		if l.Next == nil {
			return out
		}
		p.After = l.Next
	}
}

func rowHistory(t *testing.T, db *store.DB) []string {
	t.Helper()
	rows := store.TestQuery(t, db, `SELECT stream_seq, pc_id, item_key, change, COALESCE(old_value, ''), COALESCE(new_value, '')
		FROM inventory_history WHERE table_name = 'software' ORDER BY stream_seq, item_key`)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var seq int
		var pc, key, change, o, n string
		ok(t, rows.Scan(&seq, &pc, &key, &change, &o, &n))
		out = append(out, fmt.Sprintf("%d %s %s %s %s -> %s", seq, pc, key, change, o, n))
	}
	return out
}

func TestInventoryApplyAndQuery(t *testing.T) {
	eachDB(t, false, func(t *testing.T, db *store.DB) {
		execution(t, db, "x1", 2, apiv1.ExecRunning)
		_, err := db.ApplyResults(ctx, []store.Result{res("r1", "x1", "pc-a", 0, t0), res("r2", "x1", "pc-b", 0, t0), res("r3", "x1", "pc-a", 0, t0)})
		ok(t, err)
		a1 := invResult(t, "pc-a", "r1", 10, t0, `[{"name":"Chrome","version":"120.0.10","publisher":"Google"},{"name":"7zip","version":"23.01"}]`)
		b1 := invResult(t, "pc-b", "r2", 11, t0, `[{"name":"Chrome","version":"120.0.9","publisher":"Google"},{"name":"Git","version":"2.9"}]`)
		ok(t, db.ApplyInventory(ctx, []store.InventoryResult{a1, b1}))
		ok(t, db.ApplyInventory(ctx, []store.InventoryResult{a1})) // redelivery
		all := invRows(t, db, store.InventoryRowFilter{Table: "software"})
		want := []string{"pc-a/7zip=23.01", "pc-a/Chrome=120.0.10", "pc-b/Chrome=120.0.9", "pc-b/Git=2.9"}
		if !slices.Equal(all, want) {
			t.Fatalf("rows = %v", all)
		}
		// Second run on pc-a: 7zip removed, Chrome changed, Git added; an
		// older result arriving later changes nothing.
		a2 := invResult(t, "pc-a", "r3", 20, t0.Add(time.Hour), `[{"name":"Chrome","version":"121.0.1","publisher":"Google"},{"name":"Git","version":"2.10"}]`)
		old := invResult(t, "pc-a", "r0", 30, t0.Add(-time.Hour), `[]`)
		ok(t, db.ApplyInventory(ctx, []store.InventoryResult{a2, old}))
		bad := invResult(t, "pc-b", "r2", 40, t0.Add(2*time.Hour), `[{"version":"1"}]`)
		ok(t, db.ApplyInventory(ctx, []store.InventoryResult{bad}))
		if e := result(t, db, "r2").InventoryError; !strings.Contains(e, "key column name") {
			t.Errorf("inventory_error = %q", e)
		}
		if e := result(t, db, "r1").InventoryError; e != "" {
			t.Errorf("inventory_error r1 = %q", e)
		}
		h := rowHistory(t, db)
		wantH := []string{
			`10 pc-a 7zip added  -> {"name":"7zip","version":"23.01","publisher":""}`,
			`10 pc-a Chrome added  -> {"name":"Chrome","version":"120.0.10","publisher":"Google"}`,
			`11 pc-b Chrome added  -> {"name":"Chrome","version":"120.0.9","publisher":"Google"}`,
			`11 pc-b Git added  -> {"name":"Git","version":"2.9","publisher":""}`,
			`20 pc-a 7zip removed {"name":"7zip","version":"23.01","publisher":""} -> `,
			`20 pc-a Chrome changed {"name":"Chrome","version":"120.0.10","publisher":"Google"} -> {"name":"Chrome","version":"121.0.1","publisher":"Google"}`,
			`20 pc-a Git added  -> {"name":"Git","version":"2.10","publisher":""}`,
		}
		if !slices.Equal(h, wantH) {
			t.Fatalf("history =\n%s", strings.Join(h, "\n"))
		}
		q := func(f store.InventoryRowFilter, want ...string) {
			t.Helper()
			f.Table = "software"
			if got := invRows(t, db, f); !slices.Equal(got, want) {
				t.Errorf("%+v: rows = %v, want %v", f, got, want)
			}
		}
		w := func(s ...string) []store.InventoryCond {
			var out []store.InventoryCond
			for _, c := range s {
				out = append(out, mustT[store.InventoryCond](t)(store.ParseInventoryCond(c)))
			}
			return out
		}
		q(store.InventoryRowFilter{Where: w("version:lt:120.0.10")}, "pc-b/Git=2.9", "pc-a/Git=2.10", "pc-b/Chrome=120.0.9")
		q(store.InventoryRowFilter{Where: w("name:eq:Chrome", "version:lt:121")}, "pc-b/Chrome=120.0.9")
		q(store.InventoryRowFilter{Where: w("version:gt:2.9", "name:eq:Git")}, "pc-a/Git=2.10")
		q(store.InventoryRowFilter{Where: w("version:ge:2.9", "version:le:2.10")}, "pc-b/Git=2.9", "pc-a/Git=2.10")
		q(store.InventoryRowFilter{Where: w("name:ne:Chrome")}, "pc-a/Git=2.10", "pc-b/Git=2.9")
		q(store.InventoryRowFilter{Where: w("publisher:contains:OOG")}, "pc-a/Chrome=121.0.1", "pc-b/Chrome=120.0.9")
		q(store.InventoryRowFilter{Q: "git"}, "pc-a/Git=2.10", "pc-b/Git=2.9")
		q(store.InventoryRowFilter{Q: "100%"})
		q(store.InventoryRowFilter{PCID: "pc-b", Where: w("name:contains:i")}, "pc-b/Git=2.9")
		q(store.InventoryRowFilter{Group: "nobody"})
		if _, err := store.ParseInventoryCond("version:like:1"); err == nil {
			t.Error("bad op accepted")
		}
		tables := mustT[[]apiv1.InventoryTable](t)(db.InventoryTables(ctx))
		if len(tables) != 1 || tables[0].PCs != 2 || tables[0].Rows != 4 || !slices.Equal(tables[0].Columns, swSpec.Columns) {
			t.Errorf("tables = %+v", tables)
		}
		if l := mustT[store.Listing[apiv1.InventoryRow]](t)(db.PageInventoryRows(ctx, store.InventoryRowFilter{Table: "software"}, store.Page{Limit: 1})); l.Total != 4 {
			t.Errorf("total = %d", l.Total)
		}
	})
}

// TestInventorySearchModes: a substring search answers the same rows,
// order and totals whether it reads inventory_terms or walks the rows
// (the store picks one by density), with paging, PC, group and further
// conditions — on random data with LIKE metacharacters, mixed case and
// values shared by rows of several PCs. A second run that changes rows
// leaves stale terms behind, which must not change any answer.
func TestInventorySearchModes(t *testing.T) {
	eachDB(t, false, func(t *testing.T, db *store.DB) {
		r := rand.New(rand.NewPCG(3, 4))
		// v01/v1 and 007/7 share sort keys (leading zeros): a search for
		// "01" must not return the v1 rows.
		words := []string{"Chrome", "chrome", "Git", "git-lfs", "100%", "a_b", `x\y`, "Ünïcode", "7zip", "App One", "app-two", "v01", "v1", "007", "7"}
		gen := func(seq uint64) []store.InventoryResult {
			var out []store.InventoryResult
			for p := range 12 {
				var rows []string
				for j := range r.IntN(9) {
					name := fmt.Sprintf("%s %d", words[r.IntN(len(words))], j)
					ver := fmt.Sprintf("%d.%d", r.IntN(3), r.IntN(12))
					rows = append(rows, fmt.Sprintf(`{"name":%q,"version":%q,"publisher":%q}`, name, ver, words[r.IntN(len(words))]))
				}
				pc := fmt.Sprintf("pc-%02d", p)
				out = append(out, invResult(t, pc, fmt.Sprintf("r-%d-%d", seq, p), seq*100+uint64(p), t0.Add(time.Duration(seq)*time.Hour),
					"["+strings.Join(rows, ",")+"]"))
			}
			return out
		}
		ok(t, db.ReplaceAgentGroups(ctx, "pc-03", []string{"g"}))
		ok(t, db.ReplaceAgentGroups(ctx, "pc-07", []string{"g"}))
		texts := []string{"chr", "CHR", "git", "%", "_", `\`, "ünï", "app", "1", "0.1", "zzz", "e 1", "p-t", "01", "v0", "00", "07"}
		cases, found := 0, 0
		for round := uint64(1); round <= 2; round++ {
			ok(t, db.ApplyInventory(ctx, gen(round)))
			for _, text := range texts {
				for _, f := range []store.InventoryRowFilter{
					{Q: text},
					{Q: text, PCID: "pc-03"},
					{Q: text, Group: "g"},
					{Where: []store.InventoryCond{{Column: "name", Op: "contains", Value: text}}},
					{Where: []store.InventoryCond{{Column: "publisher", Op: "contains", Value: text}}, Group: "g"},
					{Where: []store.InventoryCond{{Column: "name", Op: "contains", Value: text}, {Column: "version", Op: "lt", Value: "1.5"}}},
					{Where: []store.InventoryCond{{Column: "name", Op: "contains", Value: text}}, Q: "git"},
				} {
					f.Table = "software"
					var got [3][]string
					var totals [3]int
					for i, m := range []int{store.InvAuto, store.InvScan, store.InvTerms} {
						store.SetInventoryMode(db, m)
						got[i] = invRows(t, db, f)
						totals[i] = mustT[store.Listing[apiv1.InventoryRow]](t)(db.PageInventoryRows(ctx, f, store.Page{Limit: 1})).Total
					}
					store.SetInventoryMode(db, store.InvAuto)
					if !slices.Equal(got[0], got[1]) || !slices.Equal(got[1], got[2]) || totals[0] != totals[1] || totals[1] != totals[2] {
						t.Fatalf("round %d %+v: auto %v (%d)\nscan %v (%d)\nterms %v (%d)", round, f, got[0], totals[0], got[1], totals[1], got[2], totals[2])
					}
					if totals[1] != len(got[1]) {
						t.Fatalf("%+v: total %d for %d rows", f, totals[1], len(got[1]))
					}
					cases++
					if len(got[1]) > 0 {
						found++
					}
				}
			}
		}
		if found < cases/2 {
			t.Fatalf("only %d of %d searches found rows: the data does not exercise the search", found, cases)
		}
	})
}

// TestInventoryRetentionAndDelete: history ages out with results; a term
// no value uses any more is pruned while the one in use stays searchable;
// deleting a PC takes its facts and rows out of every search.
func TestInventoryRetentionAndDelete(t *testing.T) {
	eachDB(t, false, func(t *testing.T, db *store.DB) {
		now := time.Now().UTC().Truncate(time.Second)
		old := now.Add(-91 * 24 * time.Hour)
		ok(t, db.ApplyInventory(ctx, []store.InventoryResult{
			invResult(t, "pc-a", "r1", 1, old, `[{"name":"Chrome","version":"119.0.1"}]`),
			invResult(t, "pc-b", "r2", 2, now, `[{"name":"Chrome","version":"121.0.1"},{"name":"Git","version":"2.9"}]`),
		}))
		ok(t, db.ApplyInventory(ctx, []store.InventoryResult{invResult(t, "pc-a", "r3", 3, now, `[{"name":"Chrome","version":"120.0.5"}]`)}))
		deleted := mustT[map[string]int64](t)(db.Retain(ctx, now))
		if deleted["inventory_history"] != 1 || count(t, db, "SELECT COUNT(*) FROM inventory_history") != 3 {
			t.Errorf("history: deleted %d, left %d", deleted["inventory_history"], count(t, db, "SELECT COUNT(*) FROM inventory_history"))
		}
		if deleted["inventory_terms"] != 1 || count(t, db, "SELECT COUNT(*) FROM inventory_terms WHERE value = '119.0.1'") != 0 {
			t.Errorf("terms: deleted %d", deleted["inventory_terms"])
		}
		search := func(f store.InventoryRowFilter) []string {
			f.Table = "software"
			return invRows(t, db, f)
		}
		if got := search(store.InventoryRowFilter{Q: "120.0"}); !slices.Equal(got, []string{"pc-a/Chrome=120.0.5"}) {
			t.Errorf("q after prune = %v", got)
		}
		_ = mustT[store.FactsOutcome](t)(db.ApplyFacts(ctx, []store.FactsReport{{Seq: 9, Inventory: wire.Inventory{PCID: "pc-b", CollectedAt: now, Facts: wire.Facts{Hostname: "B"}}}}))
		if _, err := db.DeleteAgent(ctx, "pc-b"); err != nil {
			t.Fatal(err)
		}
		if got := search(store.InventoryRowFilter{Q: "git"}); len(got) != 0 {
			t.Errorf("deleted PC still found: %v", got)
		}
		if got := search(store.InventoryRowFilter{}); !slices.Equal(got, []string{"pc-a/Chrome=120.0.5"}) {
			t.Errorf("rows after delete = %v", got)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM agent_facts"); n != 0 {
			t.Errorf("facts after delete: %d", n)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM inventory_sources"); n != 1 {
			t.Errorf("sources after delete: %d", n)
		}
	})
}
