package server_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/agent"
	"github.com/kanade-fleet/kanade/internal/agent/facts"
	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// A real agent's built-in facts (the real collector) reach
// /api/inventory/facts with sane values; a changed fact adds one history
// row (SPEC §14).
func TestAgentFactsAndHistory(t *testing.T) {
	b := testenv.Backend(t, nil)
	s := open(b)
	var tz atomic.Value
	tz.Store("")
	a, err := agent.New(agent.Options{PCID: "pc-facts", NATSURL: b.NATSURL(), DataDir: filepath.Join(t.TempDir(), "pc"),
		Logger: testenv.Logger(), Version: "test", Facts: func(ctx context.Context) wire.Facts {
			f := facts.Collect(ctx, "test")
			if v := tz.Load().(string); v != "" {
				f.Timezone = v
			}
			return f
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	var rows []apiv1.AgentFacts
	testenv.Eventually(t, 30*time.Second, "the agent's facts", func() bool {
		r := s.do(t, "GET", "/api/inventory/facts?pc_id=pc-facts", nil)
		if r.status != 200 {
			return false
		}
		r.json(t, &rows)
		return len(rows) == 1
	})
	f := rows[0]
	if f.MemoryBytes == 0 || len(f.Disks) == 0 || len(f.Interfaces) == 0 || f.CPUCores == 0 || f.OSFamily == "" ||
		f.Hostname == "" || f.AgentVersion != "test" || f.CollectedAt.IsZero() {
		t.Fatalf("facts are not sane: %+v", f)
	}
	if f.Disks[0].SizeBytes == 0 {
		t.Fatalf("disk without a size: %+v", f.Disks)
	}
	if r := s.do(t, "GET", "/api/inventory/history?pc_id=pc-facts", nil); r.hdr.Get("X-Total-Count") != "0" {
		t.Fatalf("a first report recorded history: %s", r.body)
	}

	before := f.Timezone
	tz.Store("Test/Changed")
	a.ReportInventory()
	var hist []apiv1.InventoryChange
	testenv.Eventually(t, 30*time.Second, "a timezone change in history", func() bool {
		r := s.do(t, "GET", "/api/inventory/history?pc_id=pc-facts&table=facts", nil)
		r.json(t, &hist)
		return len(hist) > 0
	})
	// The real collector may see another change too (a user logging in):
	// the timezone row must be there, once.
	n := 0
	for _, h := range hist {
		if h.Field == "timezone" {
			n++
			if h.Change != "changed" || string(h.New) != `"Test/Changed"` || h.PCID != "pc-facts" || h.Table != "facts" {
				t.Fatalf("history row %+v (old timezone %q)", h, before)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d timezone rows: %+v", n, hist)
	}
}
