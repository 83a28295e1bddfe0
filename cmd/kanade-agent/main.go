// Command kanade-agent is the endpoint daemon: a thin wrapper that reads
// settings (flag > env > TOML file > default), sets up logging and runs
// internal/agent in the foreground or as a Windows service.
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
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/agent"
	"github.com/kanade-fleet/kanade/internal/agent/enroll"
	"github.com/kanade-fleet/kanade/internal/agent/rotlog"
	"github.com/kanade-fleet/kanade/internal/agent/update"
	"github.com/kanade-fleet/kanade/internal/config"
	"github.com/kanade-fleet/kanade/internal/version"
)

type settings struct {
	id, natsURL, natsToken, natsUser, natsPassword, dataDir, logLevel string
	showVersion, requireSigned, selfUpdate                            bool
}

var envVars = map[string]string{
	"id":             "KANADE_PC_ID",
	"nats-url":       "KANADE_NATS_URL",
	"nats-token":     "KANADE_NATS_TOKEN",
	"nats-user":      "KANADE_NATS_USER",
	"nats-password":  "KANADE_NATS_PASSWORD",
	"data-dir":       "KANADE_DATA_DIR",
	"log-level":      "KANADE_LOG_LEVEL",
	"config":         "KANADE_AGENT_CONFIG",
	"require-signed": "KANADE_REQUIRE_SIGNED",
	"self-update":    "KANADE_SELF_UPDATE",
}

func parse(args []string, stderr io.Writer) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("kanade-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&s.id, "id", "", "pc_id of this machine [KANADE_PC_ID] (default: hostname)")
	fs.StringVar(&s.natsURL, "nats-url", "", "broker URL(s), comma-separated [KANADE_NATS_URL] (default: enrollment.json's, else "+nats.DefaultURL+")")
	fs.StringVar(&s.natsToken, "nats-token", "", "broker token [KANADE_NATS_TOKEN]")
	fs.StringVar(&s.natsUser, "nats-user", "", "broker user when the broker has per-role users [KANADE_NATS_USER]")
	fs.StringVar(&s.natsPassword, "nats-password", "",
		"broker password [KANADE_NATS_PASSWORD] (prefer the env variable or the config file: argv is visible to other local users)")
	fs.StringVar(&s.dataDir, "data-dir", agent.DefaultDataDir(), "outbox, ledger and logs [KANADE_DATA_DIR]")
	fs.StringVar(&s.logLevel, "log-level", "info", "debug|info|warn|error [KANADE_LOG_LEVEL]")
	fs.String("config", "", "TOML config file; keys are the flag names [KANADE_AGENT_CONFIG]")
	fs.BoolVar(&s.showVersion, "version", false, "print the version and exit")
	fs.BoolVar(&s.requireSigned, "require-signed", true,
		"refuse unsigned commands even before any signing key is known (always on once enrolled; =false accepts unsigned commands until KV signing_keys holds keys, for a backend older than signed commands) [KANADE_REQUIRE_SIGNED]")
	fs.BoolVar(&s.selfUpdate, "self-update", true,
		"follow the layered config's target_version: download, verify and run that release, rolling back a version that fails (=false: never replace this binary) [KANADE_SELF_UPDATE]")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: kanade-agent [flags]\n       kanade-agent enroll --server URL --token T [--id PC] [--force] [--data-dir D]\n"+
			"       kanade-agent install|uninstall|start|stop [flags]   (Windows service)\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := config.Load(fs, args, envVars, os.LookupEnv); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if s.natsPassword != "" && s.natsUser == "" {
		return s, errors.New("--nats-password needs --nats-user")
	}
	return s, nil
}

// options turns settings into agent options: from the enrollment in the
// data dir when there is one (no other flag needed), else from the flags.
func options(s settings) (agent.Options, bool, error) {
	o := agent.Options{PCID: s.id, NATSURL: s.natsURL, NATSToken: s.natsToken, NATSUser: s.natsUser,
		NATSPassword: s.natsPassword, DataDir: s.dataDir, RequireSigned: s.requireSigned, Version: version.Version}
	enrolled, err := agent.UseEnrollment(&o)
	if err != nil {
		return o, false, err
	}
	if o.PCID == "" {
		if o.PCID, err = agent.DefaultPCID(); err != nil {
			return o, false, err
		}
	}
	if o.NATSURL == "" {
		o.NATSURL = nats.DefaultURL
	}
	return o, enrolled, nil
}

// enrollCmd is kanade-agent enroll.
func enrollCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kanade-agent enroll", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o enroll.Options
	fs.StringVar(&o.Server, "server", "", "kanade backend URL, e.g. https://kanade.example:8080 [KANADE_ENROLL_SERVER]")
	fs.StringVar(&o.Token, "token", "", "one-use enrollment token (kanade enroll-token create) [KANADE_ENROLL_TOKEN]")
	fs.StringVar(&o.PCID, "id", "", "pc_id to enroll as [KANADE_PC_ID] (default: hostname)")
	fs.StringVar(&o.DataDir, "data-dir", agent.DefaultDataDir(), "agent data dir to store broker.creds and enrollment.json in [KANADE_DATA_DIR]")
	fs.BoolVar(&o.Force, "force", false, "replace this data dir's enrollment (the server must allow it: POST /api/agents/{pc}/reenroll)")
	fs.String("config", "", "TOML config file; keys are the flag names [KANADE_AGENT_CONFIG]")
	err := config.Load(fs, args, map[string]string{"server": "KANADE_ENROLL_SERVER", "token": "KANADE_ENROLL_TOKEN",
		"id": "KANADE_PC_ID", "data-dir": "KANADE_DATA_DIR", "config": "KANADE_AGENT_CONFIG"}, os.LookupEnv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err == nil && (o.Server == "" || o.Token == "") {
		err = errors.New("--server and --token are required")
	}
	if err != nil {
		fmt.Fprintln(stderr, "kanade-agent enroll:", err)
		return 2
	}
	if o.PCID == "" {
		if o.PCID, err = agent.DefaultPCID(); err != nil {
			fmt.Fprintln(stderr, "kanade-agent enroll:", err)
			return 2
		}
	}
	o.Hostname, _ = os.Hostname()
	o.OSFamily = agent.OSFamily()
	if strings.HasPrefix(o.Server, "http://") && !strings.Contains(o.Server, "://127.0.0.1") && !strings.Contains(o.Server, "://localhost") {
		fmt.Fprintln(stderr, "kanade-agent enroll: warning: --server is plain http; the token and the credential travel unencrypted")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	e, err := enroll.Enroll(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "kanade-agent:", err)
		return 1
	}
	fmt.Fprintf(stdout, "enrolled as %s (broker %s, %d command-signing key(s)); credential in %s\nstart the agent with: kanade-agent --data-dir %s\n",
		e.PCID, strings.Join(e.BrokerURLs, ","), len(e.SigningKeys), enroll.CredsPath(o.DataDir), o.DataDir)
	return 0
}

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "enroll":
			return enrollCmd(context.Background(), args[1:], os.Stdout, os.Stderr)
		case "install", "uninstall", "start", "stop":
			if _, err := parse(args[1:], os.Stderr); err != nil { // reject typos before they reach the service
				fmt.Fprintln(os.Stderr, "kanade-agent:", err)
				return 2
			}
			if err := serviceCommand(args[0], args[1:]); err != nil {
				fmt.Fprintln(os.Stderr, "kanade-agent:", err)
				return 1
			}
			return 0
		}
	}
	s, err := parse(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kanade-agent:", err)
		return 2
	}
	if s.showVersion {
		fmt.Println(version.Version) // bare: the installer and updater compare it
		return 0
	}
	if isService() {
		if err := runService(func(ctx context.Context) error { return runAgent(ctx, s) }); err != nil {
			return 1
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runAgent(ctx, s); err != nil {
		fmt.Fprintln(os.Stderr, "kanade-agent:", err)
		return 1
	}
	return 0
}

// newLogger logs JSON like the backend, so one log pipeline reads both.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

func runAgent(ctx context.Context, s settings) error {
	logFile, err := rotlog.Open(filepath.Join(s.dataDir, "logs", "agent.log"), 10<<20, 5)
	if err != nil {
		return err
	}
	defer logFile.Close()
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(s.logLevel))); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := newLogger(io.MultiWriter(os.Stderr, logFile), level)
	slog.SetDefault(log)
	o, enrolled, err := options(s)
	if err != nil {
		log.Error("cannot start", "error", err)
		return err
	}
	if enrolled {
		log.Info("enrolled agent: own broker credential, signed commands only", "pc_id", o.PCID, "creds", o.CredsFile)
	}
	o.Logger = log
	var exe string
	if s.selfUpdate {
		if exe, err = update.Executable(); err != nil {
			log.Error("self-update disabled: cannot find this binary", "error", err)
		} else {
			restart, err := update.Boot(s.dataDir, version.Version, exe, log)
			if err != nil {
				log.Error("self-update state", "error", err)
			}
			if restart { // rolled back: the previous binary runs instead
				return update.Become(exe, os.Args[1:], log)
			}
			o.SelfUpdate = &agent.SelfUpdate{Exe: exe, Watched: update.IsWatched()}
		}
	}
	a, err := agent.New(o)
	if err != nil {
		log.Error("cannot start", "error", err)
		return err
	}
	err = a.Run(ctx)
	if errors.Is(err, update.ErrRestart) {
		return update.Handoff(ctx, s.dataDir, exe, os.Args[1:], log)
	}
	return err
}
