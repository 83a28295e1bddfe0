package server_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// TestInventoryJob (SPEC §14, issue 17): an inventory job on three real
// agents whose outputs differ fills each PC's rows; a second run that
// removes a row and changes a version records exactly those changes; a
// malformed output flags the result and leaves that PC's rows; where
// compares versions as versions; a wipe and replay restores the rows and
// the history exactly.
func TestInventoryJob(t *testing.T) {
	dir := t.TempDir()
	natsAddr := testenv.FreeAddr(t)
	cfg := func(c *server.Config) { c.DataDir, c.NATSAddr = dir, natsAddr }
	b := testenv.Backend(t, cfg)
	s := open(b)
	outputs := t.TempDir()
	write := func(pc, out string) {
		if err := os.WriteFile(filepath.Join(outputs, pc+".json"), []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("pc-a", `[{"name":"Chrome","version":"120.0.10","publisher":"Google"},{"name":"7zip","version":"23.01"}]`)
	write("pc-b", `[{"name":"Chrome","version":"99.0.1","publisher":"Google"},{"name":"Git","version":"2.9","extra":"dropped"}]`)
	write("pc-c", `[{"name":"Chrome","version":"119.0.1","publisher":"Google"}]`)
	must(t, s.do(t, "POST", "/api/jobs", map[string]any{"id": "software", "version": "1",
		"execute":   map[string]any{"shell": "sh", "script": "cat '" + outputs + "'/\"$KANADE_PC_ID\".json", "timeout": "30s"},
		"inventory": map[string]any{"table": "software", "key": []string{"name"}, "columns": []string{"name", "version", "publisher"}}}), 201)
	runAgents(t, s, t.TempDir(), false, map[string][]string{"pc-a": nil, "pc-b": nil, "pc-c": nil})
	testenv.Eventually(t, 30*time.Second, "three agents online", func() bool {
		pcs, err := b.DB.OnlinePCs(context.Background(), time.Now(), "")
		return err == nil && len(pcs) == 3
	})
	run := func() string {
		var r apiv1.ExecResponse
		must(t, s.do(t, "POST", "/api/exec/software", map[string]any{"target": map[string]any{"all": true}}), 200).json(t, &r)
		testenv.Eventually(t, 30*time.Second, "the inventory run completed", func() bool {
			var e apiv1.Execution
			s.do(t, "GET", "/api/executions/"+r.ExecID, nil).json(t, &e)
			return e.Status == apiv1.ExecCompleted
		})
		waitIdle(t, b)
		return r.ExecID
	}
	rows := func(s *secured, query string) []string {
		var out []apiv1.InventoryRow
		r := must(t, s.do(t, "GET", "/api/inventory/tables/software?limit=1000&"+query, nil), 200)
		r.json(t, &out)
		var got []string
		for _, x := range out {
			got = append(got, x.PCID+" "+x.Key+" "+x.Row["version"]+" "+x.Row["publisher"])
		}
		return got
	}
	first := run()
	if got, want := rows(s, ""), []string{"pc-a 7zip 23.01 ", "pc-a Chrome 120.0.10 Google", "pc-b Chrome 99.0.1 Google",
		"pc-b Git 2.9 ", "pc-c Chrome 119.0.1 Google"}; !slices.Equal(got, want) {
		t.Fatalf("rows after the first run:\n%v\nwant\n%v", got, want)
	}
	// 99.0.1 < 119.0.1 < 120.0.1 < 120.0.10 as versions (not as text).
	lt := "where=" + url.QueryEscape("name:eq:Chrome") + "&where=" + url.QueryEscape("version:lt:120.0.1")
	if got := rows(s, lt); !slices.Equal(got, []string{"pc-b Chrome 99.0.1 Google", "pc-c Chrome 119.0.1 Google"}) {
		t.Errorf("version lt 120.0.1: %v", got)
	}
	if got := rows(s, "where="+url.QueryEscape("version:ge:120.0.1")+"&pc_id=pc-a"); !slices.Equal(got, []string{"pc-a Chrome 120.0.10 Google"}) {
		t.Errorf("version ge 120.0.1 on pc-a: %v", got)
	}
	var tables []apiv1.InventoryTable
	must(t, s.do(t, "GET", "/api/inventory/tables", nil), 200).json(t, &tables)
	if len(tables) != 1 || tables[0].Table != "software" || tables[0].PCs != 3 || tables[0].Rows != 5 {
		t.Errorf("tables = %+v", tables)
	}
	if r := s.do(t, "GET", "/api/inventory/tables/software?where=version:like:1", nil); r.status != 400 {
		t.Errorf("bad op: %d %s", r.status, r.body)
	}

	// Second run: pc-a loses 7zip and updates Chrome; pc-c prints garbage.
	histBefore := inventoryHistory(t, b)
	write("pc-a", `[{"name":"Chrome","version":"121.0.1","publisher":"Google"}]`)
	write("pc-c", `[{"name":"Chrome","version":`)
	second := run()
	if got, want := rows(s, ""), []string{"pc-a Chrome 121.0.1 Google", "pc-b Chrome 99.0.1 Google", "pc-b Git 2.9 ",
		"pc-c Chrome 119.0.1 Google"}; !slices.Equal(got, want) {
		t.Fatalf("rows after the second run:\n%v\nwant\n%v", got, want)
	}
	hist := inventoryHistory(t, b)
	added := slices.DeleteFunc(slices.Clone(hist), func(h string) bool { return slices.Contains(histBefore, h) })
	want := []string{
		`pc-a 7zip removed {"name":"7zip","version":"23.01","publisher":""} -> `,
		`pc-a Chrome changed {"name":"Chrome","version":"120.0.10","publisher":"Google"} -> {"name":"Chrome","version":"121.0.1","publisher":"Google"}`,
	}
	if !slices.Equal(added, want) {
		t.Errorf("history of the second run:\n%s\nwant\n%s", strings.Join(added, "\n"), strings.Join(want, "\n"))
	}
	if len(histBefore) != 5 {
		t.Errorf("history of the first run: %v", histBefore)
	}
	var results []apiv1.Result
	must(t, s.do(t, "GET", "/api/results?exec_id="+second, nil), 200).json(t, &results)
	for _, r := range results {
		if (r.PCID == "pc-c") != (r.InventoryError != "") || (r.PCID == "pc-c" && !strings.Contains(r.InventoryError, "malformed")) {
			t.Errorf("%s: inventory_error %q", r.PCID, r.InventoryError)
		}
	}

	// Wipe and replay.
	snapshot := func(s *secured, b *server.Server) string {
		var tb []apiv1.InventoryTable
		must(t, s.do(t, "GET", "/api/inventory/tables", nil), 200).json(t, &tb)
		var res []apiv1.Result
		must(t, s.do(t, "GET", "/api/results?limit=1000", nil), 200).json(t, &res)
		var flags []string
		for _, r := range res {
			flags = append(flags, r.ResultID+"="+r.InventoryError)
		}
		slices.Sort(flags)
		return fmt.Sprint(tb, "\n", rows(s, ""), "\n", strings.Join(inventoryHistoryFull(t, b), "\n"), "\n", flags)
	}
	before := snapshot(s, b)
	b.Stop(context.Background())
	testenv.WipeDB(t, dir)
	b2 := testenv.Backend(t, cfg)
	s2 := open(b2)
	var after string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		waitIdle(t, b2)
		if after = snapshot(s2, b2); after == before {
			break
		}
	}
	if after != before {
		t.Errorf("inventory after the rebuild:\n%s\nbefore:\n%s", after, before)
	}
	_ = first
}

// inventoryHistory is the software table's history, oldest first.
func inventoryHistory(t *testing.T, b *server.Server) []string { return history(t, b, false) }

// inventoryHistoryFull adds each row's at and stream_seq.
func inventoryHistoryFull(t *testing.T, b *server.Server) []string { return history(t, b, true) }

func history(t *testing.T, b *server.Server, full bool) []string {
	t.Helper()
	rows := store.TestQuery(t, b.DB, `SELECT pc_id, item_key, change, COALESCE(old_value, ''), COALESCE(new_value, ''), at, stream_seq
		FROM inventory_history WHERE table_name = 'software' ORDER BY stream_seq, item_key`)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var pc, key, change, o, n, at string
		var seq int64
		if err := rows.Scan(&pc, &key, &change, &o, &n, &at, &seq); err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("%s %s %s %s -> %s", pc, key, change, o, n)
		if full {
			line += fmt.Sprintf(" at %s seq %d", at, seq)
		}
		out = append(out, line)
	}
	return out
}
