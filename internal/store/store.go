// Package store is the SQL projection: SQLite by default (one writer
// connection, a reader pool, WAL), PostgreSQL for large installs. Consumers
// do not get one big interface: each package declares the few methods it
// needs and *DB satisfies them.
//
// Files follow tables: agents.go (agents, agent_groups), heartbeats.go,
// executions.go, results.go (execution_results), audit.go, dispatches.go
// (schedule_dispatches), accounts.go (users), retention.go (reaper and
// retention across tables). Where SQLite and PostgreSQL differ is in
// dialect.go and nowhere else.
//
// The rows the API serves are the contract's own types: the queries scan
// straight into apiv1.Agent, Execution, Result, AuditEntry and
// GroupMembers (a projection row is an API row), so there is no second
// definition to drift. What the store declares itself are the projection
// inputs (Heartbeat, Started, Result, Audit), the filters and Page, and
// the internal results of writes (ExecProgress, ResultChange, FleetCounts).
package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the projection database.
type DB struct {
	// write is the only connection that writes on SQLite (one connection:
	// SQLite has one writer anyway, and this avoids SQLITE_BUSY storms).
	write *sql.DB
	// read is a pool for queries (the API). On PostgreSQL both are one pool.
	read *sql.DB
	d    dialect
	// PGPerRow makes PostgreSQL project with the portable one-statement-
	// per-row path instead of the set-based one (see dialect.go); only
	// benchmarks and the conformance suite set it, to compare the two.
	PGPerRow bool
	// alwaysCount: lists count even when a short page already tells the
	// total (the query-plan test explains every count).
	alwaysCount bool
	// invMode forces how inventory searches are answered (tests compare
	// the two): 0 chooses, invScan walks rows, invTerms reads terms.
	invMode int
	log     *slog.Logger
	path    string // the SQLite file ("" on PostgreSQL)
}

// Open opens (creating if needed) the database and applies migrations. dsn
// empty means SQLite at dataDir/backend.db; postgres://… means PostgreSQL.
func Open(ctx context.Context, dsn, dataDir string, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.Default()
	}
	var db *DB
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		pool, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		pool.SetMaxOpenConns(16)
		db = &DB{write: pool, read: pool, d: postgres, log: log}
	} else {
		path := dsn
		if path == "" {
			if err := os.MkdirAll(dataDir, 0o750); err != nil {
				return nil, fmt.Errorf("create data dir: %w", err)
			}
			path = filepath.Join(dataDir, "backend.db")
		}
		var err error
		db, err = openSQLite(path, log)
		if err != nil {
			return nil, err
		}
	}
	if err := db.write.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func openSQLite(path string, log *slog.Logger) (*DB, error) {
	// synchronous=NORMAL with WAL: a commit is written to the WAL (the OS
	// has it) before it returns, so it survives kill -9 of the backend;
	// the fsync waits for the next checkpoint, so an OS crash or power
	// loss may roll back the last commits. The projection can afford that:
	// the embedded broker on the same machine fsyncs its own store only
	// every couple of minutes (JetStream's sync_interval), so power loss
	// already costs the same recent window on its side, and everything it
	// still holds is replayed idempotently. docs/operations.md
	// ("Durability") has the trade and the measurements; PostgreSQL is the
	// choice when the projection must outlive power loss independently.
	// _txlock=immediate takes the write lock at BEGIN so a transaction
	// never fails half-way on lock upgrade.
	base := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	w, err := sql.Open("sqlite", base+"&_txlock=immediate&_pragma=cache_size(-65536)")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	// Readers map the file (up to SQLite's 2 GiB mmap limit): a lookup is
	// a memory read instead of a pread per page, which made 10 000
	// index probes of a 3 M-row inventory 1.6x faster than a 16 MiB
	// cache (docs/benchmarks.md), and the pages are the OS's shared
	// cache, not a per-connection heap.
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)&_pragma=cache_size(-16384)&_pragma=mmap_size(2147418112)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := max(2, runtime.NumCPU()*2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return &DB{write: w, read: r, d: sqlite, log: log, path: path}, nil
}

func (db *DB) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	dialect, opts, err := db.d.migrations()
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	opts = append(opts, goose.WithDisableGlobalRegistry(true), goose.WithGoMigrations(db.goMigrations()...))
	p, err := goose.NewProvider(dialect, db.write, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range res {
		db.log.Info("migration applied", "version", r.Source.Version, "path", r.Source.Path)
	}
	return nil
}

// Close closes both pools.
func (db *DB) Close() error {
	if db.read != db.write {
		db.read.Close()
	}
	return db.write.Close()
}

// q rewrites a query written once with '?' placeholders into the
// dialect's form. Queries must not contain '?' elsewhere.
func (db *DB) q(query string) string { return db.d.rebind(query) }

// The timestamp codec, the only one: every stored timestamp (projection
// tables and accounts alike) is TEXT in this fixed-width UTC layout, so
// string order equals time order, which every range filter relies on, on
// SQLite and PostgreSQL alike.

// TSLayout is the fixed-width UTC layout of every stored timestamp.
const TSLayout = "2006-01-02T15:04:05.000000Z"

// TS formats t for storage.
func TS(t time.Time) string { return t.UTC().Format(TSLayout) }

// NullTS formats t, or returns NULL for the zero time.
func NullTS(t time.Time) sql.NullString {
	if t.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: TS(t), Valid: true}
}

// ParseTS parses a stored timestamp (tolerating any RFC 3339 form); the
// zero time when it cannot.
func ParseTS(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// nullTime converts a nullable stored timestamp.
func nullTime(s sql.NullString) *time.Time {
	if !s.Valid || s.String == "" {
		return nil
	}
	t := ParseTS(s.String)
	return &t
}
