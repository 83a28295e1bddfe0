package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// dialect is everything that differs between SQLite and PostgreSQL. The
// rest of the store is written once, with '?' placeholders, in the common
// subset of both; a table file that needs two implementations of a write
// keeps both beside each other (the portable per-row one, xxxRows, and the
// PostgreSQL set-based one, xxxSets) and the dialect picks. There are two
// values, sqlite and postgres; *DB holds one, chosen by Open.
type dialect interface {
	// rebind rewrites '?' placeholders into the driver's form.
	rebind(query string) string
	// migrations returns goose's dialect and the provider options it needs.
	migrations() (goose.Dialect, []goose.ProviderOption, error)

	// The projection batch writers.
	applyStarted(ctx context.Context, db *DB, batch []Started) ([]Started, error)
	applyResults(ctx context.Context, db *DB, batch []Result) (ResultOutcome, error)
	upsertHeartbeats(ctx context.Context, db *DB, hbs []Heartbeat) error
	insertAudit(ctx context.Context, db *DB, batch []Audit) error
	// reapCounters applies the reaper's per-execution counter deltas in tx.
	reapCounters(ctx context.Context, db *DB, tx *sql.Tx, deltas map[string]*delta, order []string) ([]ExecProgress, error)
	// check verifies the database's integrity (integrity.go).
	check(ctx context.Context, db *DB) error
}

var (
	sqlite   dialect = sqliteDialect{}
	postgres dialect = postgresDialect{}
)

// SQLite is fastest with one prepared statement per row on its single
// writer: every write takes the portable per-row path.
type sqliteDialect struct{}

func (sqliteDialect) rebind(q string) string { return q }

func (sqliteDialect) migrations() (goose.Dialect, []goose.ProviderOption, error) {
	return goose.DialectSQLite3, nil, nil
}

func (sqliteDialect) applyStarted(ctx context.Context, db *DB, b []Started) ([]Started, error) {
	return db.applyStartedRows(ctx, b)
}

func (sqliteDialect) applyResults(ctx context.Context, db *DB, b []Result) (ResultOutcome, error) {
	return db.applyResultsRows(ctx, b)
}

func (sqliteDialect) upsertHeartbeats(ctx context.Context, db *DB, hbs []Heartbeat) error {
	return db.upsertHeartbeatsRows(ctx, hbs)
}

func (sqliteDialect) insertAudit(ctx context.Context, db *DB, b []Audit) error {
	return db.insertAuditRows(ctx, b)
}

func (sqliteDialect) check(ctx context.Context, db *DB) error { return checkSQLite(ctx, db) }

func (sqliteDialect) reapCounters(ctx context.Context, db *DB, tx *sql.Tx, d map[string]*delta, order []string) ([]ExecProgress, error) {
	return db.bumpCountersRows(ctx, tx, d, order)
}

// PostgreSQL pays a network round trip per statement, so there a whole
// batch is a handful of set-based statements over arrays (unnest), each of
// which is its own snapshot under READ COMMITTED. Semantics are those of
// the per-row path, and stay correct when several backends project
// concurrently:
//
//   - INSERT … ON CONFLICT DO NOTHING waits for a concurrent uncommitted
//     insert of the same key and then does nothing; the UPDATE that follows
//     is a new statement, so it sees that row (a single CTE statement would
//     not, and would lose the result).
//   - UPDATE re-checks its WHERE on the newest row version after waiting for
//     a lock (finished_at IS NULL / reaped = 1), so two backends can never
//     both fill — and count — the same row.
//   - Rows are locked in one global order (result_id, then exec_id), so two
//     backends projecting overlapping batches queue instead of deadlocking.
//
// Measured against pipelined per-row statements and COPY into a staging
// table: see docs/benchmarks.md ("PostgreSQL"). DB.PGPerRow (benchmarks and
// the conformance suite) and empty batches take the per-row path instead.
type postgresDialect struct{}

// rebind numbers the placeholders: '?' becomes $1, $2, …
func (postgresDialect) rebind(q string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func (postgresDialect) migrations() (goose.Dialect, []goose.ProviderOption, error) {
	// Replicas starting together on an empty database: an advisory lock
	// makes one migrate while the others wait, then find nothing left to do.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return "", nil, err
	}
	return goose.DialectPostgres, []goose.ProviderOption{goose.WithSessionLocker(locker)}, nil
}

// perRow reports whether a batch of n takes the portable path anyway.
func (db *DB) perRow(n int) bool { return db.PGPerRow || n == 0 }

func (postgresDialect) applyStarted(ctx context.Context, db *DB, b []Started) ([]Started, error) {
	if db.perRow(len(b)) {
		return db.applyStartedRows(ctx, b)
	}
	return db.applyStartedSets(ctx, b)
}

func (postgresDialect) applyResults(ctx context.Context, db *DB, b []Result) (ResultOutcome, error) {
	if db.perRow(len(b)) {
		return db.applyResultsRows(ctx, b)
	}
	return db.applyResultsSets(ctx, b)
}

func (postgresDialect) upsertHeartbeats(ctx context.Context, db *DB, hbs []Heartbeat) error {
	if db.perRow(len(hbs)) {
		return db.upsertHeartbeatsRows(ctx, hbs)
	}
	return db.upsertHeartbeatsSets(ctx, hbs)
}

func (postgresDialect) insertAudit(ctx context.Context, db *DB, b []Audit) error {
	if db.perRow(len(b)) {
		return db.insertAuditRows(ctx, b)
	}
	return db.insertAuditSets(ctx, b)
}

// reapCounters locks executions in exec_id order, as the projectors do, so
// reapers on several replicas and the projectors queue instead of
// deadlocking; PGPerRow does not change it.
func (postgresDialect) check(ctx context.Context, db *DB) error { return checkPostgres(ctx, db) }

func (postgresDialect) reapCounters(ctx context.Context, db *DB, tx *sql.Tx, d map[string]*delta, order []string) ([]ExecProgress, error) {
	return db.bumpCountersSets(ctx, tx, d, order)
}

// pgText is a text[] parameter.
type pgText = []string

// likeCI is the case-insensitive LIKE operator of the dialect.
func (db *DB) likeCI() string {
	if db.d == postgres {
		return "ILIKE"
	}
	return "LIKE"
}
