// Package fanout turns a job and a plan into Commands on the broker (SPEC §5
// step 1): it resolves the targets, pins the version, inserts the
// executions row, publishes one Command per subject and keeps later rollout
// waves in KV `waves` until they are due (RunWaves), so a restart neither
// loses nor repeats a wave. It also hosts the other stop/start levers the
// API, the CLI and the scheduler share: kill, revoke and ad-hoc runs.
package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/fanout/command"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Store is what fan-out needs from the SQL projection (*store.DB).
type Store interface {
	// ApplyExecEvents applies ExecRequested messages to executions,
	// idempotently (the executions projector applies the same ones).
	ApplyExecEvents(ctx context.Context, evs []wire.ExecRequested) ([]store.ExecProgress, error)
	OnlinePCs(ctx context.Context, now time.Time, group string) ([]string, error)
	KnownPCs(ctx context.Context, group string) ([]string, error)
	ListExecutions(ctx context.Context, f store.ExecFilter, p store.Page) ([]apiv1.Execution, int, error)
	GetExecution(ctx context.Context, execID string) (apiv1.Execution, bool, error)
}

// Auditor records state changes (*audit.Publisher).
type Auditor interface {
	Audit(ctx context.Context, actor, action, target string, payload any, sourceIP string)
}

// Jobs is what fan-out needs of the job catalog (*kv.Jobs).
type Jobs interface {
	Get(ctx context.Context, id string) (manifest.Manifest, error)
	Pin(ctx context.Context, id, version string) error
	SetStatus(ctx context.Context, id string, revoked bool) error
}

// Waves is the pending-wave store (*kv.Waves).
type Waves interface {
	Create(ctx context.Context, rec kv.Wave) error
	CreatePad(ctx context.Context, jobID, execID string) error
	List(ctx context.Context, jobID string) ([]kv.WaveEntry, error)
	Get(ctx context.Context, key string) (kv.WaveEntry, bool, error)
	Update(ctx context.Context, key string, rec kv.Wave, rev uint64) (uint64, error)
	Delete(ctx context.Context, key string, rev uint64) error
	AbsorbPad(ctx context.Context, jobID, execID string) bool
	Counted(ctx context.Context, jobID, execID string) (kv.CountedSet, uint64, error)
	PutCounted(ctx context.Context, jobID, execID string, cs kv.CountedSet, rev uint64) (uint64, error)
	Watch(ctx context.Context) (*kv.Watch[kv.Wave], error)
}

// Deps are a Fanout's collaborators.
type Deps struct {
	JS    jetstream.JetStream // commands are published here
	NC    *nats.Conn          // kill subjects, ad-hoc results
	Store Store
	Jobs  Jobs
	Waves Waves
	Audit Auditor // nil: not audited
	// Signer signs every command and kill for its subject (SPEC §12);
	// without one nothing can be published (command.ErrNoSigner).
	Signer *sign.Signer
	Log    *slog.Logger
}

// Fanout publishes commands. Build it with New; the zero value is unusable.
type Fanout struct {
	js     jetstream.JetStream
	nc     *nats.Conn
	store  Store
	jobs   Jobs
	waves  Waves
	audit  Auditor
	signer *sign.Signer
	log    *slog.Logger

	// Background retries of records a broker failure held back.
	bg       sync.WaitGroup
	stop     chan struct{}
	stopOnce sync.Once

	// Now is the clock (tests may replace it before use).
	Now func() time.Time
	// WavePoll is how often RunWaves looks for due waves (default 1s).
	WavePoll time.Duration
	// ClaimLease is how long a claimed-but-unfinished wave is left to its
	// claimer before another dispatcher retakes it (default 30s).
	ClaimLease time.Duration
	// RunGrace is how much longer than the script's timeout Run waits for
	// the result (default 10s).
	RunGrace time.Duration
}

// New returns a Fanout over a connected broker, store and KV stores.
func New(d Deps) *Fanout {
	log := d.Log
	if log == nil {
		log = slog.Default()
	}
	return &Fanout{js: d.JS, nc: d.NC, store: d.Store, jobs: d.Jobs, waves: d.Waves, audit: d.Audit, signer: d.Signer, log: log, Now: time.Now,
		WavePoll: time.Second, ClaimLease: 30 * time.Second, RunGrace: 10 * time.Second, stop: make(chan struct{})}
}

// Errors callers map to HTTP statuses.
var (
	ErrJobNotFound = kv.ErrJobNotFound                              // 404
	ErrTimeout     = errors.New("timed out waiting for the result") // 408
)

// FieldError is a validation failure naming a field (422).
type FieldError = wire.FieldError

// ExecRequest asks for one execution of a registered job.
type ExecRequest struct {
	// ExecID is optional: the scheduler mints its own (it records it before
	// dispatching); empty = a new UUID.
	ExecID      string
	JobID       string
	Plan        manifest.Plan
	InitiatedBy string // account name, or "scheduler"
	SourceIP    string // for the audit record
	// ScheduleID names the schedule of a scheduled fire; DispatchPCs and
	// DispatchedAt are the per_pc dispatch rows the scheduler recorded,
	// carried on EXECS so a rebuilt database has them too.
	ScheduleID   string
	DispatchPCs  []string
	DispatchedAt time.Time
}

// WaveRecord is the value of a pending wave in KV waves (kv.Wave).
type WaveRecord = kv.Wave

// liveCount counts the known live PCs a target resolves to (a union).
func (f *Fanout) liveCount(ctx context.Context, now time.Time, t manifest.Target) (int, error) {
	set, err := f.livePCs(ctx, now, t)
	return len(set), err
}

// livePCs is the set of online PCs a target reaches.
func (f *Fanout) livePCs(ctx context.Context, now time.Time, t manifest.Target) (map[string]bool, error) {
	set := map[string]bool{}
	if t.All {
		pcs, err := f.store.OnlinePCs(ctx, now, "")
		for _, pc := range pcs {
			set[pc] = true
		}
		return set, err
	}
	for _, g := range t.Groups {
		pcs, err := f.store.OnlinePCs(ctx, now, g)
		if err != nil {
			return nil, err
		}
		for _, pc := range pcs {
			set[pc] = true
		}
	}
	if len(t.PCs) > 0 {
		online, err := f.store.OnlinePCs(ctx, now, "")
		if err != nil {
			return nil, err
		}
		for _, pc := range t.PCs {
			if _, ok := slices.BinarySearch(online, pc); ok {
				set[pc] = true
			}
		}
	}
	return set, nil
}

// noTargets is the refusal of an exec whose target reaches no known PC: a
// 422 naming "target" (it is a *FieldError) that the scheduler recognises
// as manifest.ErrNoTargets.
type noTargets struct{ fe FieldError }

func (e *noTargets) Error() string   { return e.fe.Error() }
func (e *noTargets) Unwrap() []error { return []error{&e.fe, manifest.ErrNoTargets} }

// checkKnown refuses a plan whose target (or whose waves' groups together)
// reaches no known PC, online or not (SPEC §17): such an exec would stay
// pending forever. The message names each group nobody is in and each
// unknown pc, since a typo is the usual cause.
func (f *Fanout) checkKnown(ctx context.Context, p manifest.Plan) error {
	t := p.Target
	if p.Waves() && !p.HasTarget() {
		t = manifest.Target{}
		for _, w := range p.Rollout.Waves {
			t.Groups = append(t.Groups, w.Group)
		}
	}
	var why []string
	if t.All || len(t.PCs) > 0 {
		known, err := f.store.KnownPCs(ctx, "")
		if err != nil {
			return err
		}
		if t.All {
			if len(known) > 0 {
				return nil
			}
			why = append(why, "no PC is known yet")
		}
		var unknown []string
		for _, pc := range t.PCs {
			if _, ok := slices.BinarySearch(known, pc); ok {
				return nil
			}
			unknown = append(unknown, fmt.Sprintf("%q", pc))
		}
		if len(unknown) > 0 {
			why = append(why, "no PC "+strings.Join(unknown, ", ")+" is known")
		}
	}
	var empty []string
	for _, g := range t.Groups {
		pcs, err := f.store.KnownPCs(ctx, g)
		if err != nil {
			return err
		}
		if len(pcs) > 0 {
			return nil
		}
		empty = append(empty, fmt.Sprintf("%q", g))
	}
	if len(empty) > 0 {
		why = append(why, "no PC is in group "+strings.Join(empty, ", "))
	}
	return &noTargets{FieldError{Field: "target", Msg: "reaches no known PC (" + strings.Join(why, "; ") +
		"); check the names, or set allow_empty: true to send it anyway"}}
}

// waveCount counts a wave's targets: its group's online members that no
// earlier wave of the execution counted. Agents run an execution once
// (they drop a second command with the same exec_id), so a PC in two waves'
// groups is one target — of the first wave that counts it. The PCs counted
// so far are the execution's counted set in KV waves (kv.CountedSet),
// extended here by compare-and-set; a wave already in the set (a
// dispatcher retaking it) gets its recorded number again. Executions from
// before the set existed subtract the earlier waves' groups instead.
func (f *Fanout) waveCount(ctx context.Context, now time.Time, rec kv.Wave) (int, error) {
	set, err := f.livePCs(ctx, now, manifest.Target{Groups: []string{rec.Group}})
	if err != nil {
		return 0, err
	}
	idx := strconv.Itoa(rec.Index)
	for range 10 {
		cs, rev, err := f.waves.Counted(ctx, rec.JobID, rec.ExecID)
		if err != nil {
			return 0, err
		}
		if rev == 0 {
			return f.waveCountByGroups(ctx, now, set, rec.Earlier)
		}
		if n, ok := cs.Added[idx]; ok {
			return n, nil
		}
		have := make(map[string]bool, len(cs.PCs))
		for _, pc := range cs.PCs {
			have[pc] = true
		}
		n := 0
		for pc := range set {
			if !have[pc] {
				cs.PCs = append(cs.PCs, pc)
				n++
			}
		}
		slices.Sort(cs.PCs)
		if cs.Added == nil {
			cs.Added = map[string]int{}
		}
		cs.Added[idx] = n
		if _, err := f.waves.PutCounted(ctx, rec.JobID, rec.ExecID, cs, rev); err == nil {
			return n, nil
		} else if !errors.Is(err, kv.ErrConflict) {
			return 0, err
		}
	}
	return 0, fmt.Errorf("counted set of exec_id=%s keeps changing", rec.ExecID)
}

// waveCountByGroups is the count for an execution without a counted set:
// members of the wave's group in none of the earlier waves' groups.
func (f *Fanout) waveCountByGroups(ctx context.Context, now time.Time, set map[string]bool, earlier []string) (int, error) {
	if len(earlier) == 0 {
		return len(set), nil
	}
	before, err := f.livePCs(ctx, now, manifest.Target{Groups: earlier})
	if err != nil {
		return 0, err
	}
	for pc := range before {
		delete(set, pc)
	}
	return len(set), nil
}

// Exec runs a registered job under a plan (SPEC §5 step 1, §11). Order
// matters: the version pin, then the ExecRequested message on EXECS
// (awaited) and the executions row, then the pending waves, all before
// any Command, so a fast agent's result always finds its parent row and
// pin, a crash after publishing loses no wave, and a wiped database gets
// the execution back from the stream.
//
// A broker failure before anything was sent is ErrBrokerUnavailable. One
// in the middle of the fan-out stops it there: the outcome (subjects sent,
// those not, targets only they reached) is recorded on the row, on EXECS
// and in the audit — now, or once the broker is back — and the error is a
// *FanoutError describing it.
func (f *Fanout) Exec(ctx context.Context, req ExecRequest) (apiv1.ExecResponse, error) {
	if err := manifest.CheckID("job_id", req.JobID); err != nil {
		return apiv1.ExecResponse{}, err
	}
	if err := req.Plan.Validate(); err != nil {
		return apiv1.ExecResponse{}, err
	}
	m, err := f.jobs.Get(ctx, req.JobID)
	if err != nil {
		if !errors.Is(err, kv.ErrJobNotFound) && !errors.Is(err, kv.ErrInvalid) {
			err = unavailable(err)
		}
		return apiv1.ExecResponse{}, err
	}
	if !req.Plan.AllowEmpty {
		if err := f.checkKnown(ctx, req.Plan); err != nil {
			return apiv1.ExecResponse{}, err
		}
	}
	now := f.Now().UTC()
	execID := req.ExecID
	if execID == "" {
		execID = uuid.NewString()
	} else if !wire.ValidPCID(execID) { // it becomes a subject token and a KV key part
		return apiv1.ExecResponse{}, &FieldError{Field: "exec_id", Msg: "must be a subject-safe id (A-Z a-z 0-9 _ -)"}
	}
	p := req.Plan

	type out struct {
		subject string
		cmd     wire.Command
	}
	var immediate []out
	var later []WaveRecord
	var nowPCs []string // waves: the PCs counted now (the counted set's start)
	count := 0
	if p.Sliced() {
		// Every wave waits in KV: its PCs are resolved when it is sent,
		// after the lower-index waves (the due ones are sent below, at
		// once). Targets are counted then (wave_sent messages).
		for i, w := range p.Rollout.Waves {
			rec := WaveRecord{ExecID: execID, JobID: m.ID, Index: i, Group: w.Group,
				DueAt: now.Add(w.DelayDuration()), Command: m.Command(execID, uuid.NewString(), p), InitiatedBy: req.InitiatedBy,
				Slice: &w, Target: &p.Target, HaltOn: p.Rollout.HaltOn}
			if w.DelayDuration() == 0 {
				// Claimed by this request, which sends it below; the
				// dispatchers retake it only after ClaimLease.
				rec.ClaimedAt = &now
			}
			later = append(later, rec)
		}
	} else if p.Waves() {
		// Waves with no delay go out now; the others wait in KV. Their
		// targets are counted when they are sent (a wave_sent message).
		var nowGroups []string
		for i, w := range p.Rollout.Waves {
			cmd := m.Command(execID, uuid.NewString(), p)
			if d := w.DelayDuration(); d > 0 {
				var earlier []string
				for j, o := range p.Rollout.Waves {
					if od := o.DelayDuration(); od < d || (od == d && j < i) {
						earlier = append(earlier, o.Group)
					}
				}
				later = append(later, WaveRecord{ExecID: execID, JobID: m.ID, Index: i, Group: w.Group,
					DueAt: now.Add(d), Command: cmd, InitiatedBy: req.InitiatedBy, Earlier: earlier, HaltOn: p.Rollout.HaltOn})
				continue
			}
			immediate = append(immediate, out{w.Subject(), cmd})
			nowGroups = append(nowGroups, w.Group)
		}
		// A PC in two immediate waves is one target (a union, as for groups).
		set, err := f.livePCs(ctx, now, manifest.Target{Groups: nowGroups})
		if err != nil {
			return apiv1.ExecResponse{}, err
		}
		count = len(set)
		nowPCs = slices.Sorted(maps.Keys(set))
	} else {
		for _, s := range p.Subjects() {
			immediate = append(immediate, out{s, m.Command(execID, uuid.NewString(), p)})
		}
		if count, err = f.liveCount(ctx, now, p.Target); err != nil {
			return apiv1.ExecResponse{}, err
		}
	}
	target := max(count, 1)

	// 1. Pin the version.
	if err := f.jobs.Pin(ctx, m.ID, m.Version); err != nil {
		return apiv1.ExecResponse{}, unavailable(err)
	}
	// 2. The execution: on EXECS (awaited), then the row.
	ev := wire.ExecRequested{Kind: wire.ExecRequestedKind, ExecID: execID, JobID: m.ID, Version: m.Version,
		InitiatedBy: req.InitiatedBy, InitiatedAt: now, TargetCount: target, Plan: p.JSON(), PendingWaves: len(later)}
	if req.ScheduleID != "" {
		ev.Schedule = &wire.ExecSchedule{ID: req.ScheduleID, PCs: req.DispatchPCs, DispatchedAt: req.DispatchedAt.UTC()}
	}
	if err := f.record(ctx, ev); err != nil {
		return apiv1.ExecResponse{}, err
	}
	// From here on the execution exists: a caller hanging up must not cut
	// its fan-out short.
	ctx = context.WithoutCancel(ctx)
	// 3. Later waves; 4. publish. Both stop at the first broker failure.
	var ferr error
	stored := 0
	if len(later) > 0 && count == 0 {
		if err := f.waves.CreatePad(ctx, m.ID, execID); err != nil {
			ferr = fmt.Errorf("store the wave pad: %w", err)
		}
	}
	if len(later) > 0 && ferr == nil {
		// Later waves count only PCs nobody counted before (waveCount).
		if _, err := f.waves.PutCounted(ctx, m.ID, execID, kv.CountedSet{PCs: nowPCs}, 0); err != nil {
			ferr = fmt.Errorf("store the counted set: %w", err)
		}
	}
	for _, w := range later {
		if ferr != nil {
			break
		}
		if err := f.waves.Create(ctx, w); err != nil {
			ferr = fmt.Errorf("store wave %d: %w", w.Index, err)
			break
		}
		stored++
	}
	var sent, failed []string
	for _, o := range immediate {
		if ferr == nil {
			if err := f.publish(ctx, o.subject, o.cmd); err != nil {
				ferr = err
			} else {
				sent = append(sent, o.subject)
				continue
			}
		}
		failed = append(failed, o.subject)
	}
	// 5. The outcome.
	outcome := wire.ExecRequested{Kind: wire.ExecFanoutKind, ExecID: execID, JobID: m.ID, SubjectsSent: len(sent),
		SubjectsFailed: failed, WavesLost: len(later) - stored}
	if len(failed) > 0 {
		n, err := f.liveCount(ctx, now, reached(sent))
		if err != nil {
			f.log.Error("count the targets a cut-short fan-out reached; keeping the planned count", "exec_id", execID, "error", err)
			n = target
		}
		outcome.TargetsLost = max(target-max(n, 1), 0)
	}
	resp := apiv1.ExecResponse{ExecID: execID, JobID: m.ID, Version: m.Version, TargetCount: target - outcome.TargetsLost,
		Subjects: p.Subjects(), SubjectsSent: len(sent), SubjectsFailed: failed}
	audit := map[string]any{"exec_id": execID, "version": m.Version, "target_count": resp.TargetCount,
		"subjects": resp.Subjects, "subjects_sent": len(sent), "plan": json.RawMessage(p.JSON())}
	if ferr == nil {
		if err := f.record(ctx, outcome); err != nil {
			// Everything went out; only the bookkeeping is late.
			f.log.Warn("fan-out outcome not recorded yet; retrying in the background", "exec_id", execID, "error", err)
			f.recordOutcome(ctx, outcome)
		}
		if p.Sliced() {
			f.sendDueSliced(ctx, later, &resp)
		}
		f.log.Info("exec dispatched", "exec_id", execID, "job_id", m.ID, "version", m.Version,
			"target_count", target, "subjects", resp.Subjects, "pending_waves", len(later), "initiated_by", req.InitiatedBy)
		f.auditf(ctx, req.InitiatedBy, "exec", m.ID, audit, req.SourceIP)
		return resp, nil
	}
	f.recordOutcome(ctx, outcome)
	nothing := len(sent) == 0 && stored == 0
	action := "exec.partial"
	resp.Error = fmt.Sprintf("the broker failed during the fan-out: %d of %d subjects sent, %d not (%v); "+
		"execution %s runs where its command arrived", len(sent), len(immediate), len(failed), ferr, execID)
	if len(later) > 0 {
		resp.Error += fmt.Sprintf("; %d of %d later waves stored", stored, len(later))
	}
	if nothing {
		action = "exec.failed"
		resp.Error = fmt.Sprintf("the broker failed before any command was sent (%v); execution %s reached nobody", ferr, execID)
	}
	f.log.Error("exec fan-out cut short by the broker", "exec_id", execID, "job_id", m.ID, "subjects_sent", len(sent),
		"subjects_failed", len(failed), "waves_stored", stored, "waves_lost", len(later)-stored, "error", ferr)
	audit["subjects_failed"] = failed
	audit["waves_lost"] = len(later) - stored
	audit["error"] = ferr.Error()
	f.auditLater(ctx, req.InitiatedBy, action, m.ID, audit, req.SourceIP)
	return resp, &FanoutError{Resp: resp, Err: ferr, nothing: nothing}
}

func (f *Fanout) auditf(ctx context.Context, actor, action, target string, payload any, ip string) {
	if f.audit != nil {
		f.audit.Audit(ctx, actor, action, target, payload, ip)
	}
}

// publish sends one Command, signed for its subject, to JetStream and
// waits for the PubAck (command.PublishTo: the request_id is the msg id).
func (f *Fanout) publish(ctx context.Context, subject string, cmd wire.Command) error {
	return command.PublishTo(ctx, f.js, f.signer, subject, cmd)
}

// CancelWaves deletes the pending waves of a job (kill, revoke, delete) and
// returns how many it cancelled. A wave whose dispatcher has already
// counted its targets is being sent right now and cannot be recalled.
func (f *Fanout) CancelWaves(ctx context.Context, jobID string) (int, error) {
	return f.cancelWaves(ctx, jobID, "")
}

// cancelWaves is CancelWaves for one execution of the job (execID "" =
// all of them).
func (f *Fanout) cancelWaves(ctx context.Context, jobID, execID string) (int, error) {
	es, err := f.waves.List(ctx, jobID)
	if err != nil {
		return 0, fmt.Errorf("list waves of %s: %w", jobID, err)
	}
	n := 0
	for _, e := range es {
		if execID != "" && !strings.HasPrefix(e.Key, jobID+"."+execID+".") {
			continue
		}
		for range 5 { // compare-and-delete; re-read on a concurrent change
			if !kv.IsMarker(e.Key) && e.Err == nil && e.Wave.Counted {
				break // in flight: its dispatcher (or a retaker) sends it
			}
			err = f.waves.Delete(ctx, e.Key, e.Revision)
			if err == nil {
				if !kv.IsMarker(e.Key) {
					n++
					f.log.Info("wave cancelled", "job_id", jobID, "key", e.Key)
					if rec := e.Wave; e.Err == nil && !rec.Counted && rec.ExecID != "" {
						// The execution no longer waits for this wave.
						f.recordOutcome(ctx, wire.ExecRequested{Kind: wire.ExecWaveCancelledKind, ExecID: rec.ExecID,
							JobID: rec.JobID, Wave: rec.Index})
					}
				}
				break
			}
			var ok bool
			if e, ok, err = f.waves.Get(ctx, e.Key); err != nil || !ok {
				break // gone: sent or cancelled by someone else
			}
			if !kv.IsMarker(e.Key) && e.Err == nil && e.Wave.Counted {
				break // in flight
			}
		}
	}
	return n, nil
}

// sendDueSliced sends, in order, the waves of a new sliced rollout that
// are due now (no delay), so the first wave leaves with the request; the
// dispatcher sends the others when due. resp gains their subjects and
// targets.
func (f *Fanout) sendDueSliced(ctx context.Context, later []WaveRecord, resp *apiv1.ExecResponse) {
	now := f.Now()
	sent := 0
	for _, w := range later {
		if w.DueAt.After(now) {
			break
		}
		e, ok, err := f.waves.Get(ctx, kv.WaveKey(w.JobID, w.ExecID, w.Index))
		if err != nil || !ok || e.Err != nil {
			break // the dispatcher sends it
		}
		subjects := f.dispatchWave(ctx, e.Key, e.Wave, e.Revision, true)
		if subjects == nil {
			break
		}
		resp.Subjects = append(resp.Subjects, subjects...)
		resp.SubjectsSent += len(subjects)
		sent++
	}
	if sent > 0 {
		if e, ok, err := f.store.GetExecution(ctx, resp.ExecID); err == nil && ok {
			resp.TargetCount = e.TargetCount
		}
	}
}

// PendingWaves lists the waves not sent yet (oldest due first).
func (f *Fanout) PendingWaves(ctx context.Context, jobID string) ([]WaveRecord, error) {
	es, err := f.waves.List(ctx, jobID)
	if err != nil {
		return nil, err
	}
	out := []WaveRecord{}
	for _, e := range es {
		if kv.IsMarker(e.Key) || e.Err != nil {
			continue
		}
		out = append(out, e.Wave)
	}
	slices.SortFunc(out, func(a, b WaveRecord) int { return a.DueAt.Compare(b.DueAt) })
	return out, nil
}

// Kill cancels a job's pending waves, then publishes kill.<exec_id> for
// every pending or running execution of the job.
func (f *Fanout) Kill(ctx context.Context, jobID, actor, sourceIP string) (apiv1.KillResponse, error) {
	resp := apiv1.KillResponse{KilledExecIDs: []string{}}
	n, err := f.CancelWaves(ctx, jobID)
	if err != nil {
		return resp, err
	}
	resp.CancelledWaves = n
	for _, status := range []apiv1.ExecutionStatus{apiv1.ExecPending, apiv1.ExecRunning} {
		for off := 0; ; off += 1000 {
			rows, _, err := f.store.ListExecutions(ctx, store.ExecFilter{JobID: jobID, Status: string(status)},
				store.Page{Limit: 1000, Offset: off})
			if err != nil {
				return resp, err
			}
			for _, e := range rows {
				resp.KilledExecIDs = append(resp.KilledExecIDs, e.ExecID)
			}
			if len(rows) < 1000 {
				break
			}
		}
	}
	for _, id := range resp.KilledExecIDs {
		if err := f.KillExec(ctx, id); err != nil {
			return resp, err
		}
	}
	f.log.Info("job killed", "job_id", jobID, "exec_ids", resp.KilledExecIDs, "cancelled_waves", n)
	f.auditf(ctx, actor, "job.kill", jobID, resp, sourceIP)
	return resp, nil
}

// KillExec publishes kill.<exec_id>, signed (core NATS; agents running or
// queueing that execution terminate it), and flushes so it has left the
// process.
func (f *Fanout) KillExec(ctx context.Context, execID string) error {
	if err := command.Kill(f.nc, f.signer, execID, command.KillFromBackend); err != nil {
		return fmt.Errorf("kill exec_id=%s: %w", execID, err)
	}
	return nil
}

// SetScriptStatus sets KV script_status.<job> to ACTIVE or REVOKED; revoking
// also cancels the job's pending waves. It returns the waves cancelled.
func (f *Fanout) SetScriptStatus(ctx context.Context, jobID string, revoked bool) (int, error) {
	if err := f.jobs.SetStatus(ctx, jobID, revoked); err != nil {
		return 0, err
	}
	if !revoked {
		return 0, nil
	}
	return f.CancelWaves(ctx, jobID)
}
