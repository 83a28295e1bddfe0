package store_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/cursor"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// pager is one list under test: a page of it, and a row's identity.
type pager[T any] struct {
	page func(p store.Page) (store.Listing[T], error)
	id   func(T) string
}

// walk reads a whole list by cursor, limit rows a page.
func (pg pager[T]) walk(t *testing.T, limit int) []string {
	t.Helper()
	var out []string
	p := store.Page{Limit: limit}
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("cursor walk does not end")
		}
		l, err := pg.page(p)
		if err != nil {
			t.Fatalf("page after %v: %v", p.After, err)
		}
		if len(l.Rows) > limit {
			t.Fatalf("page of %d rows for limit %d", len(l.Rows), limit)
		}
		for _, r := range l.Rows {
			out = append(out, pg.id(r))
		}
		if l.Next == nil {
			return out
		}
		if len(l.Rows) != limit {
			t.Fatalf("a short page (%d of %d) has a next cursor", len(l.Rows), limit)
		}
		p.After = l.Next
	}
}

// byOffset reads the same list by offset, limit rows a page, as before
// cursors existed.
func (pg pager[T]) byOffset(t *testing.T, limit int) []string {
	t.Helper()
	var out []string
	for off := 0; ; off += limit {
		l, err := pg.page(store.Page{Limit: limit, Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range l.Rows {
			out = append(out, pg.id(r))
		}
		if len(l.Rows) < limit {
			if l.Next != nil {
				t.Fatalf("offset %d: last page has a next cursor", off)
			}
			return out
		}
	}
}

func (pg pager[T]) check(t *testing.T, name string, want int) {
	t.Helper()
	all := pg.byOffset(t, 1000)
	if len(all) != want {
		t.Fatalf("%s: %d rows by offset, want %d", name, len(all), want)
	}
	seen := map[string]bool{}
	for _, id := range all {
		if seen[id] {
			t.Fatalf("%s: %s twice by offset", name, id)
		}
		seen[id] = true
	}
	for _, limit := range []int{1, 7, 50} {
		if got := pg.walk(t, limit); !slices.Equal(got, all) {
			t.Errorf("%s: cursor walk by %d differs from offset paging:\n got %v\nwant %v", name, limit, got, all)
		}
		// Offset paging one row at a time proves nothing limit 7 does not,
		// and it was half of this test's time under -race.
		if limit == 1 {
			continue
		}
		if got := pg.byOffset(t, limit); !slices.Equal(got, all) {
			t.Errorf("%s: offset paging by %d differs from one page", name, limit)
		}
	}
}

// seedLists writes rows with many ties in every sort key, so the unique
// tiebreak of each order is what the cursor must get right.
func seedLists(t *testing.T, db *store.DB) {
	t.Helper()
	var rs []store.Result
	for i := range 230 {
		exec := fmt.Sprintf("e-%d", i%3)
		r := res(fmt.Sprintf("r-%03d", (i*37)%230), exec, fmt.Sprintf("pc-%02d", i%11), i%4, t0.Add(time.Duration(i/9)*time.Second))
		if i%13 == 0 {
			r.Skipped = true
		}
		rs = append(rs, r)
	}
	applyAll(t, db, rs)
	for i := range 61 {
		st := apiv1.ExecCompleted
		if i%3 == 0 {
			st = apiv1.ExecRunning
		}
		ok(t, db.CreateExecution(ctx, apiv1.Execution{ExecID: fmt.Sprintf("x-%02d", (i*7)%61), JobID: fmt.Sprintf("job-%d", i%2),
			Version: "1", InitiatedBy: "t", InitiatedAt: t0.Add(time.Duration(i/5) * time.Minute), TargetCount: 1, Status: st}))
	}
	var as []store.Audit
	for i := range 150 {
		as = append(as, store.Audit{Seq: uint64(1000 + (i*31)%150), AuditEvent: wire.AuditEvent{Actor: fmt.Sprintf("u%d", i%3),
			Action: "a", OccurredAt: t0.Add(time.Duration(i/6) * time.Second)}})
	}
	ok(t, db.InsertAudit(ctx, as))
	var hbs []store.Heartbeat
	for i := range 90 {
		hbs = append(hbs, store.Heartbeat{Heartbeat: wire.Heartbeat{PCID: fmt.Sprintf("pc-%03d", (i*17)%90),
			Hostname: fmt.Sprintf("h-%d", i%8), OSFamily: []string{"linux", "windows"}[i%2], AgentVersion: fmt.Sprintf("1.%d", i%3)},
			ReceivedAt: t0.Add(time.Duration(i%4) * time.Second)})
	}
	ok(t, db.UpsertHeartbeats(ctx, hbs))
}

func resultPager(db *store.DB, f store.ResultFilter) pager[apiv1.Result] {
	return pager[apiv1.Result]{page: func(p store.Page) (store.Listing[apiv1.Result], error) { return db.PageResults(ctx, f, p) },
		id: func(r apiv1.Result) string { return r.ResultID }}
}

func TestCursorWalksEqualOffsetPaging(t *testing.T) {
	eachDB(t, false, func(t *testing.T, db *store.DB) {
		seedLists(t, db)
		now := t0.Add(time.Second)
		for name, c := range map[string]struct {
			f    store.ResultFilter
			want int
		}{
			"results":         {store.ResultFilter{}, 230},
			"results exec":    {store.ResultFilter{ExecID: "e-1"}, 77},
			"results pc":      {store.ResultFilter{PCID: "pc-03"}, 21},
			"results failure": {store.ResultFilter{Status: "failure"}, 159},
			"results since":   {store.ResultFilter{Since: t0.Add(10 * time.Second)}, 140},
		} {
			resultPager(db, c.f).check(t, name, c.want)
		}
		for name, c := range map[string]struct {
			f    store.ExecFilter
			want int
		}{"executions": {store.ExecFilter{}, 61}, "executions job": {store.ExecFilter{JobID: "job-1"}, 30},
			"executions running": {store.ExecFilter{Status: "running"}, 21}} {
			pager[apiv1.Execution]{page: func(p store.Page) (store.Listing[apiv1.Execution], error) { return db.PageExecutions(ctx, c.f, p) },
				id: func(e apiv1.Execution) string { return e.ExecID }}.check(t, name, c.want)
		}
		for name, c := range map[string]struct {
			f    store.AuditFilter
			want int
		}{"audit": {store.AuditFilter{}, 150}, "audit actor": {store.AuditFilter{Actor: "u1"}, 50}} {
			pager[apiv1.AuditEntry]{page: func(p store.Page) (store.Listing[apiv1.AuditEntry], error) { return db.PageAudit(ctx, c.f, p) },
				id: func(a apiv1.AuditEntry) string { return fmt.Sprint(a.ID) }}.check(t, name, c.want)
		}
		for _, sort := range []string{"", "pc_id", "hostname", "last_heartbeat", "os_family", "agent_version"} {
			for _, desc := range []bool{false, true} {
				f := store.AgentFilter{Sort: sort, Desc: desc, Status: "online", Now: now} // every heartbeat is within the window
				pager[apiv1.Agent]{page: func(p store.Page) (store.Listing[apiv1.Agent], error) { return db.PageAgents(ctx, f, p) },
					id: func(a apiv1.Agent) string { return a.PCID }}.check(t, fmt.Sprintf("agents %+v", f), 90)
			}
		}
	})
}

// A walk while rows keep arriving (newer ones, and ones tied with the
// cursor's sort key on either side of its tiebreak) serves no row twice and
// every row that was there when it began.
func TestCursorWalkWithConcurrentInserts(t *testing.T) {
	eachDB(t, false, func(t *testing.T, db *store.DB) {
		seedLists(t, db)
		before := resultPager(db, store.ResultFilter{}).byOffset(t, 1000)
		seen := map[string]bool{}
		p := store.Page{Limit: 10}
		for n := 0; ; n++ {
			l, err := db.PageResults(ctx, store.ResultFilter{}, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range l.Rows {
				if seen[r.ResultID] {
					t.Fatalf("page %d: %s served twice", n, r.ResultID)
				}
				seen[r.ResultID] = true
			}
			if l.Next == nil {
				break
			}
			at := store.ParseTS(l.Next[0])
			applyAll(t, db, []store.Result{
				res(fmt.Sprintf("n-%03d", n), "e-9", "pc-99", 0, t0.Add(time.Hour+time.Duration(n)*time.Second)), // newest: before the cursor, not served
				res(fmt.Sprintf("a-%03d", n), "e-9", "pc-99", 0, at),                                             // tied, id before the cursor's: not served
				res(fmt.Sprintf("z-%03d", n), "e-9", "pc-99", 0, at),                                             // tied, id after: served later, once
			})
			p.After = l.Next
		}
		for _, id := range before {
			if !seen[id] {
				t.Errorf("%s, there before the walk, was not served", id)
			}
		}
	})
}

func TestCursorKeyThatDoesNotFit(t *testing.T) {
	eachDB(t, false, func(t *testing.T, db *store.DB) {
		seedLists(t, db)
		for name, err := range map[string]error{
			"results one part": func() error {
				_, err := db.PageResults(ctx, store.ResultFilter{}, store.Page{Limit: 5, After: cursor.Key{"x"}})
				return err
			}(),
			"audit seq not a number": func() error {
				_, err := db.PageAudit(ctx, store.AuditFilter{}, store.Page{Limit: 5, After: cursor.Key{store.TS(t0), "x"}})
				return err
			}(),
			"agents sort by hostname, key of pc_id": func() error {
				_, err := db.PageAgents(ctx, store.AgentFilter{Sort: "hostname"}, store.Page{Limit: 5, After: cursor.Key{"pc-001"}})
				return err
			}(),
		} {
			if !errors.Is(err, store.ErrBadCursor) {
				t.Errorf("%s: %v, want ErrBadCursor", name, err)
			}
		}
	})
}

// Totals: exact up to store.CountCap, and for exec_id / pc_id filters;
// beyond, flagged estimates that never read the whole table.
func TestTotalsExactOrEstimated(t *testing.T) {
	eachDB(t, false, func(t *testing.T, db *store.DB) {
		n := store.CountCap + 500
		batch := make([]store.Result, 0, 1000)
		for i := range n {
			code := 0
			if i%100 == 0 {
				code = 1
			}
			batch = append(batch, res(fmt.Sprintf("r-%06d", i), fmt.Sprintf("e-%d", i%2), fmt.Sprintf("pc-%03d", i%500), code,
				t0.Add(time.Duration(i)*time.Millisecond)))
			if len(batch) == cap(batch) || i == n-1 {
				applyAll(t, db, batch)
				batch = batch[:0]
			}
		}
		if store.IsPostgres(db) {
			if _, err := store.Writer(db).Exec("ANALYZE execution_results"); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			name      string
			f         store.ResultFilter
			exact     int // 0: estimated
			atLeast   int
			estimated bool
		}{
			{"unfiltered", store.ResultFilter{}, 0, n, true},
			{"exec_id (bounded by the fleet)", store.ResultFilter{ExecID: "e-0"}, n / 2, 0, false},
			{"pc_id", store.ResultFilter{PCID: "pc-007"}, n / 500, 0, false},
			{"status over the cap", store.ResultFilter{Status: "success"}, 0, store.CountCap + 1, true},
			{"status under the cap", store.ResultFilter{Status: "failure"}, n / 100, 0, false},
		} {
			l, err := db.PageResults(ctx, c.f, store.Page{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if l.Estimated != c.estimated {
				t.Errorf("%s: estimated=%v total=%d, want estimated=%v", c.name, l.Estimated, l.Total, c.estimated)
			}
			if c.exact != 0 && l.Total != c.exact {
				t.Errorf("%s: total %d, want exactly %d", c.name, l.Total, c.exact)
			}
			if c.atLeast != 0 && (l.Total < c.atLeast || l.Total > 2*n) {
				t.Errorf("%s: total %d, want an estimate of at least %d", c.name, l.Total, c.atLeast)
			}
		}
	})
}

func applyAll(t *testing.T, db *store.DB, rs []store.Result) {
	t.Helper()
	if _, err := db.ApplyResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
}

// A short first page (or a short page at an offset) tells the total
// without a count; it must be the same total the count gives, and an
// offset past the end still counts.
func TestShortPageTotals(t *testing.T) {
	eachDB(t, false, func(t *testing.T, db *store.DB) {
		seedLists(t, db)
		for _, c := range []struct {
			p     store.Page
			rows  int
			total int
		}{
			{store.Page{Limit: 1000}, 230, 230},             // the whole list in one page
			{store.Page{Limit: 100, Offset: 200}, 30, 230},  // the last page at an offset
			{store.Page{Limit: 100, Offset: 500}, 0, 230},   // past the end: counted
			{store.Page{Limit: 100, Offset: 100}, 100, 230}, // full: counted
		} {
			l, err := db.PageResults(ctx, store.ResultFilter{}, c.p)
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Rows) != c.rows || l.Total != c.total || l.Estimated {
				t.Errorf("results %+v: %d rows, total %d (estimated %v), want %d rows, total %d", c.p, len(l.Rows), l.Total, l.Estimated, c.rows, c.total)
			}
		}
		full, err := db.PageAgents(ctx, store.AgentFilter{Q: "pc-0"}, store.Page{Limit: 5}) // counted
		if err != nil {
			t.Fatal(err)
		}
		short, err := db.PageAgents(ctx, store.AgentFilter{Q: "pc-0"}, store.Page{Limit: 1000})
		if err != nil || short.Total != len(short.Rows) || short.Total != full.Total || full.Total <= 5 {
			t.Fatalf("agent search: counted total %d, short page %d rows total %d, %v", full.Total, len(short.Rows), short.Total, err)
		}
		// The search ignores case on both databases.
		if upper, err := db.PageAgents(ctx, store.AgentFilter{Q: "PC-0"}, store.Page{Limit: 1000}); err != nil || upper.Total != short.Total {
			t.Fatalf("agent search PC-0: %d, want %d as for pc-0 (%v)", upper.Total, short.Total, err)
		}
	})
}
