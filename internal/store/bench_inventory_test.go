package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/store"
)

// BenchmarkInventoryQueries (issue 17): GET /api/inventory/tables/{table}
// over PCs × 300 software rows. KANADE_BENCH_INV_PCS sets the PC count
// (default 1 000 = 300 000 rows; docs/benchmarks.md uses 10 000 = 3 M).
// Rows are bulk-loaded (multi-row INSERTs of the projection's columns, as
// ApplyInventory writes them) rather than projected, which would take
// most of the run; every PC has "Google Chrome" at a random 100-129
// version, the rest drawn from 3 000 names.
func BenchmarkInventoryQueries(b *testing.B) {
	pcs := 1000
	if v := os.Getenv("KANADE_BENCH_INV_PCS"); v != "" {
		fmt.Sscan(v, &pcs)
	}
	for _, c := range benchDBs() {
		if c.perRow {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			var db *store.DB
			// KANADE_BENCH_INV_DIR keeps the SQLite file between runs (seeded
			// once; migrations still apply), to iterate on queries.
			if dir := os.Getenv("KANADE_BENCH_INV_DIR"); dir != "" && !c.pg {
				var err error
				if db, err = store.Open(context.Background(), "", dir, nil); err != nil {
					b.Fatal(err)
				}
			} else {
				db = c.open(b)
			}
			defer db.Close()
			if l, err := db.PageInventoryRows(context.Background(), store.InventoryRowFilter{Table: "software"}, store.Page{Limit: 1}); err != nil || l.Total == 0 {
				start := time.Now()
				seedInventory(b, db, pcs)
				b.Logf("seeded %d PCs × 300 rows in %s", pcs, time.Since(start).Round(time.Second))
			}
			if store.IsPostgres(db) {
				if _, err := store.Writer(db).Exec("VACUUM ANALYZE"); err != nil {
					b.Fatal(err)
				}
			}
			page := store.Page{Limit: 50}
			ctx := context.Background()
			w := func(s ...string) []store.InventoryCond {
				var out []store.InventoryCond
				for _, x := range s {
					c, err := store.ParseInventoryCond(x)
					if err != nil {
						b.Fatal(err)
					}
					out = append(out, c)
				}
				return out
			}
			queries := []struct {
				name string
				f    store.InventoryRowFilter
			}{
				{"all", store.InventoryRowFilter{}},
				{"pc", store.InventoryRowFilter{PCID: "pc-00421"}},
				{"name-eq", store.InventoryRowFilter{Where: w("name:eq:Google Chrome")}},
				{"name-eq-version-lt", store.InventoryRowFilter{Where: w("name:eq:Google Chrome", "version:lt:120.0.1")}},
				{"version-lt", store.InventoryRowFilter{Where: w("version:lt:2.0")}},
				{"name-contains", store.InventoryRowFilter{Where: w("name:contains:app-042")}},
				{"name-contains-dense", store.InventoryRowFilter{Where: w("name:contains:app")}},
				{"name-contains-version-lt", store.InventoryRowFilter{Where: w("name:contains:chrome", "version:lt:120.0.1")}},
				{"q", store.InventoryRowFilter{Q: "app-0421"}},
				{"q-chrome", store.InventoryRowFilter{Q: "chrome"}},
				{"q-dense", store.InventoryRowFilter{Q: "vendor 1"}},
				{"q-none", store.InventoryRowFilter{Q: "no such app"}},
			}
			for _, q := range queries {
				q.f.Table = "software"
				b.Run(q.name, func(b *testing.B) {
					lat := make([]time.Duration, 0, b.N)
					var total int
					for i := 0; i < b.N; i++ {
						t := time.Now()
						l, err := db.PageInventoryRows(ctx, q.f, page)
						if err != nil {
							b.Fatal(err)
						}
						lat = append(lat, time.Since(t))
						total = l.Total
					}
					slices.Sort(lat)
					ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
					b.ReportMetric(float64(total), "total")
					b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
					b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
					if len(lat) >= 100 {
						b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
					}
				})
			}
			b.Run("tables", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := db.InventoryTables(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// seedInventory bulk-loads pcs × 300 rows of table software.
func seedInventory(b *testing.B, db *store.DB, pcs int) {
	b.Helper()
	w := store.Writer(db)
	pg := store.IsPostgres(db)
	r := rand.New(rand.NewPCG(7, 7))
	type ins struct {
		head string
		cols int
		rows [][]any
	}
	flush := func(x *ins) {
		if len(x.rows) == 0 {
			return
		}
		var sb strings.Builder
		sb.WriteString(x.head)
		args := make([]any, 0, len(x.rows)*x.cols)
		n := 0
		for i, row := range x.rows {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteByte('(')
			for j := range row {
				if j > 0 {
					sb.WriteByte(',')
				}
				n++
				if pg {
					fmt.Fprintf(&sb, "$%d", n)
				} else {
					sb.WriteByte('?')
				}
			}
			sb.WriteByte(')')
			args = append(args, row...)
		}
		if _, err := w.Exec(sb.String(), args...); err != nil {
			b.Fatal(err)
		}
		x.rows = x.rows[:0]
	}
	rowsIns := &ins{head: "INSERT INTO inventory_rows (table_name, pc_id, item_key, row, search, result_id, updated_at) VALUES ", cols: 7}
	valsIns := &ins{head: "INSERT INTO inventory_values (table_name, column_name, pc_id, item_key, value, sort_value) VALUES ", cols: 6}
	termIns := &ins{head: "INSERT INTO inventory_terms (table_name, column_name, value, sort_value) VALUES ", cols: 4}
	terms := map[[2]string]bool{}
	srcIns := &ins{head: "INSERT INTO inventory_sources (table_name, pc_id, result_id, stream_seq, finished_at, row_count, columns) VALUES ", cols: 7}
	at := store.TS(time.Now())
	for p := 0; p < pcs; p++ {
		pc := fmt.Sprintf("pc-%05d", p)
		off := r.IntN(3000)
		for j := 0; j < 300; j++ {
			name, ver := "Google Chrome", fmt.Sprintf("%d.0.%d", 100+r.IntN(30), r.IntN(200))
			if j > 0 {
				name, ver = fmt.Sprintf("app-%04d", (off+j)%3000), fmt.Sprintf("%d.%d.%d", r.IntN(20), r.IntN(20), r.IntN(100))
			}
			pub := fmt.Sprintf("Vendor %d", r.IntN(200))
			row := fmt.Sprintf(`{"name":%q,"version":%q,"publisher":%q}`, name, ver, pub)
			rowsIns.rows = append(rowsIns.rows, []any{"software", pc, name, row, strings.ToLower(name + "\x1f" + ver + "\x1f" + pub), "r-" + pc, at})
			for _, cv := range [][2]string{{"name", name}, {"version", ver}, {"publisher", pub}} {
				valsIns.rows = append(valsIns.rows, []any{"software", cv[0], pc, name, strings.ToLower(cv[1]), store.SortKey(cv[1])})
				if t := [2]string{cv[0], cv[1]}; !terms[t] {
					terms[t] = true
					termIns.rows = append(termIns.rows, []any{"software", cv[0], strings.ToLower(cv[1]), store.SortKey(cv[1])})
					if len(termIns.rows) >= 200 {
						flush(termIns)
					}
				}
			}
			if len(rowsIns.rows) >= 100 {
				flush(rowsIns)
			}
			if len(valsIns.rows) >= 150 {
				flush(valsIns)
			}
		}
		srcIns.rows = append(srcIns.rows, []any{"software", pc, "r-" + pc, p + 1, at, 300, `["name","version","publisher"]`})
		if len(srcIns.rows) >= 100 {
			flush(srcIns)
		}
	}
	flush(rowsIns)
	flush(valsIns)
	flush(srcIns)
	flush(termIns)
}
