package server

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/kanade-fleet/kanade/internal/agent"
	"github.com/kanade-fleet/kanade/internal/broker"
	"github.com/kanade-fleet/kanade/internal/fanout"
	"github.com/kanade-fleet/kanade/internal/scheduler"
)

// schedulerLock is the key in KV locks whose holder runs every duty that
// must run on one replica only (schedules, due waves).
const schedulerLock = "scheduler"

// fanoutDispatcher lets the scheduler fire through the same exec path as
// POST /api/exec.
type fanoutDispatcher struct{ f *fanout.Fanout }

// A fire the broker cut short that reached some PCs counts as fired: it is
// recorded and audited by the fan-out, and the dispatch rows of the PCs it
// did not reach are gone (their per_pc standing lets a later evaluation
// retry them).
func (d fanoutDispatcher) Exec(ctx context.Context, req scheduler.Request) (scheduler.Dispatched, error) {
	r, err := d.f.Exec(ctx, fanout.ExecRequest{ExecID: req.ExecID, JobID: req.JobID, Plan: req.Plan,
		InitiatedBy: req.InitiatedBy, ScheduleID: req.ScheduleID, DispatchPCs: req.PCs, DispatchedAt: req.DispatchedAt})
	var fe *fanout.FanoutError
	if errors.As(err, &fe) && !fe.NothingSent() {
		r, err = fe.Resp, nil
	}
	return scheduler.Dispatched{Version: r.Version, TargetCount: r.TargetCount, Subjects: r.Subjects}, err
}

// runDevAgent runs the in-process agent of --dev (pc_id = hostname), so the
// README's first command gives a working one-PC fleet.
func (b *Server) runDevAgent(ctx context.Context, creds *broker.RoleCredentials) {
	if b.devCreds.User != "" && (creds.Agent.IsHash() || b.Broker == nil) {
		b.Log.Error("the --dev agent needs the plain agent password of the embedded broker; it is not started")
		return
	}
	pc, err := agent.DefaultPCID()
	if err != nil {
		b.Log.Error("in-process dev agent: no pc_id", "error", err)
		return
	}
	o := agent.Options{PCID: pc, NATSURL: b.natsURL, NATSToken: b.devCreds.Token,
		NATSUser: b.devCreds.User, NATSPassword: b.devCreds.Password,
		DataDir: filepath.Join(b.Cfg.DataDir, "agent"), Logger: b.Log.With("component", "dev-agent"), Version: b.Cfg.Version,
		// The backend published its key in KV signing_keys before starting
		// this agent, which trusts it on first use.
		RequireSigned: true}
	if b.Authority != nil {
		// Operator mode: the local agent gets its own credential directly.
		if o.CredsFile, err = b.devAgentCreds(pc, o.DataDir); err != nil {
			b.Log.Error("in-process dev agent: credential", "error", err)
			return
		}
		o.NATSToken, o.NATSUser, o.NATSPassword = "", "", ""
	}
	a, err := agent.New(o)
	if err != nil {
		b.Log.Error("in-process dev agent", "error", err)
		return
	}
	if err := a.Run(ctx); err != nil && ctx.Err() == nil {
		b.Log.Error("in-process dev agent stopped", "error", err)
	}
}
