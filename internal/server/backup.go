package server

import (
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/kanade-fleet/kanade/internal/backup"
)

// BackupBroker is how `kanade-backend backup` reaches the broker of a
// running backend configured as cfg, with the backend's own credential:
// the external broker, or the embedded one's listener (cfg.NATSAddr).
func BackupBroker(cfg Config) (backup.Broker, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	creds, err := (&Server{Cfg: cfg, Log: cfg.Log}).brokerAuth()
	if err != nil {
		return backup.Broker{}, err
	}
	br := backup.Broker{URL: cfg.NATSURL, Token: cfg.NATSToken, Identity: cfg.NATSIdentity}
	if br.URL == "" {
		br.URL = "nats://" + cfg.NATSAddr
	}
	if creds != nil {
		br.Token, br.User, br.Password = "", creds.Backend.User, creds.Backend.Password
	}
	return br, nil
}

// SQLitePath is the backend's SQLite file; empty on PostgreSQL.
func SQLitePath(cfg Config) string {
	switch {
	case strings.HasPrefix(cfg.DB, "postgres://"), strings.HasPrefix(cfg.DB, "postgresql://"):
		return ""
	case cfg.DB == "":
		return filepath.Join(cfg.DataDir, backup.DBFile)
	}
	return cfg.DB
}

// RestoreTarget is where `kanade-backend restore` writes for a backend
// configured as cfg: its data dir, its SQLite file unless PostgreSQL, and
// an external broker's streams when cfg.NATSURL is set.
func RestoreTarget(cfg Config, force bool) (backup.Target, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	t := backup.Target{DataDir: cfg.DataDir, SQLite: SQLitePath(cfg) != "", Force: force, Log: cfg.Log}
	if p := SQLitePath(cfg); p != "" && p != filepath.Join(cfg.DataDir, backup.DBFile) {
		// The restore writes the data dir's backend.db; a --db file
		// elsewhere would be left behind unrestored.
		t.SQLite = false
		cfg.Log.Warn("--db names a SQLite file outside the data dir: copy backend.db of the backup there yourself", "db", p)
	}
	if cfg.NATSURL != "" {
		br, err := BackupBroker(cfg)
		if err != nil {
			return t, err
		}
		t.Broker = &br
	}
	return t, nil
}
