package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Agent search answers the same on both databases and through either
// path on SQLite (the trigram index for 3+ characters, a scan otherwise):
// substring of pc_id or hostname, ASCII case ignored, LIKE metacharacters
// literal, and the index follows renames and deletions.
func TestAgentSearch(t *testing.T) {
	eachDB(t, false, func(t *testing.T, db *store.DB) {
		now := time.Now().UTC()
		up := func(pc, host string) {
			t.Helper()
			hb := store.Heartbeat{Heartbeat: wire.Heartbeat{PCID: pc, Hostname: host, OSFamily: "linux", AgentVersion: "1"}, ReceivedAt: now}
			if err := db.UpsertHeartbeats(ctx, []store.Heartbeat{hb}); err != nil {
				t.Fatal(err)
			}
		}
		up("pc-alpha", "Lab-PC-01")
		up("pc-beta", "lab-pc-02")
		up("pc_gamma", "Store%Front")
		up("pc-delta", "x")
		search := func(q string) []string {
			t.Helper()
			l, err := db.PageAgents(ctx, store.AgentFilter{Q: q, Now: now}, store.Page{Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, a := range l.Rows {
				out = append(out, a.PCID)
			}
			if l.Total != len(out) {
				t.Errorf("q=%q: total %d for %d rows", q, l.Total, len(out))
			}
			return out
		}
		for q, want := range map[string][]string{
			"LAB-PC": {"pc-alpha", "pc-beta"}, // hostname, case ignored, index
			"pha":    {"pc-alpha"},            // pc_id, index
			"zq":     nil,                     // scan, no match
			"-0":     {"pc-alpha", "pc-beta"}, // scan
			"_ga":    {"pc_gamma"},            // '_' is literal
			"e%F":    {"pc_gamma"},            // '%' is literal
			"c_b":    nil,                     // '_' does not match '-'
			"pc-":    {"pc-alpha", "pc-beta", "pc-delta"},
		} {
			if got := search(q); !slices.Equal(got, want) {
				t.Errorf("q=%q: %v, want %v", q, got, want)
			}
		}
		up("pc-beta", "office-9") // renamed
		if got := search("lab-pc"); !slices.Equal(got, []string{"pc-alpha"}) {
			t.Errorf("after the rename, lab-pc: %v", got)
		}
		if got := search("ffice"); !slices.Equal(got, []string{"pc-beta"}) {
			t.Errorf("after the rename, ffice: %v", got)
		}
		if ok, err := db.DeleteAgent(ctx, "pc-alpha"); err != nil || !ok {
			t.Fatal(ok, err)
		}
		if got := search("lab-pc"); got != nil {
			t.Errorf("after the delete, lab-pc: %v", got)
		}
	})
}
