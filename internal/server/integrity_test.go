package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/testenv/testdb"
	"github.com/kanade-fleet/kanade/internal/wire"
)

func getBody(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// lists are the API lists a rebuild must reproduce exactly.
func lists(t *testing.T, b *server.Server) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range []string{"/api/results?limit=1000", "/api/audit?limit=1000"} {
		code, body := getBody(t, b.HTTPURL()+p)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", p, code, body)
		}
		out[p] = string(body)
	}
	return out
}

func countRows(t *testing.T, b *server.Server, table string) int {
	t.Helper()
	var n int
	if err := store.TestQueryRow(t, b.DB, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		return -1
	}
	return n
}

// A database damaged in the middle (garbage over a page of a stopped
// backend's file): with --db-corrupt=refuse the backend does not start and
// says why; by default it moves the file aside, replays the streams and
// serves the same lists as before.
func TestDamagedDatabaseRebuiltFromStreams(t *testing.T) {
	if testdb.PostgresSelected() {
		t.Skip("SKIP: SQLite file damage; PostgreSQL guards its own pages")
	}
	dir := t.TempDir()
	natsAddr := testenv.FreeAddr(t)
	mk := func(c *server.Config) { c.DataDir = dir; c.NATSAddr = natsAddr }
	b := testenv.Backend(t, mk)
	ctx := context.Background()
	const n = 400
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	for i := range n {
		pc := fmt.Sprintf("pc-%03d", i%40)
		r := wire.ExecResult{ResultID: fmt.Sprintf("r-%04d", i), RequestID: fmt.Sprintf("req-%d", i/40), ExecID: fmt.Sprintf("e-%d", i/40),
			PCID: pc, ManifestID: "inv-hw", Version: "1.0.0", ExitCode: i % 3, Stdout: strings.Repeat("x", 600),
			StartedAt: t0, FinishedAt: t0.Add(time.Second)}
		data, _ := json.Marshal(r)
		if _, err := b.JS.Publish(ctx, bus.ResultFrom(r.PCID, r.RequestID), data); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		if err := b.Audit.Record(ctx, "alice", "job.create", fmt.Sprintf("job-%d", i), map[string]any{"i": i}, "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 30*time.Second, "projected", func() bool {
		return countRows(t, b, "execution_results") == n && countRows(t, b, "audit_log") == 50
	})
	before := lists(t, b)
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	b.Stop(sctx)
	cancel()
	dbFile := filepath.Join(dir, "backend.db")
	store.TestDamageFile(t, dbFile)

	// Told to refuse: no start, a clear message, the file untouched.
	cfg := server.Config{HTTPAddr: "127.0.0.1:0", DataDir: dir, NATSAddr: natsAddr, DBCorrupt: "refuse",
		CleanupInterval: time.Hour, Log: testenv.Logger(), Version: "test"}
	cfg.Auth.Disabled = true
	if s, err := server.New(ctx, cfg); err == nil {
		s.Stop(ctx)
		t.Fatal("started on a damaged database with --db-corrupt=refuse")
	} else if !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "refusing to start") {
		t.Fatalf("unclear refusal: %v", err)
	} else {
		t.Logf("refused: %v", err)
	}
	if _, err := os.Stat(dbFile); err != nil {
		t.Fatalf("refusal touched the file: %v", err)
	}

	// Default: moved aside and rebuilt from the streams.
	b2 := testenv.Backend(t, mk)
	if b2.DBOpen.MovedAside == "" {
		t.Fatalf("damaged database not detected: %+v", b2.DBOpen)
	}
	if _, err := os.Stat(b2.DBOpen.MovedAside); err != nil {
		t.Fatalf("damaged file not kept: %v", err)
	}
	testenv.Eventually(t, 30*time.Second, "replayed", func() bool {
		return countRows(t, b2, "execution_results") == n && countRows(t, b2, "audit_log") == 50
	})
	after := lists(t, b2)
	for p, want := range before {
		if after[p] != want {
			t.Errorf("%s differs after the rebuild:\nbefore %.300s\nafter  %.300s", p, want, after[p])
		}
	}
}

func testQueryRow(t *testing.T, b *server.Server, resultID string, n *int) error {
	t.Helper()
	return store.TestQueryRow(t, b.DB, "SELECT COUNT(*) FROM execution_results WHERE result_id = ?", resultID).Scan(n)
}
