package facts

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/wire"
)

// TestCollect on this machine: sane values, and a report the backend's
// decoder accepts.
func TestCollect(t *testing.T) {
	f := Collect(t.Context(), "1.2.3")
	if f.MemoryBytes == 0 || f.CPUCores < 1 || f.Hostname == "" || f.OSFamily == "" || f.AgentVersion != "1.2.3" {
		t.Errorf("facts: %+v", f)
	}
	if len(f.Disks) == 0 || f.Disks[0].SizeBytes == 0 {
		t.Errorf("no disk: %+v", f.Disks)
	}
	if len(f.Interfaces) == 0 {
		t.Errorf("no interface: %+v", f.Interfaces)
	}
	b, _ := json.Marshal(wire.Inventory{PCID: "pc1", CollectedAt: time.Now().UTC(), Facts: f})
	if _, err := wire.DecodeInventory(b); err != nil {
		t.Fatalf("own report refused: %v", err)
	}
	t.Logf("%s", b)
}

func TestStable(t *testing.T) {
	a := wire.Facts{Hostname: "h", Disks: []wire.Disk{{Mount: "/", SizeBytes: 10, FreeBytes: 5}},
		Interfaces: []wire.Interface{{Name: "eth0", IPs: []string{"10.0.0.1/8"}}}}
	b := a
	b.Disks = []wire.Disk{{Mount: "/", SizeBytes: 10, FreeBytes: 4}}
	if !Stable(a, b) {
		t.Error("free space alone made a change")
	}
	b.Interfaces = []wire.Interface{{Name: "eth0", IPs: []string{"10.0.0.2/8"}}}
	if Stable(a, b) {
		t.Error("a new IP was not a change")
	}
	c := a
	c.LoggedInUsers = []string{"alice"}
	if Stable(a, c) {
		t.Error("a logon was not a change")
	}
}
