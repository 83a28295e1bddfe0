package wire

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDecodeInventory(t *testing.T) {
	t.Parallel()
	good := Inventory{PCID: "pc1", CollectedAt: time.Now().UTC(), Facts: Facts{Hostname: "h", MemoryBytes: 1 << 30, CPUCores: 4,
		Disks: []Disk{{Mount: "/", FS: "ext4", SizeBytes: 100, FreeBytes: 50}}, Interfaces: []Interface{{Name: "eth0", IPs: []string{"10.0.0.1/24"}}}}}
	b, _ := json.Marshal(good)
	if _, err := DecodeInventory(b); err != nil {
		t.Fatal(err)
	}
	for field, mod := range map[string]func(*Inventory){
		"pc_id":                 func(i *Inventory) { i.PCID = "a.b" },
		"collected_at":          func(i *Inventory) { i.CollectedAt = time.Time{} },
		"facts.hostname":        func(i *Inventory) { i.Facts.Hostname = strings.Repeat("h", MaxTextLen+1) },
		"facts.cpu_cores":       func(i *Inventory) { i.Facts.CPUCores = -1 },
		"facts.disks":           func(i *Inventory) { i.Facts.Disks = make([]Disk, MaxInventoryItems+1) },
		"facts.logged_in_users": func(i *Inventory) { i.Facts.LoggedInUsers = []string{strings.Repeat("u", 300)} },
		"facts.interfaces":      func(i *Inventory) { i.Facts.Interfaces[0].IPs = []string{strings.Repeat("1", 65)} },
	} {
		inv := good
		inv.Facts.Interfaces = []Interface{{Name: "eth0", IPs: []string{"10.0.0.1/24"}}}
		mod(&inv)
		b, _ := json.Marshal(inv)
		if _, err := DecodeInventory(b); Reason(err) != field {
			t.Errorf("%s: got %v", field, err)
		}
	}
	if _, err := DecodeInventory([]byte(`{"pc_id":"pc1"} x`)); Reason(err) != "malformed" {
		t.Errorf("trailing data: %v", err)
	}
}

func FuzzDecodeInventory(f *testing.F) {
	f.Add([]byte(`{"pc_id":"pc1","collected_at":"2026-01-02T03:04:05Z","facts":{"hostname":"h","disks":[{"mount":"/"}]}}`))
	f.Add([]byte(`{"pc_id":"","facts":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := DecodeInventory(data)
		if err != nil {
			return
		}
		if !ValidPCID(inv.PCID) || inv.CollectedAt.IsZero() || len(inv.Facts.Disks) > MaxInventoryItems {
			t.Fatalf("accepted %+v", inv)
		}
	})
}
