package cli

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// TestInventory: inventory facts (table, wide, filters, --all) and
// inventory history over facts projected by the store.
func TestInventory(t *testing.T) {
	e := newEnv(t, nil)
	now := time.Now().UTC()
	base := func(pc string) wire.Facts {
		return wire.Facts{Hostname: "host-" + pc, OSFamily: "windows", OSVersion: "11", OSBuild: "22631", Kernel: "10.0.22631",
			Arch: "amd64", CPUModel: "Core i5", CPUCores: 8, MemoryBytes: 16 << 30,
			Disks:      []wire.Disk{{Mount: "C:", FS: "NTFS", SizeBytes: 500 << 30, FreeBytes: 120 << 30}, {Mount: "D:", FS: "NTFS", SizeBytes: 100 << 30}},
			Interfaces: []wire.Interface{{Name: "Ethernet", MAC: "aa:bb", IPs: []string{"10.0.0.7"}}}, LoggedInUsers: []string{"alice"},
			BootTime: now.Add(-time.Hour), Timezone: "Europe/Paris", AgentVersion: "1.4.0"}
	}
	changed := base("pc-1")
	changed.OSBuild, changed.LoggedInUsers = "26100", []string{"alice", "bob"}
	if _, err := e.b.DB.ApplyFacts(context.Background(), []store.FactsReport{
		{Inventory: wire.Inventory{PCID: "pc-1", CollectedAt: now, Facts: base("pc-1")}, Seq: 1},
		{Inventory: wire.Inventory{PCID: "pc-2", CollectedAt: now, Facts: base("pc-2")}, Seq: 2},
		{Inventory: wire.Inventory{PCID: "pc-1", CollectedAt: now, Facts: changed}, Seq: 3},
	}); err != nil {
		t.Fatal(err)
	}
	golden(t, "inventory_facts", normalize(e.ok("inventory", "facts")))
	golden(t, "inventory_facts_wide", normalize(e.ok("inventory", "facts", "-o", "wide", "--q", "pc-2")))
	golden(t, "inventory_history", normalize(e.ok("inventory", "history", "--pc", "pc-1", "--since", "24h")))
	var rows []apiv1.AgentFacts
	if err := json.Unmarshal([]byte(e.ok("inventory", "facts", "--all", "--pc", "pc-2", "-o", "json")), &rows); err != nil || len(rows) != 1 ||
		rows[0].Disks[0].FreeBytes != 120<<30 {
		t.Fatalf("facts -o json: %v %+v", err, rows)
	}
	var hist []apiv1.InventoryChange
	if err := json.Unmarshal([]byte(e.ok("inventory", "history", "--table", "software", "-o", "json")), &hist); err != nil || len(hist) != 0 {
		t.Fatalf("history --table software: %v %+v", err, hist)
	}
}
