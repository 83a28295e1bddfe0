package server_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/broker"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

func TestEmbeddedBrokerRequiresToken(t *testing.T) {
	b := testenv.Backend(t, func(c *server.Config) { c.NATSToken = "s3cret" })
	if nc, err := nats.Connect(b.NATSURL(), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("connected without the token")
	}
	nc, err := nats.Connect(b.NATSURL(), nats.Token("s3cret"))
	if err != nil {
		t.Fatalf("with the token: %v", err)
	}
	nc.Close()
}

func TestBootstrapIsIdempotent(t *testing.T) {
	b := testenv.Backend(t, nil)
	for i := 0; i < 2; i++ {
		if err := bus.Bootstrap(context.Background(), b.JS, 1); err != nil {
			t.Fatalf("bootstrap #%d: %v", i+2, err)
		}
	}
	for _, name := range []string{bus.StreamExec, bus.StreamEvents, bus.StreamResults, bus.StreamAudit} {
		s, err := b.JS.Stream(context.Background(), name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		if name == bus.StreamExec && s.CachedInfo().Config.MaxMsgsPerSubject != 1 {
			t.Errorf("EXEC must keep one message per subject")
		}
	}
	for _, kv := range []string{bus.KVJobs, bus.KVSchedules, bus.KVScriptCurrent, bus.KVScriptStatus, bus.KVAgentGroups,
		bus.KVAgentConfig, bus.KVFleetConfig, bus.KVWaves} {
		if _, err := b.JS.KeyValue(context.Background(), kv); err != nil {
			t.Errorf("kv %s: %v", kv, err)
		}
	}
	if _, err := b.JS.ObjectStore(context.Background(), bus.ObjAgentRelease); err != nil {
		t.Errorf("object store: %v", err)
	}
	// A stream whose settings drifted is put back.
	ctx := context.Background()
	st, _ := b.JS.Stream(ctx, bus.StreamEvents)
	cfg := st.CachedInfo().Config
	cfg.MaxAge = time.Hour
	if _, err := b.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := bus.Bootstrap(ctx, b.JS, 1); err != nil {
		t.Fatal(err)
	}
	st, _ = b.JS.Stream(ctx, bus.StreamEvents)
	if got := st.CachedInfo().Config.MaxAge; got != 7*24*time.Hour {
		t.Fatalf("EVENTS max age after bootstrap: %s", got)
	}
}

// An external broker that is gone for good makes the backend give up
// rather than serve a stale projection.
func TestExitsWhenExternalBrokerIsGone(t *testing.T) {
	br, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", StoreDir: filepath.Join(t.TempDir(), "js")})
	if err != nil {
		t.Fatal(err)
	}
	b := testenv.Backend(t, func(c *server.Config) { c.NATSURL = br.ClientURL(); c.MaxReconnects = 2 })
	br.Shutdown()
	select {
	case err := <-b.Fatal():
		if err == nil {
			t.Fatal("nil fatal error")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("backend kept running without its broker")
	}
}

func TestGracefulStop(t *testing.T) {
	b := testenv.Backend(t, nil)
	url := b.HTTPURL()
	resp, err := http.Get(url + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b.Stop(ctx)
	if _, err := http.Get(url + "/health"); err == nil {
		t.Fatal("still serving after Stop")
	}
	// The store is closed: a query must fail rather than hang.
	var one int
	if err := store.TestQueryRow(t, b.DB, "SELECT 1").Scan(&one); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("store still open after Stop: %v", err)
	}
}

// Streams as the broker stores them match what Bootstrap wants, so a
// second bootstrap (every replica runs one at start) rewrites nothing.
func TestBootstrapLeavesMatchingStreamsAlone(t *testing.T) {
	b := testenv.Backend(t, nil)
	ctx := context.Background()
	for _, sc := range bus.StreamConfigs(1) {
		st, err := b.JS.Stream(ctx, sc.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !bus.StreamMatches(st.CachedInfo().Config, sc) {
			t.Errorf("stream %s does not match its wanted settings: Bootstrap would rewrite it on every start", sc.Name)
		}
	}
}
