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

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// TestCrashSafety kills -9 a real kanade-backend process while it projects
// 100 000 results, restarts it, and checks that exactly 100 000 rows exist
// and every execution's counters are exact. KANADE_CRASH_RESULTS overrides
// the count.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the backend binary")
	}
	total := 100000
	if v := os.Getenv("KANADE_CRASH_RESULTS"); v != "" {
		fmt.Sscan(v, &total)
	}
	const execs = 10
	dir := t.TempDir()
	bin := buildBackend(t)
	data := filepath.Join(dir, "data")
	httpAddr, natsAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	startBackend := func() *exec.Cmd {
		cmd := exec.Command(bin, "--data-dir", data, "--http-addr", httpAddr, "--nats-addr", natsAddr, "--log-level", "warn",
			"--nats-identity=false") // its raw publishers have no broker credential
		cmd.Env = append(os.Environ(), "KANADE_AUTH_DISABLE=1")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 60*time.Second, "backend /health", func() bool {
			resp, err := http.Get("http://" + httpAddr + "/health")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
		return cmd
	}
	cmd := startBackend()
	defer func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() }()

	// The parent executions rows, as POST /api/exec would create them.
	db, err := store.Open(context.Background(), "", data, testenv.Logger())
	if err != nil {
		t.Fatal(err)
	}
	work := bulk{execPrefix: "exec", resultPrefix: "r", total: total, execs: execs}
	work.createExecutions(t, db, "crash-test")
	db.Close()

	nc, err := nats.Connect("nats://"+natsAddr, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	wantFail := work.publish(t, nc)

	// Kill -9 in the middle of the projection.
	rdb, err := sql.Open("sqlite", "file:"+filepath.Join(data, "backend.db")+"?_pragma=busy_timeout(10000)&mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	count := func() int {
		var n int
		_ = rdb.QueryRow("SELECT COUNT(*) FROM execution_results").Scan(&n)
		return n
	}
	testenv.Eventually(t, 2*time.Minute, "projection under way", func() bool { return count() >= total/10 })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = cmd.Process.Wait()
	killedAt := count()
	t.Logf("killed with %d of %d rows projected", killedAt, total)
	if killedAt >= total {
		t.Log("projection finished before the kill; the restart still has to keep counts exact")
	}

	cmd = startBackend()
	testenv.Eventually(t, 5*time.Minute, "all rows projected", func() bool { return count() == total })
	// Let any redelivered tail drain, then check nothing moved.
	js2 := jsFor(t, natsAddr)
	testenv.Eventually(t, time.Minute, "consumer drained", func() bool {
		c, err := js2.Consumer(context.Background(), bus.StreamResults, bus.ConsumerResults)
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	if n := count(); n != total {
		t.Fatalf("rows = %d, want %d", n, total)
	}
	var succ, fail, completed int
	if err := rdb.QueryRow(`SELECT SUM(success_count), SUM(failure_count), SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) FROM executions`).
		Scan(&succ, &fail, &completed); err != nil {
		t.Fatal(err)
	}
	if succ+fail != total || fail != wantFail || completed != execs {
		t.Fatalf("counters: success=%d failure=%d completed=%d; want success=%d failure=%d completed=%d",
			succ, fail, completed, total-wantFail, wantFail, execs)
	}
}

func jsFor(t *testing.T, addr string) jetstream.JetStream {
	nc, err := nats.Connect("nats://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	return js
}
