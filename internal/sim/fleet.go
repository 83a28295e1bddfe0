// Package sim simulates a fleet of kanade agents against a real broker and
// backend. Each simulated agent is the real command intake
// (internal/agent/intake: addressing, at-most-once ledger, gates, jitter,
// slots, EventStarted/ExecResult) with a fake runner and an in-memory
// ledger; agents are multiplexed over a few NATS connections so 10 000 of
// them fit on one small machine. Heartbeats, ping replies, group
// membership from KV agent_groups and the reconnect catch-up follow the
// real agent (SPEC §6).
package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/agent/intake"
	"github.com/kanade-fleet/kanade/internal/agent/ledger"
	"github.com/kanade-fleet/kanade/internal/brokerid"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Config describes a simulated fleet.
type Config struct {
	NATSURL string
	Token   string
	N       int    // agents
	Conns   int    // NATS connections; 0 = ceil(N/500)
	Prefix  string // pc_id = <prefix>-<00001…>; default "sim"
	// Heartbeat is the cadence (±10 % jitter, like the agent); default 30 s.
	Heartbeat time.Duration
	// StartSpread spreads the first heartbeats over this window (default
	// min(Heartbeat, 5 s)) so a fleet does not start in lockstep.
	StartSpread time.Duration
	RunTime     Dist    // simulated script run time
	FailRatio   float64 // share of runs that exit 1
	OutputBytes int     // stdout size of each run
	Limit       int     // max_local_concurrent per agent (0 = CPU count, like the agent)
	// Groups, when set, is written to KV agent_groups for the simulated
	// PCs before they connect (see ParseGroups).
	Groups []GroupSpec
	Log    *slog.Logger // default: discard
	// Identity, when set, gives each simulated PC its own broker identity
	// (SPEC §12): one connection per agent with the user JWT and NKey seed
	// Identity returns for its pc_id, the agent's inbox prefix and its own
	// ping subject, as kanade-agent does when enrolled. The delivery
	// observer is identity "<prefix>-observer". Conns is then N and Groups
	// are not supported (agents cannot write KV).
	Identity func(pc string) (userJWT string, seed []byte, err error)
	// Keyring, when set, makes every agent verify each command's signature
	// as kanade-agent does (exit 123 when it fails).
	Keyring *sign.Keyring
}

// Stats is what the fleet measured.
type Stats struct {
	Agents, Conns       int
	Connected           int   // connections up
	Resyncs             int64 // per-agent (re)connect passes completed (membership + catch-up)
	ResyncErrors        int64
	Heartbeats          int64
	Pings               int64
	Admitted            int64 // commands admitted (first delivery of a request_id to a PC)
	Runs, DuplicateRuns int64
	StartedSent         int64 // EventStarted acknowledged by JetStream
	ResultsSent         int64 // ExecResult acknowledged by JetStream
	PublishErrors       int64 // failed/timed-out publishes (all retried)
	Pending             int   // queued, not yet acknowledged
	Delivery            Percentiles
}

type counters struct {
	resyncs, resyncErrors, heartbeats, pings, admitted atomic.Int64
	runs, duplicateRuns, startedSent, resultsSent      atomic.Int64
	publishErrors                                      atomic.Int64
}

// Fleet is a running simulated fleet.
type Fleet struct {
	cfg      Config
	log      *slog.Logger
	output   string
	stats    counters
	lat      *latencies
	conns    []*conn
	agents   []*simAgent
	observer *nats.Conn
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

type conn struct {
	f      *Fleet
	idx    int
	nc     *nats.Conn
	js     jetstream.JetStream
	pins   *intake.KVPins
	kills  intake.NATSKills
	pub    *publisher
	agents []*simAgent
	byPC   map[string]*simAgent
	resync chan struct{}
}

type simAgent struct {
	c     *conn
	pc    string
	boot  time.Time
	in    *intake.Intake
	sub   *intake.Subscriber
	timer *time.Timer

	mu     sync.Mutex
	groups []string
	runs   map[string]int // request_id → runs
	execs  map[string]int // exec_id → runs
	synced int            // completed (re)connect passes
}

// PCID returns the pc_id of agent i (0-based).
func PCID(prefix string, i int) string { return fmt.Sprintf("%s-%05d", prefix, i+1) }

// Start connects the fleet. It returns once every connection is up and
// every agent has subscribed and caught up once.
func Start(ctx context.Context, cfg Config) (*Fleet, error) {
	if cfg.N <= 0 {
		return nil, errors.New("sim: N must be positive")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "sim"
	}
	if !wire.ValidPCID(cfg.Prefix) {
		return nil, fmt.Errorf("sim: prefix %q is not a valid pc_id", cfg.Prefix)
	}
	if cfg.Conns <= 0 {
		cfg.Conns = (cfg.N + 499) / 500
	}
	if cfg.Identity != nil {
		if len(cfg.Groups) > 0 {
			return nil, errors.New("sim: groups cannot be written with per-agent identities")
		}
		cfg.Conns = cfg.N // a credential is one connection
	}
	cfg.Conns = min(cfg.Conns, cfg.N)
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 30 * time.Second
	}
	if cfg.StartSpread <= 0 {
		cfg.StartSpread = min(cfg.Heartbeat, 5*time.Second)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	fctx, cancel := context.WithCancel(context.Background())
	f := &Fleet{cfg: cfg, log: cfg.Log, output: makeOutput(cfg.OutputBytes), lat: newLatencies(), ctx: fctx, cancel: cancel}
	ok := false
	defer func() {
		if !ok {
			f.Stop()
		}
	}()
	if len(cfg.Groups) > 0 {
		if err := f.writeGroups(ctx); err != nil {
			return nil, err
		}
	}
	if err := f.observe(fctx); err != nil {
		return nil, fmt.Errorf("sim: observer: %w", err)
	}
	for i := range cfg.Conns {
		c := &conn{f: f, idx: i, byPC: map[string]*simAgent{}, resync: make(chan struct{}, 1)}
		f.conns = append(f.conns, c)
	}
	for i := range cfg.N {
		c := f.conns[i%cfg.Conns]
		a := &simAgent{c: c, pc: PCID(cfg.Prefix, i), boot: time.Now().Add(-time.Duration(rand.N(72)) * time.Hour).UTC().Truncate(time.Second),
			runs: map[string]int{}, execs: map[string]int{}}
		c.agents = append(c.agents, a)
		c.byPC[a.pc] = a
		f.agents = append(f.agents, a)
	}
	for _, c := range f.conns {
		if err := c.start(); err != nil {
			return nil, err
		}
	}
	// Wait for the first pass of every agent.
	for {
		if f.stats.resyncs.Load() >= int64(cfg.N) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	for _, a := range f.agents {
		a.mu.Lock()
		a.timer = time.AfterFunc(rand.N(cfg.StartSpread)+time.Millisecond, a.beat)
		a.mu.Unlock()
	}
	ok = true
	return f, nil
}

// connect opens a connection; pc names the identity to use when the fleet
// has per-agent identities (Config.Identity).
func (f *Fleet) connect(name, pc string) (*nats.Conn, error) {
	o := bus.ConnectOptions{URL: f.cfg.NATSURL, Token: f.cfg.Token, Name: name, Logger: f.log, MaxReconnects: -1}
	if f.cfg.Identity != nil {
		userJWT, seed, err := f.cfg.Identity(pc)
		if err != nil {
			return nil, fmt.Errorf("identity of %s: %w", pc, err)
		}
		o.Token = ""
		o.InboxPrefix = brokerid.AgentInboxPrefix(pc)
		o.Options = append(o.Options, nats.UserJWTAndSeed(userJWT, string(seed)))
	}
	return bus.Connect(o)
}

func (c *conn) start() error {
	f := c.f
	nc, err := f.connect(fmt.Sprintf("kanade-sim/%d", c.idx), c.agents[0].pc)
	if err != nil {
		return fmt.Errorf("sim: connect: %w", err)
	}
	c.nc = nc
	if c.js, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1024)); err != nil {
		return err
	}
	c.pins = intake.NewKVPins(nc)
	c.kills = intake.NATSKills{NC: nc, Logger: f.log}
	c.pub = newPublisher(c)
	maxPayload := int(min(nc.MaxPayload(), 1<<20)) - 64<<10
	for _, a := range c.agents {
		in, err := intake.New(intake.Config{PCID: a.pc, Ledger: trackLedger{ledger.NewMemory(), f}, Sink: c.pub,
			Runner: fakeRunner{a}, Pins: c.pins, Kills: c.kills, Limit: f.cfg.Limit, Logger: f.log, MaxPayload: maxPayload,
			Verifier: f.verifier()})
		if err != nil {
			return err
		}
		a.in = in
		a.sub = intake.NewSubscriber(nc, in)
		if err := a.sub.Start(); err != nil {
			return err
		}
	}
	// Pings: one wildcard subscription per connection; every connection
	// sees every ping and answers only for its own agents. An agent with
	// its own identity may subscribe to its own ping subject only.
	pings := "agents.*.ping"
	if f.cfg.Identity != nil {
		pings = bus.Ping(c.agents[0].pc)
	}
	if _, err := nc.Subscribe(pings, func(m *nats.Msg) {
		pc := strings.TrimSuffix(strings.TrimPrefix(m.Subject, "agents."), ".ping")
		if a := c.byPC[pc]; a != nil {
			f.stats.pings.Add(1)
			_ = m.Respond(a.heartbeat())
		}
	}); err != nil {
		return err
	}
	status := nc.StatusChanged(nats.CONNECTED)
	f.wg.Add(2)
	go func() { defer f.wg.Done(); c.pub.run(f.ctx) }()
	go func() { defer f.wg.Done(); c.syncLoop(status) }()
	go func() {
		for range status {
			kickCh(c.resync)
		}
	}()
	if nc.IsConnected() {
		kickCh(c.resync)
	}
	return nil
}

func kickCh(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// syncLoop does, after every (re)connect and for every agent on the
// connection, what the real agent's sync loop does: read its membership
// (KV agent_groups, direct get), follow it, catch up the last command of
// each subscribed subject, then heartbeat at once.
func (c *conn) syncLoop(status chan nats.Status) {
	f := c.f
	defer c.nc.RemoveStatusListener(status)
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-c.resync:
		}
		if !c.nc.IsConnected() {
			continue
		}
		// A pass that fails (broker still recovering JetStream after a
		// restart) is retried for that agent after a pause.
		todo := c.agents
		for backoff := time.Second; len(todo) > 0 && f.ctx.Err() == nil && c.nc.IsConnected(); backoff = min(2*backoff, 10*time.Second) {
			todo = c.resyncAll(todo)
			if len(todo) > 0 {
				select {
				case <-f.ctx.Done():
				case <-time.After(backoff):
				}
			}
		}
	}
}

// resyncAll runs the pass for agents with 8 workers and returns those
// whose pass failed.
func (c *conn) resyncAll(agents []*simAgent) []*simAgent {
	f := c.f
	work := make(chan *simAgent)
	var mu sync.Mutex
	var failed []*simAgent
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range work {
				if !a.resync(f.ctx) {
					mu.Lock()
					failed = append(failed, a)
					mu.Unlock()
				}
			}
		}()
	}
	for _, a := range agents {
		select {
		case work <- a:
		case <-f.ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	return failed
}

func (a *simAgent) resync(ctx context.Context) bool {
	f := a.c.f
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, _, found, err := intake.KVGet(rctx, a.c.nc, bus.KVAgentGroups, a.pc)
	if err != nil {
		f.stats.resyncErrors.Add(1)
		f.log.Warn("membership read failed", "pc_id", a.pc, "error", err)
		return false
	}
	var groups []string
	if found {
		if g, err := wire.DecodeAgentGroups(v); err == nil {
			groups = slices.Clone(g.Groups)
			slices.Sort(groups)
			groups = slices.Compact(groups)
		}
	}
	a.mu.Lock()
	changed := !slices.Equal(groups, a.groups)
	a.groups = groups
	a.mu.Unlock()
	if changed {
		if _, err := a.sub.SetGroups(groups); err != nil {
			f.stats.resyncErrors.Add(1)
		}
	}
	if err := a.sub.CatchUp(rctx, a.sub.Subjects()); err != nil {
		f.stats.resyncErrors.Add(1)
		f.log.Warn("catch-up incomplete", "pc_id", a.pc, "error", err)
		return false
	}
	a.mu.Lock()
	a.synced++
	a.mu.Unlock()
	f.stats.resyncs.Add(1)
	a.publishHeartbeat()
	return true
}

func (a *simAgent) heartbeat() []byte {
	hb := wire.Heartbeat{PCID: a.pc, Hostname: strings.ToUpper(a.pc), OSFamily: "linux", OSVersion: "sim",
		Arch: runtime.GOARCH, AgentVersion: "sim", At: time.Now().UTC(), BootTime: a.boot,
		AgentRSSBytes: 12 << 20, AgentCPUPct: 0.05, Running: a.in.Running()}
	b, _ := json.Marshal(hb)
	return b
}

func (a *simAgent) publishHeartbeat() {
	if !a.c.nc.IsConnected() {
		return // a stale heartbeat flushed on reconnect would mislead
	}
	if err := a.c.nc.Publish(bus.Heartbeat(a.pc), a.heartbeat()); err == nil {
		a.c.f.stats.heartbeats.Add(1)
	}
}

func (a *simAgent) beat() {
	f := a.c.f
	if f.ctx.Err() != nil {
		return
	}
	a.publishHeartbeat()
	every := f.cfg.Heartbeat
	a.mu.Lock()
	a.timer.Reset(every + time.Duration((rand.Float64()*0.2-0.1)*float64(every)))
	a.mu.Unlock()
}

// Agents lists the simulated pc_ids.
func (f *Fleet) Agents() []string {
	out := make([]string, len(f.agents))
	for i, a := range f.agents {
		out[i] = a.pc
	}
	return out
}

// BeatNow makes agent i heartbeat immediately and returns when it was sent.
func (f *Fleet) BeatNow(i int) time.Time {
	t := time.Now()
	f.agents[i].publishHeartbeat()
	return t
}

// Synced returns how many agents completed at least n (re)connect passes.
func (f *Fleet) Synced(n int) int {
	c := 0
	for _, a := range f.agents {
		a.mu.Lock()
		if a.synced >= n {
			c++
		}
		a.mu.Unlock()
	}
	return c
}

// RunsOf returns how many times each agent ran commands of execID: min
// and max over the fleet (both 1 means exactly once everywhere).
func (f *Fleet) RunsOf(execID string) (minRuns, maxRuns int) {
	minRuns = math32
	for _, a := range f.agents {
		a.mu.Lock()
		n := a.execs[execID]
		a.mu.Unlock()
		minRuns, maxRuns = min(minRuns, n), max(maxRuns, n)
	}
	return minRuns, maxRuns
}

const math32 = 1 << 31

// Delivery returns command delivery latency of every command of execID
// (of all commands seen when execID is empty).
func (f *Fleet) Delivery(execID string) Percentiles {
	if execID == "" {
		return f.lat.delivery()
	}
	f.lat.mu.Lock()
	rids := slices.Collect(maps.Keys(f.lat.byExec[execID]))
	f.lat.mu.Unlock()
	if len(rids) == 0 {
		return Percentiles{}
	}
	return f.lat.delivery(rids...)
}

// WaitPublished waits until the observer knows the store time of every
// command of execID that reached an agent.
func (f *Fleet) WaitPublished(ctx context.Context, execID string) bool {
	for {
		f.lat.mu.Lock()
		ok := len(f.lat.byExec[execID]) > 0
		for rid := range f.lat.byExec[execID] {
			if _, known := f.lat.published[rid]; !known {
				ok = false
			}
		}
		f.lat.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Stats snapshots the counters.
func (f *Fleet) Stats() Stats {
	s := Stats{Agents: len(f.agents), Conns: len(f.conns), Resyncs: f.stats.resyncs.Load(),
		ResyncErrors: f.stats.resyncErrors.Load(), Heartbeats: f.stats.heartbeats.Load(), Pings: f.stats.pings.Load(),
		Admitted: f.stats.admitted.Load(), Runs: f.stats.runs.Load(), DuplicateRuns: f.stats.duplicateRuns.Load(),
		StartedSent: f.stats.startedSent.Load(), ResultsSent: f.stats.resultsSent.Load(),
		PublishErrors: f.stats.publishErrors.Load(), Delivery: f.lat.delivery()}
	for _, c := range f.conns {
		if c.nc != nil && c.nc.IsConnected() {
			s.Connected++
		}
		if c.pub != nil {
			s.Pending += c.pub.pending()
		}
	}
	return s
}

// Settled reports whether nothing is running, queued or unpublished.
func (f *Fleet) Settled() bool {
	for _, a := range f.agents {
		if a.in != nil && (a.in.Running() > 0 || a.in.Queued() > 0) {
			return false
		}
	}
	return f.Stats().Pending == 0
}

// Stop disconnects everything.
func (f *Fleet) Stop() {
	f.cancel()
	for _, a := range f.agents {
		a.mu.Lock()
		if a.timer != nil {
			a.timer.Stop()
		}
		a.mu.Unlock()
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, a := range f.agents {
		if a.in != nil {
			_ = a.in.Close(cctx)
		}
	}
	for _, c := range f.conns {
		if c.nc != nil {
			c.nc.Close()
		}
	}
	if f.observer != nil {
		f.observer.Close()
	}
	f.wg.Wait()
}

// verifier checks signatures against Config.Keyring (nil: none).
func (f *Fleet) verifier() intake.Verifier {
	if f.cfg.Keyring == nil {
		return nil
	}
	return keyringVerifier{f.cfg.Keyring}
}

type keyringVerifier struct{ kr *sign.Keyring }

func (v keyringVerifier) Verify(subject string, h nats.Header, payload []byte) error {
	return sign.Verify(v.kr, subject, h, payload)
}
