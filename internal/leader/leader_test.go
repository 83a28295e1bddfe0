package leader

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const testTTL = 2 * time.Second

func startServer(t *testing.T) *server.Server {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s
}

func connect(t *testing.T, s *server.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

type runner struct {
	e      *Elector
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan struct{}
}

func start(t *testing.T, s *server.Server, holder string) *runner {
	t.Helper()
	nc, js := connect(t, s)
	bucket := func(ctx context.Context) (jetstream.KeyValue, error) { return js.KeyValue(ctx, "locks_test") }
	e := New(bucket, "scheduler", holder, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{e: e, nc: nc, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); _ = e.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

func (r *runner) stop() {
	r.cancel()
	<-r.done
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// watchOverlap records whether both electors ever claim leadership at once.
func watchOverlap(a, b *Elector) (stop func() bool) {
	var mu sync.Mutex
	both := false
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			default:
			}
			if a.IsLeader() && b.IsLeader() {
				mu.Lock()
				both = true
				mu.Unlock()
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return func() bool {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return both
	}
}

func setup(t *testing.T) *server.Server {
	s := startServer(t)
	_, js := connect(t, s)
	if _, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "locks_test", TTL: testTTL, History: 1}); err != nil {
		t.Fatal(err)
	}
	return s
}

func leaderOf(rs ...*runner) []*runner {
	var out []*runner
	for _, r := range rs {
		if r.e.IsLeader() {
			out = append(out, r)
		}
	}
	return out
}

func TestOneLeaderAndCleanHandover(t *testing.T) {
	t.Parallel()
	s := setup(t)
	a, b := start(t, s, "a"), start(t, s, "b")
	overlap := watchOverlap(a.e, b.e)
	eventually(t, testTTL*2, "one leader", func() bool { return len(leaderOf(a, b)) == 1 })
	// Leadership is stable across several renewals.
	time.Sleep(testTTL)
	ls := leaderOf(a, b)
	if len(ls) != 1 {
		t.Fatalf("leaders after renewals: %d", len(ls))
	}
	first := ls[0]
	other := a
	if first == a {
		other = b
	}
	changed := other.e.Changed()
	first.stop() // releases the key
	if first.e.IsLeader() {
		t.Fatal("stopped elector still claims leadership")
	}
	// A release is seen through the watch, normally at once; the bound
	// leaves room for a race-detector build on a loaded 2-core machine.
	eventually(t, 2*testTTL, "takeover after release", other.e.IsLeader)
	select {
	case <-changed:
	default:
		t.Fatal("Changed not signalled on takeover")
	}
	if overlap() {
		t.Fatal("two electors led at the same time")
	}
}

func TestTakeoverAfterCrash(t *testing.T) {
	t.Parallel()
	s := setup(t)
	a := start(t, s, "a")
	eventually(t, testTTL*2, "a leads", a.e.IsLeader)
	b := start(t, s, "b")
	overlap := watchOverlap(a.e, b.e)
	// b cannot take a held lock.
	time.Sleep(testTTL / 2)
	if b.e.IsLeader() {
		t.Fatal("b leads while a holds the lock")
	}
	// Crash a: its connection dies, so it neither renews nor releases.
	a.nc.Close()
	crashed := time.Now()
	eventually(t, testTTL+testTTL/2, "b takes over after the TTL", b.e.IsLeader)
	if a.e.IsLeader() {
		t.Fatal("a still claims leadership without renewing")
	}
	t.Logf("takeover %s after crash (TTL %s)", time.Since(crashed).Round(time.Millisecond), testTTL)
	if overlap() {
		t.Fatal("two electors led at the same time")
	}
}

// A follower sees the lock held (health's "leader missing" stays quiet)
// for as long as another process renews it.
func TestFollowerSeesTheHolder(t *testing.T) {
	t.Parallel()
	s := setup(t)
	a := start(t, s, "a")
	eventually(t, testTTL*2, "a leads", a.e.IsLeader)
	b := start(t, s, "b")
	eventually(t, testTTL*2, "b learns the TTL", func() bool { return b.e.TTL() == testTTL })
	time.Sleep(2 * testTTL)
	if b.e.IsLeader() {
		t.Fatal("b leads while a holds the lock")
	}
	if age := time.Since(b.e.LastHeld()); age > testTTL {
		t.Fatalf("follower last saw a holder %s ago (TTL %s)", age, testTTL)
	}
}

// A leader that loses the lock because the broker stops taking writes
// (JetStream down, as after a full disk) keeps campaigning and takes it
// back once writes work again, without a restart.
func TestLeadershipRegainedAfterJetStreamOutage(t *testing.T) {
	t.Parallel()
	s := setup(t)
	a := start(t, s, "a")
	eventually(t, testTTL*2, "a leads", a.e.IsLeader)
	storeDir := filepath.Dir(s.StoreDir()) // EnableJetStream adds the "jetstream" part again
	if err := s.ShutdownJetStream(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*testTTL, "a steps down", func() bool { return !a.e.IsLeader() })
	eventually(t, 3*testTTL, "nobody seen holding the lock", func() bool { return time.Since(a.e.LastHeld()) > testTTL })
	if err := s.EnableJetStream(&server.JetStreamConfig{StoreDir: storeDir, MaxMemory: 64 << 20, MaxStore: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 4*testTTL, "a leads again", a.e.IsLeader)
	if age := time.Since(a.e.LastHeld()); age > testTTL {
		t.Fatalf("leader last held %s ago", age)
	}
}
