package projector

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/metrics"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// recorder collects live events (a dashboard's view).
type recorder struct {
	mu     sync.Mutex
	online map[string]int
	off    map[string]int
}

func newRecorder() *recorder { return &recorder{online: map[string]int{}, off: map[string]int{}} }

func (r *recorder) Publish(typ string, data any) {
	m := data.(map[string]any)
	r.mu.Lock()
	defer r.mu.Unlock()
	if typ != "agent" {
		return
	}
	if m["online"] == true {
		r.online[m["pc_id"].(string)]++
	} else {
		r.off[m["pc_id"].(string)]++
	}
}

func (r *recorder) counts() (on, off int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.online {
		on += n
	}
	for _, n := range r.off {
		off += n
	}
	return on, off
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Two replicas share heartbeat writing through the queue group, yet each
// knows every PC (full view): one online event per PC in all (by the
// replica that wrote the heartbeat ending the silence), none for later
// heartbeats, and no offline event while PCs keep beating — however the
// queue group spread their heartbeats. Offline goes to local clients only.
func TestHeartbeatLivenessAcrossReplicas(t *testing.T) {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start() // returns once listening; running it in a goroutine races with Shutdown
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	defer s.Shutdown()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(context.Background(), "", t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	type replica struct {
		h            *Heartbeats
		notes, local *recorder
	}
	var reps []replica
	for range 2 {
		nc, err := nats.Connect(s.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		r := replica{notes: newRecorder(), local: newRecorder()}
		r.h = &Heartbeats{W: db, Log: log, Notes: r.notes, Local: r.local, Metrics: metrics.New()}
		reps = append(reps, r)
		wg.Go(func() { _ = r.h.Run(ctx, nc) })
	}
	defer func() { cancel(); wg.Wait() }()
	eventually(t, "four heartbeat subscriptions", func() bool { return s.NumSubscriptions() >= 4 })

	pub, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	const pcs = 60
	beat := func(round int) {
		for i := range pcs {
			pc := fmt.Sprintf("pc-%02d", i)
			data, _ := json.Marshal(wire.Heartbeat{PCID: pc, Hostname: pc, AgentVersion: "t",
				At: time.Now().UTC(), AgentRSSBytes: uint64(round)})
			if err := pub.Publish(bus.Heartbeat(pc), data); err != nil {
				t.Fatal(err)
			}
		}
		if err := pub.Flush(); err != nil {
			t.Fatal(err)
		}
		// Wait until both replicas flushed the round into the database.
		eventually(t, fmt.Sprintf("round %d written", round), func() bool {
			for i := range pcs {
				a, ok, err := db.GetAgent(context.Background(), fmt.Sprintf("pc-%02d", i), time.Now())
				if err != nil || !ok || a.AgentRSSBytes != int64(round) {
					return false
				}
			}
			return true
		})
	}
	view := func(r replica) int {
		r.h.mu.Lock()
		defer r.h.mu.Unlock()
		return len(r.h.seen)
	}

	beat(1)
	// A replica whose full-view subscription was not yet registered on the
	// server missed round 1: beat again (same round, no new online events)
	// until both have seen every PC.
	eventually(t, "every replica sees every PC", func() bool {
		if view(reps[0]) == pcs && view(reps[1]) == pcs {
			return true
		}
		beat(1)
		return false
	})
	eventually(t, "one online event per PC", func() bool {
		a, _ := reps[0].notes.counts()
		b, _ := reps[1].notes.counts()
		return a+b == pcs
	})
	beat(2)
	beat(3)
	a, _ := reps[0].notes.counts()
	b, _ := reps[1].notes.counts()
	if a+b != pcs {
		t.Fatalf("online events after three rounds: %d + %d, want %d in all", a, b, pcs)
	}
	for i := range pcs {
		pc := fmt.Sprintf("pc-%02d", i)
		if n := reps[0].notes.online[pc] + reps[1].notes.online[pc]; n != 1 {
			t.Fatalf("%s: %d online events", pc, n)
		}
	}

	// A minute of silence: still online everywhere. Three: offline, told
	// by each replica to its own clients only.
	for _, r := range reps {
		r.h.sweepOffline(time.Now().Add(time.Minute))
		if _, off := r.local.counts(); off != 0 {
			t.Fatalf("offline events after a minute: %d", off)
		}
	}
	for _, r := range reps {
		r.h.sweepOffline(time.Now().Add(3 * time.Minute))
		r.h.sweepOffline(time.Now().Add(4 * time.Minute)) // once per silence
		if _, off := r.local.counts(); off != pcs {
			t.Fatalf("offline events after three minutes: %d, want %d", off, pcs)
		}
		if _, off := r.notes.counts(); off != 0 {
			t.Fatalf("offline events relayed: %d", off)
		}
	}
}

// A replica that starts while PCs are beating sees each PC's next
// heartbeat as a wake-up in its own view; the database (written by the
// other replica) says the PC was online all along, so it announces
// nothing. A PC that really was silent is announced once.
func TestLateReplicaDoesNotReannounceOnlinePCs(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(context.Background(), "", t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	replica := func() (*Heartbeats, *recorder) {
		r := newRecorder()
		return &Heartbeats{W: db, Log: log, Notes: r, Local: r, Metrics: metrics.New(),
			pending: map[string]store.Heartbeat{}, seen: map[string]*liveness{}}, r
	}
	beat := func(h *Heartbeats, pc string, at time.Time) {
		h.mu.Lock()
		h.pending[pc] = store.Heartbeat{Heartbeat: wire.Heartbeat{PCID: pc, Hostname: pc, AgentVersion: "t", At: at}, ReceivedAt: at}
		h.mu.Unlock()
		h.flush(context.Background())
	}
	now := time.Now().UTC()
	a, ra := replica()
	beat(a, "pc-up", now.Add(-30*time.Second))
	beat(a, "pc-away", now.Add(-10*time.Minute))
	if on, _ := ra.counts(); on != 2 {
		t.Fatalf("first replica: %d online events, want 2", on)
	}
	b, rb := replica()
	beat(b, "pc-up", now)   // online through replica a 30 s ago
	beat(b, "pc-away", now) // silent for 10 minutes: a real wake-up
	beat(b, "pc-new", now)  // never seen
	if rb.online["pc-up"] != 0 || rb.online["pc-away"] != 1 || rb.online["pc-new"] != 1 {
		t.Fatalf("late replica announced %v", rb.online)
	}
}
