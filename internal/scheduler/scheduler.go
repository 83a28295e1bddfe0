// Package scheduler fires schedules (KV `schedules`, SPEC §4) on the
// backend that holds the scheduler lock (package leader).
//
// Engine: one goroutine per enabled schedule, sleeping until
// schedule.Next. Not gocron: package schedule already defines the fire
// times (tz, DST, calendar nth/last weekdays, one-shots) and Preview must
// agree with what fires; a loop over the same Next guarantees that, and
// gives us the hooks gocron hides — leadership and freeze checked at each
// tick, a compare-and-set claim of each tick in KV scheduler_state, and
// an explicit missed-fire policy (see docs/scheduler.md).
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/schedule"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Actor is the audit actor and initiated_by of scheduled executions.
const Actor = "scheduler"

// Audit actions recorded by the scheduler.
const (
	ActionFire = "schedule.fire"
	// ActionSkip is audited for a tick whose target reached no known PC.
	ActionSkip = "schedule.skip"
)

// Request is one scheduled dispatch.
type Request struct {
	// ExecID is minted by the scheduler (and, for per_pc, recorded before
	// the call): the dispatcher must use it as the execution's exec_id.
	ExecID      string
	JobID       string
	Plan        manifest.Plan // deadline_at already set from starting_deadline
	InitiatedBy string        // always Actor
	ScheduleID  string
	Tick        time.Time // the fire time this dispatch is for
	// PCs and DispatchedAt are the per_pc dispatch rows recorded before
	// the call (nil for other schedules): the dispatcher carries them on
	// EXECS so a rebuilt database has them again.
	PCs          []string
	DispatchedAt time.Time
}

// Dispatched is what a dispatch did.
type Dispatched struct {
	Version     string
	TargetCount int
	Subjects    []string
}

// Dispatcher runs a job now, like POST /api/exec/{job_id}: executions row
// and script_current pin first, then one Command per subject. It must not
// check the freeze (the scheduler does; manual execs ignore it).
type Dispatcher interface {
	Exec(ctx context.Context, req Request) (Dispatched, error)
}

// DispatcherFunc adapts a function to Dispatcher.
type DispatcherFunc func(ctx context.Context, req Request) (Dispatched, error)

// Exec calls f.
func (f DispatcherFunc) Exec(ctx context.Context, req Request) (Dispatched, error) {
	return f(ctx, req)
}

// Leader is the election the scheduler obeys (*leader.Elector).
type Leader interface {
	IsLeader() bool
	Changed() <-chan struct{}
}

// Store is what the scheduler needs from the database (*store.DB).
type Store interface {
	LiveAgentGroups(ctx context.Context, now time.Time) (map[string][]string, error)
	RecordScheduleDispatch(ctx context.Context, scheduleID, execID string, pcs []string, at time.Time) error
	ForgetScheduleDispatch(ctx context.Context, scheduleID, execID string) error
	SettleScheduleDispatches(ctx context.Context, scheduleID string, now time.Time) error
	PruneScheduleDispatches(ctx context.Context, scheduleID string, now time.Time) (int64, error)
	ScheduleStandings(ctx context.Context, scheduleID string, inflightCutoff time.Time) (map[string]store.PCStanding, error)
	JobSuccesses(ctx context.Context, jobID string) (map[string]time.Time, error)
}

// Auditor records audit events (*audit.Publisher).
type Auditor interface {
	Record(ctx context.Context, actor, action, target string, payload any, sourceIP string) error
}

// Publisher sends live events to dashboards (*live.Hub).
type Publisher interface {
	Publish(eventType string, data any)
}

// Schedules is what the scheduler needs of KV schedules and
// scheduler_state (*kv.Schedules).
type Schedules interface {
	Watch(ctx context.Context) (*kv.Watch[schedule.Schedule], error)
	State(ctx context.Context, id string) (State, uint64, error)
	PutState(ctx context.Context, id string, st State, rev uint64) (uint64, error)
}

// Jobs reads the job catalog at fire time (*kv.Jobs).
type Jobs interface {
	Get(ctx context.Context, id string) (manifest.Manifest, error)
	Revoked(ctx context.Context, id string) (bool, error)
}

// Freeze reads the fleet freeze (*kv.Freeze).
type Freeze interface {
	Get(ctx context.Context) (wire.Freeze, bool, error)
}

// Deps are the scheduler's collaborators.
type Deps struct {
	Schedules  Schedules
	Jobs       Jobs
	Freeze     Freeze
	Store      Store
	Dispatcher Dispatcher
	Leader     Leader
	Audit      Auditor   // nil: not audited
	Events     Publisher // nil: no live events
	Log        *slog.Logger
	Holder     string // this backend's id, written into scheduler_state
}

// Options tune the scheduler.
type Options struct {
	// PerPCEvery is how often per_pc schedules are evaluated (default
	// schedule.EvaluateEvery, one minute; tests shorten it).
	PerPCEvery time.Duration
}

// Scheduler fires schedules.
type Scheduler struct {
	d    Deps
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	entries map[string]*entry
	wg      sync.WaitGroup
}

type entry struct {
	s       schedule.Schedule
	created time.Time // time of the KV put that defined this version
	cancel  context.CancelFunc
	done    chan struct{}
	pruned  time.Time
}

// New returns a scheduler; Run starts it.
func New(d Deps, opts Options) *Scheduler {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if opts.PerPCEvery <= 0 {
		opts.PerPCEvery = schedule.EvaluateEvery
	}
	return &Scheduler{d: d, opts: opts, log: d.Log.With("component", "scheduler"), entries: map[string]*entry{}}
}

// Run loads the schedules, follows KV schedules live, and fires them until
// ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	defer s.stopAll()
	for ctx.Err() == nil {
		if err := s.follow(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("schedules watch ended; restarting", "error", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return ctx.Err()
}

// follow applies the current schedules and every later change.
func (s *Scheduler) follow(ctx context.Context) error {
	w, err := s.d.Schedules.Watch(ctx)
	if err != nil {
		return fmt.Errorf("watch schedules: %w", err)
	}
	defer w.Stop()
	seen := map[string]bool{}
	initial := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case ent, ok := <-w.Updates():
			if !ok {
				return errors.New("watcher closed")
			}
			if ent.Synced { // initial values delivered: drop schedules deleted while we were not watching
				initial = false
				s.mu.Lock()
				var gone []string
				for id := range s.entries {
					if !seen[id] {
						gone = append(gone, id)
					}
				}
				s.mu.Unlock()
				for _, id := range gone {
					s.remove(id)
				}
				continue
			}
			if initial {
				seen[ent.Key] = true
			}
			s.apply(ctx, ent)
		}
	}
}

func (s *Scheduler) apply(ctx context.Context, ent kv.Change[schedule.Schedule]) {
	id := ent.Key
	if ent.Deleted {
		s.remove(id)
		s.log.Info("schedule removed", "schedule_id", id)
		return
	}
	sc, err := ent.Value, ent.Err
	if err != nil {
		s.remove(id)
		s.log.Error("schedule in KV does not parse; not firing it", "schedule_id", id, "error", err)
		return
	}
	if sc.ID != id {
		s.remove(id)
		s.log.Error("schedule id differs from its key; not firing it", "schedule_id", id, "id", sc.ID)
		return
	}
	s.remove(id)
	if !sc.Enabled {
		s.log.Info("schedule disabled", "schedule_id", id)
		return
	}
	ectx, cancel := context.WithCancel(ctx)
	e := &entry{s: sc, created: ent.Created, cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	s.entries[id] = e
	s.mu.Unlock()
	s.wg.Go(func() {
		defer close(e.done)
		s.runEntry(ectx, e)
	})
	s.log.Info("schedule armed", "schedule_id", id, "job_id", sc.JobID, "tz", sc.TZ)
}

func (s *Scheduler) remove(id string) {
	s.mu.Lock()
	e := s.entries[id]
	delete(s.entries, id)
	s.mu.Unlock()
	if e != nil {
		e.cancel()
		<-e.done
	}
}

func (s *Scheduler) stopAll() {
	s.mu.Lock()
	for _, e := range s.entries {
		e.cancel()
	}
	s.entries = map[string]*entry{}
	s.mu.Unlock()
	s.wg.Wait()
}

// Armed lists the ids of the schedules currently armed (enabled and valid).
func (s *Scheduler) Armed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.entries))
	for id := range s.entries {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func (s *Scheduler) next(e *entry, after time.Time) (time.Time, bool) {
	if e.s.IsPerPC() {
		ev := s.opts.PerPCEvery
		return after.Truncate(ev).Add(ev), true
	}
	return e.s.Next(after)
}

// runEntry sleeps until each fire time and fires it. After a fire the next
// time is computed from now, so a slow dispatch skips ticks instead of
// bursting through them.
func (s *Scheduler) runEntry(ctx context.Context, e *entry) {
	changed := s.d.Leader.Changed()
	s.catchUp(ctx, e)
	after := time.Now()
	for {
		next, ok := s.next(e, after)
		var timer <-chan time.Time
		var t *time.Timer
		if ok {
			t = time.NewTimer(time.Until(next))
			timer = t.C
		}
		stop := func() {
			if t != nil {
				t.Stop()
			}
		}
		select {
		case <-ctx.Done():
			stop()
			return
		case <-changed:
			stop()
			changed = s.d.Leader.Changed()
			s.catchUp(ctx, e)
			after = time.Now()
		case <-timer:
			s.fire(ctx, e, next, false)
			after = next
			if now := time.Now(); now.After(after) {
				after = now
			}
		}
	}
}

// catchUp applies the missed-fire policy when this backend (re)gains the
// lead or arms a schedule: the most recent tick that was due, not claimed
// by anyone, and after the schedule's last change fires once — and only if
// its starting_deadline (when set) has not passed. Older missed ticks are
// dropped. per_pc schedules reconcile on their next evaluation instead.
func (s *Scheduler) catchUp(ctx context.Context, e *entry) {
	if e.s.IsPerPC() || !s.d.Leader.IsLeader() {
		return
	}
	st, _, err := s.d.Schedules.State(ctx, e.s.ID)
	if err != nil {
		s.log.Warn("catch-up: read state", "schedule_id", e.s.ID, "error", err)
		return
	}
	now := time.Now()
	base := e.created
	if st.LastTick.After(base) {
		base = st.LastTick
	}
	due, ok := lastDue(e.s, base, now)
	if !ok {
		return
	}
	if e.s.StartingDeadline != "" {
		d, _ := manifest.ParseDuration(e.s.StartingDeadline)
		if !now.Before(due.Add(d)) {
			s.log.Info("missed fire dropped: past its starting_deadline", "schedule_id", e.s.ID, "tick", due)
			return
		}
	}
	s.log.Info("firing one missed tick", "schedule_id", e.s.ID, "tick", due)
	s.fire(ctx, e, due, true)
}

// lastDue is the latest fire time in (base, now], searched in growing
// windows back from now so a per-second cron after a long outage stays cheap.
func lastDue(sc schedule.Schedule, base, now time.Time) (time.Time, bool) {
	for _, w := range []time.Duration{time.Minute, time.Hour, 24 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour, 6 * 367 * 24 * time.Hour} {
		from := now.Add(-w)
		if from.Before(base) {
			from = base
		}
		var last time.Time
		t := from
		for range 100000 {
			n, ok := sc.Next(t)
			if !ok || n.After(now) {
				break
			}
			last, t = n, n
		}
		if !last.IsZero() {
			return last, true
		}
		if !from.After(base) {
			return time.Time{}, false
		}
	}
	return time.Time{}, false
}

// fire handles one tick: leadership, freeze, job checks, the tick claim,
// then the dispatch.
func (s *Scheduler) fire(ctx context.Context, e *entry, tick time.Time, catchUp bool) {
	sc := e.s
	log := s.log.With("schedule_id", sc.ID, "job_id", sc.JobID, "tick", tick.UTC())
	if !s.d.Leader.IsLeader() {
		log.Debug("tick skipped: not the scheduler leader")
		return
	}
	if frozen, why := s.frozen(ctx); frozen {
		log.Info("scheduled fire suppressed by fleet freeze", "reason", why)
		return
	}
	man, ok := s.job(ctx, log, sc.JobID)
	if !ok {
		return
	}
	st, rev, err := claim(ctx, s.d.Schedules, sc.ID, tick, s.d.Holder)
	if errors.Is(err, errClaimed) {
		log.Debug("tick already fired by another backend")
		return
	}
	if err != nil {
		log.Error("tick not fired: cannot claim it", "error", err)
		return
	}
	if sc.IsPerPC() {
		s.firePerPC(ctx, log, e, man, tick, st, rev)
		return
	}
	execID := uuid.NewString()
	plan := sc.Plan(tick)
	s.dispatch(ctx, log, sc, plan, execID, tick, st, rev, catchUp, nil, time.Time{})
}

// job returns the manifest at fire time (an edited job takes effect on the
// next tick); a missing or revoked job does not fire.
func (s *Scheduler) job(ctx context.Context, log *slog.Logger, jobID string) (manifest.Manifest, bool) {
	man, err := s.d.Jobs.Get(ctx, jobID)
	switch {
	case errors.Is(err, kv.ErrJobNotFound):
		log.Warn("scheduled fire skipped: job does not exist")
		return manifest.Manifest{}, false
	case errors.Is(err, kv.ErrInvalid):
		log.Error("scheduled fire skipped: stored job does not parse", "error", err)
		return manifest.Manifest{}, false
	case err != nil:
		log.Error("scheduled fire skipped: cannot read job", "error", err)
		return manifest.Manifest{}, false
	}
	if revoked, err := s.d.Jobs.Revoked(ctx, jobID); err == nil && revoked {
		log.Info("scheduled fire skipped: job is revoked")
		return manifest.Manifest{}, false
	}
	return man, true
}

// frozen reads fleet_config.freeze; a value that cannot be read or decoded
// counts as frozen (fail safe: a freeze is an emergency brake).
func (s *Scheduler) frozen(ctx context.Context) (bool, string) {
	f, ok, err := s.d.Freeze.Get(ctx)
	switch {
	case errors.Is(err, kv.ErrInvalid):
		return true, "freeze value corrupt"
	case err != nil:
		return true, "freeze state unreadable: " + err.Error()
	case !ok:
		return false, ""
	}
	return f.Active(time.Now()), f.Reason
}

// firePerPC dispatches to the target PCs that need a run: online, matched
// by the target, not in flight, and without a success (once) or whose last
// one is older than every. A success is any run of the job that exited 0
// (any version, any source: a manual exec counts) unless the schedule says
// count_manual: false, when only its own dispatches count.
func (s *Scheduler) firePerPC(ctx context.Context, log *slog.Logger, e *entry, man manifest.Manifest, tick time.Time, st State, rev uint64) {
	sc := e.s
	now := time.Now()
	if err := s.d.Store.SettleScheduleDispatches(ctx, sc.ID, now); err != nil {
		log.Error("per_pc evaluation failed", "error", err)
		return
	}
	if now.Sub(e.pruned) > time.Hour {
		e.pruned = now
		if n, err := s.d.Store.PruneScheduleDispatches(ctx, sc.ID, now); err != nil {
			log.Warn("prune dispatch history", "error", err)
		} else if n > 0 {
			log.Info("pruned dispatch history", "rows", n)
		}
	}
	plan := sc.Plan(tick)
	// A dispatch counts as in flight until its result, or for as long as the
	// command may sit queued on the agent (jitter, one run ahead of it).
	window := plan.JitterDuration() + man.Timeout() + 2*time.Minute
	standings, err := s.d.Store.ScheduleStandings(ctx, sc.ID, now.Add(-window))
	if err != nil {
		log.Error("per_pc evaluation failed", "error", err)
		return
	}
	live, err := s.d.Store.LiveAgentGroups(ctx, now)
	if err != nil {
		log.Error("per_pc evaluation failed", "error", err)
		return
	}
	var anySource map[string]time.Time // last success of the job per PC, any source
	if sc.CountsManual() {
		if anySource, err = s.d.Store.JobSuccesses(ctx, sc.JobID); err != nil {
			log.Error("per_pc evaluation failed", "error", err)
			return
		}
	}
	every := sc.When.PerPC.EveryDuration()
	var need []string
	for pc, groups := range live {
		if !plan.Matches(pc, groups) {
			continue
		}
		stn := standings[pc]
		if stn.InFlight {
			continue
		}
		if t := anySource[pc]; t.After(stn.LastSuccess) {
			stn.LastSuccess = t
		}
		if !stn.LastSuccess.IsZero() && (every == 0 || now.Sub(stn.LastSuccess) < every) {
			continue
		}
		need = append(need, pc)
	}
	if len(need) == 0 {
		return
	}
	slices.Sort(need)
	execID := uuid.NewString()
	if err := s.d.Store.RecordScheduleDispatch(ctx, sc.ID, execID, need, now); err != nil {
		log.Error("per_pc dispatch not recorded; not dispatching", "error", err)
		return
	}
	plan.Target = manifest.Target{PCs: need}
	plan.Rollout = nil
	s.dispatch(ctx, log, sc, plan, execID, tick, st, rev, false, need, now)
}

func (s *Scheduler) dispatch(ctx context.Context, log *slog.Logger, sc schedule.Schedule, plan manifest.Plan, execID string,
	tick time.Time, st State, rev uint64, catchUp bool, pcs []string, dispatchedAt time.Time) {
	log = log.With("exec_id", execID)
	res, err := s.d.Dispatcher.Exec(ctx, Request{ExecID: execID, JobID: sc.JobID, Plan: plan, InitiatedBy: Actor,
		ScheduleID: sc.ID, Tick: tick.UTC(), PCs: pcs, DispatchedAt: dispatchedAt})
	if errors.Is(err, manifest.ErrNoTargets) {
		// Nobody to run it on is not a failure of the scheduler: the tick
		// is skipped (it stays claimed, so it is not retried) and audited,
		// and the next tick tries again against the fleet as it is then.
		log.Warn("scheduled fire skipped: the target reaches no known PC", "error", err)
		if s.d.Audit != nil {
			if aerr := s.d.Audit.Record(context.WithoutCancel(ctx), Actor, ActionSkip, sc.ID, map[string]any{
				"schedule_id": sc.ID, "job_id": sc.JobID, "tick": tick.UTC(), "reason": err.Error()}, ""); aerr != nil {
				log.Error("audit event not recorded", "error", aerr)
			}
		}
	}
	if err != nil {
		if !errors.Is(err, manifest.ErrNoTargets) {
			log.Error("scheduled dispatch failed", "error", err)
		}
		if pcs != nil {
			if ferr := s.d.Store.ForgetScheduleDispatch(context.WithoutCancel(ctx), sc.ID, execID); ferr != nil {
				log.Warn("forget failed dispatch", "error", ferr)
			}
		}
		return
	}
	log.Info("schedule fired", "target_count", res.TargetCount, "catch_up", catchUp, "pcs", len(pcs))
	if err := recordFire(context.WithoutCancel(ctx), s.d.Schedules, sc.ID, st, rev, tick, execID, res.TargetCount); err != nil {
		log.Warn("fire not recorded in scheduler_state", "error", err)
	}
	payload := map[string]any{"schedule_id": sc.ID, "job_id": sc.JobID, "exec_id": execID, "version": res.Version,
		"tick": tick.UTC(), "target_count": res.TargetCount, "subjects": res.Subjects}
	if catchUp {
		payload["catch_up"] = true
	}
	if pcs != nil {
		payload["pcs"] = pcs
	}
	if plan.DeadlineAt != nil {
		payload["deadline_at"] = plan.DeadlineAt
	}
	if s.d.Audit != nil {
		if err := s.d.Audit.Record(context.WithoutCancel(ctx), Actor, ActionFire, sc.ID, payload, ""); err != nil {
			log.Error("audit event not recorded", "error", err)
		}
	}
	if s.d.Events != nil {
		s.d.Events.Publish("schedule", map[string]string{"schedule_id": sc.ID, "exec_id": execID, "job_id": sc.JobID})
	}
}
