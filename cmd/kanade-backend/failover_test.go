package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/agent"
	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/broker"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/testenv/testdb"
	kwire "github.com/kanade-fleet/kanade/internal/wire"
)

// lockedBuf collects a process's log lines.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) Contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Contains(l.b.Bytes(), []byte(s))
}

// TestReplicasFailover runs two kanade-backend processes on one external
// broker and one database (PostgreSQL with KANADE_TEST_POSTGRES, else one
// SQLite file shared by both processes), and kills -9 the scheduler leader
// while (1) results are being projected, (2) a schedule fires every 2 s,
// (3) a rollout's second wave is pending. The survivor projects every
// result exactly once, takes the lock and keeps firing — each tick at most
// once — and sends the pending wave exactly once. KANADE_FAILOVER_RESULTS
// sets the number of results (default 20 000).
func TestReplicasFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the backend binary")
	}
	total := 20000
	if v := os.Getenv("KANADE_FAILOVER_RESULTS"); v != "" {
		fmt.Sscan(v, &total)
	}
	const execs = 10
	dir := t.TempDir()
	bin := buildBackend(t)
	br, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", StoreDir: filepath.Join(dir, "jetstream"), Log: testenv.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Shutdown()
	natsURL := br.ClientURL()
	dsn, kind := "", "sqlite"
	if testdb.AdminDSN() != "" {
		dsn, kind = testdb.NewPostgres(t), "postgres"
	}
	shared := filepath.Join(dir, "shared") // SQLite: one backend.db for both
	key := sharedSigningKey(t, dir)        // PostgreSQL: separate data dirs, one signing key

	type replica struct {
		name string
		cmd  *exec.Cmd
		http string
		log  *lockedBuf
	}
	start := func(name string) *replica {
		r := &replica{name: name, http: testenv.FreeAddr(t), log: &lockedBuf{}}
		data := shared
		if dsn != "" {
			data = filepath.Join(dir, name)
		}
		args := []string{"--data-dir", data, "--http-addr", r.http, "--nats-url", natsURL, "--log-level", "info",
			"--signing-key", key}
		if dsn != "" {
			args = append(args, "--db", dsn)
		}
		r.cmd = exec.Command(bin, args...)
		r.cmd.Env = append(os.Environ(), "KANADE_AUTH_DISABLE=1")
		r.cmd.Stderr = r.log
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = r.cmd.Process.Kill()
			_, _ = r.cmd.Process.Wait()
			if t.Failed() {
				t.Logf("--- log of replica %s (tail) ---\n%s", r.name, tail(r.log, 4000))
			}
		})
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
	a := start("a")
	healthy(a) // a creates the SQLite file and migrates it; b opens it
	b := start("b")
	healthy(b)
	t.Logf("two replicas on %s", kind)
	ctx := context.Background()
	call := func(r *replica, method, path, ctype, body string) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+r.http+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
		}
		return data
	}

	// Two real agents: a canary and a second wave.
	for pc, group := range map[string]string{"pc-canary": "canary", "pc-wave": "wave1"} {
		call(a, "PUT", "/api/agents/"+pc+"/groups", "application/json", fmt.Sprintf(`{"groups": [%q]}`, group))
		ag, err := agent.New(agent.Options{PCID: pc, NATSURL: natsURL, DataDir: t.TempDir(), Version: "test", Logger: testenv.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		actx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = ag.Run(actx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		testenv.Eventually(t, 30*time.Second, pc+" in its group", func() bool { return len(ag.Groups()) == 1 })
	}
	var db *store.DB
	if db, err = store.Open(ctx, dsn, shared, testenv.Logger()); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testenv.Eventually(t, 30*time.Second, "agents online", func() bool {
		pcs, err := db.OnlinePCs(ctx, time.Now(), "")
		return err == nil && len(pcs) == 2
	})

	// A schedule every 2 s; the replica that logs its fires is the leader.
	call(a, "POST", "/api/jobs", "application/yaml", "id: tick\nversion: \"1\"\nexecute:\n  shell: sh\n  script: echo tick\n  timeout: 30s\n")
	call(a, "POST", "/api/schedules", "application/yaml", "id: every2\njob_id: tick\ntz: utc\ncron: \"*/2 * * * * *\"\ntarget:\n  pcs: [pc-canary]\n")
	var leader, survivor *replica
	testenv.Eventually(t, 60*time.Second, "a replica fires the schedule", func() bool {
		switch {
		case a.log.Contains(`"schedule fired"`):
			leader, survivor = a, b
		case b.log.Contains(`"schedule fired"`):
			leader, survivor = b, a
		}
		return leader != nil
	})
	t.Logf("replica %s leads", leader.name)

	// A rollout whose second wave is due after the failover.
	call(a, "POST", "/api/jobs", "application/yaml", "id: roll\nversion: \"1\"\nexecute:\n  shell: sh\n  script: echo rolled\n  timeout: 30s\n")
	var roll apiv1.ExecResponse
	if err := json.Unmarshal(call(survivor, "POST", "/api/exec/roll", "application/json",
		`{"rollout": {"waves": [{"group": "canary"}, {"group": "wave1", "delay": "20s"}]}}`), &roll); err != nil {
		t.Fatal(err)
	}

	// Results to project, shared by both replicas' consumer.
	work := bulk{execPrefix: "bulk", resultPrefix: "bulk", total: total, execs: execs}
	work.createExecutions(t, db, "failover-test")
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	wantFail := work.publish(t, nc)
	js, _ := jetstream.New(nc)
	count := func(q string, args ...any) int {
		var n sql.NullInt64
		_ = store.TestQueryRow(t, db, q, args...).Scan(&n)
		return int(n.Int64)
	}
	projected := func() int {
		return count("SELECT COUNT(*) FROM execution_results WHERE exec_id LIKE 'bulk-%' AND finished_at IS NOT NULL")
	}
	testenv.Eventually(t, 2*time.Minute, "projection under way", func() bool { return projected() >= total/10 })
	if e, _, _ := db.GetExecution(ctx, roll.ExecID); e.PendingWaves != 1 {
		t.Fatalf("rollout before the kill: %+v (want one pending wave)", e)
	}

	// kill -9 the leader.
	if err := leader.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = leader.cmd.Process.Wait()
	killedAt := time.Now()
	t.Logf("killed leader %s with %d of %d results projected", leader.name, projected(), total)

	// The survivor projects the rest, exactly once.
	testenv.Eventually(t, 5*time.Minute, "all results projected", func() bool { return projected() == total })
	testenv.Eventually(t, 2*time.Minute, "results consumer drained", func() bool {
		cons, err := js.Consumer(ctx, bus.StreamResults, bus.ConsumerResults)
		if err != nil {
			return false
		}
		info, err := cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	if n := count("SELECT COUNT(*) FROM execution_results WHERE exec_id LIKE 'bulk-%'"); n != total {
		t.Fatalf("rows = %d, want %d", n, total)
	}
	succ := count("SELECT SUM(success_count) FROM executions WHERE exec_id LIKE 'bulk-%'")
	fail := count("SELECT SUM(failure_count) FROM executions WHERE exec_id LIKE 'bulk-%'")
	if succ+fail != total || fail != wantFail {
		t.Fatalf("counters: success=%d failure=%d; want %d and %d", succ, fail, total-wantFail, wantFail)
	}

	// The pending wave is sent by the survivor, once.
	testenv.Eventually(t, 2*time.Minute, "rollout completed", func() bool {
		e, _, _ := db.GetExecution(ctx, roll.ExecID)
		return e.Status == "completed" && e.PendingWaves == 0
	})
	if e, _, _ := db.GetExecution(ctx, roll.ExecID); e.TargetCount != 2 || e.SuccessCount != 2 || e.FailureCount != 0 {
		t.Fatalf("rollout after failover: %+v", e)
	}
	if n := count("SELECT COUNT(*) FROM execution_results WHERE exec_id = ?", roll.ExecID); n != 2 {
		t.Fatalf("rollout rows = %d, want 2", n)
	}

	// The schedule keeps firing on the survivor; no tick fires twice.
	testenv.Eventually(t, 90*time.Second, "survivor fires the schedule", func() bool {
		return survivor.log.Contains(`"schedule fired"`) && len(fireTicks(t, js, killedAt)) >= 2
	})
	all := fireTicks(t, js, time.Time{})
	seen := map[time.Time]bool{}
	for _, tick := range all {
		if seen[tick] {
			t.Fatalf("tick %s fired twice (ticks %v)", tick, all)
		}
		seen[tick] = true
		if tick.Second()%2 != 0 {
			t.Fatalf("tick %s is not on the schedule", tick)
		}
	}
	// Every audited fire has its execution. The survivor keeps firing, so
	// both sides are re-read until they settle; and the kill can land
	// between a fire's dispatch and its audit record, leaving at most one
	// execution of the dead leader without an audited fire (that tick still
	// ran once: the survivor catches up only ticks after the last audited
	// one, and no audited tick repeats, checked above).
	var fired int
	testenv.Eventually(t, 30*time.Second, "executions match audited fires", func() bool {
		all = fireTicks(t, js, time.Time{})
		fired = count("SELECT COUNT(*) FROM executions WHERE job_id = 'tick'")
		return fired >= len(all) && fired <= len(all)+1
	})
	t.Logf("%d fires, %d after the failover", len(all), len(fireTicks(t, js, killedAt)))
	healthy(survivor)
}

// fireTicks reads the scheduler's audited fires (AUDIT stream) with a tick
// after since.
func fireTicks(t *testing.T, js jetstream.JetStream, since time.Time) []time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, bus.StreamAudit, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{bus.Audit("scheduler", "schedule.fire")}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ticks []time.Time
	for n := info.NumPending; n > 0; n-- {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var ev kwire.AuditEvent
		var p struct {
			Tick time.Time `json:"tick"`
		}
		if json.Unmarshal(m.Data(), &ev) != nil || json.Unmarshal(ev.Payload, &p) != nil {
			t.Fatalf("audit message %s", m.Data())
		}
		if p.Tick.After(since) {
			ticks = append(ticks, p.Tick)
		}
	}
	return ticks
}

func tail(l *lockedBuf, n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}
