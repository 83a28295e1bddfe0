package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/broker"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/testenv/testdb"
)

// TestReplicasKill9 runs two kanade-backend processes against one broker
// and one PostgreSQL database (SPEC §9), publishes 100 000 results
// (KANADE_REPLICA_RESULTS overrides), kills -9 one backend in the middle,
// and checks the survivor finishes: exactly one row per result and exact
// counters. Needs KANADE_TEST_POSTGRES (.ci/postgres.sh).
func TestReplicasKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the backend binary")
	}
	if testdb.AdminDSN() == "" {
		t.Skip("KANADE_TEST_POSTGRES not set: no PostgreSQL")
	}
	total := 100000
	if v := os.Getenv("KANADE_REPLICA_RESULTS"); v != "" {
		fmt.Sscan(v, &total)
	}
	const execs = 10
	dir := t.TempDir()
	bin := buildBackend(t)
	// The shared broker lives in the test process; the backends embed none.
	br, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", StoreDir: filepath.Join(dir, "jetstream"), Log: testenv.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Shutdown()
	natsURL := br.ClientURL()
	dsn := testdb.NewPostgres(t)
	key := sharedSigningKey(t, dir) // separate data dirs: the replicas are given one signing key

	type replica struct {
		cmd  *exec.Cmd
		http string
	}
	start := func(name string) *replica {
		r := &replica{http: testenv.FreeAddr(t)}
		r.cmd = exec.Command(bin, "--data-dir", filepath.Join(dir, name), "--http-addr", r.http, "--nats-url", natsURL,
			"--db", dsn, "--log-level", "warn", "--signing-key", key)
		r.cmd.Env = append(os.Environ(), "KANADE_AUTH_DISABLE=1")
		r.cmd.Stderr = os.Stderr
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.cmd.Process.Kill(); _, _ = r.cmd.Process.Wait() })
		return r
	}
	healthy := func(r *replica) {
		testenv.Eventually(t, 60*time.Second, "backend /health", func() bool {
			resp, err := http.Get("http://" + r.http + "/health")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
	}
	// Both start together on the empty database (migrations under lock).
	a, b := start("a"), start("b")
	healthy(a)
	healthy(b)

	db, err := store.Open(context.Background(), dsn, dir, testenv.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	work := bulk{execPrefix: "exec", resultPrefix: "r", total: total, execs: execs, withStarted: true}
	work.createExecutions(t, db, "replica-test")

	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	wantFail := work.publish(t, nc)
	js, _ := jetstream.New(nc)

	count := func(q string) int {
		var n sql.NullInt64
		_ = store.TestQueryRow(t, db, q).Scan(&n)
		return int(n.Int64)
	}
	rows := func() int { return count("SELECT COUNT(*) FROM execution_results WHERE finished_at IS NOT NULL") }
	testenv.Eventually(t, 2*time.Minute, "projection under way", func() bool { return rows() >= total/10 })
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = a.cmd.Process.Wait()
	killedAt := rows()
	t.Logf("killed replica a with %d of %d results projected", killedAt, total)

	// Replica b alone finishes, including a's unacknowledged messages
	// (redelivered after AckWait).
	testenv.Eventually(t, 5*time.Minute, "all results projected", func() bool { return rows() == total })
	testenv.Eventually(t, 2*time.Minute, "consumers drained", func() bool {
		for _, c := range [][2]string{{bus.StreamResults, bus.ConsumerResults}, {bus.StreamEvents, bus.ConsumerEvents}} {
			cons, err := js.Consumer(context.Background(), c[0], c[1])
			if err != nil {
				return false
			}
			info, err := cons.Info(context.Background())
			if err != nil || info.NumPending > 0 || info.NumAckPending > 0 {
				return false
			}
		}
		return true
	})
	if n := count("SELECT COUNT(*) FROM execution_results"); n != total {
		t.Fatalf("rows = %d, want %d", n, total)
	}
	if n := rows(); n != total {
		t.Fatalf("finished rows = %d, want %d", n, total)
	}
	succ, fail := count("SELECT SUM(success_count) FROM executions"), count("SELECT SUM(failure_count) FROM executions")
	completed := count("SELECT COUNT(*) FROM executions WHERE status = 'completed'")
	if succ+fail != total || fail != wantFail || completed != execs {
		t.Fatalf("counters: success=%d failure=%d completed=%d; want success=%d failure=%d completed=%d",
			succ, fail, completed, total-wantFail, wantFail, execs)
	}
	// And b is still serving.
	healthy(b)
}
