package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/testenv/testdb"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// twoReplicas starts backend A (embedded broker) and backend B on A's
// broker and A's database (same data dir: the same SQLite file, or the same
// PostgreSQL database with KANADE_TEST_DB=postgres).
func twoReplicas(t *testing.T) (a, b *server.Server) {
	t.Helper()
	a = testenv.Backend(t, nil)
	b = testenv.Backend(t, func(c *server.Config) {
		c.NATSURL, c.DataDir, c.NATSAddr = a.NATSURL(), a.Cfg.DataDir, ""
		c.DB = a.Cfg.DB
	})
	return a, b
}

type sseEvent struct{ event, data string }

// sse follows GET /api/events of a backend until the test ends.
func sse(t *testing.T, base string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET /api/events: %d", resp.StatusCode)
	}
	ch := make(chan sseEvent, 1024)
	go func() {
		defer resp.Body.Close()
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var cur sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.event != "" {
					ch <- cur
				}
				cur = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				cur.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				cur.data = line[6:]
			}
		}
	}()
	return ch
}

// waitEvent returns the first event of type typ whose data has field=value.
func waitEvent(t *testing.T, ch <-chan sseEvent, typ, field, value string) map[string]any {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("event stream ended before %s %s=%s", typ, field, value)
			}
			var d map[string]any
			if ev.event == typ && json.Unmarshal([]byte(ev.data), &d) == nil && fmt.Sprint(d[field]) == value {
				return d
			}
		case <-timeout:
			t.Fatalf("no %s event with %s=%s", typ, field, value)
		}
	}
}

// An SSE client of either replica sees what the other projected: results
// (projected by whichever replica the shared consumer gave them to) and
// agents coming online (heartbeats are shared by a queue group).
func TestLiveEventsReachEveryReplica(t *testing.T) {
	a, b := twoReplicas(t)
	evA, evB := sse(t, a.HTTPURL()), sse(t, b.HTTPURL())
	testenv.Eventually(t, 10*time.Second, "both SSE clients connected", func() bool {
		return a.Hub.Clients() == 1 && b.Hub.Clients() == 1
	})
	nc, err := nats.Connect(a.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx := context.Background()
	if err := a.DB.CreateExecution(ctx, apiv1.Execution{ExecID: "ex-live", JobID: "job", Version: "1", InitiatedBy: "t", TargetCount: 20}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i := range 20 {
		r := wire.ExecResult{ResultID: fmt.Sprintf("live-%02d", i), RequestID: fmt.Sprintf("req-%02d", i), ExecID: "ex-live",
			PCID: fmt.Sprintf("pc-%02d", i), ManifestID: "job", Version: "1", StartedAt: now, FinishedAt: now}
		data, _ := json.Marshal(r)
		if _, err := a.JS.Publish(ctx, bus.ResultFrom(r.PCID, r.RequestID), data); err != nil {
			t.Fatal(err)
		}
	}
	// Each replica projects part of the batch, so events from the two
	// interleave in any order: collect until every one has been seen.
	for name, ch := range map[string]<-chan sseEvent{"A": evA, "B": evB} {
		missing := map[string]bool{}
		for i := range 20 {
			missing[fmt.Sprintf("live-%02d", i)] = true
		}
		completed := false
		timeout := time.After(30 * time.Second)
		for len(missing) > 0 || !completed {
			select {
			case ev, ok := <-ch:
				if !ok {
					t.Fatalf("replica %s: event stream ended", name)
				}
				var d map[string]any
				if json.Unmarshal([]byte(ev.data), &d) != nil {
					continue
				}
				switch {
				case ev.event == "result":
					delete(missing, fmt.Sprint(d["result_id"]))
				case ev.event == "execution" && d["exec_id"] == "ex-live" && d["status"] == "completed":
					completed = true
				}
			case <-timeout:
				t.Fatalf("replica %s: results never seen %v, completed execution seen %v", name, missing, completed)
			}
		}
	}
	ex, ok, err := b.DB.GetExecution(ctx, "ex-live")
	if err != nil || !ok || ex.SuccessCount != 20 || ex.Status != "completed" {
		t.Fatalf("execution after projection by two replicas: %+v %v %v", ex, ok, err)
	}

	// A heartbeat reaches one replica's writer; both dashboards hear of it.
	hb, _ := json.Marshal(wire.Heartbeat{PCID: "pc-beat", Hostname: "h", AgentVersion: "t", At: time.Now().UTC()})
	if err := nc.Publish(bus.Heartbeat("pc-beat"), hb); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []<-chan sseEvent{evA, evB} {
		if d := waitEvent(t, ch, "agent", "pc_id", "pc-beat"); d["online"] != true {
			t.Fatalf("agent event %v", d)
		}
	}
}

// Two backends reaping and retaining the same database at once: every
// overdue in-flight row is reaped once and counted once, every expired row
// is deleted once.
func TestConcurrentReapersCountOnce(t *testing.T) {
	for _, kind := range testdb.Kinds() {
		t.Run(kind, func(t *testing.T) {
			dsn, dir := "", t.TempDir()
			if kind == "postgres" {
				dsn = testdb.NewPostgres(t)
			}
			ctx := context.Background()
			open := func() *store.DB {
				db, err := store.Open(ctx, dsn, dir, testenv.Logger())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
			db1, db2 := open(), open()
			now := time.Now().UTC()
			const execs, per = 4, 1600 // 6 400 rows: more than one reaper pass (5 000)
			past := now.Add(-time.Minute)
			for e := range execs {
				id := fmt.Sprintf("reap-%d", e)
				if err := db1.CreateExecution(ctx, apiv1.Execution{ExecID: id, JobID: "job", Version: "1", InitiatedBy: "t",
					TargetCount: per, InitiatedAt: now.Add(-10 * time.Minute)}); err != nil {
					t.Fatal(err)
				}
				var rows []store.Started
				for i := range per {
					rows = append(rows, store.Started{EventStarted: wire.EventStarted{ResultID: fmt.Sprintf("%s-%04d", id, i),
						RequestID: "req", ExecID: id, PCID: fmt.Sprintf("pc-%04d", i), ManifestID: "job", Version: "1",
						StartedAt: now.Add(-5 * time.Minute)}, RecordedAt: now.Add(-5 * time.Minute), ExpiresAt: &past})
				}
				if _, err := db1.ApplyStarted(ctx, rows); err != nil {
					t.Fatal(err)
				}
			}
			// Old rows for retention: an execution and its results 100 days old.
			const old = 250
			oldAt := now.Add(-100 * 24 * time.Hour)
			if err := db1.CreateExecution(ctx, apiv1.Execution{ExecID: "ancient", JobID: "job", Version: "1", InitiatedBy: "t",
				TargetCount: old, InitiatedAt: oldAt}); err != nil {
				t.Fatal(err)
			}
			var oldRows []store.Result
			for i := range old {
				oldRows = append(oldRows, store.Result{ExecResult: wire.ExecResult{ResultID: fmt.Sprintf("ancient-%03d", i),
					RequestID: "req", ExecID: "ancient", PCID: fmt.Sprintf("pc-%03d", i), ManifestID: "job", Version: "1",
					StartedAt: oldAt, FinishedAt: oldAt}, RecordedAt: oldAt})
			}
			if _, err := db1.ApplyResults(ctx, oldRows); err != nil {
				t.Fatal(err)
			}

			var mu sync.Mutex
			reaped, progress := 0, 0
			deleted := map[string]int64{}
			var wg sync.WaitGroup
			for _, db := range []*store.DB{db1, db2} {
				wg.Go(func() {
					// Two writers on one SQLite file take turns through the
					// busy handler, which is not fair: a pass may give up
					// with SQLITE_BUSY, as a production reaper pass would
					// (it logs and retries at the next interval). Such a
					// pass is retried; anything else fails the test.
					busy := func(err error) bool { return kind == "sqlite" && strings.Contains(err.Error(), "SQLITE_BUSY") }
					for pass, retries := 0, 0; pass < 10; pass++ {
						out, err := db.Reap(ctx, now)
						if err != nil {
							if busy(err) && retries < 20 {
								retries, pass = retries+1, pass-1
								continue
							}
							t.Errorf("reap: %v", err)
							return
						}
						del, err := db.Retain(ctx, now)
						if err != nil && !(busy(err) && retries < 20) {
							t.Errorf("retain: %v", err)
							return
						}
						retainBusy := err != nil
						if retainBusy {
							retries++
						}
						mu.Lock()
						reaped += out.Reaped
						progress += len(out.Executions)
						for k, v := range del {
							deleted[k] += v
						}
						mu.Unlock()
						if out.Reaped == 0 && !retainBusy {
							return
						}
					}
				})
			}
			wg.Wait()
			if reaped != execs*per {
				t.Errorf("reaped %d rows in total, want %d", reaped, execs*per)
			}
			if deleted["execution_results"] != old || deleted["executions"] != 1 {
				t.Errorf("retention deleted %v, want %d results and 1 execution", deleted, old)
			}
			for e := range execs {
				ex, ok, err := db2.GetExecution(ctx, fmt.Sprintf("reap-%d", e))
				if err != nil || !ok || ex.FailureCount != per || ex.SuccessCount != 0 || ex.Status != "completed" {
					t.Errorf("execution %d: %+v %v %v", e, ex, ok, err)
				}
			}
			rows, total, err := db2.ListResults(ctx, store.ResultFilter{}, store.Page{Limit: 1})
			if err != nil || total != execs*per {
				t.Errorf("results left: %d (%v) %v", total, err, rows)
			}
		})
	}
}
