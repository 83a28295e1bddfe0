package apiv1

import (
	"context"
	"encoding/json"
	"time"
)

// AgentFacts is one PC's latest built-in inventory report (GET
// /api/inventory/facts; SPEC §14).
type AgentFacts struct {
	PCID          string          `json:"pc_id"`
	CollectedAt   time.Time       `json:"collected_at"`
	Hostname      string          `json:"hostname"`
	OSFamily      string          `json:"os_family"`
	OSVersion     string          `json:"os_version"`
	OSBuild       string          `json:"os_build"`
	Kernel        string          `json:"kernel"`
	Arch          string          `json:"arch"`
	CPUModel      string          `json:"cpu_model"`
	CPUCores      int             `json:"cpu_cores"`
	MemoryBytes   uint64          `json:"memory_bytes"`
	Disks         []FactDisk      `json:"disks"`
	Interfaces    []FactInterface `json:"interfaces"`
	LoggedInUsers []string        `json:"logged_in_users"`
	BootTime      *time.Time      `json:"boot_time"`
	Timezone      string          `json:"timezone"`
	AgentVersion  string          `json:"agent_version"`
}

// FactDisk is one mounted filesystem of a PC.
type FactDisk struct {
	Mount     string `json:"mount"`
	FS        string `json:"fs"`
	SizeBytes uint64 `json:"size_bytes"`
	FreeBytes uint64 `json:"free_bytes"`
}

// FactInterface is one network interface of a PC.
type FactInterface struct {
	Name string   `json:"name"`
	MAC  string   `json:"mac"`
	IPs  []string `json:"ips"`
}

// FactsQuery filters GET /api/inventory/facts (pc_id order).
type FactsQuery struct {
	PCID  string `query:"pc_id"`
	Q     string `query:"q"` // substring of pc_id or hostname
	Group string `query:"group"`
	Page
}

// InventoryChange is one inventory_history row: a changed fact field
// (table "facts", key "") or an added, removed or changed row of an
// inventory job's table (field ""). Old and New are JSON values (null
// when added, respectively removed).
type InventoryChange struct {
	PCID   string          `json:"pc_id"`
	Table  string          `json:"table"`
	Key    string          `json:"key"`
	Field  string          `json:"field"`
	Change string          `json:"change"` // added | removed | changed
	Old    json.RawMessage `json:"old"`
	New    json.RawMessage `json:"new"`
	At     time.Time       `json:"at"`
	// The message the change was projected from (INVENTORY or RESULTS).
	Stream string `json:"stream"`
	Seq    uint64 `json:"stream_seq"`
}

// HistoryQuery filters GET /api/inventory/history (newest first).
type HistoryQuery struct {
	PCID  string `query:"pc_id"`
	Table string `query:"table"`
	Since string `query:"since"` // RFC 3339 time or a duration ago (24h)
	Page
}

// ListInventoryFacts is GET /api/inventory/facts.
func (c *Client) ListInventoryFacts(ctx context.Context, q FactsQuery) (List[AgentFacts], error) {
	return list[AgentFacts](ctx, c, "/api/inventory/facts", q)
}

// ListInventoryHistory is GET /api/inventory/history.
func (c *Client) ListInventoryHistory(ctx context.Context, q HistoryQuery) (List[InventoryChange], error) {
	return list[InventoryChange](ctx, c, "/api/inventory/history", q)
}
