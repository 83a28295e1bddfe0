package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Integrity (SPEC §17, issue 14): a damaged SQLite file must not be served
// (lists answering 500, a projector retrying for ever). The projection is
// rebuilt from the streams instead, like after `rm backend.db`: the new,
// empty tables make the projectors' durable consumers replay from the
// start (projector.Set.ResetIfWiped).

// ErrCorrupt marks a database that failed its integrity check.
var ErrCorrupt = errors.New("database failed its integrity check")

// CorruptPolicy is what OpenChecked does with a damaged database.
type CorruptPolicy string

const (
	// CorruptRebuild moves the damaged file aside and starts on a new one
	// (the default).
	CorruptRebuild CorruptPolicy = "rebuild"
	// CorruptRefuse returns an error: the operator decides.
	CorruptRefuse CorruptPolicy = "refuse"
)

// ParseCorruptPolicy parses --db-corrupt ("" = rebuild).
func ParseCorruptPolicy(s string) (CorruptPolicy, error) {
	switch CorruptPolicy(strings.ToLower(strings.TrimSpace(s))) {
	case "", CorruptRebuild:
		return CorruptRebuild, nil
	case CorruptRefuse:
		return CorruptRefuse, nil
	}
	return "", fmt.Errorf("--db-corrupt %q: must be rebuild or refuse", s)
}

// IsCorrupt reports whether err says the database file is damaged: a
// failed check, or SQLite's SQLITE_CORRUPT / SQLITE_NOTADB.
func IsCorrupt(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrCorrupt) {
		return true
	}
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		switch coded.Code() & 0xff { // primary result code of an extended one
		case 11, 26: // SQLITE_CORRUPT, SQLITE_NOTADB
			return true
		}
	}
	msg := err.Error()
	return strings.Contains(msg, "database disk image is malformed") || strings.Contains(msg, "file is not a database")
}

// Check verifies the database: on SQLite `PRAGMA quick_check` (every page
// and b-tree of the file; it reads the whole file, so it runs at start, not
// per request); on PostgreSQL a round trip (the server guards its own
// pages). A damaged database is an error wrapping ErrCorrupt.
func (db *DB) Check(ctx context.Context) error { return db.d.check(ctx, db) }

func checkSQLite(ctx context.Context, db *DB) error {
	rows, err := db.write.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		if IsCorrupt(err) {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return fmt.Errorf("quick_check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if line != "ok" && len(problems) < 5 {
			problems = append(problems, strings.Join(strings.Fields(line), " "))
		}
	}
	if err := rows.Err(); err != nil {
		if IsCorrupt(err) {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return fmt.Errorf("quick_check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrCorrupt, strings.Join(problems, "; "))
	}
	return nil
}

func checkPostgres(ctx context.Context, db *DB) error {
	var one int
	if err := db.write.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("database check: %w", err)
	}
	return nil
}

// Probe is the cheap check health runs periodically: a read on the
// reader pool (the full Check reads the whole file).
func (db *DB) Probe(ctx context.Context) error {
	var n int
	if err := db.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM executions WHERE 1 = 0").Scan(&n); err != nil {
		return fmt.Errorf("database probe: %w", err)
	}
	return nil
}

// OpenOutcome says what OpenChecked found.
type OpenOutcome struct {
	CheckTook time.Duration
	// MovedAside is where a damaged SQLite file went (empty: it was sound).
	MovedAside string
	// Problem is what the check reported about the damaged file.
	Problem string
	// Salvaged counts the rows copied from the damaged file, per table
	// that no stream can rebuild (accounts, enrollment, revocations).
	Salvaged map[string]int
}

// sqlOnlyTables hold facts no stream carries: after moving a damaged file
// aside, whatever rows of them can still be read are copied over, so
// accounts and broker revocations survive a rebuild when the damage is
// elsewhere.
var sqlOnlyTables = []string{"users", "api_tokens", "account_mfa", "account_recovery_codes", "mfa_challenges_used", "settings",
	"enrollment_tokens", "enrollments", "broker_revocations", "operator_creds"}

// OpenChecked opens the database like Open and checks it. A damaged
// SQLite file (the check fails, or the file cannot even be migrated) is,
// with CorruptRebuild, moved aside as backend.db.corrupt-<UTC time> with
// its -wal and -shm, logged, and replaced by a new database (the
// projection replays from the streams); with CorruptRefuse it is an error
// saying what to do. PostgreSQL is only checked for reachability.
func OpenChecked(ctx context.Context, dsn, dataDir string, policy CorruptPolicy, log *slog.Logger) (*DB, OpenOutcome, error) {
	if log == nil {
		log = slog.Default()
	}
	var out OpenOutcome
	path := sqlitePath(dsn, dataDir)
	start := time.Now()
	db, err := Open(ctx, dsn, dataDir, log)
	if err == nil {
		err = db.Check(ctx)
		if err != nil {
			db.Close()
		}
	}
	out.CheckTook = time.Since(start)
	if err == nil {
		log.Info("database check passed", "took", out.CheckTook.Round(time.Millisecond))
		return db, out, nil
	}
	if path == "" || !IsCorrupt(err) {
		return nil, out, err
	}
	out.Problem = err.Error()
	if policy == CorruptRefuse {
		return nil, out, fmt.Errorf("database %s is damaged (%w); refusing to start (--db-corrupt=refuse): "+
			"move backend.db, backend.db-wal and backend.db-shm aside to rebuild it from the streams, or restore a backup", path, err)
	}
	aside, merr := moveAside(path, time.Now())
	if merr != nil {
		return nil, out, fmt.Errorf("database %s is damaged (%v) and could not be moved aside: %w", path, err, merr)
	}
	out.MovedAside = aside
	log.Error("database is damaged: moved aside, rebuilding the projection from the streams",
		"db", path, "moved_to", aside, "problem", err.Error())
	if db, err = Open(ctx, dsn, dataDir, log); err != nil {
		return nil, out, fmt.Errorf("new database after moving the damaged one aside: %w", err)
	}
	out.Salvaged = db.salvage(ctx, aside)
	for table, n := range out.Salvaged {
		log.Warn("rows salvaged from the damaged database", "table", table, "rows", n)
	}
	return db, out, nil
}

func sqlitePath(dsn, dataDir string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return ""
	}
	if dsn == "" {
		return filepath.Join(dataDir, "backend.db")
	}
	return dsn
}

// moveAside renames path, path-wal and path-shm to path.corrupt-<ts>,
// keeping SQLite's naming (the WAL of X is X-wal) so the copy opens with
// its WAL for inspection.
func moveAside(path string, now time.Time) (string, error) {
	aside := path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Rename(path+suffix, aside+suffix); err != nil && !os.IsNotExist(err) {
			return "", fmt.Errorf("move %s aside: %w", path+suffix, err)
		}
	}
	return aside, nil
}

// salvage copies the readable rows of the SQL-only tables from the damaged
// file. A table whose pages are damaged is skipped (logged): a rebuild never
// fails because of it.
func (db *DB) salvage(ctx context.Context, damaged string) map[string]int {
	out := map[string]int{}
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return out
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "ATTACH DATABASE ? AS damaged", "file:"+damaged+"?mode=ro"); err != nil {
		db.log.Warn("cannot open the damaged database to salvage accounts and revocations", "error", err)
		return out
	}
	defer conn.ExecContext(context.Background(), "DETACH DATABASE damaged") //nolint:errcheck // best effort
	for _, table := range sqlOnlyTables {
		rows, err := conn.QueryContext(ctx, "SELECT name FROM pragma_table_info(?)", table)
		if err != nil {
			continue
		}
		var cols []string
		for rows.Next() {
			var c string
			if rows.Scan(&c) == nil {
				cols = append(cols, `"`+c+`"`)
			}
		}
		rows.Close()
		if len(cols) == 0 {
			continue
		}
		list := strings.Join(cols, ", ")
		res, err := conn.ExecContext(ctx, fmt.Sprintf("INSERT OR IGNORE INTO main.%s (%s) SELECT %s FROM damaged.%s", table, list, list, table))
		if err != nil {
			db.log.Warn("table not salvaged from the damaged database", "table", table, "error", err)
			continue
		}
		if n, _ := res.RowsAffected(); n > 0 {
			out[table] = int(n)
		}
	}
	return out
}

// Files are the SQLite database's files (the database and its WAL), for
// disk accounting; nil on PostgreSQL.
func (db *DB) Files() []string {
	if db.path == "" {
		return nil
	}
	return []string{db.path, db.path + "-wal"}
}
