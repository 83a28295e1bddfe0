// Package testenv starts real backends (embedded nats-server, SQLite file)
// inside tests, on free ports, torn down with the test.
package testenv

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/testenv/testdb"
)

// Logger returns a quiet logger, or a verbose one with KANADE_TEST_LOG=1.
func Logger() *slog.Logger {
	if os.Getenv("KANADE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// FreeAddr returns a loopback host:port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Backend starts a backend with auth disabled. mutate may adjust the config
// (DataDir, NATSAddr, Auth, WavePoll…) before start. It is stopped at the
// end of the test unless the caller stops it first. With
// KANADE_TEST_DB=postgres (and KANADE_TEST_POSTGRES set) a backend whose
// config names no DB gets a PostgreSQL database of its own, kept per data
// dir so a restart on the same dir finds its rows again.
func Backend(t testing.TB, mutate func(*server.Config)) *server.Server {
	t.Helper()
	cfg := server.Config{
		Auth:            auth.Config{Disabled: true},
		HTTPAddr:        "127.0.0.1:0",
		DataDir:         t.TempDir(),
		NATSAddr:        "127.0.0.1:0",
		CleanupInterval: time.Hour,
		Log:             Logger(),
		Version:         "test",
	}
	if mutate != nil {
		mutate(&cfg)
	}
	if cfg.DB == "" && testdb.PostgresSelected() {
		cfg.DB = testdb.ForDir(t, cfg.DataDir)
	}
	b, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start backend: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.Stop(ctx)
	})
	return b
}

// WipeDB deletes the database of a stopped backend's data dir (backend.db,
// or the PostgreSQL schema when running on PostgreSQL), as an operator
// wiping the projection would.
func WipeDB(t testing.TB, dataDir string) { testdb.Wipe(t, dataDir) }

// Eventually polls cond until it is true or the deadline passes.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
