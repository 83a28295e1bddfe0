package cli

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// TestOutputCSV: -o csv of list commands has the API's CSV columns and
// cells (the same package writes both), --all streams every page, and
// a single object is one row.
func TestOutputCSV(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	at := time.Date(2027, 1, 5, 9, 0, 0, 0, time.UTC)
	var rs []store.Result
	for i := range 2345 { // three pages of the CLI's 1000
		code := i % 3
		rs = append(rs, store.Result{ExecResult: wire.ExecResult{ResultID: fmt.Sprintf("r-%05d", i), RequestID: "q", ExecID: "e1",
			PCID: fmt.Sprintf("pc-%d", i%7), ManifestID: "=cmd|' /C calc'!A0", Version: "1", ExitCode: code, Stdout: "out",
			StartedAt: at, FinishedAt: at}, RecordedAt: at.Add(-time.Duration(i) * time.Second)})
	}
	if _, err := e.b.DB.ApplyResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	server := func(path string) string {
		t.Helper()
		resp, err := http.Get(e.backend + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	all := e.ok("results", "list", "--all", "-o", "csv")
	recs, err := csv.NewReader(strings.NewReader(all)).ReadAll()
	if err != nil || len(recs) != 1+2345 {
		t.Fatalf("results list --all -o csv: %d records, %v", len(recs), err)
	}
	if want := server("/api/results?format=csv"); all != want {
		t.Errorf("CLI CSV differs from the API's:\n%.300s\n---\n%.300s", all, want)
	}
	if !strings.Contains(all, `'=cmd|' /C calc'!A0`) {
		t.Errorf("formula not defused:\n%.300s", all)
	}
	// --limit bounds it; the first lines are the golden.
	first := e.ok("results", "list", "--limit", "3", "-o", "csv", "--status", "failure")
	if want := server("/api/results?format=csv&limit=3&status=failure"); first != want {
		t.Errorf("--limit 3: CLI\n%s\nAPI\n%s", first, want)
	}
	golden(t, "results_list_csv", first)
	// Other lists and a single object.
	must := func(args ...string) [][]string {
		t.Helper()
		out := e.ok(args...)
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil || len(recs) == 0 {
			t.Fatalf("kanade %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return recs
	}
	if recs := must("jobs", "list", "-o", "csv"); len(recs) != 1 || recs[0][0] != "id" {
		t.Errorf("empty jobs list: %q, want the header alone", recs)
	}
	if recs := must("executions", "list", "-o", "csv"); len(recs) < 1 || recs[0][0] != "exec_id" {
		t.Errorf("executions: %q", recs)
	}
	if recs := must("results", "show", "r-00001", "-o", "csv"); len(recs) != 2 || recs[1][0] != "r-00001" {
		t.Errorf("results show -o csv: %q", recs)
	}
	if r := e.cli("results", "list", "-o", "xml"); r.code != 2 || !strings.Contains(r.err, "csv") {
		t.Errorf("-o xml: %d %s", r.code, r.err)
	}
}
