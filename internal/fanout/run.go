package fanout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/fanout/command"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Ad-hoc run limits.
const (
	DefaultRunTimeoutSecs = 60
	MaxRunTimeoutSecs     = 24 * 60 * 60
	// MaxRunDeadline is as far ahead as deadline_at may be: the EXEC
	// stream keeps a command 7 days, so a later deadline means nothing.
	MaxRunDeadline = 7 * 24 * time.Hour
	AdhocVersion   = command.Version
)

// ValidateRun checks the body of POST /api/run and fills the default
// timeout; the error is a *FieldError.
func ValidateRun(r *apiv1.RunRequest, now time.Time) error {
	if !wire.ValidPCID(r.PCID) {
		return &FieldError{Field: "pc_id", Msg: "is required and must be a valid pc_id (no dots, spaces, * or >)"}
	}
	if !wire.ValidShell(r.Shell) {
		return &FieldError{Field: "shell", Msg: "must be one of " + strings.Join(wire.Shells, ", ")}
	}
	if strings.TrimSpace(r.Script) == "" {
		return &FieldError{Field: "script", Msg: "is required"}
	}
	if len(r.Script) > manifest.MaxScriptBytes {
		return &FieldError{Field: "script", Msg: fmt.Sprintf("must be at most %d bytes", manifest.MaxScriptBytes)}
	}
	if r.ExecID != "" && !wire.ValidPCID(r.ExecID) { // one subject token (kill.<exec_id>)
		return &FieldError{Field: "exec_id", Msg: "must be a subject-safe id (A-Z a-z 0-9 _ -)"}
	}
	if r.TimeoutSecs == 0 {
		r.TimeoutSecs = DefaultRunTimeoutSecs
	}
	if r.TimeoutSecs < 1 || r.TimeoutSecs > MaxRunTimeoutSecs {
		return &FieldError{Field: "timeout_secs", Msg: fmt.Sprintf("must be between 1 and %d", MaxRunTimeoutSecs)}
	}
	if dl := r.DeadlineAt; dl != nil && (!dl.After(now) || dl.Sub(now) > MaxRunDeadline) {
		return &FieldError{Field: "deadline_at", Msg: "must be in the future and at most 7 days ahead"}
	}
	return nil
}

// Run executes an inline script on one PC and waits for its result. It
// subscribes to results.*.<request_id> before publishing, so a fast agent's
// result cannot be missed, and records an executions row with job id
// "adhoc" so the run shows in history. The Command carries deadline_at =
// now + timeout + grace: an agent that comes online after the caller gave
// up skips it (125) instead of running it unattended hours later. On
// timeout it returns ErrTimeout (with the exec_id, so it can be killed).
func (f *Fanout) Run(ctx context.Context, req apiv1.RunRequest, initiatedBy, sourceIP string) (wire.ExecResult, string, error) {
	now := f.Now().UTC()
	if err := ValidateRun(&req, now); err != nil {
		return wire.ExecResult{}, "", err
	}
	cmd, wait := command.AdhocCommand(command.Adhoc{ExecID: req.ExecID, Shell: req.Shell, Script: req.Script, TimeoutSecs: req.TimeoutSecs,
		Grace: f.RunGrace, DeadlineAt: req.DeadlineAt}, now)
	aw, err := command.AwaitResult(f.nc, cmd.RequestID)
	if err != nil {
		return wire.ExecResult{}, cmd.ExecID, unavailable(err)
	}
	defer aw.Close()
	// The execution on EXECS and in SQL, then the command, then how it went.
	plan := manifest.Plan{Target: manifest.Target{PCs: []string{req.PCID}}, DeadlineAt: cmd.DeadlineAt}
	if err := f.record(ctx, wire.ExecRequested{Kind: wire.ExecRequestedKind, ExecID: cmd.ExecID, JobID: wire.AdhocJobID,
		Version: AdhocVersion, InitiatedBy: initiatedBy, InitiatedAt: now, TargetCount: 1, Plan: plan.JSON()}); err != nil {
		return wire.ExecResult{}, cmd.ExecID, err
	}
	subject := bus.CommandsPC(req.PCID)
	if err := command.Publish(ctx, f.js, f.signer, req.PCID, cmd); err != nil {
		ctx := context.WithoutCancel(ctx)
		f.recordOutcome(ctx, wire.ExecRequested{Kind: wire.ExecFanoutKind, ExecID: cmd.ExecID, JobID: wire.AdhocJobID,
			SubjectsFailed: []string{subject}})
		f.log.Error("ad-hoc run not sent: the broker failed", "exec_id", cmd.ExecID, "pc_id", req.PCID, "error", err)
		f.auditLater(ctx, initiatedBy, "run.failed", req.PCID, map[string]any{"exec_id": cmd.ExecID, "request_id": cmd.RequestID,
			"error": err.Error()}, sourceIP)
		msg := fmt.Sprintf("the broker failed before the command was sent (%v); execution %s reached nobody", err, cmd.ExecID)
		return wire.ExecResult{}, cmd.ExecID, &FanoutError{Err: err, nothing: true, Resp: apiv1.ExecResponse{ExecID: cmd.ExecID,
			JobID: wire.AdhocJobID, Version: AdhocVersion, TargetCount: 1, Subjects: []string{subject}, SubjectsFailed: []string{subject}, Error: msg}}
	}
	f.recordOutcome(ctx, wire.ExecRequested{Kind: wire.ExecFanoutKind, ExecID: cmd.ExecID, JobID: wire.AdhocJobID, SubjectsSent: 1})
	log := f.log.With("exec_id", cmd.ExecID, "request_id", cmd.RequestID, "pc_id", req.PCID)
	log.Info("ad-hoc run dispatched", "shell", req.Shell, "timeout_secs", req.TimeoutSecs, "deadline_at", cmd.DeadlineAt, "initiated_by", initiatedBy)
	f.auditf(ctx, initiatedBy, "run", req.PCID, map[string]any{"exec_id": cmd.ExecID, "request_id": cmd.RequestID,
		"shell": req.Shell, "timeout_secs": req.TimeoutSecs, "script_bytes": len(req.Script), "deadline_at": cmd.DeadlineAt}, sourceIP)

	aw.OnInvalid = func(err error) { log.Warn("undecodable result ignored", "error", err) }
	res, _, err := aw.Wait(ctx, wait)
	if errors.Is(err, command.ErrTimeout) {
		log.Warn("ad-hoc run timed out waiting for the result", "waited", wait)
		return wire.ExecResult{}, cmd.ExecID, ErrTimeout
	}
	return res, cmd.ExecID, err
}
