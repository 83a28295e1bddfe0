package api

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/cursor"
	"github.com/kanade-fleet/kanade/internal/store"
)

// synthResults is a list handler over n generated results (none held in
// memory), paged by cursor like the store's.
func synthResults(n int) http.HandlerFunc {
	at := time.Date(2027, 1, 5, 9, 0, 0, 0, time.UTC)
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := cursor.Parse(r)
		if err != nil {
			WriteError(w, 400, err.Error(), "cursor")
			return
		}
		start := p.Offset
		if p.After != nil {
			start, _ = strconv.Atoi(p.After[0])
			start++
		}
		end := min(start+p.Limit, n)
		rows := make([]apiv1.Result, 0, max(end-start, 0))
		for i := start; i < end; i++ {
			code := i % 2
			rows = append(rows, apiv1.Result{ResultID: fmt.Sprintf("r-%07d", i), ExecID: "e1", PCID: fmt.Sprintf("pc-%05d", i%10000),
				JobID: "inventory", Version: "1.0.0", ExitCode: &code, Status: "success", StartedAt: at, FinishedAt: &at, RecordedAt: at})
		}
		var next cursor.Key
		if end < n {
			next = cursor.Key{strconv.Itoa(end - 1)}
		}
		listed(w, r, store.Listing[apiv1.Result]{Rows: rows, Total: n, Next: next})
	}
}

// flushCounter discards the body and samples the heap at every flush.
type flushCounter struct {
	h               http.Header
	bytes, sinceMax int64
	since           int64
	flushes         int
	peakHeap        uint64
	gc              bool          // collect before sampling: the live heap, not garbage
	keep            *bytes.Buffer // nil: discard the body
}

func (f *flushCounter) Header() http.Header { return f.h }
func (f *flushCounter) WriteHeader(int)     {}
func (f *flushCounter) Write(b []byte) (int, error) {
	f.bytes += int64(len(b))
	f.since += int64(len(b))
	if f.keep != nil {
		f.keep.Write(b)
	}
	return len(b), nil
}
func (f *flushCounter) Flush() {
	f.flushes++
	f.sinceMax = max(f.sinceMax, f.since)
	f.since = 0
	if f.gc {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f.peakHeap = max(f.peakHeap, ms.HeapAlloc)
}

// TestCSVStreams: a 100 000-row export is written one page at a time and
// the live heap stays at about a page (~1 MiB), far below the export's
// size (~13 MiB).
func TestCSVStreams(t *testing.T) {
	const n = 100_000
	s := &Server{d: Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	w := &flushCounter{h: http.Header{}, gc: true}
	s.exportCSV(w, httptest.NewRequest("GET", "/api/results?format=csv", nil), reflect.TypeOf(apiv1.Result{}), synthResults(n))
	if w.flushes < n/cursor.MaxLimit {
		t.Errorf("%d flushes for %d rows, want one a page (%d)", w.flushes, n, n/cursor.MaxLimit)
	}
	grown := int64(w.peakHeap) - int64(base)
	t.Logf("%d rows, %d MiB of CSV, at most %d KiB between flushes, live heap grew at most %d KiB",
		n, w.bytes>>20, w.sinceMax>>10, grown>>10)
	if w.bytes < 10<<20 {
		t.Fatalf("export of %d bytes: the rows are not all there", w.bytes)
	}
	if w.sinceMax > 1<<20 {
		t.Errorf("%d bytes written between two flushes: not streamed a page at a time", w.sinceMax)
	}
	if grown > 4<<20 {
		t.Errorf("live heap grew by %d KiB during a %d MiB export: buffered", grown>>10, w.bytes>>20)
	}
}

func BenchmarkCSVExport100k(b *testing.B) {
	const n = 100_000
	s := &Server{d: Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	h := synthResults(n)
	row := reflect.TypeOf(apiv1.Result{})
	b.ReportAllocs()
	for b.Loop() {
		w := &flushCounter{h: http.Header{}}
		s.exportCSV(w, httptest.NewRequest("GET", "/api/results?format=csv", nil), row, h)
		b.ReportMetric(float64(w.bytes)/(1<<20), "MiB-csv")
		b.ReportMetric(float64(w.peakHeap)/(1<<20), "MiB-peak-heap")
	}
}

// TestCSVLimitAndTrailer: an export bounded by limit (not a multiple of
// the page) stops at it, and its X-Next-Cursor trailer continues exactly
// after the last row written, with nothing skipped or repeated.
func TestCSVLimitAndTrailer(t *testing.T) {
	const n = 4321
	s := &Server{d: Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	h := synthResults(n)
	row := reflect.TypeOf(apiv1.Result{})
	var ids []string
	next := ""
	for part := 0; ; part++ {
		u := "/api/results?format=csv&limit=1500"
		if next != "" {
			u += "&cursor=" + url.QueryEscape(next)
		}
		w := &flushCounter{h: http.Header{}, keep: &bytes.Buffer{}}
		s.exportCSV(w, httptest.NewRequest("GET", u, nil), row, h)
		recs, err := csv.NewReader(w.keep).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs[1:] {
			ids = append(ids, r[0])
		}
		next = w.h.Get(cursor.HeaderNext)
		if want := min(1500, n-part*1500); len(recs)-1 != want {
			t.Fatalf("part %d: %d rows, want %d", part, len(recs)-1, want)
		}
		if next == "" {
			break
		}
	}
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("r-%07d", i)
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("parts joined: %d rows, first %v", len(ids), ids[:min(5, len(ids))])
	}
}
