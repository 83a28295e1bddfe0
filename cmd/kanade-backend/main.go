// Command kanade-backend serves the API and dashboard, projects the streams
// into SQL and drives the scheduler. See SPEC §1 for its flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/bytesize"
	"github.com/kanade-fleet/kanade/internal/config"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/version"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "kanade-backend:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 0 && args[0] == "broker-config" {
		return brokerConfig(args[1:], os.Stdout)
	}
	if len(args) > 0 && args[0] == "signing-key" {
		return signingKeyCmd(args[1:], os.Stdout)
	}
	if len(args) > 0 && args[0] == "backup" {
		return backupCmd(args[1:], os.Stdout)
	}
	if len(args) > 0 && args[0] == "restore" {
		return restoreCmd(args[1:], os.Stdout)
	}
	o := newOptions("kanade-backend")
	fs, cfg := o.fs, &o.cfg
	if err := o.load(args); err != nil {
		return err
	}
	if *o.showVersion {
		fmt.Println("kanade-backend", version.String())
		return nil
	}
	defaultIdentity(fs, cfg)
	var level slog.Level
	if err := level.UnmarshalText([]byte(*o.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	cfg.Log = log
	if memLimit := o.memLimit; memLimit > 0 {
		// The collector works harder as the heap nears the limit and
		// returns freed pages sooner; it never fails an allocation.
		debug.SetMemoryLimit(int64(memLimit))
		log.Info("memory limit set", "bytes", int64(memLimit), "limit", bytesize.Format(uint64(memLimit)))
	}
	cfg.Version, cfg.Commit = version.Version, version.Commit
	for _, u := range strings.Split(*o.agentURLs, ",") {
		if u = strings.TrimSpace(u); u != "" {
			cfg.AgentNATSURLs = append(cfg.AgentNATSURLs, u)
		}
	}
	// The auth settings are environment-only (SPEC §1: KANADE_AUTH_*,
	// KANADE_JWT_*, KANADE_BOOTSTRAP_ADMIN_*); without KANADE_JWT_SECRET the
	// secret is kept in the data dir.
	acfg, err := auth.ConfigFromEnv(os.Getenv, cfg.DataDir)
	if err != nil {
		return err
	}
	cfg.Auth = acfg

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := server.New(ctx, *cfg)
	if err != nil {
		return err
	}
	var fatal error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case fatal = <-b.Fatal():
		log.Error("fatal", "error", fatal)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b.Stop(sctx)
	return fatal
}

// defaultIdentity turns per-agent broker identity on (SPEC §12) when the
// operator chose no broker auth: the embedded broker, not --dev, no
// --nats-token / --nats-auth-file, and --nats-identity not given (flag,
// KANADE_NATS_IDENTITY or the config file). A shared token is for --dev and
// tests; an external broker must be configured for identity first
// (kanade-backend broker-config), so it stays explicit there.
func defaultIdentity(fs *flag.FlagSet, cfg *server.Config) {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "nats-identity" })
	if !set && !cfg.Dev && cfg.NATSToken == "" && cfg.NATSAuthFile == "" && cfg.NATSURL == "" {
		cfg.NATSIdentity = true
	}
}

// byteSize is a flag of bytes written as 512MiB, 2GiB, 100MB or a plain
// number; empty or 0 = the default.
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(v string) error {
	n, err := bytesize.Parse(v)
	*b = byteSize(n)
	return err
}

// options are the backend's flags (SPEC §1), shared by the server and its
// backup and restore subcommands so they read the same config file and
// environment: a backup reaches the backend it is configured like.
type options struct {
	fs          *flag.FlagSet
	cfg         server.Config
	env         map[string]string
	agentURLs   *string
	memLimit    byteSize
	logLevel    *string
	showVersion *bool
}

func newOptions(name string) *options {
	o := &options{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	fs := o.fs
	fs.String("config", "", "TOML config file (keys are the flag names)")
	fs.StringVar(&o.cfg.HTTPAddr, "http-addr", "127.0.0.1:8080", "HTTP listen address for the API and dashboard")
	fs.StringVar(&o.cfg.DataDir, "data-dir", "./kanade-data", "directory for backend.db and the embedded JetStream store")
	fs.StringVar(&o.cfg.DB, "db", "", "database: empty = SQLite in data-dir; postgres://… = PostgreSQL")
	fs.StringVar(&o.cfg.DBCorrupt, "db-corrupt", "rebuild",
		"SQLite database failing its start-up check: rebuild (move it aside as backend.db.corrupt-<time>, replay the streams) | refuse (do not start)")
	fs.StringVar(&o.cfg.NATSURL, "nats-url", "", "external NATS server(s), comma-separated; empty = start the embedded server")
	fs.StringVar(&o.cfg.NATSAddr, "nats-addr", "127.0.0.1:4222", "where the embedded NATS server listens")
	fs.StringVar(&o.cfg.NATSToken, "nats-token", "", "broker token (embedded: required of clients; external: presented)")
	fs.StringVar(&o.cfg.NATSAuthFile, "nats-auth-file", "",
		"TOML file of per-role broker users ([backend], [agent], [operator]: user, password); replaces --nats-token")
	fs.BoolVar(&o.cfg.NATSIdentity, "nats-identity", false,
		"per-agent broker identity (operator JWT mode): agents enroll for their own credential; excludes --nats-token and --nats-auth-file. "+
			"Default: on for the embedded broker unless --dev, --nats-token or --nats-auth-file; --nats-identity=false runs it without broker auth")
	o.agentURLs = fs.String("agent-nats-url", "", "broker URL(s) told to enrolling agents, comma-separated (default: the embedded server's URL, or --nats-url)")
	fs.StringVar(&o.cfg.TLSCert, "tls-cert", "", "PEM certificate (chain) file: serve the API and dashboard over HTTPS")
	fs.StringVar(&o.cfg.TLSKey, "tls-key", "", "PEM private key file of --tls-cert")
	fs.StringVar(&o.cfg.SigningKey, "signing-key", "",
		"command-signing key (PKCS#8 PEM Ed25519); empty = signing.key in data-dir, created at first start")
	fs.Var((*byteSize)(&o.cfg.BrokerDiskReserve), "broker-disk-reserve",
		"space the embedded broker leaves free on its disk for the database and the rest, e.g. 512MiB, 2GiB (-1 = nats-server's own limit)")
	o.cfg.ReleaseMaxBytes = 256 << 20
	fs.Var((*byteSize)(&o.cfg.ReleaseMaxBytes), "release-max-bytes",
		"largest agent binary a release upload may send (POST /api/releases), e.g. 256MiB, 1GiB")
	fs.DurationVar(&o.cfg.Notify.Window, "notify-collapse-window", 10*time.Second,
		"alert transitions of the same channel, check and kind within one window (aligned on the clock) become one notification")
	fs.DurationVar(&o.cfg.Notify.RetryFor, "notify-retry-for", 24*time.Hour, "how long a failing notification delivery is retried")
	fs.DurationVar(&o.cfg.Notify.BackoffMax, "notify-backoff-max", 10*time.Minute, "longest delay between two delivery attempts (doubling from 10s)")
	fs.DurationVar(&o.cfg.Notify.SendTimeout, "notify-send-timeout", 30*time.Second, "timeout of one webhook, Slack or SMTP delivery attempt")
	fs.Var(&o.memLimit, "memory-limit",
		"soft limit of the process's memory (Go runtime, embedded broker included), e.g. 448MiB; empty = GOMEMLIMIT or none")
	fs.DurationVar(&o.cfg.CleanupInterval, "cleanup-interval", 5*time.Minute, "reaper and retention interval")
	fs.DurationVar(&o.cfg.OfflineAlertAfter, "offline-alert-after", 10*time.Minute,
		"an agent silent this long gets an agent-offline alert (SPEC §15)")
	fs.BoolVar(&o.cfg.Dev, "dev", false, "development: auth disabled and a local in-process agent")
	fs.BoolVar(&o.cfg.Pprof, "pprof", false, "serve Go runtime profiles to admins at /api/debug/pprof/ (go tool pprof)")
	fs.IntVar(&o.cfg.Replicas, "replicas", 1, "JetStream replicas for streams and KV (3 on a 3-server cluster)")
	fs.IntVar(&o.cfg.ProjectorBatch, "projector-batch", 1000, "max messages per projector transaction (1 = one per transaction; benchmarks)")
	o.logLevel = fs.String("log-level", "info", "debug | info | warn | error")
	o.showVersion = fs.Bool("version", false, "print the version and exit")
	o.env = map[string]string{
		"http-addr": "KANADE_HTTP_ADDR", "data-dir": "KANADE_DATA_DIR", "db": "KANADE_DB", "db-corrupt": "KANADE_DB_CORRUPT", "nats-url": "KANADE_NATS_URL",
		"nats-addr": "KANADE_NATS_ADDR", "nats-token": "KANADE_NATS_TOKEN", "nats-auth-file": "KANADE_NATS_AUTH_FILE",
		"nats-identity": "KANADE_NATS_IDENTITY", "agent-nats-url": "KANADE_AGENT_NATS_URL",
		"tls-cert": "KANADE_TLS_CERT", "tls-key": "KANADE_TLS_KEY", "signing-key": "KANADE_SIGNING_KEY", "cleanup-interval": "KANADE_CLEANUP_INTERVAL",
		"offline-alert-after": "KANADE_OFFLINE_ALERT_AFTER",
		"broker-disk-reserve": "KANADE_BROKER_DISK_RESERVE", "release-max-bytes": "KANADE_RELEASE_MAX_BYTES",
		"dev": "KANADE_DEV", "replicas": "KANADE_REPLICAS", "log-level": "KANADE_LOG_LEVEL",
		"pprof": "KANADE_PPROF", "memory-limit": "KANADE_MEMORY_LIMIT",
		"notify-collapse-window": "KANADE_NOTIFY_COLLAPSE_WINDOW", "notify-retry-for": "KANADE_NOTIFY_RETRY_FOR",
		"notify-backoff-max": "KANADE_NOTIFY_BACKOFF_MAX", "notify-send-timeout": "KANADE_NOTIFY_SEND_TIMEOUT",
	}
	return o
}

// load parses args, the environment and --config into the options.
func (o *options) load(args []string) error {
	return config.Load(o.fs, args, o.env, os.LookupEnv)
}
