// Package metrics is the backend's Prometheus registry. It keeps the call
// sites small (Add/Set/Observe by family name and label pairs, families
// created on first use) on top of the Prometheus Go client, which brings the
// exposition format, the Go runtime and process collectors and promhttp.
package metrics

import (
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// Registry holds metric families.
type Registry struct {
	reg *prometheus.Registry

	mu       sync.Mutex
	counters map[string]*prometheus.CounterVec
	gauges   map[string]*prometheus.GaugeVec
	hists    map[string]*prometheus.HistogramVec
	labels   map[string][]string // family → its label names, fixed by the first use
	misuse   prometheus.Counter
}

// New returns a registry with the Go runtime and process collectors.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry(),
		counters: map[string]*prometheus.CounterVec{}, gauges: map[string]*prometheus.GaugeVec{},
		hists: map[string]*prometheus.HistogramVec{}, labels: map[string][]string{}}
	r.misuse = prometheus.NewCounter(prometheus.CounterOpts{Name: "kanade_metrics_misuse_total",
		Help: "Samples dropped because a family was used with other labels or another type (a bug)."})
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), r.misuse)
	return r
}

// Default is the process-wide registry.
var Default = New()

// split turns label pairs into names and values.
func split(kv []string) (names, values []string) {
	for i := 0; i+1 < len(kv); i += 2 {
		names = append(names, kv[i])
		values = append(values, kv[i+1])
	}
	return names, values
}

// sameLabels reports whether a family is used with the label names it was
// created with (the client checks only their number). Callers hold r.mu.
func (r *Registry) sameLabels(name string, names []string) bool {
	if have, ok := r.labels[name]; ok {
		return slices.Equal(have, names)
	}
	r.labels[name] = names
	return true
}

// register adds c, or reports false when the name is taken by another
// family (a type clash): the caller drops and counts the sample, never a
// panic in the middle of a request.
func (r *Registry) register(name string, c prometheus.Collector) bool {
	if err := r.reg.Register(c); err != nil {
		slog.Default().Error("metrics: cannot register family", "name", name, "error", err)
		return false
	}
	return true
}

// vecOf returns the family's vector, created and registered on first use
// (mk), or false when the family cannot take these label names (used
// before with others, or its name taken by another type). Each sample of a
// misused family is dropped and counted.
func vecOf[V prometheus.Collector](r *Registry, vecs map[string]V, name string, names []string, mk func() V) (V, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var none V
	if !r.sameLabels(name, names) {
		r.misuse.Inc()
		return none, false
	}
	v, ok := vecs[name]
	if !ok {
		v = mk()
		if !r.register(name, v) {
			v = none
		}
		vecs[name] = v
	}
	if any(v) == any(none) {
		r.misuse.Inc()
		return none, false
	}
	return v, true
}

// Add increments a counter.
func (r *Registry) Add(name, help string, d float64, kv ...string) {
	names, values := split(kv)
	v, ok := vecOf(r, r.counters, name, names, func() *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, names)
	})
	if !ok {
		return
	}
	if c, err := v.GetMetricWithLabelValues(values...); err == nil {
		c.Add(d)
	} else {
		r.misuse.Inc()
	}
}

// Set sets a gauge.
func (r *Registry) Set(name, help string, val float64, kv ...string) {
	names, values := split(kv)
	v, ok := vecOf(r, r.gauges, name, names, func() *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, names)
	})
	if !ok {
		return
	}
	if g, err := v.GetMetricWithLabelValues(values...); err == nil {
		g.Set(val)
	} else {
		r.misuse.Inc()
	}
}

// GaugeFunc registers a gauge computed at scrape time.
func (r *Registry) GaugeFunc(name, help string, fn func() float64) {
	r.Collect(name, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

// Collect registers a collector computed at scrape time (fleet counts read
// from the database, say).
func (r *Registry) Collect(name string, c prometheus.Collector) {
	if !r.register(name, c) {
		r.misuse.Inc()
	}
}

// DefaultBuckets suit latencies in seconds.
var DefaultBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// SizeBuckets suit batch sizes.
var SizeBuckets = []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000}

// Observe records a histogram sample. The first call of a family fixes its
// buckets.
func (r *Registry) Observe(name, help string, buckets []float64, val float64, kv ...string) {
	names, values := split(kv)
	v, ok := vecOf(r, r.hists, name, names, func() *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, names)
	})
	if !ok {
		return
	}
	if h, err := v.GetMetricWithLabelValues(values...); err == nil {
		h.Observe(val)
	} else {
		r.misuse.Inc()
	}
}

// Write renders the text exposition format (tests and debugging).
func (r *Registry) Write(w io.Writer) {
	mfs, err := r.reg.Gather()
	if err != nil {
		slog.Default().Error("metrics: gather", "error", err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return
		}
	}
}

// Handler serves the registry (content negotiation, gzip: promhttp).
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Value is the current value of one series (a counter or gauge; a
// histogram's sample count), matched on all its labels in any order; ok is
// false when the series does not exist. For tests and health checks.
func (r *Registry) Value(name string, kv ...string) (v float64, ok bool) {
	mfs, _ := r.reg.Gather()
	want := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		want[kv[i]] = kv[i+1]
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(want) {
				continue
			}
			for _, l := range m.GetLabel() {
				if w, has := want[l.GetName()]; !has || w != l.GetValue() {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}
