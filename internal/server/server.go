// Package server assembles kanade-backend from one complete Config: broker
// (embedded or external), JetStream bootstrap, SQL store, auth, projectors,
// reaper, fan-out, scheduler, wave dispatcher, HTTP API and dashboard. It is
// the composition root: cmd/kanade-backend, tests and the simulator build
// backends with it, and no package under internal/ imports it.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/alerting"
	"github.com/kanade-fleet/kanade/internal/api"
	"github.com/kanade-fleet/kanade/internal/audit"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/broker"
	"github.com/kanade-fleet/kanade/internal/broker/identity"
	"github.com/kanade-fleet/kanade/internal/brokerid"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/cmdaudit"
	"github.com/kanade-fleet/kanade/internal/dirlock"
	"github.com/kanade-fleet/kanade/internal/enrollment"
	"github.com/kanade-fleet/kanade/internal/fanout"
	"github.com/kanade-fleet/kanade/internal/health"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/leader"
	"github.com/kanade-fleet/kanade/internal/live"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/metrics"
	"github.com/kanade-fleet/kanade/internal/notify"
	"github.com/kanade-fleet/kanade/internal/output"
	"github.com/kanade-fleet/kanade/internal/projector"
	"github.com/kanade-fleet/kanade/internal/scheduler"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/webui"
)

// Config is everything kanade-backend can be told (SPEC §1), complete:
// cmd/kanade-backend fills it from flags, environment and TOML, tests fill
// it directly. No package under internal/ reads the process environment.
type Config struct {
	HTTPAddr string
	DataDir  string
	DB       string
	// DBCorrupt is what to do when the SQLite database fails its check at
	// start (store.CorruptPolicy: "rebuild", the default, moves it aside and
	// replays the streams; "refuse" stops the start with an error).
	DBCorrupt string
	NATSURL   string
	NATSAddr  string
	NATSToken string
	// NATSAuthFile holds per-role broker credentials (broker.LoadAuthFile).
	// Embedded broker: it requires the three role users instead of the
	// token; external broker: the backend presents its [backend] user.
	NATSAuthFile string
	// NATSIdentity runs the broker in operator (JWT) mode with per-agent
	// identities (SPEC §12, docs/identity-design.md): the trust chain's
	// keys live in DataDir/broker-keys.json, agents enroll for their own
	// credential, DELETE /api/agents/{pc} revokes it. Exclusive with
	// NATSToken and NATSAuthFile. With an external broker, the servers run
	// the configuration of `kanade-backend broker-config`.
	NATSIdentity bool
	// AgentNATSURLs are the broker URLs enrolled agents get (default: the
	// embedded server's client URL, or NATSURL).
	AgentNATSURLs []string
	// SigningKeys are the command-signing public keys handed out at
	// enrollment; nil reads the active keys of KV signing_keys.
	SigningKeys enrollment.SigningKeys
	// TLSCert and TLSKey (PEM files) make the API serve HTTPS.
	TLSCert         string
	TLSKey          string
	CleanupInterval time.Duration
	// OfflineAlertAfter is how long an agent may be silent before an
	// agent-offline alert opens (--offline-alert-after; 0 = 10 min).
	OfflineAlertAfter time.Duration
	// Dev disables auth and starts an in-process agent (pc_id = hostname).
	Dev bool
	// Pprof serves Go runtime profiles to admins at /api/debug/pprof/.
	Pprof bool
	// CSVMaxRows caps one CSV export of a list (0 = api.CSVMaxRows).
	CSVMaxRows int
	// NoDevAgent keeps --dev from starting its agent (tests that bring their own).
	NoDevAgent     bool
	Replicas       int // JetStream replicas for streams/KV (3 on a 3-server cluster)
	ProjectorBatch int // messages per projector transaction (1 = one per transaction)
	// MaxReconnects bounds reconnect attempts to an external broker before
	// the backend gives up and exits (default 120, about two minutes).
	MaxReconnects int
	Version       string
	Commit        string
	Log           *slog.Logger

	// Auth is the API's authentication. An empty JWTSecret is loaded from,
	// or created in, the data dir (auth.LoadOrCreateSecret).
	Auth auth.Config
	// Scheduler tunes the schedule evaluator (tests shorten its periods).
	Scheduler scheduler.Options
	// WavePoll is how often due waves are looked for (default 1 s);
	// RunGrace how much longer than its timeout an ad-hoc run is awaited
	// (default 10 s). Tests shorten both.
	WavePoll time.Duration
	RunGrace time.Duration
	// SigningKey is the command-signing key file (PKCS#8 PEM Ed25519,
	// --signing-key); empty = signing.key in the data dir, created at
	// first start. KV signing_keys must trust it (see loadSigner).
	SigningKey string
	// Dispatcher replaces the fan-out as what the scheduler fires; nil in
	// production. Scheduler tests record fires with it.
	Dispatcher scheduler.Dispatcher
	// Health are the degradation thresholds of GET /api/health/fleet
	// (SPEC §17); tests shorten them.
	Health health.Options
	// BrokerDiskReserve is the space the embedded broker leaves free on its
	// disk for the database and the rest (--broker-disk-reserve; 0 =
	// broker.DefaultDiskReserve, negative = nats-server's own limit).
	// BrokerMinFree and BrokerHealPause tune the in-process JetStream
	// recovery after a full disk (0 = the broker package defaults).
	BrokerDiskReserve int64
	BrokerMinFree     int64
	BrokerHealPause   time.Duration
	// ReleaseMaxBytes bounds one uploaded agent binary (--release-max-bytes;
	// 0 = api.DefaultReleaseMaxBytes, 256 MiB).
	ReleaseMaxBytes int64
	// Notify tunes notification delivery (SPEC §15): collapse window,
	// retries, timeouts (--notify-* flags; tests shorten them).
	Notify notify.Options
	// Transitions is where the notification dispatcher reads alert
	// transitions; nil = the store, once it serves them
	// (notify.TransitionSource).
	Transitions notify.TransitionSource
}

// BrokerCreds are what a client presents to the broker.
type BrokerCreds struct{ Token, User, Password string }

// Server is a running backend. Its fields are the parts New built, exported
// for tests and the simulator; nothing in internal/ imports this package.
type Server struct {
	Cfg    Config
	Log    *slog.Logger
	Broker *broker.Broker // nil with an external broker
	NC     *nats.Conn
	JS     jetstream.JetStream
	DB     *store.DB
	// DBOpen is what the start-up check of the database found.
	DBOpen store.OpenOutcome
	Hub    *live.Hub
	// Live publishes a dashboard event to the clients of every replica
	// (through the broker); Hub.Publish reaches this replica's only.
	Live    *live.Relay
	Auth    *auth.Authenticator
	Audit   *audit.Publisher
	Metrics *metrics.Registry
	Jobs    *projector.JobCache
	// Projectors are the stream-to-SQL projectors (their Statuses feed health).
	Projectors *projector.Set
	// KV is the one owner of the JetStream KV buckets.
	KV     *kv.Store
	Fanout *fanout.Fanout
	// Signer signs every command and kill this backend publishes.
	Signer  *sign.Signer
	Elector *leader.Elector
	Sched   *scheduler.Scheduler
	// Health decides whether the backend is degraded, and why.
	Health *health.Monitor
	API    *api.Server
	// Authority signs the broker identities (nil without NATSIdentity).
	Authority *brokerid.Authority
	// Enrollment serves enrollment tokens, POST /api/enroll, revocation.
	Enrollment *enrollment.Service
	// Notifications: the dispatcher runs on the leader only (nil without
	// a transition source), the sender on every replica.
	NotifyDispatcher *notify.Dispatcher
	NotifySender     *notify.Sender

	httpSrv  *http.Server
	listener net.Listener
	scheme   string
	natsURL  string
	devCreds BrokerCreds
	sysNC    *nats.Conn // system-account user pushing account JWTs (NATSIdentity)
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	fatal    chan error
	stopOnce sync.Once
	dirLock  *dirlock.Lock // shared: restore locks the data dir exclusively
}

// New builds every part of a backend, in order, and starts it: broker,
// connection and bootstrap, store, auth and audit, live events,
// projectors and reaper, fan-out, leader election and scheduler, wave
// dispatcher, HTTP API, and with --dev the local agent. It returns once
// the HTTP listener accepts.
func New(parent context.Context, cfg Config) (_ *Server, err error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MaxReconnects == 0 {
		cfg.MaxReconnects = 120
	}
	if cfg.CleanupInterval <= 0 {
		cfg.CleanupInterval = 5 * time.Minute
	}
	b := &Server{Cfg: cfg, Log: cfg.Log, Metrics: metrics.New(), fatal: make(chan error, 4)}
	defer func() {
		if err != nil {
			b.teardown()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if b.dirLock, err = dirlock.Share(cfg.DataDir); err != nil {
		return nil, err
	}

	tlsCfg, err := loadTLS(cfg.TLSCert, cfg.TLSKey, cfg.Log)
	if err != nil {
		return nil, err
	}
	// Store first: the broker's revocations are kept there. A damaged
	// SQLite file is moved aside (or refused) before anything reads it.
	policy, err := store.ParseCorruptPolicy(cfg.DBCorrupt)
	if err != nil {
		return nil, err
	}
	if b.DB, b.DBOpen, err = store.OpenChecked(parent, cfg.DB, cfg.DataDir, policy, cfg.Log); err != nil {
		return nil, err
	}

	// Broker.
	creds, err := b.brokerAuth()
	if err != nil {
		return nil, err
	}
	if cfg.NATSIdentity {
		var created bool
		if b.Authority, created, err = LoadAuthority(parent, cfg.DataDir, b.DB); err != nil {
			return nil, err
		}
		if created {
			b.Log.Info("broker trust chain created (keep it secret, back it up)", "file", filepath.Join(cfg.DataDir, BrokerKeysFile))
		}
	} else if cfg.NATSToken != "" {
		b.Log.Warn("the broker uses one shared token: every PC holding it can act as any other PC and send commands; for development and tests only, use --nats-identity in production")
	}
	b.natsURL = cfg.NATSURL
	if cfg.NATSURL == "" {
		bo := broker.Options{Addr: cfg.NATSAddr, StoreDir: filepath.Join(cfg.DataDir, "jetstream"), Token: cfg.NATSToken, Log: cfg.Log,
			DiskReserve: cfg.BrokerDiskReserve, MinFree: cfg.BrokerMinFree, HealPause: cfg.BrokerHealPause, DBFiles: b.DB.Files()}
		if creds != nil {
			bo.Configure = broker.ConfigureAuth(*creds)
		}
		if b.Authority != nil {
			bo.Configure = identity.Configure(b.Authority)
		}
		b.Broker, err = broker.Start(bo)
		if err != nil {
			return nil, err
		}
		b.natsURL = b.Broker.ClientURL()
		mode := "per-agent identity (operator JWT)"
		if b.Authority == nil {
			mode = brokerAuthMode(cfg.NATSToken, creds, cfg.NATSAddr, cfg.Log)
		}
		b.Log.Info("embedded nats-server started", "url", b.natsURL, "store", filepath.Join(cfg.DataDir, "jetstream"),
			"auth", mode)
	}
	co := bus.ConnectOptions{URL: b.natsURL, Token: cfg.NATSToken, Name: "kanade-backend", InboxPrefix: bus.InboxBackend,
		Logger: cfg.Log, MaxReconnects: cfg.MaxReconnects, OnClosed: func() {
			select {
			case b.fatal <- errors.New("broker connection closed for good; exiting rather than serving a stale projection"):
			default:
			}
		}}
	b.devCreds = BrokerCreds{Token: cfg.NATSToken}
	if creds != nil {
		co.Token, co.User, co.Password = "", creds.Backend.User, creds.Backend.Password
		b.devCreds = BrokerCreds{User: creds.Agent.User, Password: creds.Agent.Password}
	}
	if b.Authority != nil {
		bu, err := b.Authority.IssueBackend("kanade-backend")
		if err != nil {
			return nil, err
		}
		co.Token = ""
		co.Options = append(co.Options, nats.UserJWTAndSeed(bu.JWT, string(bu.Seed)))
	}
	if b.Broker != nil {
		co.InProcess = b.Broker.Server
	}
	// No reconnect buffer: a publish while the broker is away fails at
	// once instead of leaving later, so every publish outcome the backend
	// records (fan-out subjects sent and failed) is the real one.
	co.Options = append(co.Options, nats.ReconnectBufSize(-1))
	if b.NC, err = bus.Connect(co); err != nil {
		return nil, err
	}
	if b.Authority != nil {
		if err := b.startIdentity(parent); err != nil {
			return nil, err
		}
	}
	if b.JS, err = jetstream.New(b.NC); err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	bctx, cancel := context.WithTimeout(parent, 30*time.Second)
	err = bus.Bootstrap(bctx, b.JS, cfg.Replicas)
	cancel()
	if err != nil {
		return nil, err
	}

	b.KV = kv.New(b.JS, cfg.Log)
	if err := b.loadSigner(parent); err != nil {
		return nil, err
	}
	b.Enrollment = b.newEnrollment()

	// Auth and audit.
	b.Audit = &audit.Publisher{JS: b.JS, Log: cfg.Log}
	acfg := cfg.Auth
	acfg.Logger = cfg.Log
	if cfg.Dev {
		acfg.Disabled = true
	}
	if len(acfg.JWTSecret) == 0 {
		if acfg.JWTSecret, err = auth.LoadOrCreateSecret(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	if b.Auth, err = auth.New(acfg, b.DB, b.Audit); err != nil {
		return nil, err
	}
	if err := b.Auth.Bootstrap(parent); err != nil {
		return nil, err
	}

	// Live events, projectors, reaper.
	ctx, cancelAll := context.WithCancel(context.Background())
	b.cancel = cancelAll
	b.Hub = live.NewHub(cfg.Log)
	if b.Live, err = live.NewRelay(b.NC, b.Hub, cfg.Log); err != nil {
		return nil, err
	}
	b.Jobs = projector.NewJobCache(manifest.ParseDuration)
	set := projector.New(b.DB, projector.Options{Batch: cfg.ProjectorBatch, Log: cfg.Log, Metrics: b.Metrics,
		Notes: b.Live, Local: b.Hub, Jobs: b.Jobs, JobSource: b.KV.Jobs, Groups: b.KV.AgentGroups})
	b.Projectors = set
	if err := set.ResetIfWiped(parent, b.JS); err != nil {
		return nil, err
	}
	b.wg.Go(func() { set.Run(ctx, b.NC, b.JS) })
	b.wg.Go(func() { b.reapLoop(ctx) })
	asm := &output.Assembler{JS: b.JS, Objects: b.KV.Outputs, Log: cfg.Log, Metrics: b.Metrics}
	b.wg.Go(func() { asm.Run(ctx) })

	// Orchestration: fan-out (it keeps no state of its own: pending waves
	// live in KV), leader election, scheduler, due waves. One election gates
	// every single-replica duty (schedules and waves).
	b.Fanout = fanout.New(fanout.Deps{JS: b.JS, NC: b.NC, Store: b.DB, Jobs: b.KV.Jobs, Waves: b.KV.Waves,
		Audit: b.Audit, Signer: b.Signer, Log: cfg.Log})
	if cfg.WavePoll > 0 {
		b.Fanout.WavePoll = cfg.WavePoll
	}
	if cfg.RunGrace > 0 {
		b.Fanout.RunGrace = cfg.RunGrace
	}
	host, _ := os.Hostname()
	holder := host + "-" + uuid.NewString()[:8]
	b.Elector = leader.New(b.KV.Locks, schedulerLock, holder, cfg.Log)
	dispatcher := cfg.Dispatcher
	if dispatcher == nil {
		dispatcher = fanoutDispatcher{b.Fanout}
	}
	b.Sched = scheduler.New(scheduler.Deps{Schedules: b.KV.Schedules, Jobs: b.KV.Jobs, Freeze: b.KV.Freeze, Store: b.DB,
		Dispatcher: dispatcher, Leader: b.Elector, Audit: b.Audit, Events: b.Live, Log: cfg.Log, Holder: holder}, cfg.Scheduler)

	// Health: background probes, so the health route only reads memory.
	b.Health = health.New(b.healthSources(holder), cfg.Health, b.Metrics, cfg.Log)
	if b.DBOpen.MovedAside != "" {
		b.Health.DatabaseRebuilt()
	}
	b.wg.Go(func() { b.Health.Run(ctx) })

	// HTTP.
	b.API = api.New(api.Deps{Store: b.DB, Dispatches: b.DB, Jobs: b.KV.Jobs, Schedules: b.KV.Schedules,
		Groups: b.KV.AgentGroups, Config: b.KV.AgentConfig, Freeze: b.KV.Freeze, Buckets: b.KV, Outputs: b.KV.Outputs, Fanout: b.Fanout,
		Enrollment: b.Enrollment, Releases: api.ReleaseDeps{Store: b.KV.Releases, Signer: b.Signer, Targets: b.KV.AgentConfig,
			MaxBytes: cfg.ReleaseMaxBytes, TempDir: filepath.Join(cfg.DataDir, "uploads")},
		Channels: b.KV.NotifyChannels,
		NC:       b.NC, JS: b.JS, Auth: b.Auth, Audit: b.Audit, Events: b.Hub, UI: webui.Handler(),
		Metrics: b.Metrics, Health: b.Health, Log: cfg.Log, Version: cfg.Version, Commit: cfg.Commit, Pprof: cfg.Pprof,
		CSVMaxRows: cfg.CSVMaxRows})
	b.Metrics.Collect("kanade_fleet", &fleetCollector{db: b.DB, ttl: 15 * time.Second, log: cfg.Log})
	b.Metrics.GaugeFunc("kanade_sse_clients", "Connected dashboard event streams.", func() float64 { return float64(b.Hub.Clients()) })
	if b.listener, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	b.scheme = "http"
	if tlsCfg != nil {
		b.scheme = "https"
	}
	b.httpSrv = &http.Server{Handler: b.API.Handler(), ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsCfg,
		ErrorLog: slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn)}
	auth.HardenServer(b.httpSrv)
	b.wg.Go(func() {
		serve := func() error { return b.httpSrv.Serve(b.listener) }
		if tlsCfg != nil {
			serve = func() error { return b.httpSrv.ServeTLS(b.listener, "", "") } // certificates come from TLSConfig
		}
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.fatal <- fmt.Errorf("http server: %w", err)
		}
	})
	b.Log.Info("kanade-backend listening", "http", b.HTTPURL(), "nats", b.natsURL,
		"version", cfg.Version, "dev", cfg.Dev)

	// Single-replica duties, after the API is up.
	b.wg.Go(func() { _ = b.Elector.Run(ctx) })
	b.wg.Go(func() { _ = b.Sched.Run(ctx) })
	b.wg.Go(func() { b.Fanout.RunWaves(ctx, b.Elector.IsLeader) })
	off := &alerting.Offline{JS: b.JS, Store: b.DB, IsLeader: b.Elector.IsLeader, After: cfg.OfflineAlertAfter, Log: cfg.Log}
	b.wg.Go(func() { off.Run(ctx) })
	if b.Authority != nil {
		b.wg.Go(func() { b.syncRevocationsLoop(ctx) })
	}
	b.startNotify(ctx, holder)
	cw := &cmdaudit.Watcher{JS: b.JS, NC: b.NC, Execs: b.DB, Keys: b.KV.SigningKeys, Audit: b.Audit,
		Metrics: b.Metrics, Log: cfg.Log}
	b.wg.Go(func() { cw.Run(ctx) })
	if cfg.Dev && !cfg.NoDevAgent {
		b.wg.Go(func() { b.runDevAgent(ctx, creds) })
	}
	return b, nil
}

// HTTPURL is the base URL of the API (https:// with --tls-cert).
func (b *Server) HTTPURL() string { return b.scheme + "://" + b.listener.Addr().String() }

// NATSURL is where agents and the CLI connect.
func (b *Server) NATSURL() string { return b.natsURL }

// Fatal delivers an error that should end the process (broker gone for good).
func (b *Server) Fatal() <-chan error { return b.fatal }

// Stop shuts down gracefully: no new requests, projectors finish their
// current batch, the store is closed cleanly, the broker stops last.
func (b *Server) Stop(ctx context.Context) {
	b.stopOnce.Do(func() {
		if b.httpSrv != nil {
			b.Hub.Close()
			if err := b.httpSrv.Shutdown(ctx); err != nil {
				b.Log.Warn("http shutdown", "error", err)
			}
		}
		b.teardown()
		b.Log.Info("kanade-backend stopped")
	})
}

func (b *Server) teardown() {
	if b.cancel != nil {
		b.cancel()
	}
	b.wg.Wait()
	if b.Fanout != nil {
		b.Fanout.Close() // background retries of records a broker failure held back
	}
	if b.Live != nil {
		b.Live.Close()
	}
	if b.NC != nil {
		b.NC.SetClosedHandler(nil)
		_ = b.NC.Drain()
		for i := 0; i < 50 && !b.NC.IsClosed(); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if b.sysNC != nil {
		b.sysNC.Close()
	}
	if b.DB != nil {
		if err := b.DB.Close(); err != nil {
			b.Log.Warn("close store", "error", err)
		}
	}
	if b.Broker != nil {
		b.Broker.Shutdown()
	}
	if err := b.dirLock.Release(); err != nil {
		b.Log.Warn("release data dir lock", "error", err)
	}
}

func (b *Server) reapLoop(ctx context.Context) {
	t := time.NewTicker(b.Cfg.CleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			b.Cleanup(ctx, now)
		}
	}
}

// Cleanup runs one reaper + retention pass.
func (b *Server) Cleanup(ctx context.Context, now time.Time) {
	out, err := b.DB.Reap(ctx, now)
	if err != nil {
		b.Log.Error("reaper failed", "error", err)
	} else if out.Reaped > 0 || out.Expired > 0 {
		b.Log.Info("reaper pass", "reaped", out.Reaped, "expired_pending", out.Expired)
		for _, p := range out.Executions {
			b.Live.Publish("execution", p)
		}
	}
	if deleted, err := b.DB.Retain(ctx, now); err != nil {
		b.Log.Error("retention failed", "error", err)
	} else {
		for table, n := range deleted {
			if n > 0 {
				b.Log.Info("retention deleted rows", "table", table, "rows", n)
			}
		}
	}
}

// startNotify starts notification delivery (SPEC §15): the sender on
// every replica (one shared durable consumer), the dispatcher gated by the
// leader election like schedules and waves.
func (b *Server) startNotify(ctx context.Context, holder string) {
	o := b.Cfg.Notify
	if o.Replica == "" {
		o.Replica = holder
	}
	if o.UserAgent == "" {
		o.UserAgent = "kanade/" + b.Cfg.Version
	}
	b.NotifySender = &notify.Sender{JS: b.JS, Channels: b.KV.NotifyChannels, Log: b.Log, Opts: o}
	b.wg.Go(func() { b.NotifySender.Run(ctx) })
	src := b.Cfg.Transitions
	if src == nil {
		src = storeTransitions{b.DB}
	}
	b.NotifyDispatcher = &notify.Dispatcher{Source: src, Channels: b.KV.NotifyChannels, Groups: b.KV.AgentGroups,
		State: b.KV.NotifyState, JS: b.JS, IsLeader: b.Elector.IsLeader, Log: b.Log, Opts: o,
		Horizon: func(ctx context.Context, now time.Time) (time.Time, error) { return projector.Horizon(ctx, b.JS, now) }}
	b.wg.Go(func() { b.NotifyDispatcher.Run(ctx) })
}

// storeTransitions reads the alerts projection's outbox for the
// notification dispatcher.
type storeTransitions struct{ db *store.DB }

func (s storeTransitions) AlertTransitionsSince(ctx context.Context, afterAt, afterKey string, limit int) ([]notify.AlertTransition, error) {
	rows, err := s.db.AlertTransitionsSince(ctx, afterAt, afterKey, limit)
	if err != nil {
		return nil, err
	}
	out := make([]notify.AlertTransition, len(rows))
	for i, r := range rows {
		out[i] = notify.AlertTransition{Key: r.Key, AlertID: r.AlertID, Transition: r.Transition, Kind: r.Kind,
			CheckID: r.CheckID, PCID: r.PCID, Severity: r.Severity, At: store.TS(r.At)}
	}
	return out, nil
}
