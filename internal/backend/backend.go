// Package backend assembles kanade-backend: broker (embedded or external),
// JetStream bootstrap, SQL store, projectors, reaper, HTTP API. It is a
// library so tests and benchmarks can run whole backends in-process.
package backend

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

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/api"
	"github.com/kanade-fleet/kanade/internal/audit"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/broker"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/fanout"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/live"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/metrics"
	"github.com/kanade-fleet/kanade/internal/projector"
	"github.com/kanade-fleet/kanade/internal/store"
)

// Config is everything kanade-backend can be told (SPEC §1).
type Config struct {
	HTTPAddr  string
	DataDir   string
	DB        string
	NATSURL   string
	NATSAddr  string
	NATSToken string
	// NATSAuthFile holds per-role broker credentials (broker.LoadAuthFile).
	// Embedded broker: it requires the three role users instead of the
	// token; external broker: the backend presents its [backend] user.
	NATSAuthFile string
	// TLSCert and TLSKey (PEM files) make the API serve HTTPS.
	TLSCert         string
	TLSKey          string
	CleanupInterval time.Duration
	Dev             bool
	Replicas        int // JetStream replicas for streams/KV (3 on a 3-server cluster)
	ProjectorBatch  int // messages per projector transaction (1 = one per transaction)
	// MaxReconnects bounds reconnect attempts to an external broker before
	// the backend gives up and exits (default 120, about two minutes).
	MaxReconnects int
	Version       string
	Commit        string
	Log           *slog.Logger
	// DevAgent starts the in-process agent of --dev; nil = none.
	DevAgent func(ctx context.Context, natsURL string, creds BrokerCreds, dataDir string) error
	// UI is the embedded dashboard; nil = API only.
	UI http.Handler
	// WavePoll and RunGrace tune the fan-out (0 = its defaults; tests
	// shorten them).
	WavePoll, RunGrace time.Duration
	// Services are started after the API is up (scheduler, wave dispatcher…)
	// and stopped with the backend.
	Services []func(ctx context.Context, b *Backend)
}

// BrokerCreds are what a client presents to the broker.
type BrokerCreds struct{ Token, User, Password string }

// Backend is a running backend.
type Backend struct {
	Cfg    Config
	Log    *slog.Logger
	Broker *broker.Broker // nil with an external broker
	NC     *nats.Conn
	JS     jetstream.JetStream
	DB     *store.DB
	Hub    *live.Hub
	// Live publishes a dashboard event to the clients of every replica
	// (through the broker); Hub.Publish reaches this replica's only.
	Live    *live.Relay
	Auth    *auth.Authenticator
	Audit   *audit.Publisher
	Metrics *metrics.Registry
	Jobs    *projector.JobCache
	// KV is the one owner of the JetStream KV buckets.
	KV *kv.Store
	// Fanout dispatches execs, waves, kills and ad-hoc runs.
	Fanout *fanout.Fanout
	API    *api.Server

	httpSrv  *http.Server
	listener net.Listener
	scheme   string
	natsURL  string
	devCreds BrokerCreds
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	fatal    chan error
	stopOnce sync.Once
}

// Start brings a backend up. It returns once the HTTP listener accepts.
func Start(parent context.Context, cfg Config) (_ *Backend, err error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MaxReconnects == 0 {
		cfg.MaxReconnects = 120
	}
	if cfg.CleanupInterval <= 0 {
		cfg.CleanupInterval = 5 * time.Minute
	}
	b := &Backend{Cfg: cfg, Log: cfg.Log, Metrics: metrics.New(), fatal: make(chan error, 4)}
	defer func() {
		if err != nil {
			b.teardown()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}

	tlsCfg, err := loadTLS(cfg.TLSCert, cfg.TLSKey, cfg.Log)
	if err != nil {
		return nil, err
	}
	// Broker.
	creds, err := b.brokerAuth()
	if err != nil {
		return nil, err
	}
	b.natsURL = cfg.NATSURL
	if cfg.NATSURL == "" {
		bo := broker.Options{Addr: cfg.NATSAddr, StoreDir: filepath.Join(cfg.DataDir, "jetstream"), Token: cfg.NATSToken, Log: cfg.Log}
		if creds != nil {
			bo.Configure = broker.ConfigureAuth(*creds)
		}
		b.Broker, err = broker.Start(bo)
		if err != nil {
			return nil, err
		}
		b.natsURL = b.Broker.ClientURL()
		b.Log.Info("embedded nats-server started", "url", b.natsURL, "store", filepath.Join(cfg.DataDir, "jetstream"),
			"auth", brokerAuthMode(cfg.NATSToken, creds, cfg.NATSAddr, cfg.Log))
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
	if b.Broker != nil {
		co.InProcess = b.Broker.Server
	}
	if b.NC, err = bus.Connect(co); err != nil {
		return nil, err
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

	// Store.
	if b.DB, err = store.Open(parent, cfg.DB, cfg.DataDir, cfg.Log); err != nil {
		return nil, err
	}

	// Auth and audit.
	b.Audit = &audit.Publisher{JS: b.JS, Log: cfg.Log}
	acfg, err := auth.ConfigFromEnv(nil, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	acfg.Logger = cfg.Log
	if cfg.Dev {
		acfg.Disabled = true
	}
	if b.Auth, err = auth.New(acfg, auth.NewSQLUsers(b.DB.Write, b.DB.Read), b.Audit); err != nil {
		return nil, err
	}
	if err := b.Auth.Bootstrap(parent); err != nil {
		return nil, err
	}

	// Projectors.
	ctx, cancelAll := context.WithCancel(context.Background())
	b.cancel = cancelAll
	b.Hub = live.NewHub(cfg.Log)
	if b.Live, err = live.NewRelay(b.NC, b.Hub, cfg.Log); err != nil {
		return nil, err
	}
	b.Jobs = projector.NewJobCache(manifest.ParseDuration)
	set := projector.New(b.DB, projector.Options{Batch: cfg.ProjectorBatch, Log: cfg.Log, Metrics: b.Metrics,
		Notes: b.Live, Local: b.Hub, Jobs: b.Jobs, JobSource: b.KV.Jobs, Groups: b.KV.AgentGroups})
	if err := set.ResetIfWiped(parent, b.JS); err != nil {
		return nil, err
	}
	b.wg.Go(func() { set.Run(ctx, b.NC, b.JS) })
	b.wg.Go(func() { b.reapLoop(ctx) })

	// Fan-out (it keeps no state of its own: pending waves live in KV).
	b.Fanout = fanout.New(fanout.Deps{JS: b.JS, NC: b.NC, Store: b.DB, Jobs: b.KV.Jobs, Waves: b.KV.Waves,
		Audit: b.Audit, Log: cfg.Log})
	if cfg.WavePoll > 0 {
		b.Fanout.WavePoll = cfg.WavePoll
	}
	if cfg.RunGrace > 0 {
		b.Fanout.RunGrace = cfg.RunGrace
	}

	// HTTP.
	b.API = api.New(api.Deps{Store: b.DB, Dispatches: b.DB, Jobs: b.KV.Jobs, Schedules: b.KV.Schedules,
		Groups: b.KV.AgentGroups, Config: b.KV.AgentConfig, Freeze: b.KV.Freeze, Buckets: b.KV, Fanout: b.Fanout,
		NC: b.NC, JS: b.JS, Auth: b.Auth, Audit: b.Audit, Events: b.Hub, UI: cfg.UI,
		Metrics: b.Metrics, Log: cfg.Log, Version: cfg.Version, Commit: cfg.Commit})
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

	for _, svc := range cfg.Services {
		b.wg.Go(func() { svc(ctx, b) })
	}
	if cfg.Dev && cfg.DevAgent != nil {
		b.wg.Go(func() {
			if b.devCreds.User != "" && (creds.Agent.IsHash() || b.Broker == nil) {
				b.Log.Error("the --dev agent needs the plain agent password of the embedded broker; it is not started")
				return
			}
			if err := cfg.DevAgent(ctx, b.natsURL, b.devCreds, filepath.Join(cfg.DataDir, "agent")); err != nil && ctx.Err() == nil {
				b.Log.Error("in-process dev agent stopped", "error", err)
			}
		})
	}
	return b, nil
}

// HTTPURL is the base URL of the API (https:// with --tls-cert).
func (b *Backend) HTTPURL() string { return b.scheme + "://" + b.listener.Addr().String() }

// NATSURL is where agents and the CLI connect.
func (b *Backend) NATSURL() string { return b.natsURL }

// Fatal delivers an error that should end the process (broker gone for good).
func (b *Backend) Fatal() <-chan error { return b.fatal }

// Stop shuts down gracefully: no new requests, projectors finish their
// current batch, the store is closed cleanly, the broker stops last.
func (b *Backend) Stop(ctx context.Context) {
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

func (b *Backend) teardown() {
	if b.cancel != nil {
		b.cancel()
	}
	b.wg.Wait()
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
	if b.DB != nil {
		if err := b.DB.Close(); err != nil {
			b.Log.Warn("close store", "error", err)
		}
	}
	if b.Broker != nil {
		b.Broker.Shutdown()
	}
}

func (b *Backend) reapLoop(ctx context.Context) {
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
func (b *Backend) Cleanup(ctx context.Context, now time.Time) {
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
