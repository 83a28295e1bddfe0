package kv

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/schedule"
)

// Schedules is KV schedules (canonical JSON, which the scheduler watches),
// schedules_yaml (the submitted text) and scheduler_state (fire
// bookkeeping per schedule).
type Schedules struct{ s *Store }

// ScheduleState is the value of KV scheduler_state.<schedule id>.
//
// LastTick is the fencing token: a tick is fired only by whoever moves
// LastTick forward with a compare-and-set, so two backends that both
// believe they lead (a partition, a slow renewal) still fire a tick once.
type ScheduleState struct {
	LastTick    time.Time  `json:"last_tick"`              // last tick claimed (fired or evaluated)
	LastFire    *time.Time `json:"last_fire,omitempty"`    // tick of the last dispatch
	LastExecID  string     `json:"last_exec_id,omitempty"` // exec of the last dispatch
	TargetCount int        `json:"target_count,omitempty"` // of the last dispatch
	Holder      string     `json:"holder,omitempty"`       // backend that fired it
}

// Get reads one schedule and its revision; ok false when absent. A stored
// document that does not parse is an error (wrapping ErrInvalid).
func (c *Schedules) Get(ctx context.Context, id string) (schedule.Schedule, uint64, bool, error) {
	kv, err := c.s.bucket(ctx, bus.KVSchedules)
	if err != nil {
		return schedule.Schedule{}, 0, false, err
	}
	v, rev, ok, err := get(ctx, kv, id)
	if err != nil {
		return schedule.Schedule{}, 0, false, fmt.Errorf("read schedule %s: %w", id, err)
	}
	if !ok {
		return schedule.Schedule{}, 0, false, nil
	}
	sc, err := schedule.Parse(v)
	if err != nil {
		// The cause is kept as text only: its *FieldError describes the
		// stored document, not the caller's request (the API answers 500).
		return schedule.Schedule{}, 0, false, fmt.Errorf("stored schedule %s does not parse: %w: %v", id, ErrInvalid, err)
	}
	return sc, rev, true, nil
}

// IDs lists the ids of every stored schedule, sorted.
func (c *Schedules) IDs(ctx context.Context) ([]string, error) {
	kv, err := c.s.bucket(ctx, bus.KVSchedules)
	if err != nil {
		return nil, err
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil // a lister may repeat a key written meanwhile
}

// Text returns the submitted text of a schedule; ok false when none.
func (c *Schedules) Text(ctx context.Context, id string) (string, bool) {
	kv, err := c.s.bucket(ctx, bus.KVSchedulesYAML)
	if err != nil {
		return "", false
	}
	v, _, ok, err := get(ctx, kv, id)
	if err != nil || !ok {
		return "", false
	}
	return string(v), true
}

// Put stores a parsed schedule and its submitted text; existed reports
// whether it replaced one. The text goes first: the scheduler reacts to
// the JSON put, and an editor reading both must never see JSON newer
// than its text.
func (c *Schedules) Put(ctx context.Context, sc schedule.Schedule, text []byte) (existed bool, err error) {
	skv, err := c.s.bucket(ctx, bus.KVSchedules)
	if err != nil {
		return false, err
	}
	ykv, err := c.s.bucket(ctx, bus.KVSchedulesYAML)
	if err != nil {
		return false, err
	}
	if _, _, existed, err = get(ctx, skv, sc.ID); err != nil {
		return false, fmt.Errorf("read schedule %s: %w", sc.ID, err)
	}
	if _, err := ykv.Put(ctx, sc.ID, text); err != nil {
		return false, fmt.Errorf("put schedule text %s: %w", sc.ID, err)
	}
	if _, err := skv.Put(ctx, sc.ID, sc.JSON()); err != nil {
		return false, fmt.Errorf("put schedule %s: %w", sc.ID, err)
	}
	return existed, nil
}

// Update replaces the document at revision rev (compare-and-set, so a
// concurrent apply is never overwritten); ErrConflict when it changed.
func (c *Schedules) Update(ctx context.Context, sc schedule.Schedule, rev uint64) error {
	kv, err := c.s.bucket(ctx, bus.KVSchedules)
	if err != nil {
		return err
	}
	if _, err := kv.Update(ctx, sc.ID, sc.JSON(), rev); err != nil {
		return fmt.Errorf("update schedule %s: %w", sc.ID, conflictErr(err))
	}
	return nil
}

// Delete removes a schedule, then its text and its bookkeeping: a
// schedule re-created under the same id starts afresh.
func (c *Schedules) Delete(ctx context.Context, id string) error {
	skv, err := c.s.bucket(ctx, bus.KVSchedules)
	if err != nil {
		return err
	}
	if err := skv.Delete(ctx, id); err != nil {
		return fmt.Errorf("delete schedule %s: %w", id, err)
	}
	for _, b := range []string{bus.KVSchedulesYAML, bus.KVSchedState} {
		if kv, err := c.s.bucket(ctx, b); err == nil {
			if err := del(ctx, kv, id); err != nil {
				return fmt.Errorf("delete %s.%s: %w", b, id, err)
			}
		}
	}
	return nil
}

// UsingJob lists, sorted, the ids of the schedules (enabled or not) whose
// job_id is jobID: DELETE /api/jobs/{id} is refused while any does. Only
// the job_id field is read, so a schedule that no longer validates (a
// newer rule, a hand edit) still counts for the job it names and does not
// block deleting every other job; one whose JSON cannot be read at all
// might name any job and is listed (refuse rather than orphan it).
func (c *Schedules) UsingJob(ctx context.Context, jobID string) ([]string, error) {
	kv, err := c.s.bucket(ctx, bus.KVSchedules)
	if err != nil {
		return nil, err
	}
	es, err := entries(ctx, kv, ">")
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	var out []string
	for _, e := range es {
		var ref struct {
			JobID string `json:"job_id"`
		}
		if err := json.Unmarshal(e.value, &ref); err != nil || ref.JobID == jobID {
			out = append(out, e.key)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Watch follows KV schedules; a put that does not parse has Err set.
func (c *Schedules) Watch(ctx context.Context) (*Watch[schedule.Schedule], error) {
	kv, err := c.s.bucket(ctx, bus.KVSchedules)
	if err != nil {
		return nil, err
	}
	return watch(ctx, kv, ">", schedule.Parse)
}

// State returns a schedule's bookkeeping (zero when none) and its
// revision (0 when absent). A corrupt value reads as zero with its
// revision, so the next fire overwrites it.
func (c *Schedules) State(ctx context.Context, id string) (ScheduleState, uint64, error) {
	kv, err := c.s.bucket(ctx, bus.KVSchedState)
	if err != nil {
		return ScheduleState{}, 0, err
	}
	v, rev, ok, err := get(ctx, kv, id)
	if err != nil {
		return ScheduleState{}, 0, fmt.Errorf("read scheduler_state %s: %w", id, err)
	}
	if !ok {
		return ScheduleState{}, 0, nil
	}
	var st ScheduleState
	if err := json.Unmarshal(v, &st); err != nil {
		return ScheduleState{}, rev, nil
	}
	return st, rev, nil
}

// PutState writes a schedule's bookkeeping with compare-and-set against
// rev (0 = create); ErrConflict when someone else wrote it meanwhile.
func (c *Schedules) PutState(ctx context.Context, id string, st ScheduleState, rev uint64) (uint64, error) {
	kv, err := c.s.bucket(ctx, bus.KVSchedState)
	if err != nil {
		return 0, err
	}
	data, _ := json.Marshal(st)
	return put(ctx, kv, id, data, rev)
}
