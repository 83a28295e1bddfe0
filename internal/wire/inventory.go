package wire

import (
	"fmt"
	"time"
)

// Inventory is an agent's built-in facts, published on inventory.<pc>
// (stream INVENTORY) at start and every inventory_interval (SPEC §14).
type Inventory struct {
	PCID        string    `json:"pc_id"`
	CollectedAt time.Time `json:"collected_at"`
	Facts       Facts     `json:"facts"`
}

// Facts are what every PC reports about itself.
type Facts struct {
	Hostname      string      `json:"hostname"`
	OSFamily      string      `json:"os_family"`
	OSVersion     string      `json:"os_version"`
	OSBuild       string      `json:"os_build"`
	Kernel        string      `json:"kernel"`
	Arch          string      `json:"arch"`
	CPUModel      string      `json:"cpu_model"`
	CPUCores      int         `json:"cpu_cores"`
	MemoryBytes   uint64      `json:"memory_bytes"`
	Disks         []Disk      `json:"disks"`
	Interfaces    []Interface `json:"interfaces"`
	LoggedInUsers []string    `json:"logged_in_users"`
	BootTime      time.Time   `json:"boot_time"`
	Timezone      string      `json:"timezone"`
	AgentVersion  string      `json:"agent_version"`
}

// Disk is one mounted filesystem.
type Disk struct {
	Mount     string `json:"mount"`
	FS        string `json:"fs"`
	SizeBytes uint64 `json:"size_bytes"`
	FreeBytes uint64 `json:"free_bytes"`
}

// Interface is one network interface.
type Interface struct {
	Name string   `json:"name"`
	MAC  string   `json:"mac"`
	IPs  []string `json:"ips"`
}

// Bounds of an Inventory message (an agent's own report; a hostile one
// must not grow the projection without bound).
const (
	MaxInventoryItems = 256 // disks, interfaces, users, ips per interface
	MaxInventoryBytes = 256 << 10
)

// DecodeInventory decodes and validates an Inventory.
func DecodeInventory(data []byte) (Inventory, error) {
	var inv Inventory
	if len(data) > MaxInventoryBytes {
		return inv, invalid("facts", fmt.Sprintf("message is %d bytes, over %d", len(data), MaxInventoryBytes))
	}
	if err := decode(data, &inv); err != nil {
		return inv, err
	}
	if err := checkIDs(idField{"pc_id", inv.PCID, true}); err != nil {
		return inv, err
	}
	if inv.CollectedAt.IsZero() {
		return inv, invalid("collected_at", "is required")
	}
	f := inv.Facts
	for _, s := range [][2]string{{"hostname", f.Hostname}, {"os_family", f.OSFamily}, {"os_version", f.OSVersion},
		{"os_build", f.OSBuild}, {"kernel", f.Kernel}, {"arch", f.Arch}, {"cpu_model", f.CPUModel},
		{"timezone", f.Timezone}, {"agent_version", f.AgentVersion}} {
		if len(s[1]) > MaxTextLen {
			return inv, invalid("facts."+s[0], fmt.Sprintf("must be at most %d bytes", MaxTextLen))
		}
	}
	if f.CPUCores < 0 {
		return inv, invalid("facts.cpu_cores", "must not be negative")
	}
	for _, n := range [][2]any{{"disks", len(f.Disks)}, {"interfaces", len(f.Interfaces)}, {"logged_in_users", len(f.LoggedInUsers)}} {
		if n[1].(int) > MaxInventoryItems {
			return inv, invalid("facts."+n[0].(string), fmt.Sprintf("at most %d entries", MaxInventoryItems))
		}
	}
	for _, d := range f.Disks {
		if len(d.Mount) > MaxTextLen || len(d.FS) > MaxTextLen {
			return inv, invalid("facts.disks", fmt.Sprintf("mount and fs must be at most %d bytes", MaxTextLen))
		}
	}
	for _, i := range f.Interfaces {
		if len(i.Name) > MaxTextLen || len(i.MAC) > MaxTextLen || len(i.IPs) > MaxInventoryItems {
			return inv, invalid("facts.interfaces", "name or mac too long, or too many ips")
		}
		for _, ip := range i.IPs {
			if len(ip) > 64 {
				return inv, invalid("facts.interfaces", "an ip is longer than 64 bytes")
			}
		}
	}
	for _, u := range f.LoggedInUsers {
		if len(u) > MaxTextLen {
			return inv, invalid("facts.logged_in_users", fmt.Sprintf("a name is longer than %d bytes", MaxTextLen))
		}
	}
	return inv, nil
}
