package sim

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// ---------------------------------------------------------------- reconnect

// oldestHeartbeat is the backend's oldest last_heartbeat (receive time)
// over all agents; zero when unknown.
func oldestHeartbeat(ctx context.Context, cl *apiv1.Client) time.Time {
	l, err := cl.ListAgents(ctx, apiv1.AgentQuery{Sort: "last_heartbeat", Order: "asc", Page: apiv1.Page{Limit: 1}})
	if err != nil || len(l.Items) == 0 {
		return time.Time{}
	}
	return l.Items[0].LastHeartbeat
}

// Reconnect: kill -9 the broker under N agents (external broker topology:
// separate broker and backend processes), restart it, and time until
// every agent has reconnected, re-read its membership, caught up, and is
// heartbeating again; the command every agent ran before the storm comes
// back through catch-up and must not run a second time.
func Reconnect(ctx context.Context, o Options) (Table, error) {
	t := Table{Title: fmt.Sprintf("reconnect storm: broker kill -9 + restart under %d agents over %d connections", o.Agents, o.Conns)}
	bin, err := o.backendBin(ctx)
	if err != nil {
		return t, err
	}
	addr, err := FreePort()
	if err != nil {
		return t, err
	}
	br, err := StartBroker(ctx, o.Self, addr, filepath.Join(o.WorkDir, "reconnect-broker"))
	if err != nil {
		return t, err
	}
	defer func() { br.Stop(syscall.SIGTERM, 30*time.Second) }()
	be, err := StartBackend(ctx, BackendOpts{Bin: bin, DataDir: filepath.Join(o.WorkDir, "reconnect"), NATSURL: br.URL})
	if err != nil {
		return t, err
	}
	defer be.Stop(syscall.SIGTERM, 30*time.Second)
	f, _, err := o.fleet(ctx, br.URL, nil)
	if err != nil {
		return t, err
	}
	defer f.Stop()
	cl := NewClient(be.HTTPURL)
	if err := WaitOnline(ctx, cl, o.Agents); err != nil {
		return t, err
	}
	if err := PutJob(ctx, cl, "sim-storm"); err != nil {
		return t, err
	}
	exec1, err := cl.Exec(ctx, "sim-storm", AllPCs)
	if err != nil {
		return t, err
	}
	if _, _, err := WaitCompleted(ctx, cl, "sim-storm", exec1.ExecID, 50*time.Millisecond); err != nil {
		return t, err
	}
	for !f.Settled() {
		time.Sleep(50 * time.Millisecond)
	}
	before := f.Stats()

	kill := time.Now()
	br, err = br.Restart(ctx, syscall.SIGKILL)
	if err != nil {
		return t, err
	}
	up := time.Now()
	t.add("broker down (kill -9 → accepting again)", "", "%s", up.Sub(kill).Round(time.Millisecond))
	var connected, synced, beating time.Time
	deadline := time.Now().Add(10 * time.Minute)
	for (connected.IsZero() || synced.IsZero() || beating.IsZero()) && time.Now().Before(deadline) {
		now := time.Now()
		if connected.IsZero() && f.Stats().Connected == len(f.conns) {
			connected = now
		}
		if synced.IsZero() && f.Synced(2) == o.Agents {
			synced = now
		}
		if beating.IsZero() && oldestHeartbeat(ctx, cl).After(up) {
			beating = now
		}
		time.Sleep(20 * time.Millisecond)
	}
	if synced.IsZero() || beating.IsZero() {
		return t, fmt.Errorf("after 10 min: %d of %d agents caught up, oldest heartbeat %s", f.Synced(2), o.Agents, oldestHeartbeat(ctx, cl))
	}
	t.add("all connections re-established", "", "%s after restart", connected.Sub(up).Round(time.Millisecond))
	t.add("all agents re-synced (membership + catch-up + first heartbeat sent)", "", "%s after restart", synced.Sub(up).Round(time.Millisecond))
	t.add("backend has a post-restart heartbeat of every agent", "≤ 1 heartbeat period", "%s after restart (%s after the kill)", beating.Sub(up).Round(time.Millisecond), beating.Sub(kill).Round(time.Millisecond))

	// The backend reconnects on its own; a second broadcast proves the
	// whole path works again.
	var exec2 apiv1.ExecResponse
	for {
		if exec2, err = cl.Exec(ctx, "sim-storm", AllPCs); err == nil {
			break
		}
		if time.Since(up) > 3*time.Minute {
			return t, fmt.Errorf("exec after the storm: %w", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	e2, done2, err := WaitCompleted(ctx, cl, "sim-storm", exec2.ExecID, 50*time.Millisecond)
	if err != nil {
		return t, err
	}
	t.add("broadcast after the storm completed", "", "%s after restart (%d results)", done2.Sub(up).Round(time.Millisecond), e2.SuccessCount+e2.FailureCount)
	for !f.Settled() {
		time.Sleep(50 * time.Millisecond)
	}
	after := f.Stats()
	lo1, hi1 := f.RunsOf(exec1.ExecID)
	lo2, hi2 := f.RunsOf(exec2.ExecID)
	t.add("command deliveries re-caught-up by the storm, re-run", "0 re-runs", "%d re-runs", after.Runs-before.Runs-int64(o.Agents))
	t.add("runs per agent: before / after the storm", "1 / 1", "%d..%d / %d..%d", lo1, hi1, lo2, hi2)
	l1, _ := cl.ListResults(ctx, apiv1.ResultQuery{ExecID: exec1.ExecID, Page: apiv1.Page{Limit: 1}})
	l2, _ := cl.ListResults(ctx, apiv1.ResultQuery{ExecID: exec2.ExecID, Page: apiv1.Page{Limit: 1}})
	r1, r2 := l1.Total, l2.Total
	t.add("result rows per execution", fmt.Sprintf("%d / %d", o.Agents, o.Agents), "%d / %d", r1, r2)
	fleetRows(&t, after)
	if lo1 != 1 || hi1 != 1 || lo2 != 1 || hi2 != 1 || after.DuplicateRuns != 0 || r1 != o.Agents || r2 != o.Agents {
		return t, fmt.Errorf("duplicate or lost runs across the storm")
	}
	return t, nil
}

// ---------------------------------------------------------------- footprint

// Footprint: one real kanade-agent process, idle for Duration, then
// running a job every second for Duration; RSS and CPU from /proc.
func Footprint(ctx context.Context, o Options) (Table, error) {
	t := Table{Title: fmt.Sprintf("agent footprint: one real kanade-agent, heartbeat %s, %s idle then %s with a job every second", o.Heartbeat, o.Duration, o.Duration)}
	bin, err := o.backendBin(ctx)
	if err != nil {
		return t, err
	}
	agentBin := o.AgentBin
	if agentBin == "" {
		if agentBin, err = Build(ctx, o.WorkDir, "./cmd/kanade-agent"); err != nil {
			return t, err
		}
	}
	be, err := StartBackend(ctx, BackendOpts{Bin: bin, DataDir: filepath.Join(o.WorkDir, "footprint")})
	if err != nil {
		return t, err
	}
	defer be.Stop(syscall.SIGTERM, 30*time.Second)
	nc, err := nats.Connect(be.NATSURL)
	if err != nil {
		return t, err
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	hb := o.Heartbeat.String()
	if err := kv.New(js, nil).AgentConfig.Put(ctx, kv.GlobalScope, wire.ConfigScope{HeartbeatInterval: &hb}); err != nil {
		return t, err
	}
	ag, err := StartProc("kanade-agent", agentBin, []string{"--id", "footprint", "--nats-url", be.NATSURL,
		"--data-dir", filepath.Join(o.WorkDir, "footprint-agent"), "--log-level", "warn"}, nil, filepath.Join(o.WorkDir, "footprint-agent.log"))
	if err != nil {
		return t, err
	}
	defer ag.Stop(syscall.SIGTERM, 30*time.Second)
	cl := NewClient(be.HTTPURL)
	if err := WaitOnline(ctx, cl, 1); err != nil {
		return t, err
	}
	phase := func(name string, during func(stop <-chan struct{}) int) error {
		u0, err := Sample(ag.PID())
		if err != nil {
			return err
		}
		var rss []int64
		stop := make(chan struct{})
		got := make(chan int, 1)
		go func() { got <- during(stop) }()
		for end := time.Now().Add(o.Duration); time.Now().Before(end); {
			time.Sleep(time.Second)
			if u, err := Sample(ag.PID()); err == nil {
				rss = append(rss, u.RSSBytes)
			}
		}
		close(stop)
		runs := <-got
		u1, err := Sample(ag.PID())
		if err != nil {
			return err
		}
		note := ""
		if runs > 0 {
			note = fmt.Sprintf(", %d runs", runs)
		}
		t.add(name+": RSS avg / max", "< 20 MiB idle", "%s / %s", mib(avg(rss)), mib(slicesMax(rss)))
		t.add(name+": CPU", "well under 1 % idle", "%.3f %% of one core%s", CPUPct(u0, u1), note)
		return nil
	}
	time.Sleep(5 * time.Second) // settle after connect
	if err := phase("idle", func(stop <-chan struct{}) int { <-stop; return 0 }); err != nil {
		return t, err
	}
	if err := PutJob(ctx, cl, "sim-footprint"); err != nil {
		return t, err
	}
	var lastExec string
	if err := phase("job every second", func(stop <-chan struct{}) int {
		n := 0
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return n
			case <-tick.C:
				if r, err := cl.Exec(ctx, "sim-footprint", apiv1.ExecRequest{Target: apiv1.Target{PCs: []string{"footprint"}}}); err == nil {
					n++
					lastExec = r.ExecID
				}
			}
		}
	}); err != nil {
		return t, err
	}
	if lastExec != "" {
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if _, _, err := WaitCompleted(wctx, cl, "sim-footprint", lastExec, 100*time.Millisecond); err != nil {
			return t, err
		}
	}
	u, _ := Sample(ag.PID())
	t.add("peak RSS over both phases (VmHWM)", "", "%s", mib(u.HWMBytes))
	return t, nil
}
