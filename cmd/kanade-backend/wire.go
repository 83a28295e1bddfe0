package main

import (
	"context"

	"github.com/kanade-fleet/kanade/internal/api/ops"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/backend"
	"github.com/kanade-fleet/kanade/internal/fanout"
	"github.com/kanade-fleet/kanade/internal/scheduler"
)

// wire plugs the optional parts (dashboard, dev agent, orchestration
// routes and services) into the backend configuration.
func wire(cfg *backend.Config) {
	wireOrchestration(cfg)
	wireDashboard(cfg)
	wireDevAgent(cfg)
}

// newFanout builds a Fanout over a running backend. It keeps no state of
// its own (pending waves live in KV), so each user may build one.
func newFanout(b *backend.Backend) *fanout.Fanout {
	return fanout.New(b.JS, b.NC, b.DB, b.Audit, b.Log)
}

// wireOrchestration adds the job/exec/run/freeze/groups/config routes, the
// scheduler (leader-elected through KV locks) and the wave dispatcher,
// which sends due waves only while this backend holds the scheduler lock.
func wireOrchestration(cfg *backend.Config) {
	cfg.Extra = append(cfg.Extra, func(b *backend.Backend) func(m *auth.Mux) {
		return ops.Orchestration(newFanout(b), ops.Deps{JS: b.JS, Audit: b.Audit, Log: b.Log})
	})
	sched := scheduler.NewService(func(b *backend.Backend) scheduler.Dispatcher {
		f := newFanout(b)
		return scheduler.DispatcherFunc(func(ctx context.Context, req scheduler.Request) (scheduler.Dispatched, error) {
			r, err := f.Exec(ctx, fanout.ExecRequest{ExecID: req.ExecID, JobID: req.JobID, Plan: req.Plan,
				InitiatedBy: req.InitiatedBy})
			return scheduler.Dispatched{Version: r.Version, TargetCount: r.TargetCount, Subjects: r.Subjects}, err
		})
	}, scheduler.Options{})
	cfg.Services = append(cfg.Services, sched.Run, func(ctx context.Context, b *backend.Backend) {
		newFanout(b).RunWaves(ctx, sched.IsLeader)
	})
}
