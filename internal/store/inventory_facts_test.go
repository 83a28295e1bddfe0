package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

func factsOf(pc string) wire.Facts {
	return wire.Facts{Hostname: "host-" + pc, OSFamily: "linux", OSVersion: "24.04", OSBuild: "", Kernel: "6.8.0",
		Arch: "amd64", CPUModel: "Xeon", CPUCores: 4, MemoryBytes: 8 << 30,
		Disks:         []wire.Disk{{Mount: "/", FS: "ext4", SizeBytes: 100 << 30, FreeBytes: 40 << 30}},
		Interfaces:    []wire.Interface{{Name: "eth0", MAC: "00:11:22:33:44:55", IPs: []string{"10.0.0.5/24"}}},
		LoggedInUsers: []string{"alice"}, BootTime: t0.Add(-time.Hour), Timezone: "UTC", AgentVersion: "1.0.0"}
}

func report(pc string, seq uint64, at time.Time, f wire.Facts) store.FactsReport {
	return store.FactsReport{Inventory: wire.Inventory{PCID: pc, CollectedAt: at, Facts: f}, Seq: seq}
}

func history(t *testing.T, db *store.DB, f store.HistoryFilter) []apiv1.InventoryChange {
	t.Helper()
	l := mustT[store.Listing[apiv1.InventoryChange]](t)(db.PageHistory(ctx, f, store.Page{Limit: 100}))
	return l.Rows
}

func fields(cs []apiv1.InventoryChange) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Field+":"+c.Change+":"+string(c.Old)+">"+string(c.New))
	}
	return out
}

func TestApplyFactsHistory(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		f1 := factsOf("pc1")
		if n := mustT[store.FactsOutcome](t)(db.ApplyFacts(ctx, []store.FactsReport{report("pc1", 1, t0, f1), report("pc2", 2, t0, factsOf("pc2"))})).Changes; n != 0 {
			t.Fatalf("a first report recorded %d history rows", n)
		}
		l := mustT[store.Listing[apiv1.AgentFacts]](t)(db.PageFacts(ctx, store.FactsFilter{}, store.Page{Limit: 10}))
		if l.Total != 2 || len(l.Rows) != 2 || l.Rows[0].PCID != "pc1" || l.Rows[0].MemoryBytes != 8<<30 ||
			len(l.Rows[0].Disks) != 1 || l.Rows[0].Disks[0].FreeBytes != 40<<30 || l.Rows[0].Interfaces[0].IPs[0] != "10.0.0.5/24" ||
			!slices.Equal(l.Rows[0].LoggedInUsers, []string{"alice"}) || l.Rows[0].BootTime == nil || !l.Rows[0].CollectedAt.Equal(t0) {
			t.Fatalf("facts = %+v", l)
		}

		// Free space alone moves: stored, but no history.
		f2 := factsOf("pc1")
		f2.Disks[0].FreeBytes = 39 << 30
		if n := mustT[store.FactsOutcome](t)(db.ApplyFacts(ctx, []store.FactsReport{report("pc1", 3, t0.Add(time.Hour), f2)})).Changes; n != 0 {
			t.Fatalf("free_bytes alone recorded %d rows", n)
		}
		if l := mustT[store.Listing[apiv1.AgentFacts]](t)(db.PageFacts(ctx, store.FactsFilter{PCID: "pc1"}, store.Page{Limit: 10})); l.Rows[0].Disks[0].FreeBytes != 39<<30 {
			t.Fatalf("free_bytes not stored: %+v", l.Rows[0].Disks)
		}

		// Two fields change: exactly two rows.
		f3 := f2
		f3.OSVersion = "24.10"
		f3.LoggedInUsers = []string{"alice", "bob"}
		at3 := t0.Add(2 * time.Hour)
		if n := mustT[store.FactsOutcome](t)(db.ApplyFacts(ctx, []store.FactsReport{report("pc1", 4, at3, f3)})).Changes; n != 2 {
			t.Fatalf("recorded %d rows, want 2", n)
		}
		got := fields(history(t, db, store.HistoryFilter{PCID: "pc1"}))
		want := []string{`os_version:changed:"24.04">"24.10"`, `logged_in_users:changed:["alice"]>["alice","bob"]`}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("history %v, want %v", got, want)
		}
		h := history(t, db, store.HistoryFilter{PCID: "pc1"})[0]
		if h.Table != "facts" || h.Key != "" || !h.At.Equal(at3) || h.Stream != "INVENTORY" || h.Seq != 4 || h.PCID != "pc1" {
			t.Fatalf("row %+v", h)
		}

		// Redelivered or replayed older messages change nothing.
		old := factsOf("pc1")
		old.Hostname = "renamed"
		for _, seq := range []uint64{4, 2} {
			if n := mustT[store.FactsOutcome](t)(db.ApplyFacts(ctx, []store.FactsReport{report("pc1", seq, t0, old)})).Changes; n != 0 {
				t.Fatalf("seq %d recorded %d rows", seq, n)
			}
		}
		if l := mustT[store.Listing[apiv1.AgentFacts]](t)(db.PageFacts(ctx, store.FactsFilter{PCID: "pc1"}, store.Page{Limit: 10})); l.Rows[0].Hostname != "host-pc1" ||
			l.Rows[0].OSVersion != "24.10" {
			t.Fatalf("an older message overwrote the facts: %+v", l.Rows[0])
		}
		if n := len(history(t, db, store.HistoryFilter{})); n != 2 {
			t.Fatalf("%d history rows, want 2", n)
		}

		// A disk added and a user list emptied, in one batch with a later report of the same PC.
		f4 := f3
		f4.Disks = append(slices.Clone(f3.Disks), wire.Disk{Mount: "/data", FS: "xfs", SizeBytes: 1 << 40, FreeBytes: 1})
		f5 := f4
		f5.LoggedInUsers = nil
		n := mustT[store.FactsOutcome](t)(db.ApplyFacts(ctx, []store.FactsReport{report("pc1", 5, t0.Add(3*time.Hour), f4), report("pc1", 6, t0.Add(4*time.Hour), f5)})).Changes
		if n != 2 {
			t.Fatalf("recorded %d rows, want 2", n)
		}
		hs := history(t, db, store.HistoryFilter{PCID: "pc1", Since: t0.Add(150 * time.Minute)})
		if got := fields(hs); !slices.Equal(got, []string{`logged_in_users:changed:["alice","bob"]>[]`,
			`disks:changed:[{"mount":"/","fs":"ext4","size_bytes":107374182400}]>[{"mount":"/","fs":"ext4","size_bytes":107374182400},{"mount":"/data","fs":"xfs","size_bytes":1099511627776}]`}) {
			t.Fatalf("newest first: %v", got)
		}

		// Filters and paging.
		if l := mustT[store.Listing[apiv1.AgentFacts]](t)(db.PageFacts(ctx, store.FactsFilter{Q: "HOST-PC2"}, store.Page{Limit: 10})); len(l.Rows) != 1 || l.Rows[0].PCID != "pc2" {
			t.Fatalf("q: %+v", l.Rows)
		}
		ok(t, db.ReplaceAgentGroups(ctx, "pc2", []string{"canary"}))
		if l := mustT[store.Listing[apiv1.AgentFacts]](t)(db.PageFacts(ctx, store.FactsFilter{Group: "canary"}, store.Page{Limit: 10})); len(l.Rows) != 1 || l.Rows[0].PCID != "pc2" {
			t.Fatalf("group: %+v", l.Rows)
		}
		if n := len(history(t, db, store.HistoryFilter{Table: "software"})); n != 0 {
			t.Fatalf("table filter: %d", n)
		}
		all := history(t, db, store.HistoryFilter{})
		var walked []apiv1.InventoryChange
		p := store.Page{Limit: 1}
		for {
			l := mustT[store.Listing[apiv1.InventoryChange]](t)(db.PageHistory(ctx, store.HistoryFilter{}, p))
			walked = append(walked, l.Rows...)
			if l.Next == nil {
				break
			}
			p.After = l.Next
		}
		if !slices.EqualFunc(walked, all, func(a, b apiv1.InventoryChange) bool { return a.Field == b.Field && a.Seq == b.Seq }) {
			t.Fatalf("cursor walk %v, want %v", fields(walked), fields(all))
		}
	})
}
