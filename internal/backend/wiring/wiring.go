// Package wiring plugs the optional parts of kanade-backend (scheduler,
// wave dispatcher, dashboard, --dev agent)
// into a backend.Config. cmd/kanade-backend calls All; tests call it too,
// so they run exactly the route set and services the binary runs.
package wiring

import (
	"context"

	"github.com/kanade-fleet/kanade/internal/agent"
	"github.com/kanade-fleet/kanade/internal/backend"
	"github.com/kanade-fleet/kanade/internal/fanout"
	"github.com/kanade-fleet/kanade/internal/scheduler"
	"github.com/kanade-fleet/kanade/internal/version"
	"github.com/kanade-fleet/kanade/internal/webui"
)

// All wires everything kanade-backend serves and runs.
func All(cfg *backend.Config) {
	Orchestration(cfg)
	Dashboard(cfg)
	DevAgent(cfg)
}

// Orchestration adds the scheduler (leader-elected through KV locks) and
// the wave dispatcher, which sends due waves only while this backend holds
// the scheduler lock. (Every /api route, orchestration included, is in the
// one route table of package api.)
func Orchestration(cfg *backend.Config) {
	sched := Scheduler(cfg, func(b *backend.Backend) scheduler.Dispatcher {
		f := b.Fanout
		return scheduler.DispatcherFunc(func(ctx context.Context, req scheduler.Request) (scheduler.Dispatched, error) {
			r, err := f.Exec(ctx, fanout.ExecRequest{ExecID: req.ExecID, JobID: req.JobID, Plan: req.Plan,
				InitiatedBy: req.InitiatedBy})
			return scheduler.Dispatched{Version: r.Version, TargetCount: r.TargetCount, Subjects: r.Subjects}, err
		})
	})
	cfg.Services = append(cfg.Services, func(ctx context.Context, b *backend.Backend) {
		b.Fanout.RunWaves(ctx, sched.IsLeader)
	})
}

// Scheduler adds the scheduler (leader election + schedule firing) as a
// backend service. newDispatcher adapts the
// fan-out exec path to scheduler.Dispatcher once the backend is up. The
// returned service's IsLeader gates the other single-replica duties (the
// wave dispatcher), so every backend runs one election, not one per duty.
func Scheduler(cfg *backend.Config, newDispatcher func(b *backend.Backend) scheduler.Dispatcher) *scheduler.Service {
	svc := scheduler.NewService(newDispatcher, scheduler.Options{})
	cfg.Services = append(cfg.Services, svc.Run)
	return svc
}

// Dashboard serves the embedded single-page dashboard at /.
func Dashboard(cfg *backend.Config) { cfg.UI = webui.Handler() }

// DevAgent makes --dev start one in-process agent (pc_id = hostname), so
// the README's first command gives a working one-PC fleet.
func DevAgent(cfg *backend.Config) {
	cfg.DevAgent = func(ctx context.Context, natsURL string, creds backend.BrokerCreds, dataDir string) error {
		pc, err := agent.DefaultPCID()
		if err != nil {
			return err
		}
		a, err := agent.New(agent.Options{PCID: pc, NATSURL: natsURL, NATSToken: creds.Token,
			NATSUser: creds.User, NATSPassword: creds.Password,
			DataDir: dataDir, Logger: cfg.Log.With("component", "dev-agent"), Version: version.Version})
		if err != nil {
			return err
		}
		return a.Run(ctx)
	}
}
