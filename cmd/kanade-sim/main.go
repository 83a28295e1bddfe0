// Command kanade-sim simulates a fleet of kanade agents against a real
// broker and backend, and runs the scale scenarios of docs/benchmarks.md.
//
//	kanade-sim run --nats-url nats://127.0.0.1:4222 --agents 10000 [--groups canary:1%,wave1:rest]
//	kanade-sim scenario projection|broadcast|steady|api|footprint|reconnect [flags]
//	kanade-sim broker --addr 127.0.0.1:4222 --store-dir DIR   (used by the scenarios)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/broker"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/sim"
	"github.com/kanade-fleet/kanade/internal/store"
)

const usage = `usage:
  kanade-sim run --nats-url URL [--agents N] [--conns K] [--heartbeat 30s] [--run-time D] [--fail-ratio F]
                 [--output-bytes B] [--groups canary:1%,wave1:rest] [--report 10s]
  kanade-sim scenario NAME [flags]      NAME: projection | broadcast | steady | api | footprint | reconnect
  kanade-sim broker --addr HOST:PORT --store-dir DIR
Run "kanade-sim <command> -h" for the flags.`

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "kanade-sim:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		return errors.New("no command")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "run":
		return runFleet(ctx, args[1:])
	case "scenario":
		return runScenario(ctx, args[1:])
	case "broker":
		return runBroker(ctx, args[1:])
	case "-h", "--help", "help":
		fmt.Println(usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

// fleetFlags are shared by run and scenario.
type fleetFlags struct {
	agents, conns, outputBytes int
	heartbeat                  time.Duration
	runTime, groups            string
	failRatio                  float64
	verbose                    bool
}

func (ff *fleetFlags) register(fs *flag.FlagSet, agents int, heartbeat time.Duration) {
	fs.IntVar(&ff.agents, "agents", agents, "simulated agents")
	fs.IntVar(&ff.conns, "conns", 0, "NATS connections the agents are multiplexed over (0 = agents/500)")
	fs.DurationVar(&ff.heartbeat, "heartbeat", heartbeat, "heartbeat interval (±10 % jitter)")
	fs.StringVar(&ff.runTime, "run-time", "0", "simulated run time: DURATION, uniform:MIN-MAX or exp:MEAN")
	fs.Float64Var(&ff.failRatio, "fail-ratio", 0, "share of runs that exit 1")
	fs.IntVar(&ff.outputBytes, "output-bytes", 64, "stdout bytes per run")
	fs.StringVar(&ff.groups, "groups", "", "write KV agent_groups first, e.g. canary:1%,wave1:rest (NAME:PCT%, NAME:COUNT, NAME:rest)")
	fs.BoolVar(&ff.verbose, "v", false, "log warnings of the simulated agents to stderr")
}

func (ff *fleetFlags) logger() *slog.Logger {
	if ff.verbose {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func (ff *fleetFlags) parse() (sim.Dist, []sim.GroupSpec, int, error) {
	d, err := sim.ParseDist(ff.runTime)
	if err != nil {
		return d, nil, 0, err
	}
	g, err := sim.ParseGroups(ff.groups)
	if err != nil {
		return d, nil, 0, err
	}
	conns := ff.conns
	if conns <= 0 {
		conns = max(1, (ff.agents+499)/500)
	}
	return d, g, conns, nil
}

func runFleet(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("kanade-sim run", flag.ContinueOnError)
	var ff fleetFlags
	ff.register(fs, 1000, 30*time.Second)
	url := fs.String("nats-url", "nats://127.0.0.1:4222", "broker URL")
	token := fs.String("nats-token", "", "broker token")
	prefix := fs.String("prefix", "sim", "pc_id prefix (pc_ids are PREFIX-00001…)")
	report := fs.Duration("report", 10*time.Second, "print statistics this often")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d, g, conns, err := ff.parse()
	if err != nil {
		return err
	}
	start := time.Now()
	f, err := sim.Start(ctx, sim.Config{NATSURL: *url, Token: *token, N: ff.agents, Conns: conns, Prefix: *prefix,
		Heartbeat: ff.heartbeat, RunTime: d, FailRatio: ff.failRatio, OutputBytes: ff.outputBytes, Groups: g, Log: ff.logger()})
	if err != nil {
		return err
	}
	defer f.Stop()
	fmt.Printf("%d agents connected over %d connections in %s; Ctrl-C to stop\n", ff.agents, conns, time.Since(start).Round(time.Millisecond))
	tick := time.NewTicker(*report)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			printStats(f.Stats())
			return nil
		case <-tick.C:
			printStats(f.Stats())
		}
	}
}

func printStats(s sim.Stats) {
	d := s.Delivery
	fmt.Printf("%s conns %d/%d heartbeats %d pings %d admitted %d runs %d dup-runs %d started %d results %d errors %d/%d unacked %d delivery p50 %s p95 %s p99 %s (n=%d)\n",
		time.Now().Format("15:04:05"), s.Connected, s.Conns, s.Heartbeats, s.Pings, s.Admitted, s.Runs, s.DuplicateRuns,
		s.StartedSent, s.ResultsSent, s.PublishErrors, s.ResyncErrors, s.Pending, d.P50, d.P95, d.P99, d.N)
}

func runScenario(ctx context.Context, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return errors.New("scenario name required: projection | broadcast | steady | api | footprint | reconnect")
	}
	name := args[0]
	fs := flag.NewFlagSet("kanade-sim scenario "+name, flag.ContinueOnError)
	var ff fleetFlags
	ff.register(fs, 10000, 30*time.Second)
	var o sim.Options
	fs.IntVar(&o.Results, "results", 1000000, "result history rows (projection, api)")
	fs.IntVar(&o.OnePerTxN, "one-per-tx", 50000, "projection: rows replayed with --projector-batch 1 (a prefix, it is slow)")
	fs.DurationVar(&o.Duration, "duration", 3*time.Minute, "steady: measuring time; footprint: each phase")
	fs.IntVar(&o.Repeat, "repeat", 3, "broadcast: how many broadcasts")
	fs.StringVar(&o.DB, "db", "", "broadcast: the backend's --db (postgres://…; empty = SQLite)")
	fs.BoolVar(&o.Identity, "identity", false, "broadcast: per-agent broker identities (backend --nats-identity; every PC enrolls and verifies signatures)")
	fs.IntVar(&o.Requests, "requests", 200, "api: requests per endpoint")
	ids := fs.String("ids", "ordered", "projection: result_ids 'ordered' (UUIDv7-like, what agents mint) or 'random' (UUIDv4-like)")
	fs.StringVar(&o.WorkDir, "work-dir", "", "scratch directory (default: a temp dir, removed at the end)")
	keep := fs.Bool("keep", false, "keep the scratch directory")
	fs.StringVar(&o.BackendBin, "backend-bin", "", "kanade-backend binary (default: go build ./cmd/kanade-backend)")
	fs.DurationVar(&o.Settle, "settle", 0, "broadcast: sample the backend's RSS again this long after the last broadcast")
	fs.StringVar(&o.BackendMemoryLimit, "backend-memory-limit", "", "broadcast: the backend's --memory-limit, e.g. 448MiB")
	fs.StringVar(&o.BackendProfile, "backend-profile", "",
		"broadcast: the backend runs --pprof; its CPU profile of the first broadcast (20 s) goes to PREFIX.cpu.pprof, its heap after the last to PREFIX.heap.pprof and PREFIX.heap.txt (with runtime.MemStats)")
	fs.StringVar(&o.AgentBin, "agent-bin", "", "kanade-agent binary for footprint (default: go build ./cmd/kanade-agent)")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process (in-process backends included) to this file")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch *ids {
	case "ordered":
		o.OrderedIDs = true
	case "random":
	default:
		return fmt.Errorf("--ids: want ordered or random, got %q", *ids)
	}
	var err error
	if o.RunTime, o.Groups, o.Conns, err = ff.parse(); err != nil {
		return err
	}
	o.Agents, o.FailRatio, o.OutputBytes, o.Heartbeat, o.Log = ff.agents, ff.failRatio, ff.outputBytes, ff.heartbeat, ff.logger()
	if o.Self, err = os.Executable(); err != nil {
		return err
	}
	if o.WorkDir == "" {
		if o.WorkDir, err = os.MkdirTemp("", "kanade-sim-"); err != nil {
			return err
		}
		if !*keep {
			defer os.RemoveAll(o.WorkDir)
		}
	} else if err := os.MkdirAll(o.WorkDir, 0o750); err != nil {
		return err
	}
	if o.WorkDir, err = filepath.Abs(o.WorkDir); err != nil {
		return err
	}
	o.InProcess = startInProcess
	fns := map[string]func(context.Context, sim.Options) (sim.Table, error){
		"projection": sim.Projection, "broadcast": sim.Broadcast, "steady": sim.Steady,
		"api": sim.API, "footprint": sim.Footprint, "reconnect": sim.Reconnect,
	}
	fn := fns[name]
	if fn == nil {
		return fmt.Errorf("unknown scenario %q", name)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("kanade-sim scenario %s %s\nmachine: %s\nstarted: %s\n", name, strings.Join(args[1:], " "), sim.Machine(), time.Now().UTC().Format(time.RFC3339))
	start := time.Now()
	t, err := fn(ctx, o)
	t.Print(os.Stdout)
	fmt.Printf("\n(scenario took %s)\n", time.Since(start).Round(time.Second))
	if err != nil {
		return fmt.Errorf("scenario %s: %w", name, err)
	}
	return nil
}

func runBroker(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("kanade-sim broker", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:4222", "listen address")
	dir := fs.String("store-dir", "", "JetStream store directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("--store-dir is required")
	}
	b, err := broker.Start(broker.Options{Addr: *addr, StoreDir: *dir})
	if err != nil {
		return err
	}
	fmt.Println("broker listening on", b.ClientURL())
	<-ctx.Done()
	b.Shutdown()
	return nil
}

// inProcess adapts a server to what the projection scenario needs.
type inProcess struct{ *server.Server }

func (p inProcess) Store() *store.DB { return p.DB }

// startInProcess starts a backend in this process, auth disabled (the
// projection scenario compares its replay with a raw insert in the same
// process).
func startInProcess(ctx context.Context, dir string, batch int, log *slog.Logger) (sim.InProcessBackend, error) {
	s, err := server.New(ctx, server.Config{HTTPAddr: "127.0.0.1:0", DataDir: dir, NATSAddr: "127.0.0.1:0",
		CleanupInterval: time.Hour, ProjectorBatch: batch, Log: log, Version: "sim", NoDevAgent: true,
		Auth: auth.Config{Disabled: true}})
	if err != nil {
		return nil, err
	}
	return inProcess{s}, nil
}
