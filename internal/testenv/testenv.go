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

	"github.com/kanade-fleet/kanade/internal/backend"
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
// (DataDir, NATSAddr, Extra, Services…) before start. It is stopped at the
// end of the test unless the caller stops it first.
func Backend(t testing.TB, mutate func(*backend.Config)) *backend.Backend {
	t.Helper()
	t.Setenv("KANADE_AUTH_DISABLE", "1")
	cfg := backend.Config{
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
	b, err := backend.Start(context.Background(), cfg)
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
