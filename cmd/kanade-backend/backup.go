package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/kanade-fleet/kanade/internal/backup"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/version"
)

// backupCmd is `kanade-backend backup --to DIR`: a consistent copy of a
// running backend (SQLite database, data-dir secrets, every JetStream
// stream), reached with the same flags, environment and config file as
// the backend itself (docs/operations.md).
func backupCmd(args []string, stdout io.Writer) error {
	o := newOptions("kanade-backend backup")
	to := o.fs.String("to", "", "directory to write the backup into (created, must be empty; it holds the install's secrets: keep it private)")
	cfg, log, err := o.subcommand(args)
	if err != nil {
		return err
	}
	if *to == "" {
		return errors.New("backup: --to DIR is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	br, err := server.BackupBroker(cfg)
	if err != nil {
		return err
	}
	nc, err := br.Connect(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("backup: %w (is the backend running, and are --nats-addr/--nats-url and the data dir those of the backend?)", err)
	}
	defer nc.Close()
	m, err := backup.Run(ctx, backup.Source{DataDir: cfg.DataDir, SQLite: server.SQLitePath(cfg), NC: nc,
		BrokerAuth: br.Auth(), Version: cfg.Version, Log: log}, *to)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	var msgs uint64
	for _, s := range m.Streams {
		msgs += s.Messages
	}
	fmt.Fprintf(stdout, "backup written to %s: database %s, %d data-dir files, %d streams (%d messages)\n",
		*to, m.Database, len(m.Files), len(m.Streams), msgs)
	if m.Database != "sqlite" {
		fmt.Fprintln(stdout, "PostgreSQL: the SQL database is NOT in this backup; back it up with pg_dump (docs/operations.md)")
	}
	return nil
}

// restoreCmd is `kanade-backend restore --from DIR [--force]` onto the
// data dir (and broker) of a stopped backend configured by the same flags.
func restoreCmd(args []string, stdout io.Writer) error {
	o := newOptions("kanade-backend restore")
	from := o.fs.String("from", "", "backup directory written by kanade-backend backup")
	force := o.fs.Bool("force", false, "restore into a data dir that is not empty, deleting its contents first")
	cfg, _, err := o.subcommand(args)
	if err != nil {
		return err
	}
	if *from == "" {
		return errors.New("restore: --from DIR is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t, err := server.RestoreTarget(cfg, *force)
	if err != nil {
		return err
	}
	m, err := backup.Restore(ctx, *from, t)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(stdout, "restored %s (taken %s by %s) into %s: %d streams\n", *from, m.CreatedAt.Format("2006-01-02 15:04:05Z"),
		m.Version, cfg.DataDir, len(m.Streams))
	if (m.BrokerAuth == "identity") != cfg.NATSIdentity {
		fmt.Fprintf(stdout, "warning: the backup was taken with broker auth %q but this configuration differs (--nats-identity=%v): start the backend as it was configured then\n",
			m.BrokerAuth, cfg.NATSIdentity)
	}
	if !t.SQLite {
		fmt.Fprintln(stdout, "the SQL database was not restored: restore it with its own tools (PostgreSQL: pg_restore / psql of your pg_dump)")
	}
	fmt.Fprintln(stdout, "start the backend: its projectors replay the streams over the restored database")
	return nil
}

// subcommand loads the options like the backend does and returns its
// config with a JSON logger on stderr.
func (o *options) subcommand(args []string) (server.Config, *slog.Logger, error) {
	if err := o.load(args); err != nil {
		return server.Config{}, nil, err
	}
	defaultIdentity(o.fs, &o.cfg)
	var level slog.Level
	if err := level.UnmarshalText([]byte(*o.logLevel)); err != nil {
		return server.Config{}, nil, fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	o.cfg.Log = log
	o.cfg.Version, o.cfg.Commit = version.Version, version.Commit
	return o.cfg, log, nil
}
