// Package agent is the kanade endpoint daemon as a library: New + Run give
// a complete agent (intake, outbox, ledger, heartbeat, ping, live groups
// and layered config) that cmd/kanade-agent wraps, kanade-backend --dev
// starts in-process, and tests start several of in one process.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/agent/exec"
	"github.com/kanade-fleet/kanade/internal/agent/intake"
	"github.com/kanade-fleet/kanade/internal/agent/ledger"
	"github.com/kanade-fleet/kanade/internal/agent/outbox"
	"github.com/kanade-fleet/kanade/internal/agent/update"
	"github.com/kanade-fleet/kanade/internal/brokerid"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/version"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Options configures an Agent.
type Options struct {
	PCID      string // required; see DefaultPCID
	NATSURL   string // comma-separated; default nats://127.0.0.1:4222
	NATSToken string
	// NATSUser and NATSPassword are the broker's agent credential when it
	// enforces per-role users (kanade-backend --nats-auth-file).
	NATSUser     string
	NATSPassword string
	DataDir      string // required: ledger, outbox, staged scripts
	Logger       *slog.Logger
	Version      string // reported in heartbeats
	// Runner replaces the real script runner (tests, simulators).
	Runner intake.Runner
	// CredsFile is the agent's own broker credential (broker.creds, from
	// kanade-agent enroll); it replaces token and user/password.
	CredsFile string
	// Keyring holds the command-signing keys to trust (enrollment.json).
	// The keys the agent persisted in the data dir (KeyringFile) win: they
	// are the same keys advanced by rotations.
	Keyring *sign.Keyring
	// RequireSigned refuses unsigned commands even when no signing key is
	// known yet (not enrolled, KV signing_keys empty). With a keyring,
	// signatures are always required.
	RequireSigned bool
	// Facts replaces the built-in inventory collector (tests).
	Facts func(context.Context) wire.Facts
	// SelfUpdate enables self-update (SPEC §13): nil for agents that are
	// not a binary of their own (kanade-backend --dev, tests, simulators).
	SelfUpdate *SelfUpdate
	// JoinedAt is when this PC joined the fleet (its enrollment, from the
	// backend's clock). Zero: the data dir's first start, kept in
	// JoinedFile. Catch-up skips fleet-wide commands stored before it.
	JoinedAt time.Time
}

// SelfUpdate is where the agent's binary is and how it was started.
type SelfUpdate struct {
	Exe     string // the running binary (update.Executable)
	Watched bool   // started by the previous version's update.Handoff
}

// JoinedFile in the data dir records an unenrolled agent's first start.
const JoinedFile = "joined_at"

// Agent is one endpoint. Create with New, then call Run once.
type Agent struct {
	o      Options
	log    *slog.Logger
	ledger *ledger.Ledger
	outbox *outbox.Outbox
	stats  *selfStats
	runner intake.Runner
	trust  *trust
	upd    *update.Updater

	started atomic.Bool
	caught  atomic.Int64 // completed catch-up passes (tests)

	mu     sync.Mutex
	in     *intake.Intake
	groups []string
	eff    wire.EffectiveConfig
	layers wire.ConfigLayers
	revs   map[string]uint64 // KV key → last applied revision

	hbNow    chan struct{}
	drainNow chan struct{}
	invNow   chan struct{}
	// cfgLoaded: a full config pass read every layer from the broker, so
	// the resolved target_version is the operator's, not the default.
	cfgLoaded bool
	restart   atomic.Bool // stopped for a self-update hand-over

	errMu     sync.Mutex
	lastErr   string
	lastErrAt time.Time
	// outputDenied is when the broker last refused a publish on output.*
	// (unix ns; 0 = never).
	outputDenied atomic.Int64
}

// New validates the options and opens the data directory. It does not
// touch the network.
func New(o Options) (*Agent, error) {
	if !wire.ValidPCID(o.PCID) {
		return nil, fmt.Errorf("agent: pc_id %q is not valid (letters, digits, '_' and '-' only)", o.PCID)
	}
	if o.DataDir == "" {
		return nil, errors.New("agent: data dir is required")
	}
	if o.NATSURL == "" {
		o.NATSURL = nats.DefaultURL
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Version == "" {
		o.Version = version.Version
	}
	log := o.Logger.With("pc_id", o.PCID)
	runDir := filepath.Join(o.DataDir, "run")
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return nil, fmt.Errorf("agent: data dir: %w", err)
	}
	eff := wire.Defaults()
	ob, err := outbox.Open(filepath.Join(o.DataDir, "outbox"), eff.OutboxMaxEntries, log)
	if err != nil {
		return nil, err
	}
	lg, err := ledger.Open(filepath.Join(o.DataDir, "ledger"))
	if err != nil {
		return nil, err
	}
	if o.JoinedAt.IsZero() {
		if o.JoinedAt, err = firstStart(filepath.Join(o.DataDir, JoinedFile)); err != nil {
			return nil, err
		}
	}
	tr, err := newTrust(log, filepath.Join(o.DataDir, KeyringFile), o.Keyring, o.RequireSigned)
	if err != nil {
		return nil, err
	}
	runner := o.Runner
	if runner == nil {
		// Output is spooled beside the outbox, which takes the files over
		// (a rename) when it queues the result.
		spool, err := ob.SpoolDir()
		if err != nil {
			return nil, err
		}
		runner = &exec.Runner{TempDir: runDir, Env: []string{"KANADE_PC_ID=" + o.PCID}, SpoolDir: spool}
	}
	return &Agent{o: o, log: log, ledger: lg, outbox: ob, stats: newSelfStats(), runner: runner, trust: tr,
		eff: eff, revs: map[string]uint64{}, layers: wire.ConfigLayers{Groups: map[string]wire.ConfigScope{}},
		hbNow: make(chan struct{}, 1), drainNow: make(chan struct{}, 1), invNow: make(chan struct{}, 1)}, nil
}

// PCID returns the agent's pc_id.
func (a *Agent) PCID() string { return a.o.PCID }

// Groups returns the current group membership (from KV agent_groups).
func (a *Agent) Groups() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.groups)
}

// Config returns the effective layered configuration in force.
func (a *Agent) Config() wire.EffectiveConfig {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.eff
}

// Heartbeat builds a fresh heartbeat (also the reply to a ping).
func (a *Agent) Heartbeat() wire.Heartbeat {
	rss, cpu := a.stats.sample()
	running := 0
	a.mu.Lock()
	if a.in != nil {
		running = a.in.Running()
	}
	a.mu.Unlock()
	hb := wire.Heartbeat{PCID: a.o.PCID, Hostname: a.stats.hostname, OSFamily: osFamily(), OSVersion: a.stats.osVersion,
		Arch: runtime.GOARCH, AgentVersion: a.o.Version, At: time.Now().UTC(), BootTime: a.stats.bootTime,
		AgentRSSBytes: rss, AgentCPUPct: cpu, Running: running}
	if a.upd != nil {
		hb.UpdateState, hb.UpdateError, hb.QuarantinedVersion = a.upd.Status()
	}
	return hb
}

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Run connects (retrying forever in the background, so queued work runs
// with no broker), serves until ctx is cancelled, then stops: running
// scripts are killed and reported, the outbox gets a last chance to drain,
// and the data directory is closed. Run may be called once. After a
// self-update swapped the binary it stops the same way and returns
// update.ErrRestart: the caller hands over with update.Handoff.
func (a *Agent) Run(ctx context.Context) error {
	if !a.started.CompareAndSwap(false, true) {
		return errors.New("agent: Run called twice")
	}
	defer a.ledger.Close()
	ctx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	co := bus.ConnectOptions{URL: a.o.NATSURL, Token: a.o.NATSToken, User: a.o.NATSUser,
		Password: a.o.NATSPassword, Name: "kanade-agent/" + a.o.PCID,
		Logger: a.log, MaxReconnects: -1,
		// Replies under the agent's own prefix: with a per-agent identity
		// it may subscribe to nothing else (docs/identity-design.md).
		InboxPrefix: brokerid.AgentInboxPrefix(a.o.PCID),
		Options: []nats.Option{
			// Keep retrying a refused credential (an operator may fix it on
			// the server side); say so loudly instead of giving up silently.
			nats.IgnoreAuthErrorAbort(),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { a.brokerError(err) }),
			nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { a.brokerError(err) }),
		}}
	if a.o.CredsFile != "" {
		co.Token, co.User, co.Password = "", "", ""
		co.Options = append(co.Options, nats.UserCredentials(a.o.CredsFile))
	}
	nc, err := bus.Connect(co)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	defer nc.Close()
	a.trust.fetch = func(ctx context.Context) ([]byte, bool, bool) {
		return a.kvGet(ctx, nc, bus.KVSigningKeys, bus.SigningKeysChain)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if su := a.o.SelfUpdate; su != nil {
		a.upd, err = update.New(update.Config{DataDir: a.o.DataDir, Version: a.o.Version, Exe: su.Exe, Watched: su.Watched,
			Conn: nc, Keyring: a.trust.keyring, Logger: a.log,
			Idle: func() bool {
				a.mu.Lock()
				in := a.in
				a.mu.Unlock()
				return in == nil || in.Active() == 0
			},
			Changed: func() { kick(a.hbNow) },
			Restart: func() {
				// The last heartbeat of this binary says why it goes.
				if b, err := json.Marshal(a.Heartbeat()); err == nil && nc.IsConnected() {
					_ = nc.Publish(bus.Heartbeat(a.o.PCID), b)
					_ = nc.FlushTimeout(2 * time.Second)
				}
				a.restart.Store(true)
				stopRun()
			}})
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		if su.Watched {
			// The previous version is watching: prove this binary starts,
			// connects and heartbeats, and run nothing (it execs us next).
			return a.probe(ctx, nc)
		}
	}
	in, err := intake.New(intake.Config{PCID: a.o.PCID, Ledger: a.ledger, Sink: a.outbox, Runner: a.runner,
		Pins: intake.NewKVPins(nc), Kills: intake.NATSKills{NC: nc, Logger: a.log, Verifier: a.trust}, Verifier: a.trust,
		Limit:  a.Config().MaxLocalConcurrent,
		Logger: a.log, MaxPayload: int(min(nc.MaxPayload(), 1<<20)) - 64<<10})
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.in = in
	a.mu.Unlock()
	sub := intake.NewSubscriber(nc, in)
	sub.FleetSince = a.o.JoinedAt
	defer sub.Close()
	if err := sub.Start(); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	in.Recover()

	events := make(chan string, 64) // "" = (re)connected, else a changed KV key "bucket/key"
	var subs []*nats.Subscription
	subscribe := func(subject string, cb nats.MsgHandler) {
		s, err := nc.Subscribe(subject, cb)
		if err != nil {
			a.log.Error("subscribe", "subject", subject, "error", err)
			return
		}
		subs = append(subs, s)
	}
	subscribe(bus.Ping(a.o.PCID), func(m *nats.Msg) {
		if b, err := json.Marshal(a.Heartbeat()); err == nil {
			_ = m.Respond(b)
		}
	})
	// KV puts are also plain messages on $KV.<bucket>.<key>: a core
	// subscription is a change notification without a per-agent consumer;
	// the value itself is then read with a direct get (revision-ordered).
	notify := func(bucket string) nats.MsgHandler {
		return func(m *nats.Msg) {
			key := strings.TrimPrefix(m.Subject, "$KV."+bucket+".")
			select {
			case events <- bucket + "/" + key:
			default: // a full queue means a refresh is pending anyway
			}
		}
	}
	subscribe("$KV."+bus.KVAgentGroups+"."+a.o.PCID, notify(bus.KVAgentGroups))
	subscribe("$KV."+bus.KVAgentConfig+"."+bus.ConfigGlobalKey, notify(bus.KVAgentConfig))
	subscribe("$KV."+bus.KVAgentConfig+"."+bus.PCConfigKey(a.o.PCID), notify(bus.KVAgentConfig))
	subscribe("$KV."+bus.KVAgentConfig+".groups.*", notify(bus.KVAgentConfig))
	subscribe("$KV."+bus.KVSigningKeys+"."+bus.SigningKeysChain, notify(bus.KVSigningKeys))
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}()

	status := nc.StatusChanged(nats.CONNECTED)
	defer nc.RemoveStatusListener(status)
	go func() {
		for range status {
			select {
			case events <- "":
			case <-ctx.Done():
			}
		}
	}()
	if nc.IsConnected() {
		events <- ""
	}

	var wg sync.WaitGroup
	loop := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	loop(func(ctx context.Context) { a.syncLoop(ctx, nc, sub, events) })
	loop(func(ctx context.Context) { a.heartbeatLoop(ctx, nc) })
	loop(func(ctx context.Context) { a.drainLoop(ctx, nc, js) })
	loop(a.maintenanceLoop)
	loop(func(ctx context.Context) { a.inventoryLoop(ctx, nc, js) })
	if a.upd != nil {
		loop(a.upd.Run)
	}
	loop(func(ctx context.Context) { a.connectWatch(ctx, nc) })
	a.log.Info("agent running", "version", a.o.Version, "nats_url", a.o.NATSURL, "data_dir", a.o.DataDir,
		"identity", a.identity(), "signatures_required", a.trust.enforced(), "trusted_keys", a.trust.keyring().KeyIDs())

	<-ctx.Done()
	wg.Wait()
	a.log.Info("agent stopping")
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if err := in.Close(cctx); err != nil {
		a.log.Warn("stop", "error", err)
	}
	cancel()
	if nc.IsConnected() && a.outbox.Len() > 0 {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := a.outbox.Drain(dctx, a.publisher(js)); err != nil {
			a.log.Warn("outbox not fully drained at stop; it will be sent at next start", "left", a.outbox.Len(), "error", err)
		}
		cancel()
	}
	if a.restart.Load() {
		return update.ErrRestart
	}
	return nil
}

// probe is the watched start of a new version (update.Handoff): connect,
// send one heartbeat the broker acknowledges, record it, then wait to be
// stopped. No command is admitted, so none is cut short by the hand-over.
func (a *Agent) probe(ctx context.Context, nc *nats.Conn) error {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for !a.upd.Probed() {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !nc.IsConnected() {
			continue
		}
		if b, err := json.Marshal(a.Heartbeat()); err == nil {
			if nc.Publish(bus.Heartbeat(a.o.PCID), b) == nil && nc.FlushTimeout(5*time.Second) == nil {
				a.upd.Healthy()
			}
		}
	}
	a.log.Info("new version probed: connected and heartbeating; waiting for the hand-over", "version", a.o.Version)
	<-ctx.Done()
	return nil
}

// publisher sends an outbox entry: its parts first (the chunks of a
// result's full output), each acknowledged, then the entry. Parts the
// broker cannot take — no stream OUTPUT (a backend older than this agent)
// or a broker configuration that does not let agents publish output.* —
// are skipped with a log line, so they never hold back the result, which
// then keeps its head-and-tail excerpt only.
func (a *Agent) publisher(js jetstream.JetStream) outbox.PublishFunc {
	return func(ctx context.Context, e outbox.Entry) error {
		for i, p := range e.Parts {
			data, err := p.Data()
			if err != nil { // the outbox checked the file at Drain; it broke since
				a.log.Error("cannot read a queued output chunk; sending the result with its excerpt only",
					"subject", p.Subject, "parts_skipped", len(e.Parts)-i, "error", err)
				break
			}
			err = publishMsg(ctx, js, &nats.Msg{Subject: p.Subject, Header: nats.Header(p.Header), Data: data}, p.MsgID)
			if err == nil {
				continue
			}
			if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrMaxPayload) || a.outputRefused() {
				a.log.Warn("the broker does not take full output; sending the result with its excerpt only",
					"subject", p.Subject, "parts_skipped", len(e.Parts)-i, "error", err)
				break
			}
			return err
		}
		err := publishMsg(ctx, js, &nats.Msg{Subject: e.Subject, Data: e.Payload}, e.MsgID)
		if errors.Is(err, nats.ErrMaxPayload) {
			return outbox.Permanent(err)
		}
		return err
	}
}

func publishMsg(ctx context.Context, js jetstream.JetStream, m *nats.Msg, msgID string) error {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := js.PublishMsg(pctx, m, jetstream.WithMsgID(msgID))
	return err
}

// outputRefused reports whether the broker refused a publish on output.*
// in the last 10 minutes (a permissions violation arrives asynchronously;
// the publish itself only times out).
func (a *Agent) outputRefused() bool {
	at := a.outputDenied.Load()
	return at != 0 && time.Since(time.Unix(0, at)) < 10*time.Minute
}

// drainLoop publishes the outbox whenever something is queued or the
// connection comes back, with backoff while the broker refuses.
func (a *Agent) drainLoop(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) {
	pub := a.publisher(js)
	backoff := time.Second
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.outbox.Notify():
		case <-a.drainNow:
		case <-timer.C:
		}
		if !nc.IsConnected() || a.outbox.Len() == 0 {
			timer.Reset(5 * time.Second)
			continue
		}
		n, err := a.outbox.Drain(ctx, pub)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("outbox drain paused", "sent", n, "left", a.outbox.Len(), "retry_in", backoff, "error", err)
			timer.Reset(backoff)
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		if n > 0 {
			a.log.Debug("outbox drained", "sent", n)
		}
		backoff = time.Second
		timer.Reset(5 * time.Second)
	}
}

// heartbeatLoop publishes a heartbeat every heartbeat_interval ±10 %.
func (a *Agent) heartbeatLoop(ctx context.Context, nc *nats.Conn) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-a.hbNow:
			timer.Stop()
		}
		if nc.IsConnected() { // a stale heartbeat flushed on reconnect would mislead
			if b, err := json.Marshal(a.Heartbeat()); err == nil {
				_ = nc.Publish(bus.Heartbeat(a.o.PCID), b)
				// A new version proves itself by a heartbeat the broker
				// took (SPEC §13).
				if a.upd != nil && a.upd.AwaitingHealth() && nc.FlushTimeout(5*time.Second) == nil {
					a.upd.Healthy()
				}
			}
		}
		every := a.Config().HeartbeatEvery()
		timer.Reset(every + time.Duration((rand.Float64()*0.2-0.1)*float64(every)))
	}
}

// maintenanceLoop expires old ledger records.
func (a *Agent) maintenanceLoop(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.ledger.Expire(); err != nil {
				a.log.Error("ledger maintenance", "error", err)
			}
		}
	}
}

func (a *Agent) identity() string {
	switch {
	case a.o.CredsFile != "":
		return "own credential " + a.o.CredsFile
	case a.o.NATSUser != "":
		return "shared user " + a.o.NATSUser
	case a.o.NATSToken != "":
		return "shared token"
	}
	return "none"
}

// brokerError logs a connection error the client reports, once a minute
// per distinct error. A refused credential is an error naming the PC and
// the reason: without it a PC with a bad or revoked credential would sit
// silently disconnected.
func (a *Agent) brokerError(err error) {
	if err == nil {
		return
	}
	a.errMu.Lock()
	repeat := err.Error() == a.lastErr && time.Since(a.lastErrAt) < time.Minute
	if !repeat {
		a.lastErr, a.lastErrAt = err.Error(), time.Now()
	}
	a.errMu.Unlock()
	if repeat {
		return
	}
	switch {
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked),
		errors.Is(err, nats.ErrAccountAuthExpired), strings.Contains(strings.ToLower(err.Error()), "authorization"),
		strings.Contains(strings.ToLower(err.Error()), "authentication"):
		a.log.Error("the broker refused this agent's credential; it keeps retrying, but needs an operator (re-enroll the PC, or check the broker's account configuration)",
			"reason", err.Error(), "identity", a.identity(), "nats_url", a.o.NATSURL)
	case errors.Is(err, nats.ErrPermissionViolation), strings.Contains(err.Error(), "Permissions Violation"):
		if strings.Contains(err.Error(), `"output.`) {
			a.outputDenied.Store(time.Now().UnixNano())
		}
		a.log.Error("the broker refused an operation of this agent", "reason", err.Error())
	default:
		a.log.Warn("broker connection problem", "reason", err.Error(), "nats_url", a.o.NATSURL)
	}
}

// connectWatch reports why the agent is not connected: during its first
// connection attempts the client calls no handler for a refused
// credential, it only keeps the error.
func (a *Agent) connectWatch(ctx context.Context, nc *nats.Conn) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !nc.IsConnected() {
				a.brokerError(nc.LastError())
			}
		}
	}
}

// firstStart reads the time of the data dir's first start from path,
// recording now there if it is the first.
func firstStart(path string) (time.Time, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		t, perr := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
		if perr == nil {
			return t, nil
		}
		// A damaged file: start over rather than refuse to run.
	} else if !errors.Is(err, os.ErrNotExist) {
		return time.Time{}, fmt.Errorf("agent: %w", err)
	}
	now := time.Now().UTC()
	if err := os.WriteFile(path, []byte(now.Format(time.RFC3339Nano)+"\n"), 0o600); err != nil {
		return time.Time{}, fmt.Errorf("agent: %w", err)
	}
	return now, nil
}
