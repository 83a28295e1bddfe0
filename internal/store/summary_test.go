package store_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/store"
)

// TestExecSummary (SPEC §17): 20 PCs, 15 print "ok" (with line-ending
// and trailing-space noise that normalisation removes), 3 fail with exit 2
// and the same message, 2 time out → 3 groups, largest first, with the
// right counts, PCs and samples; results in flight are not grouped; a
// scoped caller's groups count only its PCs; the set-based and per-row
// projections agree; stderr_excerpt reaches the result list.
func TestExecSummary(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		execution(t, db, "e1", 21, apiv1.ExecRunning)
		var batch []store.Result
		for i := range 20 {
			pc := fmt.Sprintf("pc-%02d", i)
			r := res("r-"+pc, "e1", pc, 0, t0.Add(time.Duration(i)*time.Second))
			switch {
			case i < 15:
				r.Stdout = []string{"ok\n", "ok\r\n", "ok  \n\n", "ok"}[i%4]
			case i < 18:
				r.ExitCode, r.Stdout, r.Stderr = 2, "", "checking disk\nerror: disk full\n"
			default:
				r.ExitCode, r.TimedOut, r.Stdout, r.Stderr = 2, true, "ok\n", "killed after 30s\n"
			}
			batch = append(batch, r)
		}
		// Apply in two batches (one of them redelivered) as the projector would.
		applyRes(t, db, batch[:7]...)
		applyRes(t, db, batch[7:]...)
		applyRes(t, db, batch[3:9]...)
		mustT[[]store.Started](t)(db.ApplyStarted(ctx, []store.Started{st("r-pc-20", "e1", "pc-20", t0)}))

		groups, total := must2(t)(db.ExecSummary(ctx, store.SummaryFilter{ExecID: "e1", Limit: 100}))
		if total != 3 || len(groups) != 3 {
			t.Fatalf("groups: total %d, %+v", total, groups)
		}
		want := []struct {
			status apiv1.ResultStatus
			reason string
			code   int
			count  int
			first  string
			stdout string
			stderr string
		}{
			{apiv1.ResultSuccess, "", 0, 15, "pc-00", "ok\n", ""},
			{apiv1.ResultFailure, "", 2, 3, "pc-15", "", "checking disk\nerror: disk full\n"},
			{apiv1.ResultFailure, "timed_out", 2, 2, "pc-18", "ok\n", "killed after 30s\n"},
		}
		for i, w := range want {
			g := groups[i]
			if g.Status != w.status || g.Reason != w.reason || g.ExitCode != w.code || g.Count != w.count ||
				len(g.PCs) != min(w.count, store.SummaryPCs) || g.PCs[0] != w.first || g.SampleStdout != w.stdout ||
				g.SampleStderr != w.stderr || g.SampleResultID != "r-"+w.first {
				t.Errorf("group %d: %+v, want %+v", i, g, w)
			}
			if !slices.IsSorted(g.PCs) {
				t.Errorf("group %d PCs not in order: %v", i, g.PCs)
			}
		}
		if groups[0].StdoutHash == "" || groups[1].StdoutHash != "" || groups[2].StdoutHash != groups[0].StdoutHash {
			t.Errorf("hashes: %q %q %q", groups[0].StdoutHash, groups[1].StdoutHash, groups[2].StdoutHash)
		}
		// Limit keeps the largest groups; the total still counts them all.
		if g, n := must2(t)(db.ExecSummary(ctx, store.SummaryFilter{ExecID: "e1", Limit: 1})); n != 3 || len(g) != 1 || g[0].Count != 15 {
			t.Errorf("limit 1: %d %+v", n, g)
		}
		// A scoped caller: only pc-00..pc-04 and pc-15 are in "eu".
		for _, pc := range []string{"pc-00", "pc-01", "pc-02", "pc-03", "pc-04", "pc-15"} {
			ok(t, db.ReplaceAgentGroups(ctx, pc, []string{"eu"}))
		}
		ok(t, db.ReplaceAgentGroups(ctx, "pc-19", []string{"us"}))
		g, n := must2(t)(db.ExecSummary(ctx, store.SummaryFilter{ExecID: "e1", Scope: []string{"eu"}, Limit: 100}))
		if n != 2 || len(g) != 2 || g[0].Count != 5 || g[1].Count != 1 || !slices.Equal(g[1].PCs, []string{"pc-15"}) ||
			slices.Contains(g[0].PCs, "pc-05") {
			t.Errorf("scoped summary: %d %+v", n, g)
		}
		if g, n := must2(t)(db.ExecSummary(ctx, store.SummaryFilter{ExecID: "e1", Scope: []string{"nowhere"}})); n != 0 || len(g) != 0 {
			t.Errorf("out-of-scope summary: %d %+v", n, g)
		}
		if g, n := must2(t)(db.ExecSummary(ctx, store.SummaryFilter{ExecID: "nope"})); n != 0 || len(g) != 0 {
			t.Errorf("unknown execution: %d %+v", n, g)
		}
		// The excerpt in lists: the last non-blank line of stderr.
		l := mustT[store.Listing[apiv1.Result]](t)(db.PageResults(ctx, store.ResultFilter{ExecID: "e1", PCID: "pc-16"}, store.Page{Limit: 5}))
		if len(l.Rows) != 1 || l.Rows[0].StderrExcerpt != "error: disk full" {
			t.Errorf("stderr_excerpt: %+v", l.Rows)
		}
		if l := mustT[store.Listing[apiv1.Result]](t)(db.PageResults(ctx, store.ResultFilter{ExecID: "e1", PCID: "pc-01"}, store.Page{Limit: 5})); l.Rows[0].StderrExcerpt != "" {
			t.Errorf("stderr_excerpt without stderr: %q", l.Rows[0].StderrExcerpt)
		}
	})
}

// A reaped row that the late result fills changes group (its hash and
// outcome are recomputed with the row).
func TestExecSummaryReapedThenFilled(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		execution(t, db, "e2", 1, apiv1.ExecRunning)
		s := st("r-late", "e2", "pc-1", t0)
		exp := t0.Add(time.Minute)
		s.ExpiresAt = &exp
		mustT[[]store.Started](t)(db.ApplyStarted(ctx, []store.Started{s}))
		mustT[store.ReapOutcome](t)(db.Reap(ctx, t0.Add(time.Hour)))
		g, _ := must2(t)(db.ExecSummary(ctx, store.SummaryFilter{ExecID: "e2"}))
		if len(g) != 1 || g[0].Reason != "reaped" || g[0].ExitCode != -1 {
			t.Fatalf("reaped: %+v", g)
		}
		r := res("r-late", "e2", "pc-1", 0, t0.Add(2*time.Hour))
		r.Stdout = "done\n"
		applyRes(t, db, r)
		g, _ = must2(t)(db.ExecSummary(ctx, store.SummaryFilter{ExecID: "e2"}))
		if len(g) != 1 || g[0].Status != apiv1.ResultSuccess || g[0].Reason != "" || g[0].SampleStdout != "done\n" || g[0].StdoutHash == "" {
			t.Fatalf("filled: %+v", g)
		}
	})
}

func must2(t *testing.T) func([]apiv1.ResultGroup, int, error) ([]apiv1.ResultGroup, int) {
	return func(g []apiv1.ResultGroup, n int, err error) ([]apiv1.ResultGroup, int) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return g, n
	}
}
