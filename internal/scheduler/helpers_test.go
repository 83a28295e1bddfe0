package scheduler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/scheduler"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// recorder is a real dispatcher (executions row, pin, one Command per
// subject published to JetStream, like the exec API) that also remembers
// every request, shared by all backends of a test.
type recorder struct {
	mu   sync.Mutex
	reqs []scheduler.Request
	by   []string // which backend dispatched
}

// dispatcher returns the recorder's dispatcher for the backend that srv
// will deliver once it is built (schedules fire only after the test has
// put them, so the wait is short).
func (rc *recorder) dispatcher(name string, srv <-chan *server.Server) scheduler.Dispatcher {
	var once sync.Once
	var b *server.Server
	{
		return scheduler.DispatcherFunc(func(ctx context.Context, req scheduler.Request) (scheduler.Dispatched, error) {
			once.Do(func() { b = <-srv })
			kv, err := b.JS.KeyValue(ctx, bus.KVJobs)
			if err != nil {
				return scheduler.Dispatched{}, err
			}
			ent, err := kv.Get(ctx, req.JobID)
			if err != nil {
				return scheduler.Dispatched{}, fmt.Errorf("job %s: %w", req.JobID, err)
			}
			man, err := manifest.Parse(ent.Value())
			if err != nil {
				return scheduler.Dispatched{}, err
			}
			live, err := b.DB.LiveAgentGroups(ctx, time.Now())
			if err != nil {
				return scheduler.Dispatched{}, err
			}
			n := 0
			for pc, g := range live {
				if req.Plan.Matches(pc, g) {
					n++
				}
			}
			if err := b.DB.CreateExecution(ctx, apiv1.Execution{ExecID: req.ExecID, JobID: req.JobID, Version: man.Version,
				InitiatedBy: req.InitiatedBy, TargetCount: max(n, 1)}); err != nil {
				return scheduler.Dispatched{}, err
			}
			pin, err := b.JS.KeyValue(ctx, bus.KVScriptCurrent)
			if err != nil {
				return scheduler.Dispatched{}, err
			}
			if _, err := pin.Put(ctx, req.JobID, []byte(man.Version)); err != nil {
				return scheduler.Dispatched{}, err
			}
			subjects := req.Plan.Subjects()
			for _, subj := range subjects {
				data, _ := json.Marshal(man.Command(req.ExecID, uuid.NewString(), req.Plan))
				if _, err := b.JS.Publish(ctx, subj, data); err != nil {
					return scheduler.Dispatched{}, err
				}
			}
			rc.mu.Lock()
			rc.reqs = append(rc.reqs, req)
			rc.by = append(rc.by, name)
			rc.mu.Unlock()
			return scheduler.Dispatched{Version: man.Version, TargetCount: max(n, 1), Subjects: subjects}, nil
		})
	}
}

func (rc *recorder) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

func (rc *recorder) snapshot() ([]scheduler.Request, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]scheduler.Request(nil), rc.reqs...), append([]string(nil), rc.by...)
}

// startBackend starts a backend whose scheduler fires through the
// recorder; the returned view exposes its election and scheduler.
func startBackend(t *testing.T, rc *recorder, name string, opts scheduler.Options, mutate func(*server.Config)) (*server.Server, svcView) {
	t.Helper()
	srv := make(chan *server.Server, 1)
	b := testenv.Backend(t, func(c *server.Config) {
		c.Scheduler = opts
		c.Dispatcher = rc.dispatcher(name, srv)
		if mutate != nil {
			mutate(c)
		}
	})
	srv <- b
	return b, svcView{b}
}

// svcView reads a backend's scheduler duties.
type svcView struct{ b *server.Server }

func (v svcView) IsLeader() bool                  { return v.b.Elector.IsLeader() }
func (v svcView) Scheduler() *scheduler.Scheduler { return v.b.Sched }

func putJob(t *testing.T, b *server.Server, id string) {
	t.Helper()
	m := manifest.Manifest{ID: id, Version: "1.0.0", Execute: manifest.Execute{Shell: "sh", Script: "true", Timeout: "30s", RunAs: "system"}}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	kv, err := b.JS.KeyValue(context.Background(), bus.KVJobs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), id, m.JSON()); err != nil {
		t.Fatal(err)
	}
}

func do(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func mustDo(t *testing.T, method, url, body string, want int) []byte {
	t.Helper()
	code, data := do(t, method, url, body)
	if code != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, url, code, want, data)
	}
	return data
}

func readState(t *testing.T, b *server.Server, id string) scheduler.State {
	t.Helper()
	st, _, err := b.KV.Schedules.State(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// fakeAgent is a minimal agent over real NATS: heartbeats, and for every
// command on its subjects an EventStarted and a successful ExecResult
// through JetStream. It reconnects to the same URL across broker restarts.
type fakeAgent struct {
	pc   string
	mu   sync.Mutex
	runs map[string]int // exec_id → runs
	seen map[string]bool
}

func startAgent(t *testing.T, url, pc string) *fakeAgent {
	t.Helper()
	return startHeldAgent(t, url, pc, nil)
}

// startHeldAgent is startAgent whose runs, once started, finish only when
// hold is closed (nil: at once).
func startHeldAgent(t *testing.T, url, pc string, hold <-chan struct{}) *fakeAgent {
	t.Helper()
	a := &fakeAgent{pc: pc, runs: map[string]int{}, seen: map[string]bool{}}
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait(); nc.Close() })
	handle := func(m *nats.Msg) {
		var c wire.Command
		if err := json.Unmarshal(m.Data, &c); err != nil {
			return
		}
		a.mu.Lock()
		dup := a.seen[c.RequestID]
		a.seen[c.RequestID] = true
		if !dup {
			a.runs[c.ExecID]++
		}
		a.mu.Unlock()
		if dup {
			return
		}
		resultID := uuid.NewString()
		now := time.Now().UTC()
		ev, _ := json.Marshal(wire.EventStarted{ResultID: resultID, RequestID: c.RequestID, ExecID: c.ExecID, PCID: pc,
			StartedAt: now, ManifestID: c.ID, Version: c.Version})
		res, _ := json.Marshal(wire.ExecResult{ResultID: resultID, RequestID: c.RequestID, ExecID: c.ExecID, PCID: pc,
			ManifestID: c.ID, Version: c.Version, StartedAt: now, FinishedAt: time.Now().UTC()})
		wg.Go(func() {
			for _, p := range []struct {
				subj string
				data []byte
			}{{bus.EventStarted(c.ExecID, pc), ev}, {bus.ResultFrom(pc, c.RequestID), res}} {
				if hold != nil && strings.HasPrefix(p.subj, "results.") {
					select {
					case <-hold:
					case <-ctx.Done():
						return
					}
				}
				for ctx.Err() == nil {
					// Like the agent's outbox: retry until the broker acknowledges.
					if _, err := nc.Request(p.subj, p.data, 2*time.Second); err == nil {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	for _, subj := range []string{bus.SubjCommandsAll, bus.CommandsPC(pc)} {
		if _, err := nc.Subscribe(subj, handle); err != nil {
			t.Fatal(err)
		}
	}
	wg.Go(func() {
		tk := time.NewTicker(300 * time.Millisecond)
		defer tk.Stop()
		for {
			hb, _ := json.Marshal(wire.Heartbeat{PCID: pc, Hostname: pc, OSFamily: "linux", At: time.Now().UTC(), AgentVersion: "test"})
			_ = nc.Publish(bus.Heartbeat(pc), hb)
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
		}
	})
	return a
}

func (a *fakeAgent) totalRuns() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, r := range a.runs {
		n += r
	}
	return n
}

func mustPlan(t *testing.T) manifest.Plan {
	t.Helper()
	p := manifest.Plan{Target: manifest.Target{PCs: []string{"pc1"}}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}
