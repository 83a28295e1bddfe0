package kv

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Waves is KV waves: the rollout waves of an execution that are not due
// yet, key "<job_id>.<exec_id>.<index>", plus at most one pad key
// "<job_id>.<exec_id>.pad" per execution (see PadKey). Every change is a
// compare-and-set, which is what makes a wave go out exactly once across
// dispatchers (package fanout).
type Waves struct{ s *Store }

// Wave is a pending wave. The Command (with its request_id) is minted at
// exec time, so a re-sent wave carries the same request_id and msg id:
// JetStream de-duplicates it and agents run it at most once.
type Wave struct {
	ExecID      string       `json:"exec_id"`
	JobID       string       `json:"job_id"`
	Index       int          `json:"index"`
	Group       string       `json:"group"`
	DueAt       time.Time    `json:"due_at"`
	Command     wire.Command `json:"command"`
	InitiatedBy string       `json:"initiated_by"`
	// ClaimedAt is set (by compare-and-set) by the dispatcher sending it.
	ClaimedAt *time.Time `json:"claimed_at,omitempty"`
	// Counted: the wave's targets were counted (Targets, the live PCs it
	// reaches) and it can no longer be cancelled; its wave_sent message
	// may still be on its way (a dispatcher retaking it re-sends it).
	Counted bool `json:"counted,omitempty"`
	Targets int  `json:"targets,omitempty"`
	// Earlier are the groups of the waves due before this one: their
	// members already received this execution and are not counted again.
	Earlier []string `json:"earlier,omitempty"`
	// Slice is set for a sliced rollout (target plus waves, SPEC §17):
	// the wave (group, percent or rest) of the population Target. Its PCs
	// are resolved when it is sent, after every lower-index wave, and it
	// goes to each of them on commands.pc.<pc>.
	Slice  *manifest.Wave   `json:"slice,omitempty"`
	Target *manifest.Target `json:"target,omitempty"`
	// HaltOn is the rollout's failure threshold, checked when it is due.
	HaltOn *manifest.HaltOn `json:"halt_on,omitempty"`
	// PausedAt is set while an operator holds the wave; resuming moves
	// DueAt later by the time it was held.
	PausedAt *time.Time `json:"paused_at,omitempty"`
}

// WaveEntry is one stored key of KV waves.
type WaveEntry struct {
	Key      string
	Wave     Wave  // zero for a marker key (pad, counted set)
	Err      error // the value does not decode
	Revision uint64
}

const (
	padSuffix     = ".pad"
	countedSuffix = ".counted"
)

// CountedKey holds the PCs an execution with later waves has counted so
// far (Counted), so each PC is one target of exactly one wave.
func CountedKey(jobID, execID string) string { return jobID + "." + execID + countedSuffix }

// IsMarker reports whether key is a pad or counted-set key, not a wave.
func IsMarker(key string) bool { return IsPad(key) || strings.HasSuffix(key, countedSuffix) }

// CountedSet is the value of CountedKey: the PCs counted as targets so far
// and, per wave index, how many that wave added (so a dispatcher retaking
// a half-counted wave reuses the number instead of counting again).
type CountedSet struct {
	PCs   []string       `json:"pcs"`
	Added map[string]int `json:"added,omitempty"`
	// Sent (sliced rollouts), per wave index: the PCs the wave was sent
	// to, online or not (PCs then holds them all: each is in one wave).
	Sent map[string][]string `json:"sent,omitempty"`
}

// Counted reads an execution's counted set; rev 0 means there is none (an
// execution without later waves, or one from before the set existed).
func (w *Waves) Counted(ctx context.Context, jobID, execID string) (CountedSet, uint64, error) {
	kv, err := w.s.bucket(ctx, bus.KVWaves)
	if err != nil {
		return CountedSet{}, 0, err
	}
	v, rev, ok, err := get(ctx, kv, CountedKey(jobID, execID))
	if err != nil || !ok {
		return CountedSet{}, 0, err
	}
	var cs CountedSet
	if err := json.Unmarshal(v, &cs); err != nil {
		return CountedSet{}, 0, fmt.Errorf("counted set exec_id=%s: %w", execID, err)
	}
	return cs, rev, nil
}

// PutCounted writes the counted set at revision rev (0: create it);
// ErrConflict when someone else changed it first.
func (w *Waves) PutCounted(ctx context.Context, jobID, execID string, cs CountedSet, rev uint64) (uint64, error) {
	kv, err := w.s.bucket(ctx, bus.KVWaves)
	if err != nil {
		return 0, err
	}
	data, err := json.Marshal(cs)
	if err != nil {
		return 0, err
	}
	if rev == 0 {
		rev, err = kv.Create(ctx, CountedKey(jobID, execID), data)
	} else {
		rev, err = kv.Update(ctx, CountedKey(jobID, execID), data, rev)
	}
	return rev, conflictErr(err)
}

// WaveKey is the key of wave i of an execution.
func WaveKey(jobID, execID string, i int) string { return fmt.Sprintf("%s.%s.%d", jobID, execID, i) }

// PadKey marks an execution whose target_count was floored to 1 with no
// live target yet: the first wave that reaches live PCs absorbs that
// phantom target (AbsorbPad) so the execution can complete.
func PadKey(jobID, execID string) string { return jobID + "." + execID + padSuffix }

// IsPad reports whether key is a pad key rather than a wave.
func IsPad(key string) bool { return len(key) > len(padSuffix) && strings.HasSuffix(key, padSuffix) }

func decodeWave(b []byte) (Wave, error) {
	var w Wave
	err := json.Unmarshal(b, &w)
	return w, err
}

// Create stores a new wave (fails if its key exists).
func (w *Waves) Create(ctx context.Context, rec Wave) error {
	kv, err := w.s.bucket(ctx, bus.KVWaves)
	if err != nil {
		return err
	}
	data, _ := json.Marshal(rec)
	if _, err := kv.Create(ctx, WaveKey(rec.JobID, rec.ExecID, rec.Index), data); err != nil {
		return fmt.Errorf("store wave %d exec_id=%s: %w", rec.Index, rec.ExecID, err)
	}
	return nil
}

// CreatePad stores the pad key of an execution.
func (w *Waves) CreatePad(ctx context.Context, jobID, execID string) error {
	kv, err := w.s.bucket(ctx, bus.KVWaves)
	if err != nil {
		return err
	}
	if _, err := kv.Create(ctx, PadKey(jobID, execID), []byte(`{}`)); err != nil {
		return fmt.Errorf("store wave pad exec_id=%s: %w", execID, err)
	}
	return nil
}

// List returns the stored keys of a job's waves (jobID "" = every job),
// pads included (IsPad).
func (w *Waves) List(ctx context.Context, jobID string) ([]WaveEntry, error) {
	kv, err := w.s.bucket(ctx, bus.KVWaves)
	if err != nil {
		return nil, err
	}
	filter := ">"
	if jobID != "" {
		filter = jobID + ".>"
	}
	es, err := entries(ctx, kv, filter)
	if err != nil {
		return nil, fmt.Errorf("list waves: %w", err)
	}
	out := make([]WaveEntry, 0, len(es))
	for _, e := range es {
		out = append(out, waveEntry(e.key, e.value, e.revision))
	}
	return out, nil
}

func waveEntry(key string, value []byte, rev uint64) WaveEntry {
	we := WaveEntry{Key: key, Revision: rev}
	if !IsMarker(key) {
		we.Wave, we.Err = decodeWave(value)
	}
	return we
}

// Get reads one key; ok false when it is gone (sent or cancelled).
func (w *Waves) Get(ctx context.Context, key string) (WaveEntry, bool, error) {
	kv, err := w.s.bucket(ctx, bus.KVWaves)
	if err != nil {
		return WaveEntry{}, false, err
	}
	v, rev, ok, err := get(ctx, kv, key)
	if err != nil || !ok {
		return WaveEntry{}, false, err
	}
	return waveEntry(key, v, rev), true, nil
}

// Update rewrites a wave at revision rev (compare-and-set) and returns
// the new revision; ErrConflict when it changed or was deleted.
func (w *Waves) Update(ctx context.Context, key string, rec Wave, rev uint64) (uint64, error) {
	kv, err := w.s.bucket(ctx, bus.KVWaves)
	if err != nil {
		return 0, err
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return 0, err
	}
	rev, err = kv.Update(ctx, key, data, rev)
	return rev, conflictErr(err)
}

// Delete removes a key if it is still at revision rev.
func (w *Waves) Delete(ctx context.Context, key string, rev uint64) error {
	kv, err := w.s.bucket(ctx, bus.KVWaves)
	if err != nil {
		return err
	}
	return conflictErr(kv.Delete(ctx, key, jetstream.LastRevision(rev)))
}

// AbsorbPad deletes an execution's pad key; true only for the caller
// that deleted it (once per execution).
func (w *Waves) AbsorbPad(ctx context.Context, jobID, execID string) bool {
	e, ok, err := w.Get(ctx, PadKey(jobID, execID))
	if err != nil || !ok {
		return false
	}
	return w.Delete(ctx, e.Key, e.Revision) == nil
}

// Watch follows KV waves, pads included (IsPad; their Value is zero).
func (w *Waves) Watch(ctx context.Context) (*Watch[Wave], error) {
	kv, err := w.s.bucket(ctx, bus.KVWaves)
	if err != nil {
		return nil, err
	}
	return watch(ctx, kv, ">", decodeWave)
}
