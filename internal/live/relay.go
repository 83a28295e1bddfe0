package live

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/bus"
)

// Relay makes live events reach the dashboards of every backend replica.
// A change is projected by exactly one replica (durable consumers are
// shared), so that replica publishes the event once on kanade.live.<type>
// (core NATS) and every replica's relay — its own included — hands it to
// its hub. With a single backend the event takes one loop through the
// broker and reaches the same clients as before.
type Relay struct {
	nc  *nats.Conn
	hub *Hub
	log *slog.Logger
	sub *nats.Subscription
}

// NewRelay subscribes hub to every replica's live events. Close ends it.
func NewRelay(nc *nats.Conn, hub *Hub, log *slog.Logger) (*Relay, error) {
	if log == nil {
		log = slog.Default()
	}
	r := &Relay{nc: nc, hub: hub, log: log}
	sub, err := nc.Subscribe(bus.SubjLiveAll, func(m *nats.Msg) {
		typ := strings.TrimPrefix(m.Subject, "kanade.live.")
		if err := hub.PublishJSON(typ, m.Data); err != nil {
			log.Warn("live: dropping relayed event", "subject", m.Subject, "error", err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", bus.SubjLiveAll, err)
	}
	// A burst (a broadcast finishing on 10 000 PCs) must not be cut by the
	// client's default pending limit; the hub itself never blocks.
	_ = sub.SetPendingLimits(1<<20, 256<<20)
	r.sub = sub
	return r, nil
}

// Publish sends an event to the dashboards of every replica. If the event
// cannot be handed to the broker connection (closed for good), it still
// reaches this replica's own clients.
func (r *Relay) Publish(eventType string, data any) {
	payload, err := json.Marshal(data)
	if err != nil {
		r.log.Warn("live: encode event", "event", eventType, "err", err)
		return
	}
	if err := r.nc.Publish(bus.Live(eventType), payload); err != nil {
		r.log.Warn("live: relay publish failed; local clients only", "event", eventType, "error", err)
		r.hub.send(eventType, payload)
	}
}

// Close stops relaying.
func (r *Relay) Close() {
	if r.sub != nil {
		_ = r.sub.Unsubscribe()
	}
}
