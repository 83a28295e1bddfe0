package projector

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/metrics"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// FactsWriter is what the inventory projector needs from the store.
type FactsWriter interface {
	ApplyFacts(ctx context.Context, batch []store.FactsReport) (store.FactsOutcome, error)
}

// inventoryHandler projects stream INVENTORY into agent_facts and the
// facts rows of inventory_history (SPEC §14).
type inventoryHandler struct {
	w     FactsWriter
	log   *slog.Logger
	notes Notifier
	drops *metrics.Registry
}

func (h *inventoryHandler) decode(m jetstream.Msg) (any, error) {
	inv, err := wire.DecodeInventory(m.Data())
	if err != nil {
		return nil, err
	}
	// inventory.<pc>: a PC reports for itself only (SPEC §12).
	if pc := subjectPC(m.Subject(), 2, 1); pc != inv.PCID {
		dropForeign(h.log, h.drops, bus.StreamInventory, m.Subject(), pc, inv.PCID)
		return nil, nil
	}
	seq := streamSeq(m)
	if seq == 0 {
		return nil, nil // no sequence, no order to apply it in (never happens on a stream)
	}
	return store.FactsReport{Inventory: inv, Seq: seq}, nil
}

func (h *inventoryHandler) write(ctx context.Context, items []any) error {
	batch := make([]store.FactsReport, len(items))
	for i, it := range items {
		batch[i] = it.(store.FactsReport)
	}
	out, err := h.w.ApplyFacts(ctx, batch)
	if err != nil {
		return err
	}
	for _, pc := range out.PCs {
		h.notes.Publish("inventory", map[string]string{"pc_id": pc})
	}
	return nil
}
