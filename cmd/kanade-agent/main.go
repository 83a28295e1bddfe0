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

	"github.com/kanade-fleet/kanade/internal/agent"
	"github.com/kanade-fleet/kanade/internal/agent/rotlog"
	"github.com/kanade-fleet/kanade/internal/config"
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

type settings struct {
	id, natsURL, natsToken, natsUser, natsPassword, dataDir, logLevel string
	showVersion                                                       bool
}

var envVars = map[string]string{
	"id":            "KANADE_PC_ID",
	"nats-url":      "KANADE_NATS_URL",
	"nats-token":    "KANADE_NATS_TOKEN",
	"nats-user":     "KANADE_NATS_USER",
	"nats-password": "KANADE_NATS_PASSWORD",
	"data-dir":      "KANADE_DATA_DIR",
	"log-level":     "KANADE_LOG_LEVEL",
	"config":        "KANADE_AGENT_CONFIG",
}

func parse(args []string, stderr io.Writer) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("kanade-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&s.id, "id", "", "pc_id of this machine [KANADE_PC_ID] (default: hostname)")
	fs.StringVar(&s.natsURL, "nats-url", "nats://127.0.0.1:4222", "broker URL(s), comma-separated [KANADE_NATS_URL]")
	fs.StringVar(&s.natsToken, "nats-token", "", "broker token [KANADE_NATS_TOKEN]")
	fs.StringVar(&s.natsUser, "nats-user", "", "broker user when the broker has per-role users [KANADE_NATS_USER]")
	fs.StringVar(&s.natsPassword, "nats-password", "",
		"broker password [KANADE_NATS_PASSWORD] (prefer the env variable or the config file: argv is visible to other local users)")
	fs.StringVar(&s.dataDir, "data-dir", agent.DefaultDataDir(), "outbox, ledger and logs [KANADE_DATA_DIR]")
	fs.StringVar(&s.logLevel, "log-level", "info", "debug|info|warn|error [KANADE_LOG_LEVEL]")
	fs.String("config", "", "TOML config file; keys are the flag names [KANADE_AGENT_CONFIG]")
	fs.BoolVar(&s.showVersion, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: kanade-agent [flags]\n       kanade-agent install|uninstall|start|stop [flags]   (Windows service)\n\nflags:\n")
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
	if s.id == "" {
		id, err := agent.DefaultPCID()
		if err != nil {
			return s, err
		}
		s.id = id
	}
	return s, nil
}

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) > 0 {
		switch args[0] {
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
		fmt.Println(version)
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
	log := slog.New(slog.NewTextHandler(io.MultiWriter(os.Stderr, logFile), &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	a, err := agent.New(agent.Options{PCID: s.id, NATSURL: s.natsURL, NATSToken: s.natsToken,
		NATSUser: s.natsUser, NATSPassword: s.natsPassword, DataDir: s.dataDir,
		Logger: log, Version: version})
	if err != nil {
		log.Error("cannot start", "error", err)
		return err
	}
	return a.Run(ctx)
}
