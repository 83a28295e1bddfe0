package fanout

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// RunWaves sends pending rollout waves when they are due, until ctx ends.
// Only while isLeader() is true does it send anything (one dispatcher per
// cluster); every backend keeps watching so a new leader starts at once.
//
// Exactly once, across restarts and replicas: a wave is claimed with a
// compare-and-set update of its KV record (a second dispatcher's update
// fails), its targets are added and marked counted (again by CAS), the
// Command is published with its request_id as the JetStream msg id, and
// the record is deleted with a last-revision check. A dispatcher that dies
// half-way leaves a claimed record; after ClaimLease another one retakes it
// and re-sends the same Command, which JetStream de-duplicates and agents
// admit at most once per request_id. Cancelling deletes the record by
// revision, so a cancelled wave can no longer be claimed.
func (f *Fanout) RunWaves(ctx context.Context, isLeader func() bool) {
	if isLeader == nil {
		isLeader = func() bool { return true }
	}
	for ctx.Err() == nil {
		err := f.runWavesOnce(ctx, isLeader)
		if ctx.Err() != nil {
			return
		}
		f.log.Warn("waves watch ended; retrying", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

func (f *Fanout) runWavesOnce(ctx context.Context, isLeader func() bool) error {
	w, err := f.waves.Watch(ctx)
	if err != nil {
		return fmt.Errorf("watch waves: %w", err)
	}
	defer w.Stop()
	pending := map[string]kv.Change[kv.Wave]{}
	poll := f.WavePoll
	if poll <= 0 {
		poll = time.Second
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case c, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("waves watcher closed")
			}
			if c.Synced {
				continue
			}
			if !c.Deleted && !kv.IsMarker(c.Key) {
				pending[c.Key] = c
			} else {
				delete(pending, c.Key)
			}
		case <-tick.C:
			if len(pending) == 0 || !isLeader() {
				continue
			}
			// In key order, so a sliced rollout's waves (which wait for
			// their lower-index ones) go out on the same tick when due.
			for _, k := range slices.SortedFunc(maps.Keys(pending), waveKeyOrder) {
				if ctx.Err() != nil {
					return nil
				}
				f.dispatch(ctx, pending[k])
			}
		}
	}
}

// dispatch sends one wave if it is due and nobody else holds it. Failures
// are logged and retried on a later tick (the record stays in KV).
func (f *Fanout) dispatch(ctx context.Context, c kv.Change[kv.Wave]) {
	if c.Err != nil {
		f.log.Error("undecodable wave record dropped", "key", c.Key, "error", c.Err)
		_ = f.waves.Delete(ctx, c.Key, c.Revision)
		return
	}
	f.dispatchWave(ctx, c.Key, c.Value, c.Revision, false)
}

// dispatchWave sends the wave stored at key (revision rev) when it is due,
// not paused, not held by another dispatcher and — in a sliced rollout —
// every lower-index wave of its execution is gone. Before a wave that has
// not been counted yet it checks the rollout's halt_on against the
// failures so far (halting cancels every pending wave instead). It returns
// the subjects it published to (nil when it sent nothing now). claimed:
// the caller claimed it already (Exec, for a sliced rollout's first waves).
func (f *Fanout) dispatchWave(ctx context.Context, key string, rec kv.Wave, rev uint64, claimed bool) []string {
	now := f.Now().UTC()
	if now.Before(rec.DueAt) || rec.PausedAt != nil {
		return nil
	}
	lease := f.ClaimLease
	if lease <= 0 {
		lease = 30 * time.Second
	}
	if !claimed && rec.ClaimedAt != nil && now.Sub(*rec.ClaimedAt) < lease {
		return nil // another dispatcher (or an earlier tick) is on it
	}
	log := f.log.With("exec_id", rec.ExecID, "job_id", rec.JobID, "wave", rec.Index, "group", rec.Group)
	if rec.Slice != nil {
		if waiting, err := f.earlierPending(ctx, rec); err != nil || waiting {
			return nil // sliced waves go in order: each takes what the earlier ones left
		}
	}
	if !rec.Counted && rec.HaltOn != nil {
		if halted, err := f.checkHalt(ctx, rec); err != nil {
			log.Error("check halt_on; will retry", "error", err)
			return nil
		} else if halted {
			return nil
		}
	}
	rec.ClaimedAt = &now
	rev, err := f.waves.Update(ctx, key, rec, rev)
	if err != nil {
		log.Debug("wave claim lost", "error", err)
		return nil
	}
	var pcs []string // a sliced wave's PCs
	if rec.Slice != nil {
		var n int
		if pcs, n, err = f.sliceWave(ctx, now, rec); err != nil {
			log.Error("resolve the wave's PCs", "error", err)
			return nil
		}
		if !rec.Counted {
			if n > 0 && f.waves.AbsorbPad(ctx, rec.JobID, rec.ExecID) {
				n--
			}
			rec.Counted, rec.Targets = true, n
			if rev, err = f.waves.Update(ctx, key, rec, rev); err != nil {
				log.Info("wave cancelled or paused while being counted", "error", err)
				return nil
			}
		}
	} else if !rec.Counted {
		n, err := f.waveCount(ctx, now, rec)
		if err != nil {
			log.Error("count wave targets", "error", err)
			return nil
		}
		if n > 0 && f.waves.AbsorbPad(ctx, rec.JobID, rec.ExecID) {
			n--
		}
		// Counted by compare-and-set first: from here the wave can no
		// longer be cancelled, so it has exactly one fate on EXECS.
		rec.Counted, rec.Targets = true, n
		if rev, err = f.waves.Update(ctx, key, rec, rev); err != nil {
			log.Info("wave cancelled or paused while being counted", "error", err)
			return nil
		}
	}
	// Always, even with no live target: the execution stops waiting for
	// this wave either way. A retaker re-sends the same message (same msg
	// id, applied once).
	sentEv := wire.ExecRequested{Kind: wire.ExecWaveSentKind, ExecID: rec.ExecID, JobID: rec.JobID, Wave: rec.Index,
		TargetsAdded: rec.Targets}
	if err := f.record(ctx, sentEv); err != nil {
		log.Error("record wave sent; will retry after the claim lease", "error", err)
		return nil
	}
	subjects := []string{}
	if rec.Slice != nil {
		for _, pc := range pcs {
			if err := f.publish(ctx, bus.CommandsPC(pc), pcCommand(rec.Command, pc)); err != nil {
				log.Error("publish wave; will retry after the claim lease", "pc_id", pc, "error", err)
				return nil
			}
			subjects = append(subjects, bus.CommandsPC(pc))
		}
	} else {
		if err := f.publish(ctx, bus.CommandsGroup(rec.Group), rec.Command); err != nil {
			log.Error("publish wave; will retry after the claim lease", "error", err)
			return nil
		}
		subjects = []string{bus.CommandsGroup(rec.Group)}
	}
	if err := f.waves.Delete(ctx, key, rev); err != nil {
		log.Warn("delete sent wave", "error", err)
	} else {
		f.dropCountedSet(ctx, rec)
	}
	label := rec.Group
	if rec.Slice != nil {
		label = rec.Slice.Label()
	}
	log.Info("wave sent", "wave_of", label, "subjects", len(subjects), "request_id", rec.Command.RequestID)
	payload := map[string]any{"exec_id": rec.ExecID, "wave": rec.Index, "group": rec.Group, "request_id": rec.Command.RequestID}
	if rec.Slice != nil {
		payload["slice"] = label
		payload["pcs"] = pcs
	}
	f.auditf(ctx, rec.InitiatedBy, "exec.wave", rec.JobID, payload, "")
	return subjects
}

// dropCountedSet deletes an execution's counted set once its last wave is
// sent (best effort: a leftover key only costs space until a kill or the
// job's deletion cancels its waves).
func (f *Fanout) dropCountedSet(ctx context.Context, rec kv.Wave) {
	es, err := f.waves.List(ctx, rec.JobID)
	if err != nil {
		return
	}
	prefix := rec.JobID + "." + rec.ExecID + "."
	var counted *kv.WaveEntry
	for i, e := range es {
		if !strings.HasPrefix(e.Key, prefix) {
			continue
		}
		if !kv.IsMarker(e.Key) {
			return // a wave is still pending
		}
		if e.Key == kv.CountedKey(rec.JobID, rec.ExecID) {
			counted = &es[i]
		}
	}
	if counted != nil {
		_ = f.waves.Delete(ctx, counted.Key, counted.Revision)
	}
}

// waveKeyOrder sorts wave keys "<job>.<exec>.<index>" by execution, then
// by index as a number.
func waveKeyOrder(a, b string) int {
	ap, ai := splitWaveKey(a)
	bp, bi := splitWaveKey(b)
	if c := strings.Compare(ap, bp); c != 0 {
		return c
	}
	return cmp.Compare(ai, bi)
}

func splitWaveKey(k string) (string, int) {
	i := strings.LastIndexByte(k, '.')
	if i < 0 {
		return k, 0
	}
	n, _ := strconv.Atoi(k[i+1:])
	return k[:i], n
}
