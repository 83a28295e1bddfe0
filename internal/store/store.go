// Package store is the SQL projection: SQLite by default (one writer
// connection, a reader pool, WAL), PostgreSQL for large installs. Consumers
// do not get one big interface: each package declares the few methods it
// needs and *DB satisfies them.
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
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect tells the few places where SQL differs.
type Dialect int

const (
	SQLite Dialect = iota
	Postgres
)

// DB is the projection database.
type DB struct {
	// Write is the only connection that writes on SQLite (one connection:
	// SQLite has one writer anyway, and this avoids SQLITE_BUSY storms).
	Write *sql.DB
	// Read is a pool for queries (the API).
	Read    *sql.DB
	Dialect Dialect
	// PGPerRow makes PostgreSQL project with the portable one-statement-
	// per-row path instead of the set-based one (projection_pg.go); only
	// benchmarks and the conformance suite set it, to compare the two.
	PGPerRow bool
	log      *slog.Logger
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
		db = &DB{Write: pool, Read: pool, Dialect: Postgres, log: log}
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
	if err := db.Write.PingContext(ctx); err != nil {
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
	// synchronous=NORMAL in WAL mode survives a process crash (kill -9); only
	// an OS crash can lose the last commits, and the projection is rebuilt
	// from JetStream anyway. _txlock=immediate takes the write lock at BEGIN
	// so a transaction never fails half-way on lock upgrade.
	base := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"
	w, err := sql.Open("sqlite", base+"&_txlock=immediate&_pragma=cache_size(-65536)")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)&_pragma=cache_size(-16384)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := max(2, runtime.NumCPU()*2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return &DB{Write: w, Read: r, Dialect: SQLite, log: log}, nil
}

func (db *DB) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	dialect := goose.DialectSQLite3
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if db.Dialect == Postgres {
		dialect = goose.DialectPostgres
		// Replicas starting together on an empty database: an advisory
		// lock makes one migrate while the others wait, then find nothing
		// left to do.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.Write, sub, opts...)
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
	if db.Read != db.Write {
		db.Read.Close()
	}
	return db.Write.Close()
}

// Q rewrites '?' placeholders to $n for PostgreSQL. Queries are written once
// with '?' and must not contain '?' elsewhere.
func (db *DB) Q(query string) string {
	if db.Dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// TSLayout is the fixed-width UTC layout of every stored timestamp: string
// order equals time order, which every range filter relies on.
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

// ParseTS parses a stored timestamp (tolerating any RFC 3339 form).
func ParseTS(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
