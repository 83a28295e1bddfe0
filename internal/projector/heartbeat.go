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
	LastHeartbeats(ctx context.Context, pcs []string) (map[string]time.Time, error)
}

// Heartbeats projects core-NATS heartbeats into agents. Heartbeats are not
// durable (a missed one is replaced 30 s later), so they are micro-batched:
// the newest per PC, flushed every second or at FlushAt PCs.
//
// Writing is shared between replicas (queue group), but online/offline
// needs every heartbeat: a replica that got only its share would think a
// PC offline whenever the other replicas received its last few beats. So
// each replica also follows all heartbeats (a plain subscription, a map
// update per message) and decides transitions on that full view. An
// online event is published (Notes, relayed to every replica) by the
// replica that wrote the heartbeat that ended the silence, after the
// write, so a dashboard refetch sees it; offline events are published by
// every replica to its own clients only (Local), as each sees the silence.
type Heartbeats struct {
	W       HeartbeatWriter
	Log     *slog.Logger
	Notes   Notifier // every replica's clients
	Local   Notifier // this replica's clients (nil = Notes)
	Metrics *metrics.Registry
	FlushAt int

	mu      sync.Mutex
	pending map[string]store.Heartbeat
	seen    map[string]*liveness // full view: pc → liveness
}

// liveness is one PC's state in the full heartbeat view.
type liveness struct {
	last    time.Time // this replica's receive time of the newest heartbeat
	offline bool      // an offline event was published since
	wake    time.Time // agent-side time (At) of the heartbeat that made it online
	claimed bool      // the online event for wake was published by this replica
}

// see records a heartbeat in the full view. It is idempotent for one
// message seen through both subscriptions (the second sighting is a gap
// of milliseconds, not a transition).
func (h *Heartbeats) see(pc string, at, now time.Time) *liveness {
	l := h.seen[pc]
	if l == nil {
		l = &liveness{}
		h.seen[pc] = l
	}
	if l.last.IsZero() || l.offline || now.Sub(l.last) > store.OnlineWindow {
		l.offline, l.wake, l.claimed = false, at, false
	}
	if now.After(l.last) {
		l.last = now
	}
	return l
}

// Run subscribes (queue group, so replicas share the load) until ctx ends.
func (h *Heartbeats) Run(ctx context.Context, nc *nats.Conn) error {
	if h.FlushAt <= 0 {
		h.FlushAt = 1000
	}
	if h.Local == nil {
		h.Local = h.Notes
	}
	h.pending = map[string]store.Heartbeat{}
	h.seen = map[string]*liveness{}
	full := make(chan struct{}, 1)
	// The full view: every replica gets every heartbeat here.
	view, err := nc.Subscribe(bus.SubjHeartbeatAll, func(m *nats.Msg) {
		hb, err := wire.DecodeHeartbeat(m.Data)
		if err != nil || strings.TrimPrefix(m.Subject, "heartbeat.") != hb.PCID {
			return // counted and logged by the writing subscription
		}
		now := time.Now().UTC()
		h.mu.Lock()
		h.see(hb.PCID, hb.At, now)
		h.mu.Unlock()
	})
	if err != nil {
		return err
	}
	_ = view.SetPendingLimits(1<<20, 256<<20)
	defer view.Unsubscribe()
	sub, err := nc.QueueSubscribe(bus.SubjHeartbeatAll, "kanade-backend", func(m *nats.Msg) {
		hb, err := wire.DecodeHeartbeat(m.Data)
		if err != nil || strings.TrimPrefix(m.Subject, "heartbeat.") != hb.PCID {
			reason := "foreign_pc"
			if err != nil {
				reason = wire.Reason(err)
			}
			h.Log.Warn("dropping bad heartbeat", "subject", m.Subject, "reason", reason, "error", err)
			h.Metrics.Add("kanade_heartbeats_dropped_total", "Heartbeats that did not decode or named another PC (reason: the field, malformed or foreign_pc).",
				1, "reason", reason)
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
	// Heartbeats that would end a silence in this replica's view. A
	// replica that started (or subscribed) while the PC was beating sees
	// its first heartbeat as a wake-up; the database, written by whichever
	// replica got the earlier beats, says whether it really was offline.
	var maybe []string
	for _, hb := range batch {
		if l := h.see(hb.PCID, hb.At, hb.ReceivedAt); !l.claimed && l.wake.Equal(hb.At) {
			maybe = append(maybe, hb.PCID)
		}
	}
	h.mu.Unlock()
	var prev map[string]time.Time
	if len(maybe) > 0 {
		var err error
		if prev, err = h.W.LastHeartbeats(ctx, maybe); err != nil {
			h.Log.Warn("heartbeat flush: reading the previous heartbeats failed; online events may repeat", "error", err)
		}
	}
	if err := h.W.UpsertHeartbeats(ctx, batch); err != nil {
		// Dropped on purpose: the next heartbeat of each PC supersedes it.
		h.Log.Warn("heartbeat flush failed; window dropped", "count", len(batch), "error", err)
		return
	}
	h.Metrics.Add("kanade_projected_messages_total", "Messages projected into SQL.", float64(len(batch)), "stream", "heartbeat")
	var woke []store.Heartbeat
	h.mu.Lock()
	for _, hb := range batch {
		// Seen again, not looked up: the view was unlocked during the
		// database calls, and a sweep may have declared the PC offline
		// meanwhile; the view must not stay offline while this announces
		// it online (TestFlushSeesHeartbeatAgainAfterWrite). Otherwise a
		// no-op: see is idempotent for one heartbeat.
		l := h.see(hb.PCID, hb.At, hb.ReceivedAt)
		if !l.claimed && l.wake.Equal(hb.At) {
			l.claimed = true
			if p, ok := prev[hb.PCID]; ok && hb.ReceivedAt.Sub(p) <= store.OnlineWindow {
				continue // online already: another replica announced it
			}
			woke = append(woke, hb)
		}
	}
	h.mu.Unlock()
	for _, hb := range woke {
		h.Notes.Publish("agent", map[string]any{"pc_id": hb.PCID, "online": true, "hostname": hb.Hostname,
			"agent_version": hb.AgentVersion, "last_heartbeat": hb.ReceivedAt})
	}
}

func (h *Heartbeats) sweepOffline(now time.Time) {
	type gone struct {
		pc   string
		last time.Time
	}
	var off []gone
	h.mu.Lock()
	for pc, l := range h.seen {
		if !l.offline && now.Sub(l.last) > store.OnlineWindow {
			l.offline = true
			off = append(off, gone{pc, l.last})
		}
	}
	h.mu.Unlock()
	for _, g := range off {
		h.Local.Publish("agent", map[string]any{"pc_id": g.pc, "online": false, "last_heartbeat": g.last})
	}
}
