package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// ResultSet is a synthetic result history: N results over Execs
// executions, one result per PC per execution (so N/Execs PCs, named like
// the simulated agents), FailRatio of them exit 1.
type ResultSet struct {
	N, Execs  int
	Prefix    string
	FailRatio float64
	At        time.Time // started/finished time of every result
	// OrderedIDs makes result_ids time-ordered (like UUIDv7) instead of
	// random (UUIDv4, what agents mint today).
	OrderedIDs bool
}

func (s ResultSet) execID(e int) string { return fmt.Sprintf("sim-exec-%04d", e) }

// RequestID of execution e (one broadcast command per execution).
func (s ResultSet) RequestID(e int) string { return fmt.Sprintf("sim-req-%04d", e) }

// ExecID of execution e.
func (s ResultSet) ExecID(e int) string { return s.execID(e) }

// PCs is the number of distinct PCs.
func (s ResultSet) PCs() int { return (s.N + s.Execs - 1) / s.Execs }

// mix is splitmix64: result_ids look random (like the agents' UUIDs), so
// inserts hit the primary key index the way real traffic does.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Result i of the set.
func (s ResultSet) Result(i int) wire.ExecResult {
	e := i % s.Execs
	h := mix(uint64(i))
	code := 0
	if float64(h%10000)/10000 < s.FailRatio {
		code = 1
	}
	id := fmt.Sprintf("%016x-%08d", h, i)
	if s.OrderedIDs {
		id = fmt.Sprintf("%08d-%016x", i, h)
	}
	return wire.ExecResult{ResultID: id, RequestID: s.RequestID(e), ExecID: s.execID(e),
		PCID: PCID(s.Prefix, i/s.Execs), ManifestID: "sim-history", Version: "1.0.0", ExitCode: code,
		Stdout: "kanade-sim history row: cleanup done, 42 files removed\n", StartedAt: s.At, FinishedAt: s.At}
}

// Publish sends results [0, N) to RESULTS with async publishes and waits
// for every PubAck.
func (s ResultSet) Publish(ctx context.Context, js jetstream.JetStream) error {
	const window = 4096
	var futs []jetstream.PubAckFuture
	wait := func() error {
		for _, f := range futs {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return fmt.Errorf("preload publish: %w", err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		futs = futs[:0]
		return nil
	}
	for i := range s.N {
		r := s.Result(i)
		data, _ := json.Marshal(r)
		f, err := js.PublishAsync(bus.ResultFrom(r.PCID, r.RequestID), data, jetstream.WithMsgID("result-"+r.ResultID))
		if err != nil {
			return fmt.Errorf("preload publish: %w", err)
		}
		futs = append(futs, f)
		if len(futs) == window {
			if err := wait(); err != nil {
				return err
			}
		}
	}
	return wait()
}

// CreateExecutions inserts the parent executions rows (the API would have
// made them before publishing).
func (s ResultSet) CreateExecutions(ctx context.Context, db *store.DB) error {
	per := s.N / s.Execs
	for e := range s.Execs {
		n := per
		if e < s.N%s.Execs {
			n++
		}
		if err := db.CreateExecution(ctx, apiv1.Execution{ExecID: s.execID(e), JobID: "sim-history", Version: "1.0.0",
			InitiatedBy: "kanade-sim", InitiatedAt: s.At, TargetCount: n}); err != nil {
			return err
		}
	}
	return nil
}

// RawInsert is the physical ceiling the projector is compared with: the
// same rows inserted into the same schema, 1000 per transaction, prepared
// statement, no broker (as internal/projector BenchmarkRawBatchedInsert).
func (s ResultSet) RawInsert(ctx context.Context, db *store.DB, n int) (time.Duration, error) {
	start := time.Now()
	rs := make([]store.Result, 0, 1000)
	for lo := 0; lo < n; lo += 1000 {
		rs = rs[:0]
		for i := lo; i < min(lo+1000, n); i++ {
			r := s.Result(i)
			rs = append(rs, store.Result{ExecResult: r, RecordedAt: r.FinishedAt})
		}
		if err := db.InsertResultsRaw(ctx, rs); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}
