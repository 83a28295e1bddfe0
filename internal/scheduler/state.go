package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
)

// State is the value of KV scheduler_state.<schedule id>.
//
// LastTick is the fencing token: a tick is fired only by whoever moves
// LastTick forward with a compare-and-set, so two backends that both
// believe they lead (a partition, a slow renewal) still fire a tick once.
type State struct {
	LastTick    time.Time  `json:"last_tick"`              // last tick claimed (fired or evaluated)
	LastFire    *time.Time `json:"last_fire,omitempty"`    // tick of the last dispatch
	LastExecID  string     `json:"last_exec_id,omitempty"` // exec of the last dispatch
	TargetCount int        `json:"target_count,omitempty"` // of the last dispatch
	Holder      string     `json:"holder,omitempty"`       // backend that fired it
}

// ReadState returns a schedule's state (zero when none) and its revision
// (0 when absent). A corrupt value reads as zero with its revision, so the
// next fire overwrites it.
func ReadState(ctx context.Context, kv jetstream.KeyValue, id string) (State, uint64, error) {
	ent, err := kv.Get(ctx, id)
	if err != nil {
		if bus.IsNotFound(err) {
			return State{}, 0, nil
		}
		return State{}, 0, fmt.Errorf("read scheduler_state %s: %w", id, err)
	}
	var st State
	if err := json.Unmarshal(ent.Value(), &st); err != nil {
		return State{}, ent.Revision(), nil
	}
	return st, ent.Revision(), nil
}

var errClaimed = errors.New("tick already claimed")

// claim moves LastTick to tick with compare-and-set; errClaimed when the
// tick (or a later one) was already claimed, or another backend won the race.
func claim(ctx context.Context, kv jetstream.KeyValue, id string, tick time.Time, holder string) (State, uint64, error) {
	st, rev, err := ReadState(ctx, kv, id)
	if err != nil {
		return st, 0, err
	}
	if !st.LastTick.Before(tick) {
		return st, rev, errClaimed
	}
	st.LastTick = tick.UTC()
	st.Holder = holder
	data, _ := json.Marshal(st)
	if rev == 0 {
		rev, err = kv.Create(ctx, id, data)
	} else {
		rev, err = kv.Update(ctx, id, data, rev)
	}
	if err != nil {
		if conflict(err) {
			return st, 0, errClaimed
		}
		return st, 0, fmt.Errorf("claim tick %s of %s: %w", tick.UTC().Format(time.RFC3339), id, err)
	}
	return st, rev, nil
}

// conflict reports a lost compare-and-set.
func conflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// recordFire stores the dispatch on the claimed state. A newer claim made
// meanwhile (next tick) is kept: only the fire fields are merged in.
func recordFire(ctx context.Context, kv jetstream.KeyValue, id string, st State, rev uint64, tick time.Time, execID string, targets int) error {
	t := tick.UTC()
	for range 5 {
		st.LastFire, st.LastExecID, st.TargetCount = &t, execID, targets
		data, _ := json.Marshal(st)
		var err error
		if rev == 0 {
			_, err = kv.Create(ctx, id, data)
		} else {
			_, err = kv.Update(ctx, id, data, rev)
		}
		if err == nil {
			return nil
		}
		if !conflict(err) {
			return fmt.Errorf("record fire of %s: %w", id, err)
		}
		cur, crev, rerr := ReadState(ctx, kv, id)
		if rerr != nil {
			return rerr
		}
		if cur.LastFire != nil && !cur.LastFire.Before(t) {
			return nil // a later fire is already recorded
		}
		st, rev = cur, crev
	}
	return fmt.Errorf("record fire of %s: too much contention", id)
}
