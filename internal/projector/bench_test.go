package projector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/broker"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/testenv/testdb"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// benchN is the number of results per run (KANADE_BENCH_N, default 50 000).
func benchN() int {
	if n, err := strconv.Atoi(os.Getenv("KANADE_BENCH_N")); err == nil && n > 0 {
		return n
	}
	return 50000
}

const benchExecs = 100

func benchResults(n int) []wire.ExecResult {
	now := time.Now().UTC()
	out := make([]wire.ExecResult, n)
	for i := range out {
		out[i] = wire.ExecResult{ResultID: fmt.Sprintf("r-%08d", i), RequestID: fmt.Sprintf("req-%03d", i%benchExecs),
			ExecID: fmt.Sprintf("exec-%03d", i%benchExecs), PCID: fmt.Sprintf("pc-%05d", i/benchExecs), ManifestID: "job",
			Version: "1.0.0", ExitCode: i % 5, Stdout: "hello from the benchmark\n", StartedAt: now, FinishedAt: now}
	}
	return out
}

// benchDSN is the database of one benchmark run: SQLite in the data dir, or
// a fresh PostgreSQL database with KANADE_TEST_DB=postgres.
func benchDSN(b *testing.B) string {
	if testdb.PostgresSelected() {
		return testdb.NewPostgres(b)
	}
	return ""
}

// preload publishes the results into RESULTS of a broker store in dir and
// creates their executions rows, then stops everything.
func preload(b *testing.B, dir, dsn string, results []wire.ExecResult) {
	b.Helper()
	br, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", StoreDir: filepath.Join(dir, "jetstream")})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Shutdown()
	nc, err := nats.Connect("", nats.InProcessServer(br.Server))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err := bus.Bootstrap(context.Background(), js, 1); err != nil {
		b.Fatal(err)
	}
	for _, r := range results {
		data, _ := json.Marshal(r)
		if _, err := js.PublishAsync(bus.ResultFrom(r.PCID, r.RequestID), data, jetstream.WithStallWait(time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	db, err := store.Open(context.Background(), dsn, dir, testenv.Logger())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for i := 0; i < benchExecs; i++ {
		if err := db.CreateExecution(context.Background(), apiv1.Execution{ExecID: fmt.Sprintf("exec-%03d", i), JobID: "job",
			TargetCount: len(results) / benchExecs}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchProjector times a backend replaying a preloaded RESULTS stream into
// an empty projection, end to end (JetStream → decode → SQLite → ack).
func benchProjector(b *testing.B, batch int) {
	n := benchN()
	results := benchResults(n)
	b.ReportAllocs()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir, dsn := b.TempDir(), benchDSN(b)
		preload(b, dir, dsn, results)
		b.StartTimer()
		start := time.Now()
		be := testenv.Backend(b, func(c *server.Config) { c.DataDir = dir; c.DB = dsn; c.ProjectorBatch = batch })
		testenv.Eventually(b, 30*time.Minute, "projection complete", func() bool {
			var c int
			_ = store.TestQueryRow(b, be.DB, "SELECT COUNT(*) FROM execution_results").Scan(&c)
			return c == n
		})
		total += time.Since(start)
		b.StopTimer()
		var done int
		_ = store.TestQueryRow(b, be.DB, "SELECT SUM(success_count + failure_count) FROM executions").Scan(&done)
		if done != n {
			b.Fatalf("counters sum to %d, want %d", done, n)
		}
		be.Stop(context.Background())
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "rows/s")
}

// BenchmarkProjectorBatched is the real projector (1000 messages per transaction).
func BenchmarkProjectorBatched(b *testing.B) { benchProjector(b, 1000) }

// BenchmarkProjectorOnePerTx is the same with one message per transaction.
func BenchmarkProjectorOnePerTx(b *testing.B) { benchProjector(b, 1) }

// BenchmarkRawBatchedInsert is the physical ceiling: the same rows inserted
// into the same schema, 1000 per transaction, with no broker at all.
func BenchmarkRawBatchedInsert(b *testing.B) {
	n := benchN()
	results := benchResults(n)
	rows := make([]store.Result, n)
	for i, r := range results {
		rows[i] = store.Result{ExecResult: r, RecordedAt: r.FinishedAt}
	}
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db, err := store.Open(context.Background(), benchDSN(b), b.TempDir(), testenv.Logger())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		for lo := 0; lo < n; lo += 1000 {
			if err := db.InsertResultsRaw(context.Background(), rows[lo:min(lo+1000, n)]); err != nil {
				b.Fatal(err)
			}
		}
		total += time.Since(start)
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "rows/s")
}
