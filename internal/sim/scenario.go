package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/broker"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/store"
)

// Options are the scenario knobs (flags of `kanade-sim scenario`).
type Options struct {
	// InProcess starts a backend in this process for the projection
	// scenario (which compares it with a raw insert in the same process);
	// cmd/kanade-sim builds it with internal/server, which sim must not
	// import.
	InProcess     func(ctx context.Context, dataDir string, batch int, log *slog.Logger) (InProcessBackend, error)
	Agents, Conns int
	Results       int           // result history size (projection, api)
	OnePerTxN     int           // prefix replayed with --projector-batch 1
	Duration      time.Duration // steady, footprint phases
	Repeat        int           // broadcasts
	RunTime       Dist
	FailRatio     float64
	OutputBytes   int
	Heartbeat     time.Duration
	Groups        []GroupSpec
	Requests      int    // api: requests per endpoint
	OrderedIDs    bool   // projection: time-ordered result_ids
	WorkDir       string // scratch (removed unless Keep)
	BackendBin    string // kanade-backend binary; built when empty
	// BackendProfile: broadcast writes the backend's CPU profile of the
	// first broadcast to BackendProfile+".cpu.pprof" and its heap after the
	// last to BackendProfile+".heap.pprof" (with ".heap.txt" and
	// ".goroutine.txt", their text forms; the backend runs --pprof).
	BackendProfile string
	// BackendMemoryLimit is the backend's --memory-limit (broadcast).
	BackendMemoryLimit string
	// Settle: broadcast samples the backend's RSS again this long after
	// the last broadcast (0 = not).
	Settle time.Duration
	DB     string // broadcast: the backend's --db (PostgreSQL DSN; empty = SQLite)
	// Identity (broadcast): the backend runs --nats-identity and every
	// simulated PC enrolls (POST /api/enroll) and connects with its own
	// broker identity, verifying each command's signature.
	Identity bool
	AgentBin string // kanade-agent binary (footprint); built when empty
	Self     string // this executable (runs `broker`)
	Out      io.Writer
	Log      *slog.Logger
}

// Table is a scenario's printed result.
type Table struct {
	Title string
	Rows  [][3]string // metric, value, target/note
}

func (t *Table) add(metric, target, format string, a ...any) {
	t.Rows = append(t.Rows, [3]string{metric, fmt.Sprintf(format, a...), target})
}

// Print writes the table as Markdown.
func (t Table) Print(w io.Writer) {
	fmt.Fprintf(w, "\n%s\n\n", t.Title)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "| metric\t value\t target / note\t")
	fmt.Fprintln(tw, "|---\t---\t---\t")
	for _, r := range t.Rows {
		fmt.Fprintf(tw, "| %s\t %s\t %s\t\n", r[0], r[1], r[2])
	}
	tw.Flush()
}

// Machine describes where a scenario ran.
func Machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				_, model, _ = strings.Cut(l, ":")
				model = strings.TrimSpace(model)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(string(b))
		if len(f) > 1 {
			var kb int64
			fmt.Sscan(f[1], &kb)
			mem = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/(1<<20))
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = ", load " + strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return fmt.Sprintf("%s/%s, %d CPUs (%s)%s, %s%s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), model, mem, runtime.Version(), load)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
func mib(b int64) string        { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func (o *Options) backendBin(ctx context.Context) (string, error) {
	if o.BackendBin != "" {
		return o.BackendBin, nil
	}
	b, err := Build(ctx, o.WorkDir, "./cmd/kanade-backend")
	if err == nil {
		o.BackendBin = b
	}
	return b, err
}

func (o *Options) fleet(ctx context.Context, natsURL string, ids *Identities) (*Fleet, time.Duration, error) {
	start := time.Now()
	cfg := Config{NATSURL: natsURL, N: o.Agents, Conns: o.Conns, Heartbeat: o.Heartbeat, RunTime: o.RunTime,
		FailRatio: o.FailRatio, OutputBytes: o.OutputBytes, Groups: o.Groups, Log: o.Log}
	if ids != nil {
		cfg.Identity, cfg.Keyring = ids.Get, ids.Keyring
	}
	f, err := Start(ctx, cfg)
	return f, time.Since(start), err
}

func fleetRows(t *Table, s Stats) {
	t.add("fleet: agents / connections", "", "%d / %d", s.Agents, s.Conns)
	t.add("fleet: runs / duplicate runs", "0 duplicates", "%d / %d", s.Runs, s.DuplicateRuns)
	t.add("fleet: EventStarted / ExecResult acked", "", "%d / %d", s.StartedSent, s.ResultsSent)
	t.add("fleet: heartbeats sent", "", "%d", s.Heartbeats)
	t.add("fleet: errors (publish / resync), unacked", "0", "%d / %d, %d", s.PublishErrors, s.ResyncErrors, s.Pending)
}

// ---------------------------------------------------------------- projection

// preloadStore fills the JetStream store (and the executions rows) of dir
// with a result history, using an in-process broker that is then stopped.
func preloadStore(ctx context.Context, dir string, set ResultSet, log *slog.Logger) (time.Duration, error) {
	br, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", StoreDir: filepath.Join(dir, "jetstream")})
	if err != nil {
		return 0, err
	}
	defer br.Shutdown()
	nc, err := nats.Connect("", nats.InProcessServer(br.Server))
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192))
	if err != nil {
		return 0, err
	}
	if err := bus.Bootstrap(ctx, js, 1); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := set.Publish(ctx, js); err != nil {
		return 0, err
	}
	took := time.Since(start)
	return took, createExecutions(ctx, dir, set, log)
}

func createExecutions(ctx context.Context, dir string, set ResultSet, log *slog.Logger) error {
	db, err := store.Open(ctx, "", dir, log)
	if err != nil {
		return err
	}
	defer db.Close()
	return set.CreateExecutions(ctx, db)
}

func wipeDB(dir string) {
	for _, s := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(filepath.Join(dir, "backend.db"+s))
	}
}

// replay starts an in-process backend on dir and times it until n rows
// are projected (from the start call); atPrefix is the time from the
// first projected row to the first `prefix` rows (backend start-up, which
// includes JetStream recovering its store, left out).
func replay(ctx context.Context, o Options, dir string, batch, n, prefix int) (took, atPrefix time.Duration, _ InProcessBackend, _ error) {
	if o.InProcess == nil {
		return 0, 0, nil, errors.New("projection scenario: no in-process backend starter (Options.InProcess)")
	}
	start := time.Now()
	var first time.Time
	be, err := o.InProcess(ctx, dir, batch, o.Log)
	if err != nil {
		return 0, 0, nil, err
	}
	for {
		// MAX(rowid) is O(log n), unlike COUNT(*), and rows are never
		// deleted here, so it is the number projected.
		got, _ := be.Store().ResultsHighWater(ctx)
		if got > 0 && first.IsZero() {
			first = time.Now()
		}
		if got >= prefix && atPrefix == 0 {
			atPrefix = time.Since(first)
		}
		if got >= n {
			return time.Since(start), atPrefix, be, nil
		}
		select {
		case <-ctx.Done():
			be.Stop(context.Background())
			return 0, 0, nil, fmt.Errorf("replay with batch %d: %d of %d rows: %w", batch, got, n, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// InProcessBackend is what the projection scenario needs of a backend
// running in this process.
type InProcessBackend interface {
	Store() *store.DB
	Stop(ctx context.Context)
}

// Projection: replay a preloaded RESULTS stream into an empty database
// with batching and with one message per transaction, against the raw
// batched insert rate of the same rows measured in the same run.
func Projection(ctx context.Context, o Options) (Table, error) {
	ids := "random result_ids (UUIDv4-like)"
	if o.OrderedIDs {
		ids = "time-ordered result_ids (UUIDv7-like)"
	}
	t := Table{Title: fmt.Sprintf("projection: replay of %d ExecResults after a wipe, %s", o.Results, ids)}
	set := ResultSet{N: o.Results, Execs: 100, Prefix: "sim", FailRatio: 0.05, At: time.Now().UTC(), OrderedIDs: o.OrderedIDs}
	dir := filepath.Join(o.WorkDir, "projection")
	pre, err := preloadStore(ctx, dir, set, o.Log)
	if err != nil {
		return t, err
	}
	t.add("preload into RESULTS (async publish, file store)", "", "%.0f msgs/s (%s)", float64(set.N)/pre.Seconds(), pre.Round(time.Millisecond))

	raw := func() (float64, error) {
		rdir := filepath.Join(o.WorkDir, fmt.Sprintf("raw-%d", time.Now().UnixNano()))
		db, err := store.Open(ctx, "", rdir, o.Log)
		if err != nil {
			return 0, err
		}
		defer func() { db.Close(); _ = os.RemoveAll(rdir) }()
		d, err := set.RawInsert(ctx, db, set.N)
		return float64(set.N) / d.Seconds(), err
	}
	raw1, err := raw()
	if err != nil {
		return t, err
	}

	n1 := min(o.OnePerTxN, set.N)
	took, tookPrefix, be, err := replay(ctx, o, dir, 1000, set.N, n1)
	if err != nil {
		return t, err
	}
	counted, completed, _ := be.Store().ExecutionTotals(ctx)
	be.Stop(context.Background())
	batched := float64(set.N) / took.Seconds()

	wipeDB(dir)
	if err := createExecutions(ctx, dir, set, o.Log); err != nil {
		return t, err
	}
	_, took1, be1, err := replay(ctx, o, dir, 1, n1, n1)
	if err != nil {
		return t, err
	}
	be1.Stop(context.Background())
	one := float64(n1) / took1.Seconds()

	raw2, err := raw()
	if err != nil {
		return t, err
	}
	rawBest := max(raw1, raw2)
	t.add("raw batched INSERT (1000/tx, no broker), before / after", "ceiling", "%.0f / %.0f rows/s", raw1, raw2)
	t.add("projector, batch 1000 (default)", "", "%.0f rows/s (%s for %d)", batched, took.Round(time.Millisecond), set.N)
	batchedPrefix := float64(n1) / tookPrefix.Seconds()
	t.add(fmt.Sprintf("projector, batch 1000, first %d rows (from the first row)", n1), "", "%.0f rows/s (%s)", batchedPrefix, tookPrefix.Round(time.Millisecond))
	t.add(fmt.Sprintf("projector, batch 1, first %d rows (from the first row)", n1), "", "%.0f rows/s (%s)", one, took1.Round(time.Millisecond))
	t.add("batched ÷ raw (better raw run)", "≥ 0.5", "%.2f", batched/rawBest)
	t.add(fmt.Sprintf("batched ÷ batch 1, same first %d rows", n1), "≥ 10", "%.1f", batchedPrefix/one)
	t.add("rows counted into executions / completed", fmt.Sprintf("%d / %d", set.N, set.Execs), "%d / %d", counted, completed)
	if counted != set.N || completed != set.Execs {
		return t, fmt.Errorf("projection lost or double-counted: %d counted of %d, %d of %d executions completed", counted, set.N, completed, set.Execs)
	}
	return t, nil
}

// ---------------------------------------------------------------- broadcast

// Broadcast: N agents, POST /api/exec to all, time until the execution
// is completed in the database, and command delivery latency.
func Broadcast(ctx context.Context, o Options) (Table, error) {
	conns := o.Conns
	if o.Identity {
		conns = o.Agents // one per identity
	}
	t := Table{Title: fmt.Sprintf("broadcast: %d agents over %d connections, run time %s, %d broadcast(s)", o.Agents, conns, o.RunTime, o.Repeat)}
	if o.Identity {
		t.Title += ", per-agent identities, signatures verified"
	}
	bin, err := o.backendBin(ctx)
	if err != nil {
		return t, err
	}
	be, err := StartBackend(ctx, BackendOpts{Bin: bin, DataDir: filepath.Join(o.WorkDir, "broadcast"), DB: o.DB, Identity: o.Identity,
		Pprof: o.BackendProfile != "", MemoryLimit: o.BackendMemoryLimit})
	if err != nil {
		return t, err
	}
	defer be.Stop(syscall.SIGTERM, 30*time.Second)
	cl := NewClient(be.HTTPURL)
	var ids *Identities
	if o.Identity {
		t0 := time.Now()
		pcs := make([]string, 0, o.Agents+1)
		for i := range o.Agents {
			pcs = append(pcs, PCID("sim", i))
		}
		if ids, err = Enroll(ctx, cl, append(pcs, ObserverPC("sim")), 16); err != nil {
			return t, err
		}
		t.add("enroll every PC (POST /api/enroll, 16 at a time)", "", "%s (%d PCs)", time.Since(t0).Round(time.Millisecond), len(pcs)+1)
	}
	f, took, err := o.fleet(ctx, be.NATSURL, ids)
	if err != nil {
		return t, err
	}
	defer f.Stop()
	if err := WaitOnline(ctx, cl, o.Agents); err != nil {
		return t, err
	}
	what := "fleet connected, subscribed, caught up"
	if o.Identity {
		what = "connect storm: every PC with its own JWT connected, subscribed, caught up"
	}
	t.add(what, "", "%s", took.Round(time.Millisecond))
	if err := PutJob(ctx, cl, "sim-broadcast"); err != nil {
		return t, err
	}
	var errs []string
	var profErr chan error
	for i := range o.Repeat {
		if i == 0 && o.BackendProfile != "" {
			// Long enough to cover a slow broadcast; read after the loop.
			profErr = make(chan error, 1)
			go func() { profErr <- be.Profile(ctx, "profile", 20, o.BackendProfile+".cpu.pprof") }()
		}
		u0, _ := Sample(be.PID())
		s0, _ := Sample(os.Getpid())
		t0 := time.Now()
		r, err := cl.Exec(ctx, "sim-broadcast", AllPCs)
		if err != nil {
			return t, err
		}
		api := time.Since(t0)
		wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		e, done, err := WaitCompleted(wctx, cl, "sim-broadcast", r.ExecID, 20*time.Millisecond)
		cancel()
		if err != nil {
			return t, err
		}
		u1, _ := Sample(be.PID())
		s1, _ := Sample(os.Getpid())
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		f.WaitPublished(pctx, r.ExecID)
		cancel()
		d := f.Delivery(r.ExecID)
		lo, hi := f.RunsOf(r.ExecID)
		label := fmt.Sprintf("#%d ", i+1)
		t.add(label+"POST /api/exec → completed in DB", "< 10 s", "%s (API answered in %s)", done.Sub(t0).Round(time.Millisecond), ms(api))
		t.add(label+"target / success / failure / skipped", "", "%d / %d / %d / %d", e.TargetCount, e.SuccessCount, e.FailureCount, e.SkippedCount)
		t.add(label+"delivery stored→admitted p50 / p95 / p99 / max", "", "%s / %s / %s / %s (n=%d)", ms(d.P50), ms(d.P95), ms(d.P99), ms(d.Max), d.N)
		t.add(label+"backend CPU during broadcast", "", "%.0f %% of one core", CPUPct(u0, u1))
		// The simulated fleet shares the box: when the two add up to every
		// core, the box, not the backend, sets the pace.
		t.add(label+"simulator CPU during broadcast", "", "%.0f %% of one core (%d cores)", CPUPct(s0, s1), runtime.NumCPU())
		if e.TargetCount != o.Agents || lo != 1 || hi != 1 || e.SuccessCount+e.FailureCount != o.Agents {
			errs = append(errs, fmt.Sprintf("broadcast %d: target %d, runs per PC %d..%d, results %d", i+1, e.TargetCount, lo, hi, e.SuccessCount+e.FailureCount))
		}
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		for !f.Settled() && sctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
	}
	u, _ := Sample(be.PID())
	t.add("backend RSS now / peak (embedded broker included)", "", "%s / %s", mib(u.RSSBytes), mib(u.HWMBytes))
	if o.Settle > 0 {
		// The fleet idles (heartbeats only): what the process keeps once
		// the runtime has returned what the broadcasts used.
		select {
		case <-ctx.Done():
		case <-time.After(o.Settle):
		}
		u, _ := Sample(be.PID())
		t.add(fmt.Sprintf("backend RSS %s after the last broadcast", o.Settle), "", "%s", mib(u.RSSBytes))
	}
	if profErr != nil {
		if err := <-profErr; err != nil {
			errs = append(errs, err.Error())
		}
		// The heap's text form ends with runtime.MemStats (stacks, heap
		// released): what an RSS beyond the live heap is made of; the
		// goroutines by stack show the per-connection loops holding them.
		for _, p := range [][2]string{{"heap", ".heap.pprof"}, {"heap?debug=1", ".heap.txt"}, {"goroutine?debug=1", ".goroutine.txt"}} {
			if err := be.Profile(ctx, p[0], 0, o.BackendProfile+p[1]); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	fleetRows(&t, f.Stats())
	if len(errs) > 0 {
		return t, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return t, nil
}

// ---------------------------------------------------------------- steady

// Steady: N agents heartbeating for Duration against a backend with a
// separate broker process (so each one's CPU and RSS can be told apart).
func Steady(ctx context.Context, o Options) (Table, error) {
	t := Table{Title: fmt.Sprintf("steady state: %d agents, heartbeat %s ±10 %%, %s", o.Agents, o.Heartbeat, o.Duration)}
	bin, err := o.backendBin(ctx)
	if err != nil {
		return t, err
	}
	addr, err := FreePort()
	if err != nil {
		return t, err
	}
	br, err := StartBroker(ctx, o.Self, addr, filepath.Join(o.WorkDir, "steady-broker"))
	if err != nil {
		return t, err
	}
	defer br.Stop(syscall.SIGTERM, 30*time.Second)
	be, err := StartBackend(ctx, BackendOpts{Bin: bin, DataDir: filepath.Join(o.WorkDir, "steady"), NATSURL: br.URL})
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
	// One full heartbeat period of warm-up so every agent is on cadence.
	time.Sleep(min(o.Heartbeat, o.Duration/4))
	b0, _ := Sample(be.PID())
	k0, _ := Sample(br.PID())
	s0 := f.Stats()
	var bRSS, kRSS []int64
	var lags []time.Duration
	end := time.Now().Add(o.Duration)
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return t, ctx.Err()
		case <-tick.C:
		}
		if u, err := Sample(be.PID()); err == nil {
			bRSS = append(bRSS, u.RSSBytes)
		}
		if u, err := Sample(br.PID()); err == nil {
			kRSS = append(kRSS, u.RSSBytes)
		}
		// A random phase, so probes do not lock onto the projector's
		// one-second flush ticker.
		time.Sleep(rand.N(time.Second))
		if lag, err := probeLag(ctx, cl, f, rand.N(o.Agents)); err == nil {
			lags = append(lags, lag)
		} else {
			return t, err
		}
	}
	b1, _ := Sample(be.PID())
	k1, _ := Sample(br.PID())
	s1 := f.Stats()
	secs := b1.At.Sub(b0.At).Seconds()
	l := summarize(lags)
	t.add("backend CPU (projectors, API, no broker)", "", "%.1f %% of one core", CPUPct(b0, b1))
	t.add("backend RSS avg / max", "", "%s / %s", mib(avg(bRSS)), mib(slicesMax(bRSS)))
	t.add(fmt.Sprintf("broker CPU (separate process; %d agents' subscriptions on %d connections)", o.Agents, o.Conns), "", "%.1f %% of one core", CPUPct(k0, k1))
	t.add("broker RSS avg / max", "", "%s / %s", mib(avg(kRSS)), mib(slicesMax(kRSS)))
	t.add("heartbeats per second", "", "%.0f", float64(s1.Heartbeats-s0.Heartbeats)/secs)
	t.add("heartbeat → visible in /api/agents/{pc}: p50 / p95 / max", "flush every 1 s", "%s / %s / %s (n=%d)", ms(l.P50), ms(l.P95), ms(l.Max), l.N)
	online, _ := OnlineCount(ctx, cl)
	t.add("agents online at the end", fmt.Sprint(o.Agents), "%d", online)
	fleetRows(&t, s1)
	return t, nil
}

func avg(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	var s int64
	for _, x := range xs {
		s += x
	}
	return s / int64(len(xs))
}

func slicesMax(xs []int64) int64 {
	var m int64
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// probeLag sends one heartbeat from agent i and polls the API until the
// backend's last_heartbeat for it is at least the send time.
func probeLag(ctx context.Context, cl *apiv1.Client, f *Fleet, i int) (time.Duration, error) {
	pc := f.agents[i].pc
	sent := f.BeatNow(i)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if a, err := cl.GetAgent(ctx, pc); err == nil && !a.LastHeartbeat.Before(sent) {
			return time.Since(sent), nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("heartbeat of %s not projected within 30 s", pc)
}

// ---------------------------------------------------------------- api

// API: with N agents (plus 10 % offline ones) and a result history of
// Results rows, time the list endpoints the dashboard uses.
func API(ctx context.Context, o Options) (Table, error) {
	t := Table{Title: fmt.Sprintf("api: %d agents online + %d offline, %d result rows; %d sequential requests per endpoint", o.Agents, o.Agents/10, o.Results, o.Requests)}
	bin, err := o.backendBin(ctx)
	if err != nil {
		return t, err
	}
	dir := filepath.Join(o.WorkDir, "api")
	set := ResultSet{N: o.Results, Execs: max(1, o.Results/max(1, o.Agents)), Prefix: "sim", FailRatio: 0.05, At: time.Now().UTC(), OrderedIDs: o.OrderedIDs}
	if _, err := preloadStore(ctx, dir, set, o.Log); err != nil {
		return t, err
	}
	if err := addOffline(ctx, dir, o.Agents/10, o.Log); err != nil {
		return t, err
	}
	start := time.Now()
	be, err := StartBackend(ctx, BackendOpts{Bin: bin, DataDir: dir})
	if err != nil {
		return t, err
	}
	defer be.Stop(syscall.SIGTERM, 30*time.Second)
	cl := NewClient(be.HTTPURL)
	for {
		last, err := cl.ListResults(ctx, apiv1.ResultQuery{ExecID: set.ExecID(set.Execs - 1), Page: apiv1.Page{Limit: 1}})
		if err == nil && last.Total >= set.N/set.Execs {
			var all apiv1.List[apiv1.Result]
			if all, err = cl.ListResults(ctx, apiv1.ResultQuery{Page: apiv1.Page{Limit: 1}}); err == nil && all.Total >= set.N {
				break
			}
		}
		select {
		case <-ctx.Done():
			return t, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	t.add("history replayed by the backend (start → all rows)", "", "%s", time.Since(start).Round(time.Second))
	f, _, err := o.fleet(ctx, be.NATSURL, nil)
	if err != nil {
		return t, err
	}
	defer f.Stop()
	if err := WaitOnline(ctx, cl, o.Agents); err != nil {
		return t, err
	}
	pcMid := PCID("sim", o.Agents/2)
	// query is one measured read; it returns the rows matching.
	type query struct {
		name string
		call func(ctx context.Context) (int, error)
	}
	agents := func(q apiv1.AgentQuery) func(context.Context) (int, error) {
		q.Limit = 50
		return func(ctx context.Context) (int, error) { l, err := cl.ListAgents(ctx, q); return l.Total, err }
	}
	results := func(q apiv1.ResultQuery) func(context.Context) (int, error) {
		q.Limit = 50
		return func(ctx context.Context) (int, error) { l, err := cl.ListResults(ctx, q); return l.Total, err }
	}
	execs := func(q apiv1.ExecutionQuery) func(context.Context) (int, error) {
		q.Limit = 50
		return func(ctx context.Context) (int, error) { l, err := cl.ListExecutions(ctx, q); return l.Total, err }
	}
	audit := func(q apiv1.AuditQuery) func(context.Context) (int, error) {
		q.Limit = 50
		return func(ctx context.Context) (int, error) { l, err := cl.ListAudit(ctx, q); return l.Total, err }
	}
	// Every list and filter of SPEC §7 the dashboard and CLI use (SPEC §18:
	// p99 < 50 ms with one client, < 100 ms with ten).
	queries := []query{
		{"/api/agents first page", agents(apiv1.AgentQuery{})},
		{"/api/agents search q=", agents(apiv1.AgentQuery{Q: PCID("sim", o.Agents/3)[:8]})},
		{"/api/agents offline filter", agents(apiv1.AgentQuery{Status: apiv1.AgentOffline})},
		{"/api/results unfiltered", results(apiv1.ResultQuery{})},
		{"/api/results by exec_id", results(apiv1.ResultQuery{ExecID: set.ExecID(set.Execs / 2)})},
		{"/api/results by pc_id", results(apiv1.ResultQuery{PCID: pcMid})},
		{"/api/results by job_id", results(apiv1.ResultQuery{JobID: "sim-history"})},
		{"/api/results status=success", results(apiv1.ResultQuery{Status: apiv1.ResultSuccess})},
		{"/api/results status=failure", results(apiv1.ResultQuery{Status: apiv1.ResultFailure})},
		{"/api/results failures since 24 h", results(apiv1.ResultQuery{Status: apiv1.ResultFailure, Since: "24h"})},
		{"/api/results status=running", results(apiv1.ResultQuery{Status: apiv1.ResultRunning})},
		{"/api/results status=skipped", results(apiv1.ResultQuery{Status: apiv1.ResultSkipped})},
		{"/api/executions", execs(apiv1.ExecutionQuery{})},
		{"/api/executions by job_id", execs(apiv1.ExecutionQuery{JobID: "sim-history"})},
		{"/api/audit", audit(apiv1.AuditQuery{})},
	}
	var slow []string
	// measure runs n requests of call over c concurrent clients.
	measure := func(call func(context.Context) (int, error), n, c int) (Percentiles, int, error) {
		for range 5 {
			_, _ = call(ctx)
		}
		var (
			mu    sync.Mutex
			ds    = make([]time.Duration, 0, n)
			total int
			first error
			wg    sync.WaitGroup
		)
		for w := range c {
			wg.Go(func() {
				for i := w; i < n; i += c {
					t0 := time.Now()
					m, err := call(ctx)
					d := time.Since(t0)
					mu.Lock()
					if err != nil && first == nil {
						first = err
					}
					ds, total = append(ds, d), m
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return summarize(ds), total, first
	}
	run := func(name string, call func(context.Context) (int, error), one, ten time.Duration) error {
		p1, total, err := measure(call, o.Requests, 1)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		p10, _, err := measure(call, o.Requests, 10)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		t.add(name+fmt.Sprintf(" (%d matching)", total), fmt.Sprintf("p99 < %s / < %s", ms(one), ms(ten)),
			"1 client p50 %s p99 %s · 10 clients p50 %s p99 %s", ms(p1.P50), ms(p1.P99), ms(p10.P50), ms(p10.P99))
		if p1.P99 > one || p10.P99 > ten {
			slow = append(slow, name)
		}
		return nil
	}
	for _, q := range queries {
		if err := run(q.name, q.call, 50*time.Millisecond, 100*time.Millisecond); err != nil {
			return t, err
		}
	}
	if err := run("/api/health/fleet", func(ctx context.Context) (int, error) { _, err := cl.FleetHealth(ctx); return 0, err },
		20*time.Millisecond, 100*time.Millisecond); err != nil {
		return t, err
	}
	// A walk of 1 000 cursor pages from deep in the table: reach 90 % of
	// it by pages of 1 000 (not timed), then time pages of 50.
	var (
		cur  string
		seen int
	)
	for seen < set.N*9/10 {
		l, err := cl.ListResults(ctx, apiv1.ResultQuery{Page: apiv1.Page{Limit: 1000, Cursor: cur}})
		if err != nil {
			return t, err
		}
		seen += len(l.Items)
		if cur = l.Next; cur == "" {
			break
		}
	}
	ds := make([]time.Duration, 0, 1000)
	for range 1000 {
		if cur == "" {
			break
		}
		t0 := time.Now()
		l, err := cl.ListResults(ctx, apiv1.ResultQuery{Page: apiv1.Page{Limit: 50, Cursor: cur}})
		if err != nil {
			return t, err
		}
		ds = append(ds, time.Since(t0))
		cur = l.Next
	}
	wp := summarize(ds)
	t.add(fmt.Sprintf("/api/results cursor walk: %d pages of 50 from row %d", len(ds), seen), "p99 < 50 ms", "p50 %s p99 %s max %s", ms(wp.P50), ms(wp.P99), ms(wp.Max))
	if wp.P99 > 50*time.Millisecond {
		slow = append(slow, "cursor walk")
	}
	if u, err := Sample(be.PID()); err == nil {
		t.add("backend RSS now / peak (embedded broker included)", "", "%s / %s", mib(u.RSSBytes), mib(u.HWMBytes))
	}
	fleetRows(&t, f.Stats())
	if len(slow) > 0 {
		return t, fmt.Errorf("p99 over target: %s", strings.Join(slow, ", "))
	}
	return t, nil
}

// addOffline inserts agents whose last heartbeat is an hour old.
func addOffline(ctx context.Context, dir string, n int, log *slog.Logger) error {
	db, err := store.Open(ctx, "", dir, log)
	if err != nil {
		return err
	}
	defer db.Close()
	var hbs []store.Heartbeat
	old := time.Now().Add(-time.Hour).UTC()
	for i := range n {
		h := store.Heartbeat{ReceivedAt: old}
		h.PCID, h.Hostname, h.OSFamily, h.AgentVersion, h.At, h.BootTime = PCID("off", i), PCID("OFF", i), "windows", "sim", old, old
		hbs = append(hbs, h)
	}
	return db.UpsertHeartbeats(ctx, hbs)
}
