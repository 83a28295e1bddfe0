package fanout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Rollout control (SPEC §17): sliced rollouts (a target plus waves that
// slice it), halt_on, and pause, resume and cancel of pending waves. All of
// it lives in the wave records of KV waves and the execution's counted set,
// so a backend restart (or a new leader) carries on where it stopped; the
// SQL projection learns it from EXECS messages (paused, resumed, halted,
// wave_sent, wave_cancelled).

// ErrExecNotFound: no execution has that id (404).
var ErrExecNotFound = errors.New("no such execution")

// RolloutConflict is a pause, resume or cancel that has nothing to act on
// (409): no wave is pending, or the rollout is already in that state.
type RolloutConflict struct{ Msg string }

func (e *RolloutConflict) Error() string { return e.Msg }

// pcCommand is a sliced wave's Command for one PC: its own request_id,
// derived from the wave's so a retaker re-sends the very same message
// (JetStream de-duplicates it by msg id).
func pcCommand(cmd wire.Command, pc string) wire.Command {
	base, err := uuid.Parse(cmd.RequestID)
	if err != nil {
		base = uuid.NameSpaceOID
	}
	cmd.RequestID = uuid.NewSHA1(base, []byte(pc)).String()
	return cmd
}

// execWaves are an execution's stored wave records (not the markers).
func (f *Fanout) execWaves(ctx context.Context, jobID, execID string) ([]kv.WaveEntry, error) {
	es, err := f.waves.List(ctx, jobID)
	if err != nil {
		return nil, fmt.Errorf("list waves of exec_id=%s: %w", execID, err)
	}
	prefix := jobID + "." + execID + "."
	out := es[:0]
	for _, e := range es {
		if strings.HasPrefix(e.Key, prefix) && !kv.IsMarker(e.Key) && e.Err == nil {
			out = append(out, e)
		}
	}
	return out, nil
}

// earlierPending reports whether a lower-index wave of rec's execution is
// still stored (not sent yet, or being sent).
func (f *Fanout) earlierPending(ctx context.Context, rec kv.Wave) (bool, error) {
	es, err := f.execWaves(ctx, rec.JobID, rec.ExecID)
	if err != nil {
		return false, err
	}
	for _, e := range es {
		if e.Wave.Index < rec.Index {
			return true, nil
		}
	}
	return false, nil
}

// population is the PCs a sliced rollout's target names now: the known
// members of its groups (or every known PC) plus its listed pcs.
func (f *Fanout) population(ctx context.Context, t manifest.Target) (map[string]bool, error) {
	set := map[string]bool{}
	if t.All {
		pcs, err := f.store.KnownPCs(ctx, "")
		for _, pc := range pcs {
			set[pc] = true
		}
		return set, err
	}
	for _, g := range t.Groups {
		pcs, err := f.store.KnownPCs(ctx, g)
		if err != nil {
			return nil, err
		}
		for _, pc := range pcs {
			set[pc] = true
		}
	}
	for _, pc := range t.PCs {
		set[pc] = true
	}
	return set, nil
}

// sliceWave resolves a sliced wave's PCs and how many of them are online
// (its targets): from the target as it is now, less every PC an earlier
// wave took, then the wave's group members, percent or rest. The choice
// is kept in the execution's counted set (by compare-and-set), so a
// dispatcher retaking the wave sends it to the same PCs.
func (f *Fanout) sliceWave(ctx context.Context, now time.Time, rec kv.Wave) ([]string, int, error) {
	idx := strconv.Itoa(rec.Index)
	for range 10 {
		cs, rev, err := f.waves.Counted(ctx, rec.JobID, rec.ExecID)
		if err != nil {
			return nil, 0, err
		}
		if pcs, ok := cs.Sent[idx]; ok {
			return pcs, cs.Added[idx], nil
		}
		var target manifest.Target
		if rec.Target != nil {
			target = *rec.Target
		}
		pop, err := f.population(ctx, target)
		if err != nil {
			return nil, 0, err
		}
		for _, pc := range cs.PCs {
			delete(pop, pc)
		}
		var remaining []string
		for pc := range pop {
			remaining = append(remaining, pc)
		}
		slices.Sort(remaining)
		var pcs []string
		switch w := rec.Slice; {
		case w.Rest:
			pcs = remaining
		case w.Percent > 0:
			pcs = manifest.PercentSlice(remaining, w.Percent)
			slices.Sort(pcs)
		default:
			members, err := f.store.KnownPCs(ctx, w.Group)
			if err != nil {
				return nil, 0, err
			}
			for _, pc := range remaining {
				if _, ok := slices.BinarySearch(members, pc); ok {
					pcs = append(pcs, pc)
				}
			}
		}
		online, err := f.store.OnlinePCs(ctx, now, "")
		if err != nil {
			return nil, 0, err
		}
		n := 0
		for _, pc := range pcs {
			if _, ok := slices.BinarySearch(online, pc); ok {
				n++
			}
		}
		if pcs == nil {
			pcs = []string{}
		}
		cs.PCs = append(cs.PCs, pcs...)
		slices.Sort(cs.PCs)
		if cs.Added == nil {
			cs.Added = map[string]int{}
		}
		if cs.Sent == nil {
			cs.Sent = map[string][]string{}
		}
		cs.Added[idx], cs.Sent[idx] = n, pcs
		if _, err := f.waves.PutCounted(ctx, rec.JobID, rec.ExecID, cs, rev); err == nil {
			return pcs, n, nil
		} else if !errors.Is(err, kv.ErrConflict) {
			return nil, 0, err
		}
	}
	return nil, 0, fmt.Errorf("counted set of exec_id=%s keeps changing", rec.ExecID)
}

// checkHalt compares the execution's failed results so far with the
// rollout's halt_on when one of its later waves is due. The results
// counted are those projected at that moment: the check does not wait for
// the earlier waves to finish (the wave's delay is the time given to
// them). When the threshold is reached it records the halt (EXECS
// "halted", with the reason) and cancels every pending wave.
func (f *Fanout) checkHalt(ctx context.Context, rec kv.Wave) (bool, error) {
	e, ok, err := f.store.GetExecution(ctx, rec.ExecID)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, nil // not projected yet: nothing failed that we know of
	}
	halted, reason := rec.HaltOn.Halted(e.FailureCount, e.TargetCount)
	if !halted {
		return false, nil
	}
	ev := wire.ExecRequested{Kind: wire.ExecHaltedKind, ExecID: rec.ExecID, JobID: rec.JobID, Reason: reason}
	if err := f.record(ctx, ev); err != nil {
		return false, err
	}
	n, err := f.cancelWaves(ctx, rec.JobID, rec.ExecID)
	if err != nil {
		return false, err
	}
	f.log.Warn("rollout halted", "exec_id", rec.ExecID, "job_id", rec.JobID, "reason", reason, "cancelled_waves", n)
	f.auditf(ctx, "system", "exec.halt", rec.JobID, map[string]any{"exec_id": rec.ExecID, "reason": reason,
		"cancelled_waves": n, "initiated_by": rec.InitiatedBy}, "")
	return true, nil
}

// rolloutExec finds an execution and its waves not yet being sent.
func (f *Fanout) rolloutExec(ctx context.Context, execID string) (apiv1.Execution, []kv.WaveEntry, error) {
	if !wire.ValidPCID(execID) {
		return apiv1.Execution{}, nil, ErrExecNotFound
	}
	e, ok, err := f.store.GetExecution(ctx, execID)
	if err != nil {
		return e, nil, err
	}
	if !ok {
		return e, nil, ErrExecNotFound
	}
	es, err := f.execWaves(ctx, e.JobID, execID)
	if err != nil {
		return e, nil, err
	}
	pending := es[:0]
	for _, w := range es {
		if !w.Wave.Counted {
			pending = append(pending, w)
		}
	}
	return e, pending, nil
}

func noPending(e apiv1.Execution) error {
	if e.HaltReason != "" {
		return &RolloutConflict{fmt.Sprintf("execution %s has no pending wave: halted (%s)", e.ExecID, e.HaltReason)}
	}
	return &RolloutConflict{fmt.Sprintf("execution %s has no pending wave", e.ExecID)}
}

// PauseExecution holds an execution's pending waves: none is sent until
// ResumeExecution (a wave a dispatcher is already sending still goes).
func (f *Fanout) PauseExecution(ctx context.Context, execID, actor, sourceIP string) (apiv1.RolloutActionResponse, error) {
	return f.hold(ctx, execID, actor, sourceIP, true)
}

// ResumeExecution releases paused waves. Each one's due time moves later
// by as long as it was paused, so the spacing between waves (the time
// each gives the earlier ones' results) is kept; halt_on is checked again
// when each is due.
func (f *Fanout) ResumeExecution(ctx context.Context, execID, actor, sourceIP string) (apiv1.RolloutActionResponse, error) {
	return f.hold(ctx, execID, actor, sourceIP, false)
}

func (f *Fanout) hold(ctx context.Context, execID, actor, sourceIP string, pause bool) (apiv1.RolloutActionResponse, error) {
	action, kind, state := "resume", wire.ExecResumedKind, apiv1.RolloutWaiting
	if pause {
		action, kind, state = "pause", wire.ExecPausedKind, apiv1.RolloutPaused
	}
	resp := apiv1.RolloutActionResponse{ExecID: execID, Action: action}
	e, pending, err := f.rolloutExec(ctx, execID)
	if err != nil {
		return resp, err
	}
	if len(pending) == 0 {
		return resp, noPending(e)
	}
	now := f.Now().UTC()
	for _, w := range pending {
		for range 5 { // compare-and-set; re-read on a concurrent change
			rec := w.Wave
			if rec.Counted || (rec.PausedAt != nil) == pause {
				break
			}
			if pause {
				// Any claim without a count is void: the claimer's
				// counting update fails on the new revision.
				rec.PausedAt, rec.ClaimedAt = &now, nil
			} else {
				rec.DueAt = rec.DueAt.Add(max(now.Sub(*rec.PausedAt), 0))
				rec.PausedAt, rec.ClaimedAt = nil, nil
			}
			if _, err = f.waves.Update(ctx, w.Key, rec, w.Revision); err == nil {
				resp.Waves++
				break
			} else if !errors.Is(err, kv.ErrConflict) {
				return resp, fmt.Errorf("%s wave %s: %w", action, w.Key, err)
			}
			var ok bool
			if w, ok, err = f.waves.Get(ctx, w.Key); err != nil {
				return resp, fmt.Errorf("%s wave %s: %w", action, w.Key, err)
			} else if !ok {
				break // sent or cancelled meanwhile
			}
		}
	}
	if resp.Waves == 0 {
		if pause {
			return resp, &RolloutConflict{fmt.Sprintf("execution %s is already paused", execID)}
		}
		return resp, &RolloutConflict{fmt.Sprintf("execution %s is not paused", execID)}
	}
	resp.State = state
	if err := f.record(ctx, wire.ExecRequested{Kind: kind, ExecID: execID, JobID: e.JobID, Seq: now.UnixNano()}); err != nil {
		return resp, err
	}
	f.log.Info("rollout "+action+"d", "exec_id", execID, "job_id", e.JobID, "waves", resp.Waves, "initiated_by", actor)
	f.auditf(ctx, actor, "exec."+action, execID, resp, sourceIP)
	return resp, nil
}

// CancelExecution deletes an execution's pending waves (sent ones keep
// running; kill stops those).
func (f *Fanout) CancelExecution(ctx context.Context, execID, actor, sourceIP string) (apiv1.RolloutActionResponse, error) {
	resp := apiv1.RolloutActionResponse{ExecID: execID, Action: "cancel"}
	e, pending, err := f.rolloutExec(ctx, execID)
	if err != nil {
		return resp, err
	}
	if len(pending) == 0 {
		return resp, noPending(e)
	}
	if resp.Waves, err = f.cancelWaves(ctx, e.JobID, execID); err != nil {
		return resp, err
	}
	if resp.Waves == 0 {
		return resp, noPending(e)
	}
	f.log.Info("rollout cancelled", "exec_id", execID, "job_id", e.JobID, "waves", resp.Waves, "initiated_by", actor)
	f.auditf(ctx, actor, "exec.cancel", execID, resp, sourceIP)
	return resp, nil
}
