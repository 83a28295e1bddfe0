package store_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// BenchmarkCursorPaging: deep pages of GET /api/results over 1 000 000
// result rows (KANADE_BENCH_LIST_ROWS overrides; the rows of
// BenchmarkListQueries), cursor against offset in the same run
// (docs/benchmarks.md, "Cursor paging"). Opt-in: only -bench runs it.
//
//	KANADE_BENCH_LIST_ROWS=1000000 go test -run '^$' -bench CursorPaging -benchtime 20x ./internal/store/
func BenchmarkCursorPaging(b *testing.B) {
	n := 1000000
	if v := os.Getenv("KANADE_BENCH_LIST_ROWS"); v != "" {
		fmt.Sscan(v, &n)
	}
	deep := n * 9 / 10 // offset=900000 at 1 M
	for _, c := range benchDBs() {
		if c.perRow {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			db := c.open(b)
			defer db.Close()
			ctx := context.Background()
			now := time.Now().UTC()
			batch := make([]store.Result, 0, 5000)
			for i := 0; i < n; i++ {
				batch = append(batch, store.Result{ExecResult: wire.ExecResult{ResultID: fmt.Sprintf("r-%08d", i),
					ExecID: fmt.Sprintf("exec-%03d", i%100), PCID: fmt.Sprintf("pc-%05d", i%10000), ManifestID: fmt.Sprintf("job-%d", i%20),
					ExitCode: i % 9, Stdout: "x", StartedAt: now, FinishedAt: now}, RecordedAt: now.Add(-time.Duration(n-i) * time.Second)})
				if len(batch) == cap(batch) || i == n-1 {
					if _, err := db.ApplyResults(ctx, batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			if store.IsPostgres(db) {
				if _, err := store.Writer(db).Exec("VACUUM ANALYZE"); err != nil {
					b.Fatal(err)
				}
			}
			// The cursor of the row at offset deep-1 of each filter, found
			// once (what a client that walked there holds).
			cursorAt := func(f store.ResultFilter, off int) store.Page {
				l, err := db.PageResults(ctx, f, store.Page{Limit: 1, Offset: 0})
				if err != nil {
					b.Fatal(err)
				}
				// Walk there in pages of 1000: itself a measure of the walk.
				p := store.Page{Limit: 1000}
				for seen := 0; seen < off && l.Next != nil; {
					p.Limit = min(1000, off-seen)
					if l, err = db.PageResults(ctx, f, p); err != nil {
						b.Fatal(err)
					}
					seen += len(l.Rows)
					p.After = l.Next
				}
				return store.Page{Limit: 50, After: p.After}
			}
			filters := []struct {
				name string
				f    store.ResultFilter
			}{
				{"all", store.ResultFilter{}},
				{"job", store.ResultFilter{JobID: "job-7"}},
				{"failure", store.ResultFilter{Status: "failure"}},
			}
			for _, fl := range filters {
				total := n
				if fl.f.JobID != "" {
					total = n / 20
				}
				if fl.f.Status != "" {
					total = n * 8 / 9
				}
				off := min(deep, total*9/10)
				cur := cursorAt(fl.f, off)
				for _, mode := range []struct {
					name string
					p    store.Page
				}{{fmt.Sprintf("cursor@%d", off), cur}, {fmt.Sprintf("offset=%d", off), store.Page{Limit: 50, Offset: off}}} {
					b.Run(fl.name+"/"+mode.name, func(b *testing.B) {
						lat := make([]time.Duration, 0, b.N)
						for i := 0; i < b.N; i++ {
							start := time.Now()
							l, err := db.PageResults(ctx, fl.f, mode.p)
							if err != nil {
								b.Fatal(err)
							}
							lat = append(lat, time.Since(start))
							if len(l.Rows) != 50 {
								b.Fatalf("%d rows", len(l.Rows))
							}
						}
						reportLatency(b, lat)
					})
				}
			}
			// 1000 cursor pages of 50 from 90% deep: one op is the whole walk.
			b.Run("walk-1000-pages", func(b *testing.B) {
				start := cursorAt(store.ResultFilter{}, min(deep, n-50*1000-1))
				lat := make([]time.Duration, 0, 1000*b.N)
				for i := 0; i < b.N; i++ {
					p := start
					for range 1000 {
						t := time.Now()
						l, err := db.PageResults(ctx, store.ResultFilter{}, p)
						if err != nil {
							b.Fatal(err)
						}
						lat = append(lat, time.Since(t))
						if l.Next == nil {
							b.Fatal("walk ended early")
						}
						p.After = l.Next
					}
				}
				reportLatency(b, lat)
			})
		})
	}
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	if len(lat) >= 100 {
		b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	}
}
