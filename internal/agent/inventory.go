package agent

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/agent/facts"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// inventoryCheck is how often the facts are collected to look for a
// change worth reporting before the interval (a logon, a new address).
const inventoryCheck = 10 * time.Minute

// ReportInventory collects and reports the facts now (tests, and a
// future "refresh" command).
func (a *Agent) ReportInventory() { kick(a.invNow) }

// inventoryLoop reports the built-in facts (SPEC §14) at the first
// connection, every inventory_interval, and whenever something other than
// free space changed; a failed publish is retried a minute later.
func (a *Agent) inventoryLoop(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) {
	collect := a.o.Facts
	if collect == nil {
		collect = func(ctx context.Context) wire.Facts { return facts.Collect(ctx, a.o.Version) }
	}
	var last wire.Facts
	var lastAt time.Time
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		force := false
		select {
		case <-ctx.Done():
			return
		case <-a.invNow:
			force = true
		case <-timer.C:
		}
		if !nc.IsConnected() {
			timer.Reset(5 * time.Second)
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		f := collect(cctx)
		cancel()
		due := lastAt.IsZero() || force || time.Since(lastAt) >= a.Config().InventoryEvery() || !facts.Stable(last, f)
		next := min(inventoryCheck, a.Config().InventoryEvery())
		if due {
			if err := a.publishInventory(ctx, js, f); err != nil {
				a.log.Warn("inventory not reported; retrying in a minute", "error", err)
				next = time.Minute
			} else {
				last, lastAt = f, time.Now()
			}
		}
		timer.Reset(next)
	}
}

func (a *Agent) publishInventory(ctx context.Context, js jetstream.JetStream, f wire.Facts) error {
	b, err := json.Marshal(wire.Inventory{PCID: a.o.PCID, CollectedAt: time.Now().UTC(), Facts: f})
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = js.Publish(pctx, bus.Inventory(a.o.PCID), b)
	return err
}
