// Package health decides whether the backend is degraded (SPEC §17,
// "honest health"): a projector failing for longer than a threshold, the
// broker rejecting writes, the database failing its check, or no
// scheduler leader holding the lock for more than two TTLs. A Monitor
// probes in the background, so GET /api/health/fleet only reads memory
// (it must answer in < 20 ms), and counts each reason in /metrics.
package health

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/kanade-fleet/kanade/internal/metrics"
)

// Code names one kind of degradation (the reason label in /metrics).
type Code string

// The reasons of SPEC §17.
const (
	ProjectorFailing Code = "projector_failing"
	BrokerWrites     Code = "broker_writes"
	Database         Code = "database"
	LeaderMissing    Code = "leader_missing"
	// SigningKeyRetired: KV signing_keys no longer trusts the key this
	// replica signs with, so agents refuse its commands (exit 123).
	SigningKeyRetired Code = "signing_key_retired"
)

// Codes are every reason, in report order.
var Codes = []Code{BrokerWrites, Database, ProjectorFailing, LeaderMissing, SigningKeyRetired}

// Reason is one cause of degradation.
type Reason struct {
	Code Code
	// Subject is the projector (durable consumer) for ProjectorFailing.
	Subject string
	Message string
	Since   time.Time
}

// Projector is what the monitor reads of one projector (projector.Status).
type Projector struct {
	Consumer     string
	LastSuccess  time.Time
	FailingSince time.Time
	LastError    string
	// DBCorrupt: the last failure says the database file is damaged.
	DBCorrupt bool
}

// Leader is the election the scheduler runs under (*leader.Elector).
type Leader interface {
	LastHeld() time.Time
	TTL() time.Duration
}

// Sources are the parts the monitor watches; any may be nil.
type Sources struct {
	Projectors func() []Projector
	// WriteProbe writes to the broker's file storage (kv.Store.ProbeWrite).
	WriteProbe func(ctx context.Context) error
	// DBProbe is a cheap database round trip (store.DB.Probe).
	DBProbe func(ctx context.Context) error
	// SigningKeyProbe fails while the fleet's key chain does not trust
	// the replica's signing key (kv.SigningKeys.CheckTrusted).
	SigningKeyProbe func(ctx context.Context) error
	Leader          Leader
	// Heal is called after every failed write probe with its error and
	// the failures in a row (the embedded broker restarts a stuck
	// JetStream once space is back).
	Heal func(ctx context.Context, probeErr error, failures int)
	// Detail adds context to a broker-writes reason (free disk space).
	Detail func() string
}

// Options are the thresholds (zero = the default).
type Options struct {
	// ProjectorFailing is how long a projector may fail before health is
	// degraded (default 60 s).
	ProjectorFailing time.Duration
	// LeaderMissingTTLs is how many lock TTLs may pass without a leader
	// (default 2).
	LeaderMissingTTLs int
	// ProbeInterval is how often the broker and the database are probed
	// (default 5 s); ProbeTimeout bounds each probe (default 3 s).
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
}

func (o Options) withDefaults() Options {
	if o.ProjectorFailing <= 0 {
		o.ProjectorFailing = 60 * time.Second
	}
	if o.LeaderMissingTTLs <= 0 {
		o.LeaderMissingTTLs = 2
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = 5 * time.Second
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = 3 * time.Second
	}
	return o
}

// Monitor keeps the probes' results and derives the reasons.
type Monitor struct {
	src     Sources
	opts    Options
	metrics *metrics.Registry
	log     *slog.Logger

	mu     sync.Mutex
	writes probe
	db     probe
	key    probe
	active map[string]bool
}

type probe struct {
	failingSince time.Time
	err          string
	failures     int // consecutive
}

func (p *probe) record(now time.Time, err error) {
	if err == nil {
		*p = probe{}
		return
	}
	if p.failingSince.IsZero() {
		p.failingSince = now
	}
	p.err = err.Error()
	p.failures++
}

// New returns a monitor; Run starts its probes.
func New(src Sources, o Options, reg *metrics.Registry, log *slog.Logger) *Monitor {
	if reg == nil {
		reg = metrics.Default
	}
	if log == nil {
		log = slog.Default()
	}
	m := &Monitor{src: src, opts: o.withDefaults(), metrics: reg, log: log, active: map[string]bool{}}
	for _, c := range Codes {
		reg.Set("kanade_health_degraded", "1 while the backend is degraded for this reason (SPEC §17).", 0, "reason", string(c))
	}
	return m
}

// Options are the monitor's effective thresholds.
func (m *Monitor) Options() Options { return m.opts }

// DatabaseRebuilt counts a damaged database moved aside at start (the
// database in use passed its check; the log says where the file went).
func (m *Monitor) DatabaseRebuilt() {
	m.metrics.Add("kanade_db_rebuilds_total", "Damaged databases moved aside and rebuilt from the streams at start.", 1)
}

// Run probes until ctx ends; the first round runs at once.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.opts.ProbeInterval)
	defer t.Stop()
	for {
		m.Probe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Probe runs one round of probes and updates the metrics.
func (m *Monitor) Probe(ctx context.Context) {
	if m.src.WriteProbe != nil {
		pctx, cancel := context.WithTimeout(ctx, m.opts.ProbeTimeout)
		err := m.src.WriteProbe(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		m.mu.Lock()
		was := m.writes.failures
		m.writes.record(time.Now(), err)
		failures := m.writes.failures
		m.mu.Unlock()
		if err != nil {
			m.metrics.Add("kanade_broker_write_failures_total", "Failed broker write probes.", 1)
			if was == 0 {
				m.log.Error("the broker rejects writes", "error", err)
			}
			if m.src.Heal != nil {
				m.src.Heal(ctx, err, failures)
			}
		} else if was > 0 {
			m.log.Info("the broker takes writes again", "after_failures", was)
		}
	}
	if m.src.DBProbe != nil {
		pctx, cancel := context.WithTimeout(ctx, m.opts.ProbeTimeout)
		err := m.src.DBProbe(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		m.mu.Lock()
		m.db.record(time.Now(), err)
		m.mu.Unlock()
	}
	if m.src.SigningKeyProbe != nil {
		pctx, cancel := context.WithTimeout(ctx, m.opts.ProbeTimeout)
		err := m.src.SigningKeyProbe(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		m.mu.Lock()
		was := m.key.failures
		m.key.record(time.Now(), err)
		m.mu.Unlock()
		if err != nil && was == 0 {
			m.log.Error("agents refuse this replica's commands: its signing key was retired; restart it with an active key", "error", err)
		}
	}
	m.Reasons(time.Now()) // refreshes the gauges
}

// WritesRejected reports whether the broker's last write probe failed, and
// the reason's message (for 503 answers on write routes).
func (m *Monitor) WritesRejected() (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.writes.failures == 0 {
		return "", false
	}
	return m.writesMessage(), true
}

func (m *Monitor) writesMessage() string {
	msg := "the broker rejects writes: " + m.writes.err
	if m.src.Detail != nil {
		if d := m.src.Detail(); d != "" {
			msg += " (" + d + ")"
		}
	}
	return msg
}

// Reasons are the current causes of degradation (nil = healthy), sorted
// by code then subject; it also refreshes the health gauges.
func (m *Monitor) Reasons(now time.Time) []Reason {
	var out []Reason
	m.mu.Lock()
	if m.writes.failures > 0 {
		out = append(out, Reason{Code: BrokerWrites, Message: m.writesMessage(), Since: m.writes.failingSince})
	}
	if m.db.failures > 0 {
		out = append(out, Reason{Code: Database, Message: "the database check fails: " + m.db.err, Since: m.db.failingSince})
	}
	if m.key.failures > 0 {
		out = append(out, Reason{Code: SigningKeyRetired, Since: m.key.failingSince,
			Message: "agents refuse this replica's commands (exit 123): " + m.key.err + "; restart it with an active key (kanade-backend signing-key)"})
	}
	m.mu.Unlock()
	corrupt := false
	if m.src.Projectors != nil {
		for _, p := range m.src.Projectors() {
			m.metrics.Set("kanade_projector_failing_seconds", "How long a projector has been failing (0 = healthy).",
				secondsSince(now, p.FailingSince), "consumer", p.Consumer)
			if !p.LastSuccess.IsZero() {
				m.metrics.Set("kanade_projector_last_success_timestamp_seconds", "When a projector last applied a batch (unix time).",
					float64(p.LastSuccess.UnixNano())/1e9, "consumer", p.Consumer)
			}
			if p.DBCorrupt && !p.FailingSince.IsZero() && !corrupt {
				corrupt = true
				out = append(out, Reason{Code: Database, Subject: p.Consumer, Since: p.FailingSince,
					Message: "the database file is damaged (" + p.LastError + "); restart the backend to rebuild it from the streams"})
			}
			if p.FailingSince.IsZero() || now.Sub(p.FailingSince) <= m.opts.ProjectorFailing {
				continue
			}
			out = append(out, Reason{Code: ProjectorFailing, Subject: p.Consumer, Since: p.FailingSince,
				Message: fmt.Sprintf("projector %s failing for %s: %s", p.Consumer, now.Sub(p.FailingSince).Round(time.Second), p.LastError)})
		}
	}
	if m.src.Leader != nil {
		last, ttl := m.src.Leader.LastHeld(), m.src.Leader.TTL()
		missing := now.Sub(last)
		m.metrics.Set("kanade_leader_missing_seconds", "How long no scheduler leader has been seen holding the lock.", max(0, missing.Seconds()-ttl.Seconds()))
		if missing > time.Duration(m.opts.LeaderMissingTTLs)*ttl {
			out = append(out, Reason{Code: LeaderMissing, Since: last,
				Message: fmt.Sprintf("no scheduler leader has held the lock for %s (TTL %s): schedules and waves are not fired", missing.Round(time.Second), ttl)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Code != out[j].Code {
			return order(out[i].Code) < order(out[j].Code)
		}
		return out[i].Subject < out[j].Subject
	})
	m.gauges(out)
	return out
}

func (m *Monitor) gauges(rs []Reason) {
	now := map[string]bool{}
	for _, r := range rs {
		now[string(r.Code)] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range Codes {
		on := now[string(c)]
		if on && !m.active[string(c)] {
			m.metrics.Add("kanade_health_degraded_total", "Times the backend became degraded, per reason.", 1, "reason", string(c))
		}
		v := 0.0
		if on {
			v = 1
		}
		m.metrics.Set("kanade_health_degraded", "1 while the backend is degraded for this reason (SPEC §17).", v, "reason", string(c))
		m.active[string(c)] = on
	}
}

func order(c Code) int {
	for i, x := range Codes {
		if x == c {
			return i
		}
	}
	return len(Codes)
}

func secondsSince(now, t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return max(0, now.Sub(t).Seconds())
}
