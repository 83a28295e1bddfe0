package store_test

// Write-path benchmarks without a broker: how fast each way of writing a
// 1000-row batch is, on SQLite and (with KANADE_TEST_POSTGRES) PostgreSQL.
// docs/benchmarks.md ("PostgreSQL") records the figures and the choice.
//
//	go test -run '^$' -bench . -benchtime 3x ./internal/store/

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv/testdb"
	"github.com/kanade-fleet/kanade/internal/wire"
)

const benchRows, benchBatch = 50000, 1000

func benchResults(now time.Time) []store.Result {
	out := make([]store.Result, benchRows)
	for i := range out {
		out[i] = store.Result{ExecResult: wire.ExecResult{ResultID: fmt.Sprintf("r-%08d", i), RequestID: fmt.Sprintf("req-%03d", i%100),
			ExecID: fmt.Sprintf("exec-%03d", i%100), PCID: fmt.Sprintf("pc-%05d", i/100), ManifestID: "job", Version: "1.0.0",
			ExitCode: i % 5, Stdout: "hello from the benchmark\n", StartedAt: now, FinishedAt: now}, RecordedAt: now}
	}
	return out
}

type benchDB struct {
	name   string
	pg     bool
	perRow bool
}

func benchDBs() []benchDB {
	out := []benchDB{{name: "sqlite"}}
	if testdb.AdminDSN() != "" {
		out = append(out, benchDB{name: "postgres", pg: true}, benchDB{name: "postgres-per-row", pg: true, perRow: true})
	}
	return out
}

func (c benchDB) open(b *testing.B) *store.DB {
	dsn := ""
	if c.pg {
		dsn = testdb.NewPostgres(b)
	}
	db, err := store.Open(context.Background(), dsn, b.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	db.PGPerRow = c.perRow
	for i := 0; i < 100; i++ {
		if err := db.CreateExecution(context.Background(), apiv1.Execution{ExecID: fmt.Sprintf("exec-%03d", i), JobID: "job",
			TargetCount: benchRows / 100}); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

func rate(b *testing.B, rows int, d time.Duration) {
	b.ReportMetric(float64(rows)/d.Seconds(), "rows/s")
}

// BenchmarkApplyResults: the results projector's SQL (insert finished rows,
// count), 1000 per transaction.
func BenchmarkApplyResults(b *testing.B) {
	for _, c := range benchDBs() {
		b.Run(c.name, func(b *testing.B) {
			rs := benchResults(time.Now().UTC())
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				db := c.open(b)
				b.StartTimer()
				start := time.Now()
				for lo := 0; lo < len(rs); lo += benchBatch {
					if _, err := db.ApplyResults(context.Background(), rs[lo:lo+benchBatch]); err != nil {
						b.Fatal(err)
					}
				}
				total += time.Since(start)
				b.StopTimer()
				db.Close()
				b.StartTimer()
			}
			rate(b, benchRows*b.N, total)
		})
	}
}

// BenchmarkApplyStartedThenResults: the broadcast shape — every run first
// in flight, then filled and counted.
func BenchmarkApplyStartedThenResults(b *testing.B) {
	for _, c := range benchDBs() {
		b.Run(c.name, func(b *testing.B) {
			rs := benchResults(time.Now().UTC())
			ss := make([]store.Started, len(rs))
			for i, r := range rs {
				ss[i] = store.Started{EventStarted: wire.EventStarted{ResultID: r.ResultID, RequestID: r.RequestID, ExecID: r.ExecID,
					PCID: r.PCID, StartedAt: r.StartedAt, ManifestID: r.ManifestID, Version: r.Version}, RecordedAt: r.RecordedAt}
			}
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				db := c.open(b)
				b.StartTimer()
				start := time.Now()
				for lo := 0; lo < len(rs); lo += benchBatch {
					if _, err := db.ApplyStarted(context.Background(), ss[lo:lo+benchBatch]); err != nil {
						b.Fatal(err)
					}
				}
				for lo := 0; lo < len(rs); lo += benchBatch {
					if _, err := db.ApplyResults(context.Background(), rs[lo:lo+benchBatch]); err != nil {
						b.Fatal(err)
					}
				}
				total += time.Since(start)
				b.StopTimer()
				db.Close()
				b.StartTimer()
			}
			// Two messages per run.
			rate(b, 2*benchRows*b.N, total)
		})
	}
}

// BenchmarkPGCopyStaging measures the alternative the store did not take:
// COPY each batch into a temporary staging table, then INSERT … SELECT …
// ON CONFLICT DO NOTHING (insert half only, no fill or counts).
func BenchmarkPGCopyStaging(b *testing.B) {
	if testdb.AdminDSN() == "" {
		b.Skip("no PostgreSQL")
	}
	rs := benchResults(time.Now().UTC())
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := benchDB{pg: true}.open(b)
		conn, err := store.Writer(db).Conn(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		err = conn.Raw(func(dc any) error {
			pc := dc.(*stdlib.Conn).Conn()
			ctx := context.Background()
			for lo := 0; lo < len(rs); lo += benchBatch {
				tx, err := pc.Begin(ctx)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS stage_results
					(LIKE execution_results INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`); err != nil {
					return err
				}
				cols := []string{"result_id", "request_id", "exec_id", "pc_id", "job_id", "version", "exit_code", "stdout",
					"stderr", "started_at", "finished_at", "recorded_at"}
				_, err = tx.CopyFrom(ctx, pgx.Identifier{"stage_results"}, cols, pgx.CopyFromSlice(benchBatch, func(k int) ([]any, error) {
					r := rs[lo+k]
					return []any{r.ResultID, r.RequestID, r.ExecID, r.PCID, r.ManifestID, r.Version, int32(r.ExitCode), r.Stdout,
						r.Stderr, store.TS(r.StartedAt), store.TS(r.FinishedAt), store.TS(r.RecordedAt)}, nil
				}))
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO execution_results SELECT * FROM stage_results
					ON CONFLICT (result_id) DO NOTHING`); err != nil {
					return err
				}
				if err := tx.Commit(ctx); err != nil {
					return err
				}
			}
			return nil
		})
		total += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		conn.Close()
		db.Close()
		b.StartTimer()
	}
	rate(b, benchRows*b.N, total)
}

// BenchmarkRawInsert: the ceiling — plain prepared INSERTs of the same rows,
// 1000 per transaction, nothing else.
func BenchmarkRawInsert(b *testing.B) {
	for _, c := range benchDBs() {
		if c.perRow {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			rs := benchResults(time.Now().UTC())
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				db := c.open(b)
				b.StartTimer()
				start := time.Now()
				for lo := 0; lo < len(rs); lo += benchBatch {
					if err := db.InsertResultsRaw(context.Background(), rs[lo:lo+benchBatch]); err != nil {
						b.Fatal(err)
					}
				}
				total += time.Since(start)
				b.StopTimer()
				db.Close()
				b.StartTimer()
			}
			rate(b, benchRows*b.N, total)
		})
	}
}

// BenchmarkUpsertHeartbeats: 10 000 agents' heartbeats (all known, so every
// row is an update) in flushes of 1000, as the heartbeat projector writes
// them; rows/s is heartbeats per second.
func BenchmarkUpsertHeartbeats(b *testing.B) {
	const agents = 10000
	for _, c := range benchDBs() {
		b.Run(c.name, func(b *testing.B) {
			db := c.open(b)
			defer db.Close()
			mk := func(at time.Time) []store.Heartbeat {
				out := make([]store.Heartbeat, agents)
				for i := range out {
					out[i] = store.Heartbeat{Heartbeat: wire.Heartbeat{PCID: fmt.Sprintf("pc-%05d", i), Hostname: fmt.Sprintf("host-%05d", i),
						OSFamily: "windows", OSVersion: "11", Arch: "amd64", AgentVersion: "1.0.0", At: at, BootTime: at,
						AgentRSSBytes: 12 << 20, AgentCPUPct: 0.1}, ReceivedAt: at}
				}
				return out
			}
			write := func(hbs []store.Heartbeat) {
				for lo := 0; lo < len(hbs); lo += benchBatch {
					if err := db.UpsertHeartbeats(context.Background(), hbs[lo:lo+benchBatch]); err != nil {
						b.Fatal(err)
					}
				}
			}
			base := time.Now().UTC()
			write(mk(base)) // first sight: inserts
			b.ResetTimer()
			var total time.Duration
			for i := 0; i < b.N; i++ {
				hbs := mk(base.Add(time.Duration(i+1) * time.Second))
				start := time.Now()
				write(hbs)
				total += time.Since(start)
			}
			rate(b, agents*b.N, total)
		})
	}
}

// BenchmarkAgentVersions: GET /api/agents/versions over 10 000 agents on
// five versions in every update state (docs/benchmarks.md, "Agent version
// distribution").
//
//	go test -run '^$' -bench AgentVersions -benchtime 200x ./internal/store/
func BenchmarkAgentVersions(b *testing.B) {
	for _, c := range benchDBs() {
		if c.perRow {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			db := c.open(b)
			defer db.Close()
			now := time.Now().UTC()
			hbs := make([]store.Heartbeat, 10000)
			for i := range hbs {
				h := wire.Heartbeat{PCID: fmt.Sprintf("pc-%05d", i), Hostname: fmt.Sprintf("host-%05d", i),
					AgentVersion: fmt.Sprintf("1.%d.0", i%5), UpdateState: wire.UpdateStates[i%len(wire.UpdateStates)]}
				if h.UpdateState == wire.UpdateQuarantined {
					h.QuarantinedVersion = "1.5.0"
				}
				// 5 % offline (silent for 10 minutes), the rest heard from
				// within the last heartbeat period.
				at := now.Add(-time.Duration(i%30) * time.Second)
				if i%20 == 0 {
					at = now.Add(-10 * time.Minute)
				}
				hbs[i] = store.Heartbeat{Heartbeat: h, ReceivedAt: at}
			}
			if err := db.UpsertHeartbeats(context.Background(), hbs); err != nil {
				b.Fatal(err)
			}
			if store.IsPostgres(db) {
				if _, err := store.Writer(db).Exec("VACUUM ANALYZE"); err != nil {
					b.Fatal(err)
				}
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				vs, err := db.AgentVersions(context.Background(), now)
				if err != nil || len(vs) != 6 {
					b.Fatalf("%v %+v", err, vs)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
		})
	}
}

// BenchmarkListQueries: the API's list queries over 1 000 000 result rows
// (KANADE_BENCH_LIST_ROWS overrides) and 10 000 agents: one op = one page
// of 50 with its total count, the way GET /api/results etc. ask for it.
func BenchmarkListQueries(b *testing.B) {
	n := 1000000
	if v := os.Getenv("KANADE_BENCH_LIST_ROWS"); v != "" {
		fmt.Sscan(v, &n)
	}
	for _, c := range benchDBs() {
		if c.perRow {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			db := c.open(b)
			defer db.Close()
			now := time.Now().UTC()
			batch := make([]store.Result, 0, 5000)
			for i := 0; i < n; i++ {
				batch = append(batch, store.Result{ExecResult: wire.ExecResult{ResultID: fmt.Sprintf("r-%08d", i),
					ExecID: fmt.Sprintf("exec-%03d", i%100), PCID: fmt.Sprintf("pc-%05d", i%10000), ManifestID: fmt.Sprintf("job-%d", i%20),
					ExitCode: i % 9, Stdout: "x", StartedAt: now, FinishedAt: now}, RecordedAt: now.Add(-time.Duration(n-i) * time.Second)})
				if len(batch) == cap(batch) || i == n-1 {
					if _, err := db.ApplyResults(context.Background(), batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			hbs := make([]store.Heartbeat, 10000)
			for i := range hbs {
				hbs[i] = store.Heartbeat{Heartbeat: wire.Heartbeat{PCID: fmt.Sprintf("pc-%05d", i), Hostname: fmt.Sprintf("host-%05d", i)},
					ReceivedAt: now.Add(-time.Duration(i%300) * time.Second)}
			}
			if err := db.UpsertHeartbeats(context.Background(), hbs); err != nil {
				b.Fatal(err)
			}
			// What autovacuum does soon after a bulk load (PostgreSQL 13+ also
			// vacuums insert-only tables): statistics and the visibility
			// map, without which COUNT(*) cannot use index-only scans.
			if store.IsPostgres(db) {
				if _, err := store.Writer(db).Exec("VACUUM ANALYZE"); err != nil {
					b.Fatal(err)
				}
			}
			page := store.Page{Limit: 50}
			queries := map[string]func() error{
				"results-all": func() error {
					_, _, err := db.ListResults(context.Background(), store.ResultFilter{}, page)
					return err
				},
				"results-exec": func() error {
					_, _, err := db.ListResults(context.Background(), store.ResultFilter{ExecID: "exec-042"}, page)
					return err
				},
				"results-pc": func() error {
					_, _, err := db.ListResults(context.Background(), store.ResultFilter{PCID: "pc-04242"}, page)
					return err
				},
				"results-failure-24h": func() error {
					_, _, err := db.ListResults(context.Background(), store.ResultFilter{Status: "failure", Since: now.Add(-24 * time.Hour)}, page)
					return err
				},
				"agents-online": func() error {
					_, _, err := db.ListAgents(context.Background(), store.AgentFilter{Status: "online", Now: now}, page)
					return err
				},
				"agents-q": func() error {
					_, _, err := db.ListAgents(context.Background(), store.AgentFilter{Q: "host-042", Now: now}, page)
					return err
				},
				"fleet": func() error { _, err := db.Fleet(context.Background(), now); return err },
			}
			for _, name := range []string{"results-all", "results-exec", "results-pc", "results-failure-24h", "agents-online", "agents-q", "fleet"} {
				q := queries[name]
				b.Run(name, func(b *testing.B) {
					lat := make([]time.Duration, 0, b.N)
					for i := 0; i < b.N; i++ {
						start := time.Now()
						if err := q(); err != nil {
							b.Fatal(err)
						}
						lat = append(lat, time.Since(start))
					}
					slices.Sort(lat)
					ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
					b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
					b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
					// Fewer than 100 samples have no 99th percentile (the
					// "p99" of 30 would be their maximum).
					if len(lat) >= 100 {
						b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
					}
				})
			}
		})
	}
}

// BenchmarkWritePath (issue 15): the results projection's SQL against a
// raw batched INSERT of the same rows into the same schema, with random
// result_ids (UUIDv4-like, the worst case for the primary key) and both
// SQLite synchronous settings, each on a fresh database, side by side in
// one run. KANADE_BENCH_WRITE_ROWS sets the row count (default 50 000; the
// docs/benchmarks.md figures use 1 000 000, too slow for CI).
//
//	KANADE_BENCH_WRITE_ROWS=1000000 go test -run '^$' -bench WritePath -benchtime 1x ./internal/store/
func BenchmarkWritePath(b *testing.B) {
	n := 50000
	if v := os.Getenv("KANADE_BENCH_WRITE_ROWS"); v != "" {
		fmt.Sscan(v, &n)
	}
	now := time.Now().UTC()
	rng := rand.New(rand.NewPCG(1, 2))
	rs := make([]store.Result, n)
	for i := range rs {
		rs[i] = store.Result{ExecResult: wire.ExecResult{ResultID: fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64()),
			RequestID: fmt.Sprintf("req-%03d", i%100), ExecID: fmt.Sprintf("exec-%03d", i%100), PCID: fmt.Sprintf("pc-%05d", i/100%10000),
			ManifestID: "job", Version: "1.0.0", ExitCode: b2i(i%20 == 0), Stdout: "hello from the benchmark\n", StartedAt: now,
			FinishedAt: now}, RecordedAt: now.Add(time.Duration(i) * time.Millisecond)}
	}
	for _, sync := range []string{"FULL", "NORMAL"} {
		for _, way := range []string{"raw", "projection"} {
			b.Run(sync+"/"+way, func(b *testing.B) {
				var total time.Duration
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					db := benchDB{name: "sqlite"}.open(b)
					if _, err := store.Writer(db).Exec("PRAGMA synchronous=" + sync); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					start := time.Now()
					for lo := 0; lo < len(rs); lo += benchBatch {
						batch := rs[lo:min(lo+benchBatch, len(rs))]
						var err error
						if way == "raw" {
							err = db.InsertResultsRaw(context.Background(), batch)
						} else {
							_, err = db.ApplyResults(context.Background(), batch)
						}
						if err != nil {
							b.Fatal(err)
						}
					}
					total += time.Since(start)
					b.StopTimer()
					db.Close()
					b.StartTimer()
				}
				rate(b, n*b.N, total)
			})
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
