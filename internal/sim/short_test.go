package sim_test

import (
	"context"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/sim"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// TestShortScenarios is the CI form of the scale scenarios: a replayed
// result history, a fleet receiving broadcasts and a group command, and a
// broker (backend) restart under the fleet. It fails on errors, lost
// messages and duplicate runs — never on timings.
func TestShortScenarios(t *testing.T) {
	agents, history := 1000, 50000
	if testing.Short() {
		agents, history = 300, 10000
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	dir, natsAddr := t.TempDir(), testenv.FreeAddr(t)
	start := func() *server.Server {
		return testenv.Backend(t, func(c *server.Config) {
			c.DataDir, c.NATSAddr = dir, natsAddr
		})
	}
	be := start()

	// 1. Projection of a result history.
	hist := sim.ResultSet{N: history, Execs: 100, Prefix: "sim", FailRatio: 0.05, At: time.Now().UTC()}
	if err := hist.CreateExecutions(ctx, be.DB); err != nil {
		t.Fatal(err)
	}
	if err := hist.Publish(ctx, be.JS); err != nil {
		t.Fatal(err)
	}
	count := func(q string) int {
		var n int
		if err := store.TestQueryRow(t, be.DB, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	testenv.Eventually(t, 5*time.Minute, "history projected", func() bool {
		return count("SELECT COUNT(*) FROM execution_results") == history
	})
	testenv.Eventually(t, 30*time.Second, "history counted", func() bool {
		return count("SELECT COALESCE(SUM(success_count + failure_count), 0) FROM executions") == history
	})
	if n := count("SELECT COUNT(*) FROM executions WHERE status = 'completed'"); n != hist.Execs {
		t.Fatalf("%d of %d history executions completed", n, hist.Execs)
	}

	// 2. A fleet: broadcast, then a group command.
	groups, _ := sim.ParseGroups("canary:1%,wave1:rest")
	rt, _ := sim.ParseDist("uniform:0s-200ms")
	fleet, err := sim.Start(ctx, sim.Config{NATSURL: be.NATSURL(), N: agents, Conns: 4, Heartbeat: 30 * time.Second,
		RunTime: rt, FailRatio: 0.1, OutputBytes: 200, Groups: groups, Log: testenv.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Stop()
	cl := sim.NewClient(be.HTTPURL())
	if err := sim.WaitOnline(ctx, cl, agents); err != nil {
		t.Fatal(err)
	}
	if hb, err := cl.PingAgent(ctx, sim.PCID("sim", agents-1)); err != nil || hb.PCID != sim.PCID("sim", agents-1) || hb.At.IsZero() {
		t.Fatalf("ping: %+v, %v", hb, err)
	}
	if err := sim.PutJob(ctx, cl, "sim-job"); err != nil {
		t.Fatal(err)
	}
	var execs []apiv1.ExecResponse
	run := func(plan apiv1.ExecRequest, want int) apiv1.ExecResponse {
		t.Helper()
		r, err := cl.Exec(ctx, "sim-job", plan)
		if err != nil {
			t.Fatal(err)
		}
		if r.TargetCount != want {
			t.Fatalf("target_count %d, want %d", r.TargetCount, want)
		}
		e, _, err := sim.WaitCompleted(ctx, cl, "sim-job", r.ExecID, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if e.SuccessCount+e.FailureCount+e.SkippedCount != want || e.SkippedCount != 0 {
			t.Fatalf("execution %+v, want %d results", e, want)
		}
		execs = append(execs, r)
		return r
	}
	run(sim.AllPCs, agents)
	run(apiv1.ExecRequest{Target: apiv1.Target{Groups: []string{"canary"}}}, (agents+99)/100)
	testenv.Eventually(t, time.Minute, "fleet settled", fleet.Settled)
	before := fleet.Stats()
	if before.DuplicateRuns != 0 || before.PublishErrors != 0 || before.ResyncErrors != 0 || before.Pings != 1 {
		t.Fatalf("errors before restart: %+v", before)
	}
	wantRuns := int64(agents + (agents+99)/100)
	if before.Runs != wantRuns || before.ResultsSent != wantRuns || before.StartedSent != wantRuns {
		t.Fatalf("runs %d, results %d, started %d; want %d each", before.Runs, before.ResultsSent, before.StartedSent, wantRuns)
	}
	if before.Delivery.N != int(wantRuns) {
		t.Fatalf("delivery latency of %d admissions, want %d", before.Delivery.N, wantRuns)
	}

	// 3. Broker restart under the fleet: every agent reconnects, catches
	// up the same last commands, and runs none of them again.
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	be.Stop(sctx)
	scancel()
	be = start()
	cl.Base = be.HTTPURL()
	testenv.Eventually(t, 2*time.Minute, "every agent reconnected and caught up", func() bool { return fleet.Synced(2) == agents })
	if err := sim.WaitOnline(ctx, cl, agents); err != nil {
		t.Fatal(err)
	}
	run(sim.AllPCs, agents)
	testenv.Eventually(t, time.Minute, "fleet settled", fleet.Settled)
	after := fleet.Stats()
	wantRuns += int64(agents)
	if after.DuplicateRuns != 0 || after.Runs != wantRuns || after.ResultsSent != wantRuns {
		t.Fatalf("after restart: %+v, want %d runs", after, wantRuns)
	}
	for _, e := range execs {
		// every PC ran every command it was sent exactly once
		if lo, hi := fleet.RunsOf(e.ExecID); lo > 1 || hi > 1 {
			t.Fatalf("exec %s ran %d..%d times on a PC", e.ExecID, lo, hi)
		}
	}
	if got, want := count("SELECT COUNT(*) FROM execution_results"), history+int(wantRuns); got != want {
		t.Fatalf("%d result rows, want %d", got, want)
	}
	t.Logf("fleet: %+v", after)
}
