package projector

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/metrics"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// slowWrite is the real store with a hook run inside UpsertHeartbeats,
// standing for a write slow enough that other work runs meanwhile.
type slowWrite struct {
	*store.DB
	during func()
}

func (s slowWrite) UpsertHeartbeats(ctx context.Context, hbs []store.Heartbeat) error {
	s.during()
	return s.DB.UpsertHeartbeats(ctx, hbs)
}

// events records live events in order.
type events struct {
	mu  sync.Mutex
	seq []string
}

func (e *events) Publish(typ string, data any) {
	m := data.(map[string]any)
	e.mu.Lock()
	defer e.mu.Unlock()
	if m["online"] == true {
		e.seq = append(e.seq, "online")
	} else {
		e.seq = append(e.seq, "offline")
	}
}

// TestFlushSeesHeartbeatAgainAfterWrite pins why flush applies each
// heartbeat to the full view twice: the view is unlocked during the
// database calls, and a sweep that declares the PC offline meanwhile must
// not leave the view offline while flush announces the PC online —
// otherwise the PC, silent from then on, would never be announced offline
// again and the dashboard would show it online for good.
func TestFlushSeesHeartbeatAgainAfterWrite(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(context.Background(), "", t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Now().UTC()
	later := at.Add(store.OnlineWindow + time.Second)
	ev := &events{}
	h := &Heartbeats{Log: log, Notes: ev, Local: ev, Metrics: metrics.New(),
		pending: map[string]store.Heartbeat{}, seen: map[string]*liveness{}}
	h.W = slowWrite{DB: db, during: func() { h.sweepOffline(later) }}
	h.pending["pc-slow"] = store.Heartbeat{Heartbeat: wire.Heartbeat{PCID: "pc-slow", Hostname: "pc-slow", AgentVersion: "t", At: at}, ReceivedAt: at}
	h.flush(context.Background())
	h.sweepOffline(later) // the PC stayed silent after its one heartbeat
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if got := ev.seq; len(got) != 3 || got[0] != "offline" || got[1] != "online" || got[2] != "offline" {
		t.Fatalf("events %v, want offline (sweep during the write), online (the write), offline (still silent)", got)
	}
}
