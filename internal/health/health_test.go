package health

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/metrics"
)

type fakeLeader struct {
	mu   sync.Mutex
	last time.Time
}

func (l *fakeLeader) LastHeld() time.Time { l.mu.Lock(); defer l.mu.Unlock(); return l.last }
func (l *fakeLeader) TTL() time.Duration  { return 15 * time.Second }

func codes(rs []Reason) string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r.Code)+":"+r.Subject)
	}
	return strings.Join(out, ",")
}

func TestReasonsAndThresholds(t *testing.T) {
	now := time.Now()
	var projectors []Projector
	probeErr := errors.New("no space left on device")
	var writes error
	var mu sync.Mutex
	lead := &fakeLeader{last: now}
	reg := metrics.New()
	m := New(Sources{
		Projectors: func() []Projector { mu.Lock(); defer mu.Unlock(); return projectors },
		WriteProbe: func(context.Context) error { mu.Lock(); defer mu.Unlock(); return writes },
		Leader:     lead,
	}, Options{ProjectorFailing: 10 * time.Second}, reg, nil)

	if rs := m.Reasons(now); len(rs) != 0 {
		t.Fatalf("healthy: %v", rs)
	}
	mu.Lock()
	projectors = []Projector{
		{Consumer: "young", FailingSince: now.Add(-5 * time.Second), LastError: "x"},
		{Consumer: "old", FailingSince: now.Add(-11 * time.Second), LastError: "disk I/O error"},
		{Consumer: "fine", LastSuccess: now},
	}
	writes = probeErr
	mu.Unlock()
	lead.mu.Lock()
	lead.last = now.Add(-31 * time.Second) // > 2 TTLs
	lead.mu.Unlock()
	m.Probe(context.Background())
	rs := m.Reasons(now)
	if got := codes(rs); got != "broker_writes:,projector_failing:old,leader_missing:" {
		t.Fatalf("reasons: %s", got)
	}
	if msg, bad := m.WritesRejected(); !bad || !strings.Contains(msg, "no space left") {
		t.Fatalf("writes rejected: %q %v", msg, bad)
	}
	var buf bytes.Buffer
	reg.Write(&buf)
	for _, want := range []string{`kanade_health_degraded{reason="broker_writes"} 1`, `kanade_health_degraded{reason="database"} 0`,
		`kanade_health_degraded_total{reason="leader_missing"} 1`, `kanade_projector_failing_seconds{consumer="old"} 11`,
		`kanade_broker_write_failures_total 1`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, buf.String())
		}
	}

	// Recovery clears every reason.
	mu.Lock()
	projectors, writes = nil, nil
	mu.Unlock()
	lead.mu.Lock()
	lead.last = now
	lead.mu.Unlock()
	m.Probe(context.Background())
	if rs := m.Reasons(now); len(rs) != 0 {
		t.Fatalf("after recovery: %v", rs)
	}
	if _, bad := m.WritesRejected(); bad {
		t.Fatal("writes still rejected")
	}
}

// A projector failing on a damaged database file is a database reason at
// once (a restart rebuilds it), not only after the projector threshold.
func TestCorruptionIsADatabaseReason(t *testing.T) {
	now := time.Now()
	m := New(Sources{Projectors: func() []Projector {
		return []Projector{{Consumer: "backend_results_projector", FailingSince: now.Add(-time.Second), LastError: "database disk image is malformed", DBCorrupt: true}}
	}}, Options{}, metrics.New(), nil)
	rs := m.Reasons(now)
	if len(rs) != 1 || rs[0].Code != Database || !strings.Contains(rs[0].Message, "restart") {
		t.Fatalf("reasons: %+v", rs)
	}
}
