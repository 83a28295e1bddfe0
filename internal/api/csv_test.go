package api_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/cursor"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// getCSV asks for path (with its query) with the given Accept header and
// parses the answer with encoding/csv.
func getCSV(t *testing.T, b *server.Server, path, accept string) (http.Header, [][]string) {
	t.Helper()
	req, err := http.NewRequest("GET", b.HTTPURL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s (Accept %q): %d %s", path, accept, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="`) || !strings.HasSuffix(cd, `.csv"`) {
		t.Errorf("GET %s: Content-Disposition %q", path, cd)
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatalf("GET %s: not CSV: %v", path, err)
	}
	return resp.Header, recs
}

// wantCell is a JSON value as the CSV promises it (docs/operations.md, "Exporting lists as CSV").
func wantCell(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return string(raw)
	}
	if s != "" && strings.ContainsAny(s[:1], "=+-@\t\r") {
		return "'" + s
	}
	return s
}

// csvLists are the GET list endpoints (List, or an array of objects) with
// their paths filled in from params; a path parameter not in params
// leaves the endpoint out (logged).
func csvLists(t *testing.T, params map[string]string) []apiv1.Endpoint {
	var out []apiv1.Endpoint
	for _, e := range apiv1.Endpoints {
		if e.Method != "GET" || e.Resp == nil {
			continue
		}
		rt := reflect.TypeOf(e.Resp)
		if !e.List && (rt.Kind() != reflect.Slice || (rt.Elem().Kind() != reflect.Struct && rt.Elem().Kind() != reflect.Map)) {
			continue
		}
		path, ok := e.Path, true
		for strings.Contains(path, "{") {
			i, j := strings.Index(path, "{"), strings.Index(path, "}")
			v, known := params[path[i+1:j]]
			if !known {
				t.Logf("%s: no value for %s, not checked", e.Path, path[i:j+1])
				ok = false
				break
			}
			path = path[:i] + v + path[j+1:]
		}
		if ok {
			e.Path = path
			out = append(out, e)
		}
	}
	return out
}

// TestCSVEveryList: every list endpoint answers ?format=csv and
// Accept: text/csv with the rows of the JSON list, all pages of them, in
// the same order, one column per JSON key.
func TestCSVEveryList(t *testing.T) {
	b := testenv.Backend(t, nil)
	seedEveryList(t, b)
	ctx := context.Background()
	// A hostile hostname: spreadsheets must not run it.
	if err := b.DB.UpsertHeartbeats(ctx, []store.Heartbeat{{Heartbeat: wire.Heartbeat{PCID: "pc-evil",
		Hostname: `=HYPERLINK("http://x","y")`, OSFamily: "linux", AgentVersion: "1.0"}, ReceivedAt: time.Now().UTC()}}); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range csvLists(t, map[string]string{"table": "software", "pc_id": "pc-1"}) {
		probe := call(t, b, "GET", e.Path, "", nil)
		if probe.status != 200 {
			t.Logf("%s: %d (not served by this backend), skipped", e.Path, probe.status)
			continue
		}
		var rows []map[string]json.RawMessage
		for _, raw := range walkAPI(t, b, e.Path, 2) {
			var m map[string]json.RawMessage
			if err := json.Unmarshal([]byte(raw), &m); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, m)
		}
		sep := "?"
		if strings.Contains(e.Path, "?") {
			sep = "&"
		}
		for _, how := range []struct{ path, accept string }{
			{e.Path + sep + "format=csv", ""},
			{e.Path, "text/csv"},
			{e.Path, "text/csv, application/json;q=0.5"},
		} {
			hdr, recs := getCSV(t, b, how.path, how.accept)
			if len(recs) == 0 {
				if rt := reflect.TypeOf(e.Resp); len(rows) == 0 && (rt.Kind() == reflect.Map || rt.Kind() == reflect.Slice && rt.Elem().Kind() == reflect.Map) {
					continue // rows without a type, and none: no columns to name
				}
				t.Fatalf("%s: no header row", how.path)
			}
			head := recs[0]
			for _, row := range rows {
				for k := range row {
					if !slices.Contains(head, k) {
						t.Errorf("%s: JSON key %q is not a CSV column %v", how.path, k, head)
					}
				}
			}
			if len(recs)-1 != len(rows) {
				t.Errorf("%s (Accept %q): %d CSV rows, %d JSON rows", how.path, how.accept, len(recs)-1, len(rows))
				continue
			}
			for i, row := range rows {
				for c, name := range head {
					if got, want := recs[i+1][c], wantCell(row[name]); got != want {
						t.Errorf("%s row %d column %s: CSV %q, JSON %s", how.path, i, name, got, row[name])
					}
				}
			}
			if tot := probe.hdr.Get(cursor.HeaderTotal); tot != "" && hdr.Get(cursor.HeaderTotal) != tot {
				t.Errorf("%s: X-Total-Count %q, JSON %q", how.path, hdr.Get(cursor.HeaderTotal), tot)
			}
		}
		checked++
		t.Logf("%s: %d rows as CSV", e.Path, len(rows))
	}
	if checked < 8 {
		t.Errorf("only %d list endpoints checked", checked)
	}

	// The hostile hostname is defused; filters apply to the CSV.
	_, recs := getCSV(t, b, "/api/agents?format=csv&q=pc-evil", "")
	col := slices.Index(recs[0], "hostname")
	if len(recs) != 2 || col < 0 || recs[1][col] != `'=HYPERLINK("http://x","y")` {
		t.Errorf("filtered agents CSV: %q", recs)
	}
}

func TestCSVRequestRules(t *testing.T) {
	b := testenv.Backend(t, func(c *server.Config) { c.CSVMaxRows = 20 })
	ctx := context.Background()
	now := time.Now().UTC()
	var rs []store.Result
	for i := range 25 {
		rs = append(rs, store.Result{ExecResult: wire.ExecResult{ResultID: fmt.Sprintf("r-%02d", i), RequestID: "q", ExecID: "e1",
			PCID: fmt.Sprintf("pc-%d", i%3), ManifestID: "job1", Version: "1", ExitCode: i % 2, StartedAt: now, FinishedAt: now},
			RecordedAt: now.Add(-time.Duration(i) * time.Second)})
	}
	if _, err := b.DB.ApplyResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	// format decides; Accept only when format is absent.
	for _, c := range []struct {
		path, accept string
		csv          bool
	}{
		{"/api/results?format=json", "text/csv", false},
		{"/api/results?format=csv", "application/json", true},
		{"/api/results", "application/json, text/csv;q=0.9", false},
		{"/api/results", "*/*", false},
		{"/api/results", "", false},
	} {
		sep := "?"
		if strings.Contains(c.path, "?") {
			sep = "&"
		}
		req, _ := http.NewRequest("GET", b.HTTPURL()+c.path+sep+"limit=5&status=failure", nil)
		if c.accept != "" {
			req.Header.Set("Accept", c.accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv"); got != c.csv || resp.StatusCode != 200 {
			t.Errorf("%s Accept %q: %d %s, want csv=%v", c.path, c.accept, resp.StatusCode, resp.Header.Get("Content-Type"), c.csv)
		}
	}
	if f := must(t, call(t, b, "GET", "/api/results?format=xml", "", nil), 400).field(t); f != "format" {
		t.Errorf("format=xml: field %q", f)
	}
	// A bad filter is the JSON error, CSV or not.
	if f := must(t, call(t, b, "GET", "/api/results?format=csv&status=nope", "", nil), 400).field(t); f != "status" {
		t.Errorf("bad status: field %q", f)
	}
	// Over the cap: refused before anything is written, naming limit.
	if f := must(t, call(t, b, "GET", "/api/results?format=csv", "", nil), 413).field(t); f != "limit" {
		t.Errorf("over the cap: field %q", f)
	}
	// Under it, filtered: the whole filtered list (12 failures), not a page.
	_, recs := getCSV(t, b, "/api/results?format=csv&status=failure", "")
	if len(recs) != 1+12 {
		t.Errorf("failures as CSV: %d records, want header + 12", len(recs))
	}
	// limit bounds the export; the trailer continues it, as CSV or JSON.
	resp, err := http.Get(b.HTTPURL() + "/api/results?format=csv&limit=7")
	if err != nil {
		t.Fatal(err)
	}
	first, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	next := resp.Trailer.Get(cursor.HeaderNext)
	if err != nil || len(first) != 8 || next == "" {
		t.Fatalf("limit=7: %d records, trailer %q, %v", len(first), next, err)
	}
	_, rest := getCSV(t, b, "/api/results?format=csv&limit=100&cursor="+next, "")
	var ids []string
	idCol := slices.Index(first[0], "result_id")
	for _, r := range append(first[1:], rest[1:]...) {
		ids = append(ids, r[idCol])
	}
	// The same rows, in the same order, as the JSON list.
	var jsonIDs []string
	for _, raw := range walkAPI(t, b, "/api/results", 1000) {
		var r apiv1.Result
		_ = json.Unmarshal([]byte(raw), &r)
		jsonIDs = append(jsonIDs, r.ResultID)
	}
	if !slices.Equal(ids, jsonIDs) {
		t.Errorf("CSV ids %v, JSON %v", ids, jsonIDs)
	}
}

// BenchmarkCSVExportSQLite: GET /api/results?format=csv of 100 000 results
// from a real SQLite backend over HTTP (docs/benchmarks.md, "CSV export").
// The heap is sampled every 5 ms while the export runs (the backend is in
// this process).
func BenchmarkCSVExportSQLite(b *testing.B) {
	const n = 100_000
	be := testenv.Backend(b, nil)
	ctx := context.Background()
	at := time.Date(2027, 1, 5, 9, 0, 0, 0, time.UTC)
	for start := 0; start < n; start += 5000 {
		var rs []store.Result
		for i := start; i < start+5000; i++ {
			rs = append(rs, store.Result{ExecResult: wire.ExecResult{ResultID: fmt.Sprintf("r-%07d", i), RequestID: "q", ExecID: "e1",
				PCID: fmt.Sprintf("pc-%05d", i%10000), ManifestID: "inventory", Version: "1.0.0", ExitCode: i % 2, Stdout: "ok",
				StartedAt: at, FinishedAt: at}, RecordedAt: at.Add(time.Duration(i) * time.Millisecond)})
		}
		if _, err := be.DB.ApplyResults(ctx, rs); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		var peak uint64
		stop := make(chan struct{})
		done := make(chan struct{})
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		go func() {
			defer close(done)
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapAlloc)
				}
			}
		}()
		resp, err := http.Get(be.HTTPURL() + "/api/results?format=csv")
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		rd := csv.NewReader(resp.Body)
		for {
			if _, err := rd.Read(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
			rows++
		}
		resp.Body.Close()
		close(stop)
		<-done
		if rows != n+1 {
			b.Fatalf("%d records", rows)
		}
		b.ReportMetric(float64(peak-min(peak, base))/(1<<20), "MiB-heap-growth")
	}
}
