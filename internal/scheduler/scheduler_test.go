package scheduler_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/broker"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/scheduler"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

func waitLeader(t *testing.T, svc svcView) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, "scheduler leadership", svc.IsLeader)
}

func TestCronFiresEveryTwoSeconds(t *testing.T) {
	rc := &recorder{}
	b, svc := startBackend(t, rc, "b1", scheduler.Options{}, nil)
	waitLeader(t, svc)
	putJob(t, b, "hello")
	mustDo(t, "POST", b.HTTPURL()+"/api/schedules", `
id: every-two
job_id: hello
tz: utc
when:
  cron: "*/2 * * * * *"
target: {all: true}
starting_deadline: 1m
jitter: 5s
`, 201)
	testenv.Eventually(t, 20*time.Second, "two scheduled fires", func() bool { return rc.count() >= 2 })

	reqs, _ := rc.snapshot()
	for i, r := range reqs {
		if r.JobID != "hello" || r.InitiatedBy != scheduler.Actor || r.ScheduleID != "every-two" || !r.Plan.Target.All {
			t.Fatalf("request %d: %+v", i, r)
		}
		if r.Tick.Second()%2 != 0 {
			t.Fatalf("tick %s is not on an even second", r.Tick)
		}
		if r.Plan.DeadlineAt == nil || !r.Plan.DeadlineAt.Equal(r.Tick.Add(time.Minute)) {
			t.Fatalf("deadline_at %v, want tick+1m (%s)", r.Plan.DeadlineAt, r.Tick)
		}
		if r.Plan.Jitter != "5s" {
			t.Fatalf("jitter %q", r.Plan.Jitter)
		}
		if i > 0 && !r.Tick.After(reqs[i-1].Tick) {
			t.Fatalf("ticks not increasing: %s then %s", reqs[i-1].Tick, r.Tick)
		}
	}

	// The list row carries the bookkeeping.
	var rows []map[string]any
	if err := json.Unmarshal(mustDo(t, "GET", b.HTTPURL()+"/api/schedules", "", 200), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0]["id"] != "every-two" || rows[0]["last_exec_id"] == "" || rows[0]["next_fire"] == nil || rows[0]["last_fire"] == nil {
		t.Fatalf("rows: %v", rows)
	}
	// Every dispatch is audited as actor scheduler and has an executions row.
	testenv.Eventually(t, 10*time.Second, "audit rows of actor scheduler", func() bool {
		var audit []map[string]any
		_ = json.Unmarshal(mustDo(t, "GET", b.HTTPURL()+"/api/audit?actor=scheduler", "", 200), &audit)
		return len(audit) >= 2 && audit[0]["action"] == scheduler.ActionFire && audit[0]["target"] == "every-two"
	})
	var ex map[string]any
	if err := json.Unmarshal(mustDo(t, "GET", b.HTTPURL()+"/api/executions/"+reqs[0].ExecID, "", 200), &ex); err != nil {
		t.Fatal(err)
	}
	if ex["initiated_by"] != "scheduler" {
		t.Fatalf("execution: %v", ex)
	}
	// Dashboards get a live schedule event per fire.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", b.HTTPURL()+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if sc.Text() == "event: schedule" && sc.Scan() && strings.Contains(sc.Text(), `"schedule_id":"every-two"`) &&
			strings.Contains(sc.Text(), `"exec_id"`) && strings.Contains(sc.Text(), `"job_id":"hello"`) {
			break
		}
	}
	if ctx.Err() != nil {
		t.Fatal("no live schedule event")
	}
	// A schedule referencing the job blocks its deletion.
	ids, err := b.KV.Schedules.UsingJob(context.Background(), "hello")
	if err != nil || !slices.Equal(ids, []string{"every-two"}) {
		t.Fatalf("UsingJob: %v %v", ids, err)
	}
	if ids, _ := b.KV.Schedules.UsingJob(context.Background(), "other"); len(ids) != 0 {
		t.Fatalf("UsingJob(other): %v", ids)
	}
}

func TestLiveChanges(t *testing.T) {
	rc := &recorder{}
	b, svc := startBackend(t, rc, "b1", scheduler.Options{}, nil)
	waitLeader(t, svc)
	putJob(t, b, "hello")
	armed := func(want bool) func() bool {
		return func() bool { return slices.Contains(svc.Scheduler().Armed(), "s1") == want }
	}
	mustDo(t, "POST", b.HTTPURL()+"/api/schedules", `{"id":"s1","job_id":"hello","when":{"cron":"* * * * * *"},"target":{"pcs":["pc1"]}}`, 201)
	testenv.Eventually(t, 10*time.Second, "first fire", func() bool { return rc.count() >= 1 })

	mustDo(t, "POST", b.HTTPURL()+"/api/schedules/s1/disable", "", 200)
	testenv.Eventually(t, 10*time.Second, "disarmed", armed(false))
	n := rc.count()
	time.Sleep(2500 * time.Millisecond) // absence of fires needs a few ticks to pass
	if got := rc.count(); got != n {
		t.Fatalf("disabled schedule fired: %d → %d", n, got)
	}
	var row map[string]any
	_ = json.Unmarshal(mustDo(t, "GET", b.HTTPURL()+"/api/schedules/s1", "", 200), &row)
	if row["enabled"] != false || row["next_fire"] != nil || !strings.Contains(row["yaml"].(string), `"s1"`) {
		t.Fatalf("row: %v", row)
	}

	mustDo(t, "POST", b.HTTPURL()+"/api/schedules/s1/enable", "", 200)
	testenv.Eventually(t, 10*time.Second, "fires again", func() bool { return rc.count() > n })

	// A change of target takes effect without a restart.
	mustDo(t, "POST", b.HTTPURL()+"/api/schedules", `{"id":"s1","job_id":"hello","when":{"cron":"* * * * * *"},"target":{"pcs":["pc2"]}}`, 201)
	testenv.Eventually(t, 10*time.Second, "fires with the new target", func() bool {
		reqs, _ := rc.snapshot()
		return slices.Equal(reqs[len(reqs)-1].Plan.Target.PCs, []string{"pc2"})
	})

	mustDo(t, "DELETE", b.HTTPURL()+"/api/schedules/s1", "", 204)
	testenv.Eventually(t, 10*time.Second, "removed", armed(false))
	mustDo(t, "DELETE", b.HTTPURL()+"/api/schedules/s1", "", 404)
	if st := readState(t, b, "s1"); !st.LastTick.IsZero() {
		t.Fatalf("state kept after delete: %+v", st)
	}
}

func TestFreezeStopsScheduledFires(t *testing.T) {
	rc := &recorder{}
	b, svc := startBackend(t, rc, "b1", scheduler.Options{}, nil)
	waitLeader(t, svc)
	putJob(t, b, "hello")
	ctx := context.Background()
	fleet, err := b.JS.KeyValue(ctx, bus.KVFleetConfig)
	if err != nil {
		t.Fatal(err)
	}
	freeze, _ := json.Marshal(wire.Freeze{Reason: "incident", By: "op", Since: time.Now().UTC()})
	if _, err := fleet.Put(ctx, bus.FreezeKey, freeze); err != nil {
		t.Fatal(err)
	}
	mustDo(t, "POST", b.HTTPURL()+"/api/schedules", "id: f1\njob_id: hello\ncron: '* * * * * *'\ntarget: {all: true}\n", 201)
	testenv.Eventually(t, 10*time.Second, "armed", func() bool { return slices.Contains(svc.Scheduler().Armed(), "f1") })
	time.Sleep(3 * time.Second) // let several ticks pass while frozen
	if n := rc.count(); n != 0 {
		t.Fatalf("%d fires during a freeze", n)
	}
	if st := readState(t, b, "f1"); !st.LastTick.IsZero() {
		t.Fatalf("a frozen tick was claimed: %+v", st)
	}
	// The freeze gates the scheduler only: a manual exec goes through the
	// same dispatcher untouched (the exec API never consults the freeze).
	ready := make(chan *server.Server, 1)
	ready <- b
	manual := rc.dispatcher("manual", ready)
	if _, err := manual.Exec(ctx, scheduler.Request{ExecID: "manual-1", JobID: "hello", InitiatedBy: "admin",
		Plan: mustPlan(t)}); err != nil {
		t.Fatal(err)
	}
	// An expired freeze no longer holds.
	past := time.Now().Add(-time.Minute)
	freeze, _ = json.Marshal(wire.Freeze{Reason: "over", Since: past.Add(-time.Hour), Until: &past})
	if _, err := fleet.Put(ctx, bus.FreezeKey, freeze); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "fires after the freeze ends", func() bool { return rc.count() >= 3 })
	// A corrupt freeze value counts as frozen (fail safe).
	if _, err := fleet.Put(ctx, bus.FreezeKey, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond) // a tick in flight may still finish
	n := rc.count()
	time.Sleep(2500 * time.Millisecond)
	if got := rc.count(); got != n {
		t.Fatalf("fired under a corrupt freeze value: %d → %d", n, got)
	}
	if err := fleet.Delete(ctx, bus.FreezeKey); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "fires after the freeze is cleared", func() bool { return rc.count() > n })
}

func TestPerPCOnceAcrossRestart(t *testing.T) {
	rc := &recorder{}
	dataDir := t.TempDir()
	natsAddr := testenv.FreeAddr(t)
	opts := scheduler.Options{PerPCEvery: 300 * time.Millisecond}
	mutate := func(c *server.Config) { c.DataDir, c.NATSAddr = dataDir, natsAddr }
	b1, svc1 := startBackend(t, rc, "b1", opts, mutate)
	url := b1.NATSURL()
	agents := map[string]*fakeAgent{"pc1": startAgent(t, url, "pc1"), "pc2": startAgent(t, url, "pc2"),
		"other": startAgent(t, url, "other")}
	waitLeader(t, svc1)
	putJob(t, b1, "kit")
	// pc3 is targeted but offline until after the restart.
	mustDo(t, "POST", b1.HTTPURL()+"/api/schedules", `
id: kitting
job_id: kit
when: {per_pc: once}
target: {pcs: [pc1, pc2, pc3]}
`, 201)
	testenv.Eventually(t, 20*time.Second, "pc1 and pc2 ran", func() bool {
		return agents["pc1"].totalRuns() == 1 && agents["pc2"].totalRuns() == 1
	})
	// Wait until both successes are projected and several evaluations have
	// seen them.
	testenv.Eventually(t, 20*time.Second, "successes projected", func() bool {
		var res []map[string]any
		_ = json.Unmarshal(mustDo(t, "GET", b1.HTTPURL()+"/api/results?job_id=kit&status=success", "", 200), &res)
		return len(res) == 2
	})
	settled := time.Now()
	testenv.Eventually(t, 20*time.Second, "evaluations after success", func() bool {
		return readState(t, b1, "kitting").LastTick.After(settled.Add(time.Second))
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	b1.Stop(ctx)
	cancel()
	restarted := time.Now()
	b2, svc2 := startBackend(t, rc, "b2", opts, mutate)
	waitLeader(t, svc2)
	agents["pc3"] = startAgent(t, b2.NATSURL(), "pc3")
	testenv.Eventually(t, 30*time.Second, "pc3 caught after the restart", func() bool { return agents["pc3"].totalRuns() == 1 })
	testenv.Eventually(t, 20*time.Second, "evaluations after the restart", func() bool {
		return readState(t, b2, "kitting").LastTick.After(restarted.Add(2 * time.Second))
	})
	time.Sleep(time.Second) // let any wrongful re-dispatch reach the agents
	for pc, a := range agents {
		want := 1
		if pc == "other" {
			want = 0
		}
		if got := a.totalRuns(); got != want {
			t.Errorf("%s ran %d times, want %d", pc, got, want)
		}
	}
	reqs, _ := rc.snapshot()
	for _, r := range reqs {
		if r.Plan.Target.All || len(r.Plan.Target.Groups) > 0 || r.Plan.Rollout != nil {
			t.Fatalf("per_pc dispatch not to listed PCs: %+v", r.Plan)
		}
	}
}

func TestPerPCEveryWaitsForInFlightAndReruns(t *testing.T) {
	rc := &recorder{}
	b, svc := startBackend(t, rc, "b1", scheduler.Options{PerPCEvery: 200 * time.Millisecond}, nil)
	hold := make(chan struct{})
	a := startHeldAgent(t, b.NATSURL(), "pc1", hold)
	waitLeader(t, svc)
	putJob(t, b, "patrol")
	mustDo(t, "POST", b.HTTPURL()+"/api/schedules", "id: p\njob_id: patrol\nwhen: {per_pc: {every: 1m}}\ntarget: {all: true}\n", 201)
	results := func(status string) int {
		var res []map[string]any
		_ = json.Unmarshal(mustDo(t, "GET", b.HTTPURL()+"/api/results?job_id=patrol&status="+status, "", 200), &res)
		return len(res)
	}
	testenv.Eventually(t, 20*time.Second, "run started", func() bool { return results("running") == 1 })
	evaluated := func() func() bool {
		since := time.Now()
		return func() bool { return readState(t, b, "p").LastTick.After(since.Add(time.Second)) }
	}
	testenv.Eventually(t, 20*time.Second, "evaluations while in flight", evaluated())
	if n := a.totalRuns(); n != 1 {
		t.Fatalf("in-flight PC dispatched again: %d runs", n)
	}
	close(hold)
	testenv.Eventually(t, 20*time.Second, "success projected", func() bool { return results("success") == 1 })
	testenv.Eventually(t, 20*time.Second, "evaluations after success", evaluated())
	if n := a.totalRuns(); n != 1 {
		t.Fatalf("PC with a fresh success re-run: %d runs", n)
	}
	// Age the success past every (the dispatch record and the result, which
	// count_manual also reads): the next evaluation re-runs the PC.
	aged := store.TS(time.Now().Add(-2 * time.Minute))
	store.TestExec(t, b.DB, `UPDATE schedule_dispatches SET finished_at = ? WHERE schedule_id = 'p'`, aged)
	store.TestExec(t, b.DB, `UPDATE execution_results SET finished_at = ? WHERE job_id = 'patrol'`, aged)
	testenv.Eventually(t, 20*time.Second, "re-run after every", func() bool { return a.totalRuns() == 2 })
	testenv.Eventually(t, 20*time.Second, "second success", func() bool { return results("success") == 2 })
}

func TestTwoBackendsFireOncePerTick(t *testing.T) {
	rc := &recorder{}
	// A broker of its own and one SQLite file; b2 and b3 share both and
	// each campaign for the scheduler lock, so either can be stopped.
	brk, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), Log: testenv.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(brk.Shutdown)
	dbFile := filepath.Join(t.TempDir(), "backend.db")
	// Replicas share the fleet's command-signing key, as in production.
	keyFile := filepath.Join(t.TempDir(), "signing.key")
	if _, _, err := sign.LoadOrCreateKey(keyFile); err != nil {
		t.Fatal(err)
	}
	shared := func(c *server.Config) {
		c.NATSURL = brk.ClientURL()
		c.DB = dbFile
		c.SigningKey = keyFile
	}
	b2, svc2 := startBackend(t, rc, "b2", scheduler.Options{}, shared)
	b3, svc3 := startBackend(t, rc, "b3", scheduler.Options{}, shared)
	testenv.Eventually(t, 20*time.Second, "one leader", func() bool { return svc2.IsLeader() != svc3.IsLeader() })
	putJob(t, b2, "hello")
	mustDo(t, "POST", b3.HTTPURL()+"/api/schedules", "id: both\njob_id: hello\ncron: '* * * * * *'\ntarget: {all: true}\n", 201)
	testenv.Eventually(t, 20*time.Second, "four fires", func() bool { return rc.count() >= 4 })

	// Stop the leader: the other backend takes over at once (the lock is
	// released on shutdown) and keeps firing, still once per tick.
	leader, follower := b2, svc3
	if svc3.IsLeader() {
		leader, follower = b3, svc2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	leader.Stop(ctx)
	cancel()
	waitLeader(t, follower)
	n := rc.count()
	testenv.Eventually(t, 20*time.Second, "fires after takeover", func() bool { return rc.count() >= n+2 })

	reqs, by := rc.snapshot()
	ticks := map[time.Time]string{}
	for i, r := range reqs {
		if other, dup := ticks[r.Tick]; dup {
			t.Fatalf("tick %s fired twice (by %s and %s)", r.Tick, other, by[i])
		}
		ticks[r.Tick] = by[i]
	}
	if by[0] == by[len(by)-1] {
		t.Fatalf("no takeover seen: all fires by %s", by[0])
	}
}

func TestBadInput(t *testing.T) {
	rc := &recorder{}
	b, _ := startBackend(t, rc, "b1", scheduler.Options{}, nil)
	putJob(t, b, "hello")
	cases := []struct{ name, body, field string }{
		{"bad cron", "id: s\njob_id: hello\nwhen: {cron: '61 * * * *'}\ntarget: {all: true}\n", "when.cron"},
		{"bad cron shorthand", "id: s\njob_id: hello\ncron: 'nope'\ntarget: {all: true}\n", "cron"},
		{"unknown key", "id: s\njob_id: hello\nwhen: {cron: '* * * * *'}\ntarget: {all: true}\ncolour: red\n", "colour"},
		{"unknown nested key", `{"id":"s","job_id":"hello","when":{"cron":"* * * * *"},"target":{"all":true,"pc":["x"]}}`, "target.pc"},
		{"id with a dot", "id: a.b\njob_id: hello\nwhen: {cron: '* * * * *'}\ntarget: {all: true}\n", "id"},
		{"id with a space", "id: a b\njob_id: hello\nwhen: {cron: '* * * * *'}\ntarget: {all: true}\n", "id"},
		{"bad duration", "id: s\njob_id: hello\nwhen: {per_pc: {every: 6 hours}}\ntarget: {all: true}\n", "when.per_pc.every"},
		{"count_manual without per_pc", "id: s\njob_id: hello\ncount_manual: false\nwhen: {cron: \"* * * * *\"}\ntarget: {all: true}\n", "count_manual"},
		{"bad deadline", "id: s\njob_id: hello\nwhen: {cron: '* * * * *'}\ntarget: {all: true}\nstarting_deadline: soon\n", "starting_deadline"},
		{"bad tz", "id: s\njob_id: hello\nwhen: {cron: '* * * * *'}\ntarget: {all: true}\ntz: Mars/Olympus\n", "tz"},
		{"pc with a dot", "id: s\njob_id: hello\nwhen: {cron: '* * * * *'}\ntarget: {pcs: [a.b]}\n", "target.pcs[0]"},
		{"unknown job", "id: s\njob_id: nope\nwhen: {cron: '* * * * *'}\ntarget: {all: true}\n", "job_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, data := do(t, "POST", b.HTTPURL()+"/api/schedules", c.body)
			var e struct{ Error, Field string }
			_ = json.Unmarshal(data, &e)
			if code != 422 || e.Field != c.field {
				t.Fatalf("status %d field %q (%s), want 422 %q", code, e.Field, data, c.field)
			}
		})
	}
	if code, data := do(t, "POST", b.HTTPURL()+"/api/schedules", "id: [unclosed\n"); code != 422 {
		t.Fatalf("malformed YAML: %d %s", code, data)
	}
	// Nothing was stored.
	if body := mustDo(t, "GET", b.HTTPURL()+"/api/schedules", "", 200); strings.TrimSpace(string(body)) != "[]" {
		t.Fatalf("stored after errors: %s", body)
	}
	for _, bucket := range []string{bus.KVSchedules, bus.KVSchedulesYAML} {
		kv, _ := b.JS.KeyValue(context.Background(), bucket)
		if _, err := kv.Get(context.Background(), "s"); !bus.IsNotFound(err) {
			t.Fatalf("%s has s: %v", bucket, err)
		}
	}
}

func TestPreview(t *testing.T) {
	rc := &recorder{}
	b, _ := startBackend(t, rc, "b1", scheduler.Options{}, nil)
	putJob(t, b, "hello")
	mustDo(t, "POST", b.HTTPURL()+"/api/schedules", `
id: patch-tuesday
job_id: hello
tz: Asia/Tokyo
when: {calendar: {at: "09:30", days: [tue#2]}}
target: {groups: [canary]}
enabled: false
`, 201)
	var out struct{ Fires []time.Time }
	if err := json.Unmarshal(mustDo(t, "GET", b.HTTPURL()+"/api/schedules/patch-tuesday/preview?count=3", "", 200), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Fires) != 3 {
		t.Fatalf("fires: %v", out.Fires)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	for i, f := range out.Fires {
		l := f.In(tokyo)
		if l.Weekday() != time.Tuesday || l.Day() < 8 || l.Day() > 14 || l.Hour() != 9 || l.Minute() != 30 {
			t.Fatalf("fire %d = %s (Tokyo %s)", i, f, l)
		}
		if i > 0 && !f.After(out.Fires[i-1]) {
			t.Fatal("fires not increasing")
		}
	}
	for _, q := range []string{"0", "x", "100000"} {
		code, data := do(t, "GET", b.HTTPURL()+"/api/schedules/patch-tuesday/preview?count="+q, "")
		if code != 400 || !strings.Contains(string(data), `"count"`) {
			t.Fatalf("count=%s: %d %s", q, code, data)
		}
	}
	mustDo(t, "GET", b.HTTPURL()+"/api/schedules/nope/preview", "", 404)
}

// per_pc counts a success of the same job from any source (a manual exec)
// by default, so `once` does not re-run a PC an operator already fixed by
// hand; count_manual: false counts only the schedule's own dispatches.
func TestPerPCCountsManualRuns(t *testing.T) {
	rc := &recorder{}
	b, svc := startBackend(t, rc, "b1", scheduler.Options{PerPCEvery: 200 * time.Millisecond}, nil)
	url := b.NATSURL()
	startAgent(t, url, "pc1")
	startAgent(t, url, "pc2")
	waitLeader(t, svc)
	putJob(t, b, "kit")
	testenv.Eventually(t, 20*time.Second, "agents known", func() bool {
		live, err := b.DB.LiveAgentGroups(context.Background(), time.Now())
		return err == nil && len(live) == 2
	})
	// A manual exec completes on pc1 first.
	mustDo(t, "POST", b.HTTPURL()+"/api/exec/kit", `{"target":{"pcs":["pc1"]}}`, 200)
	testenv.Eventually(t, 20*time.Second, "manual success projected", func() bool {
		var res []map[string]any
		_ = json.Unmarshal(mustDo(t, "GET", b.HTTPURL()+"/api/results?job_id=kit&status=success", "", 200), &res)
		return len(res) == 1
	})
	pcsOf := func(schedule string) map[string]int {
		reqs, _ := rc.snapshot()
		out := map[string]int{}
		for _, r := range reqs {
			if r.ScheduleID == schedule {
				for _, pc := range r.Plan.Target.PCs {
					out[pc]++
				}
			}
		}
		return out
	}
	mustDo(t, "POST", b.HTTPURL()+"/api/schedules", "id: counts\njob_id: kit\nwhen: {per_pc: once}\ntarget: {pcs: [pc1, pc2]}\n", 201)
	mustDo(t, "POST", b.HTTPURL()+"/api/schedules", "id: own\njob_id: kit\ncount_manual: false\nwhen: {per_pc: once}\ntarget: {pcs: [pc1]}\n", 201)
	testenv.Eventually(t, 20*time.Second, "both schedules dispatched", func() bool {
		return pcsOf("counts")["pc2"] == 1 && pcsOf("own")["pc1"] == 1
	})
	since := time.Now()
	testenv.Eventually(t, 20*time.Second, "evaluations after the dispatches", func() bool {
		return readState(t, b, "counts").LastTick.After(since.Add(time.Second))
	})
	if got := pcsOf("counts"); got["pc1"] != 0 || got["pc2"] != 1 {
		t.Fatalf("count_manual (default) dispatched %v; pc1 had already succeeded by hand", got)
	}
	if got := pcsOf("own"); got["pc1"] != 1 {
		t.Fatalf("count_manual: false dispatched %v", got)
	}
	// The document keeps the flag.
	var sc map[string]any
	_ = json.Unmarshal(mustDo(t, "GET", b.HTTPURL()+"/api/schedules/own", "", 200), &sc)
	if sc["count_manual"] != false {
		t.Fatalf("GET schedule: %v", sc)
	}
}
