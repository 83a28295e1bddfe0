package agent

import (
	"context"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/agent/facts"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// TestInventoryReported: the real facts go to stream INVENTORY at the first
// connection, and a changed fact is reported when collected again.
func TestInventoryReported(t *testing.T) {
	b := newBroker(t).connect()
	var host atomic.Value
	host.Store("")
	a, err := New(Options{PCID: "pc-inv", NATSURL: b.url(), NATSToken: b.token, DataDir: t.TempDir(), Version: "test",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Facts: func(ctx context.Context) wire.Facts {
			f := facts.Collect(ctx, "test")
			if h := host.Load().(string); h != "" {
				f.Hostname = h
			}
			return f
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()

	subj := bus.Inventory("pc-inv")
	waitFor(t, 30*time.Second, "first inventory", func() bool { return b.count(bus.StreamInventory, subj) == 1 })
	m, err := b.last(bus.StreamInventory, subj)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := wire.DecodeInventory(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if inv.PCID != "pc-inv" || inv.Facts.MemoryBytes == 0 || len(inv.Facts.Disks) == 0 || len(inv.Facts.Interfaces) == 0 {
		t.Fatalf("facts: %+v", inv)
	}
	host.Store("renamed-host")
	a.ReportInventory()
	waitFor(t, 30*time.Second, "second inventory", func() bool { return b.count(bus.StreamInventory, subj) == 2 })
	m, _ = b.last(bus.StreamInventory, subj)
	if inv, _ := wire.DecodeInventory(m.Data); inv.Facts.Hostname != "renamed-host" {
		t.Errorf("changed fact not reported: %+v", inv.Facts.Hostname)
	}
}
