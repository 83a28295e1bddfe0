// Package testdb gives tests a database: SQLite by default, or a fresh
// PostgreSQL database per test when KANADE_TEST_DB=postgres and
// KANADE_TEST_POSTGRES holds an admin DSN (see .ci/postgres.sh). It has no
// kanade imports, so any package's tests can use it.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
)

// Environment variables.
const (
	// EnvAdminDSN is a PostgreSQL DSN allowed to CREATE/DROP DATABASE.
	EnvAdminDSN = "KANADE_TEST_POSTGRES"
	// EnvSelect = "postgres" runs backends started by testenv on PostgreSQL.
	EnvSelect = "KANADE_TEST_DB"
	// EnvRequire = "1" turns a PostgreSQL case that would be skipped for a
	// missing admin DSN into a failure (.ci/run sets it): CI must never
	// pass with the production database path untested.
	EnvRequire = "KANADE_TEST_REQUIRE_POSTGRES"
)

// Required reports whether a missing PostgreSQL must fail the tests.
func Required() bool { return os.Getenv(EnvRequire) == "1" }

// AdminDSN returns the admin DSN, or "" when PostgreSQL is not available.
func AdminDSN() string { return os.Getenv(EnvAdminDSN) }

// PostgresSelected reports whether backends started by tests should use
// PostgreSQL instead of SQLite (KANADE_TEST_DB=postgres).
func PostgresSelected() bool { return os.Getenv(EnvSelect) == "postgres" }

// Kinds lists the databases a conformance test runs against: always both.
// Without an admin DSN the "postgres" case skips in NewPostgres, so the
// untested path shows as a SKIP line instead of vanishing.
func Kinds() []string { return []string{"sqlite", "postgres"} }

var (
	mu    sync.Mutex
	byDir = map[string]string{}
)

// NewPostgres creates an empty database for this test and returns its DSN;
// it is dropped when the test ends. The test is skipped without an admin
// DSN, and fails (not skips) when PostgreSQL was selected or required
// (EnvRequire) but is missing.
func NewPostgres(t testing.TB) string {
	t.Helper()
	admin := AdminDSN()
	if admin == "" {
		if PostgresSelected() {
			t.Fatalf("%s=postgres but %s is empty", EnvSelect, EnvAdminDSN)
		}
		if Required() {
			t.Fatalf("%s=1 but %s is empty: the PostgreSQL cases would be skipped", EnvRequire, EnvAdminDSN)
		}
		t.Skipf("SKIP PostgreSQL: %s not set (export it from .ci/postgres.sh to test the production database)", EnvAdminDSN)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "kanade_test_" + hex.EncodeToString(rnd[:])
	adm, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("open admin dsn: %v", err)
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := adm.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() { drop(t, admin, name) })
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse admin dsn: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func drop(t testing.TB, admin, name string) {
	adm, err := sql.Open("pgx", admin)
	if err != nil {
		t.Logf("drop test database %s: %v", name, err)
		return
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// FORCE: a backend killed by the test may have left sessions behind.
	if _, err := adm.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		t.Logf("drop test database %s: %v", name, err)
	}
}

// ForDir returns the PostgreSQL database of a backend data directory,
// creating it on first use: a backend restarted on the same data dir finds
// its database again, as it would find backend.db.
func ForDir(t testing.TB, dir string) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if dsn, ok := byDir[dir]; ok {
		return dsn
	}
	dsn := NewPostgres(t)
	byDir[dir] = dsn
	t.Cleanup(func() {
		mu.Lock()
		delete(byDir, dir)
		mu.Unlock()
	})
	return dsn
}

// Wipe empties the database of a backend data directory, as deleting
// backend.db does on SQLite: the PostgreSQL schema is dropped and recreated
// (the next Open migrates from scratch). No backend may be using it.
func Wipe(t testing.TB, dir string) {
	t.Helper()
	mu.Lock()
	dsn, ok := byDir[dir]
	mu.Unlock()
	if !ok {
		for _, f := range []string{"backend.db", "backend.db-wal", "backend.db-shm"} {
			if err := os.Remove(dir + string(os.PathSeparator) + f); err != nil && !os.IsNotExist(err) {
				t.Fatalf("wipe: %v", err)
			}
		}
		return
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("wipe: %v", err)
	}
	defer db.Close()
	if _, err := db.Exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public"); err != nil {
		t.Fatalf("wipe: %v", err)
	}
}

// Describe names a DSN for logs without its password.
func Describe(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return fmt.Sprintf("sqlite %s", dsn)
	}
	u.User = nil
	return u.String()
}
