package projector

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/metrics"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// HeartbeatWriter is what the heartbeat projector needs from the store.
type HeartbeatWriter interface {
	UpsertHeartbeats(ctx context.Context, hbs []store.Heartbeat) error
}

// Heartbeats projects core-NATS heartbeats into agents. Heartbeats are not
// durable (a missed one is replaced 30 s later), so they are micro-batched:
// the newest per PC, flushed every second or at FlushAt PCs.
type Heartbeats struct {
	W       HeartbeatWriter
	Log     *slog.Logger
	Notes   Notifier
	Metrics *metrics.Registry
	FlushAt int

	mu      sync.Mutex
	pending map[string]store.Heartbeat
	seen    map[string]time.Time // pc → last receive, for online/offline events
	offline map[string]bool
}

// Run subscribes (queue group, so replicas share the load) until ctx ends.
func (h *Heartbeats) Run(ctx context.Context, nc *nats.Conn) error {
	if h.FlushAt <= 0 {
		h.FlushAt = 1000
	}
	h.pending = map[string]store.Heartbeat{}
	h.seen = map[string]time.Time{}
	h.offline = map[string]bool{}
	full := make(chan struct{}, 1)
	sub, err := nc.QueueSubscribe(bus.SubjHeartbeatAll, "kanade-backend", func(m *nats.Msg) {
		hb, err := wire.DecodeHeartbeat(m.Data)
		if err != nil || strings.TrimPrefix(m.Subject, "heartbeat.") != hb.PCID {
			h.Log.Warn("dropping bad heartbeat", "subject", m.Subject, "error", err)
			h.Metrics.Add("kanade_heartbeats_dropped_total", "Heartbeats that did not decode or named another PC.", 1)
			return
		}
		h.mu.Lock()
		h.pending[hb.PCID] = store.Heartbeat{Heartbeat: hb, ReceivedAt: time.Now().UTC()}
		n := len(h.pending)
		h.mu.Unlock()
		if n >= h.FlushAt {
			select {
			case full <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		return err
	}
	_ = sub.SetPendingLimits(1<<20, 256<<20)
	defer sub.Unsubscribe()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	sweep := time.NewTicker(15 * time.Second)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			h.flush(context.Background())
			return nil
		case <-tick.C:
			h.flush(ctx)
		case <-full:
			h.flush(ctx)
		case now := <-sweep.C:
			h.sweepOffline(now)
		}
	}
}

func (h *Heartbeats) flush(ctx context.Context) {
	h.mu.Lock()
	if len(h.pending) == 0 {
		h.mu.Unlock()
		return
	}
	batch := make([]store.Heartbeat, 0, len(h.pending))
	for _, hb := range h.pending {
		batch = append(batch, hb)
	}
	h.pending = map[string]store.Heartbeat{}
	h.mu.Unlock()
	if err := h.W.UpsertHeartbeats(ctx, batch); err != nil {
		// Dropped on purpose: the next heartbeat of each PC supersedes it.
		h.Log.Warn("heartbeat flush failed; window dropped", "count", len(batch), "error", err)
		return
	}
	h.Metrics.Add("kanade_projected_messages_total", "Messages projected into SQL.", float64(len(batch)), "stream", "heartbeat")
	for _, hb := range batch {
		prev, known := h.seen[hb.PCID]
		h.seen[hb.PCID] = hb.ReceivedAt
		if !known || h.offline[hb.PCID] || hb.ReceivedAt.Sub(prev) > store.OnlineWindow {
			delete(h.offline, hb.PCID)
			h.Notes.Publish("agent", map[string]any{"pc_id": hb.PCID, "online": true, "hostname": hb.Hostname,
				"agent_version": hb.AgentVersion, "last_heartbeat": hb.ReceivedAt})
		}
	}
}

func (h *Heartbeats) sweepOffline(now time.Time) {
	for pc, last := range h.seen {
		if !h.offline[pc] && now.Sub(last) > store.OnlineWindow {
			h.offline[pc] = true
			h.Notes.Publish("agent", map[string]any{"pc_id": pc, "online": false, "last_heartbeat": last})
		}
	}
}
