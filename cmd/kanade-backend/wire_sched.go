package main

import (
	"github.com/kanade-fleet/kanade/internal/api/sched"
	"github.com/kanade-fleet/kanade/internal/backend"
	"github.com/kanade-fleet/kanade/internal/scheduler"
)

// wireScheduler adds the scheduler (leader election + schedule firing) as a
// backend service and the /api/schedules routes. newDispatcher adapts the
// fan-out exec path to scheduler.Dispatcher once the backend is up. The
// returned service's IsLeader gates the other single-replica duties (the
// wave dispatcher), so every backend runs one election, not one per duty.
func wireScheduler(cfg *backend.Config, newDispatcher func(b *backend.Backend) scheduler.Dispatcher) *scheduler.Service {
	svc := scheduler.NewService(newDispatcher, scheduler.Options{})
	cfg.Services = append(cfg.Services, svc.Run)
	cfg.Extra = append(cfg.Extra, sched.Routes)
	return svc
}
