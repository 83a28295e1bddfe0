// Package metrics is a minimal Prometheus text-format registry: counters,
// gauges and histograms with one label set each. The backend needs a handful
// of series; client_golang would bring far more than that.
package metrics

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds metric families.
type Registry struct {
	mu       sync.Mutex
	families map[string]*family
	gaugeFns map[string]func() float64
	help     map[string]string
}

type family struct {
	kind    string // counter | gauge | histogram
	buckets []float64
	series  map[string]*series // label string → series
}

type series struct {
	val    atomic.Uint64 // float64 bits for counter/gauge
	mu     sync.Mutex
	counts []uint64
	sum    float64
	n      uint64
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{families: map[string]*family{}, gaugeFns: map[string]func() float64{}, help: map[string]string{}}
}

// Default is the process-wide registry.
var Default = New()

func labels(kv []string) string {
	if len(kv) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", kv[i], kv[i+1])
	}
	b.WriteByte('}')
	return b.String()
}

func (r *Registry) get(name, kind, help string, buckets []float64, kv []string) *series {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.families[name]
	if f == nil {
		f = &family{kind: kind, buckets: buckets, series: map[string]*series{}}
		r.families[name] = f
		r.help[name] = help
	}
	l := labels(kv)
	s := f.series[l]
	if s == nil {
		s = &series{counts: make([]uint64, len(f.buckets))}
		f.series[l] = s
	}
	return s
}

func addFloat(a *atomic.Uint64, d float64) {
	for {
		old := a.Load()
		if a.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// Add increments a counter.
func (r *Registry) Add(name, help string, d float64, kv ...string) {
	addFloat(&r.get(name, "counter", help, nil, kv).val, d)
}

// Set sets a gauge.
func (r *Registry) Set(name, help string, v float64, kv ...string) {
	r.get(name, "gauge", help, nil, kv).val.Store(math.Float64bits(v))
}

// GaugeFunc registers a gauge computed at scrape time.
func (r *Registry) GaugeFunc(name, help string, fn func() float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gaugeFns[name] = fn
	r.help[name] = help
}

// DefaultBuckets suit latencies in seconds.
var DefaultBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// SizeBuckets suit batch sizes.
var SizeBuckets = []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000}

// Observe records a histogram sample.
func (r *Registry) Observe(name, help string, buckets []float64, v float64, kv ...string) {
	s := r.get(name, "histogram", help, buckets, kv)
	s.mu.Lock()
	for i, b := range buckets {
		if v <= b {
			s.counts[i]++
		}
	}
	s.sum += v
	s.n++
	s.mu.Unlock()
}

// Write renders the text exposition format.
func (r *Registry) Write(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.families)+len(r.gaugeFns))
	for n := range r.families {
		names = append(names, n)
	}
	for n := range r.gaugeFns {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if fn, ok := r.gaugeFns[name]; ok {
			fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, r.help[name], name, name, fn())
			continue
		}
		f := r.families[name]
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, r.help[name], name, f.kind)
		keys := make([]string, 0, len(f.series))
		for k := range f.series {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, l := range keys {
			s := f.series[l]
			if f.kind != "histogram" {
				fmt.Fprintf(w, "%s%s %g\n", name, l, math.Float64frombits(s.val.Load()))
				continue
			}
			s.mu.Lock()
			inner := strings.TrimSuffix(strings.TrimPrefix(l, "{"), "}")
			sep := ""
			if inner != "" {
				sep = ","
			}
			for i, b := range f.buckets {
				fmt.Fprintf(w, "%s_bucket{%s%sle=\"%g\"} %d\n", name, inner, sep, b, s.counts[i])
			}
			fmt.Fprintf(w, "%s_bucket{%s%sle=\"+Inf\"} %d\n%s_sum%s %g\n%s_count%s %d\n", name, inner, sep, s.n, name, l, s.sum, name, l, s.n)
			s.mu.Unlock()
		}
	}
}

// Handler serves the registry.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		r.Write(w)
	})
}
