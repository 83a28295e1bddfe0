package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kanade-fleet/kanade/internal/kv"
)

// State is the value of KV scheduler_state.<schedule id> (kv.ScheduleState).
type State = kv.ScheduleState

var errClaimed = errors.New("tick already claimed")

// claim moves LastTick to tick with compare-and-set; errClaimed when the
// tick (or a later one) was already claimed, or another backend won the race.
func claim(ctx context.Context, sc Schedules, id string, tick time.Time, holder string) (State, uint64, error) {
	st, rev, err := sc.State(ctx, id)
	if err != nil {
		return st, 0, err
	}
	if !st.LastTick.Before(tick) {
		return st, rev, errClaimed
	}
	st.LastTick = tick.UTC()
	st.Holder = holder
	rev, err = sc.PutState(ctx, id, st, rev)
	if err != nil {
		if kv.IsConflict(err) {
			return st, 0, errClaimed
		}
		return st, 0, fmt.Errorf("claim tick %s of %s: %w", tick.UTC().Format(time.RFC3339), id, err)
	}
	return st, rev, nil
}

// recordFire stores the dispatch on the claimed state. A newer claim made
// meanwhile (next tick) is kept: only the fire fields are merged in.
func recordFire(ctx context.Context, sc Schedules, id string, st State, rev uint64, tick time.Time, execID string, targets int) error {
	t := tick.UTC()
	for range 5 {
		st.LastFire, st.LastExecID, st.TargetCount = &t, execID, targets
		_, err := sc.PutState(ctx, id, st, rev)
		if err == nil {
			return nil
		}
		if !kv.IsConflict(err) {
			return fmt.Errorf("record fire of %s: %w", id, err)
		}
		cur, crev, rerr := sc.State(ctx, id)
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
