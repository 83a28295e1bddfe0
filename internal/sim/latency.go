package sim

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/agent/intake"
	"github.com/kanade-fleet/kanade/internal/agent/ledger"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// trackLedger is the agent's real (in-memory) ledger with a hook on
// admission: the moment a command is admitted is when it reached the
// agent, which is what delivery latency measures.
type trackLedger struct {
	*ledger.Ledger
	f *Fleet
}

func (l trackLedger) Admit(cmd wire.Command, resultID string, now time.Time) (bool, error) {
	ok, err := l.Ledger.Admit(cmd, resultID, now)
	if ok && err == nil {
		l.f.stats.admitted.Add(1)
		l.f.lat.admitted(cmd.ExecID, cmd.RequestID, time.Now())
	}
	return ok, err
}

// latencies pairs every admission with the JetStream store time of the
// command (read back with a direct get by the observer), so the figure is
// broker-stored → agent-admitted, independent of how the command was made.
type latencies struct {
	mu        sync.Mutex
	published map[string]time.Time   // request_id → JetStream timestamp
	admits    map[string][]time.Time // request_id → admission times
	byExec    map[string]map[string]bool
}

func newLatencies() *latencies {
	return &latencies{published: map[string]time.Time{}, admits: map[string][]time.Time{}, byExec: map[string]map[string]bool{}}
}

func (l *latencies) admitted(execID, requestID string, at time.Time) {
	l.mu.Lock()
	if l.byExec[execID] == nil {
		l.byExec[execID] = map[string]bool{}
	}
	l.byExec[execID][requestID] = true
	l.admits[requestID] = append(l.admits[requestID], at)
	l.mu.Unlock()
}

func (l *latencies) setPublished(requestID string, at time.Time) {
	l.mu.Lock()
	if _, ok := l.published[requestID]; !ok {
		l.published[requestID] = at
	}
	l.mu.Unlock()
}

// Percentiles summarises a set of durations.
type Percentiles struct {
	N                  int
	P50, P95, P99, Max time.Duration
}

func summarize(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration {
		i := int(math.Ceil(q*float64(len(ds)))) - 1
		return ds[max(0, min(i, len(ds)-1))]
	}
	return Percentiles{N: len(ds), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ds[len(ds)-1]}
}

// delivery returns latency percentiles over the given request_ids (all
// when none), counting only admissions whose publish time is known.
func (l *latencies) delivery(requestIDs ...string) Percentiles {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ds []time.Duration
	add := func(rid string) {
		pub, ok := l.published[rid]
		if !ok {
			return
		}
		for _, t := range l.admits[rid] {
			ds = append(ds, max(t.Sub(pub), 0))
		}
	}
	if len(requestIDs) == 0 {
		for rid := range l.admits {
			add(rid)
		}
	} else {
		for _, rid := range requestIDs {
			add(rid)
		}
	}
	return summarize(ds)
}

// observe watches commands.> on its own connection and, for every new
// request_id, reads the stored copy back with a direct get to learn its
// JetStream timestamp (Nats-Time-Stamp).
func (f *Fleet) observe(ctx context.Context) error {
	nc, err := f.connect("kanade-sim/observer", ObserverPC(f.cfg.Prefix))
	if err != nil {
		return err
	}
	f.observer = nc
	// With per-agent identities the observer is an agent identity: it sees
	// fleet-wide and group commands (what broadcasts use), not other PCs'.
	subjects := []string{bus.SubjCommandsAllFilter}
	if f.cfg.Identity != nil {
		subjects = []string{bus.SubjCommandsAll, bus.CommandsGroup("*")}
	}
	for _, subj := range subjects {
		if err := f.observeSubject(ctx, nc, subj); err != nil {
			return err
		}
	}
	return nil
}

// ObserverPC is the pc_id of the delivery observer's identity.
func ObserverPC(prefix string) string { return prefix + "-observer" }

func (f *Fleet) observeSubject(ctx context.Context, nc *nats.Conn, subject string) error {
	_, err := nc.Subscribe(subject, func(m *nats.Msg) {
		rid := m.Header.Get(nats.MsgIdHdr)
		if rid == "" {
			var c struct {
				RequestID string `json:"request_id"`
			}
			_ = json.Unmarshal(m.Data, &c)
			rid = c.RequestID
		}
		if rid == "" {
			return
		}
		seen := time.Now()
		go func() {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			sm, ok, err := intake.LastMsg(rctx, nc, bus.StreamExec, m.Subject)
			if err == nil && ok && sm.Header.Get(nats.MsgIdHdr) == rid {
				if ts, err := time.Parse(time.RFC3339Nano, sm.Header.Get("Nats-Time-Stamp")); err == nil {
					f.lat.setPublished(rid, ts)
					return
				}
			}
			f.lat.setPublished(rid, seen) // superseded or unreadable: the observer's receipt
		}()
	})
	if err != nil {
		return err
	}
	return nc.Flush()
}
