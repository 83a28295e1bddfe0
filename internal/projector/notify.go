package projector

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// NotifyWriter is what the delivery-log projector needs from the store.
type NotifyWriter interface {
	InsertNotifyAttempts(ctx context.Context, batch []store.NotifyAttempt) error
}

// notifyLogHandler projects stream NOTIFY_LOG into notification_deliveries
// (SPEC §15), so GET /api/notifications survives a rebuild.
type notifyLogHandler struct{ w NotifyWriter }

func (h *notifyLogHandler) decode(m jetstream.Msg) (any, error) {
	a, err := wire.DecodeNotifyAttempt(m.Data())
	if err != nil {
		return nil, err
	}
	seq := streamSeq(m)
	if seq == 0 {
		return nil, nil
	}
	return store.NotifyAttempt{NotifyAttempt: a, Seq: seq}, nil
}

func (h *notifyLogHandler) write(ctx context.Context, items []any) error {
	rows := make([]store.NotifyAttempt, len(items))
	for i, it := range items {
		rows[i] = it.(store.NotifyAttempt)
	}
	return h.w.InsertNotifyAttempts(ctx, rows)
}
