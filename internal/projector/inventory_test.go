package projector_test

import (
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

func inventory(pc, osVersion string) wire.Inventory {
	return wire.Inventory{PCID: pc, CollectedAt: t0, Facts: wire.Facts{Hostname: "host-" + pc, OSFamily: "linux",
		OSVersion: osVersion, CPUCores: 2, MemoryBytes: 1 << 30, Disks: []wire.Disk{{Mount: "/", SizeBytes: 10, FreeBytes: 5}}}}
}

// Through the real INVENTORY consumer: reports become agent_facts and
// changed fields history; a report for another PC and a malformed one
// are acknowledged and dropped, counted, and hold nothing back.
func TestInventoryProjected(t *testing.T) {
	e := start(t)
	e.publish(bus.Inventory("pc1"), inventory("pc1", "24.04"))
	e.publish(bus.Inventory("pc1"), inventory("pc2", "9.9"))   // pc1 speaking for pc2
	e.publish(bus.Inventory("pc1"), []byte(`{"pc_id":"pc1",`)) // malformed
	e.publish(bus.Inventory("pc1"), []byte(`{"pc_id":"pc1"}`)) // no collected_at
	e.publish("inventory.pc1.extra", inventory("pc1", "0"))    // not a PC's subject shape
	later := inventory("pc1", "24.10")
	later.CollectedAt = t0.Add(time.Hour)
	later.Facts.Disks[0].FreeBytes = 4
	e.publish(bus.Inventory("pc1"), later)
	e.waitProjected()

	if n := e.count("SELECT COUNT(*) FROM agent_facts"); n != 1 {
		t.Fatalf("%d facts rows, want 1 (pc2 was forged)", n)
	}
	if n := e.count("SELECT COUNT(*) FROM agent_facts WHERE pc_id = 'pc1' AND os_version = '24.10' AND disks LIKE '%\"free_bytes\":4%'"); n != 1 {
		t.Fatal("pc1's latest facts not stored")
	}
	if n := e.count(`SELECT COUNT(*) FROM inventory_history WHERE pc_id = 'pc1' AND table_name = 'facts' AND field = 'os_version'
		AND old_value = '"24.04"' AND new_value = '"24.10"' AND stream = 'INVENTORY'`); n != 1 {
		t.Fatal("os_version change not recorded")
	}
	if n := e.count("SELECT COUNT(*) FROM inventory_history"); n != 1 {
		t.Fatalf("%d history rows, want 1 (free_bytes alone is no change)", n)
	}
	for _, want := range []struct {
		name string
		kv   []string
		n    float64
	}{
		{"kanade_projector_foreign_pc_total", []string{"stream", "INVENTORY"}, 2},
		{"kanade_projector_poison_total", []string{"stream", "INVENTORY", "reason", "malformed"}, 1},
		{"kanade_projector_poison_total", []string{"stream", "INVENTORY", "reason", "collected_at"}, 1},
	} {
		if v, ok := e.b.Metrics.Value(want.name, want.kv...); v != want.n {
			t.Errorf("metric %s%v = %v (present %v), want %v", want.name, want.kv, v, ok, want.n)
		}
	}
}
