package fanout

import (
	"context"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// KillExecution kills one execution by id on behalf of an account (the
// API path of `kanade kill` without --signing-key): a signed kill.<exec_id>,
// audited as exec.kill. The execution need not be known to the backend (a
// direct `kanade run` has no row), so an unknown id is not an error: the
// kill reaches whoever runs it, or nobody.
func (f *Fanout) KillExecution(ctx context.Context, execID, actor, sourceIP string) (apiv1.ExecKillResponse, error) {
	if !wire.ValidPCID(execID) { // one subject token, like every minted exec_id
		return apiv1.ExecKillResponse{}, &FieldError{Field: "exec_id", Msg: "must be a subject-safe id (A-Z a-z 0-9 _ -)"}
	}
	if err := f.KillExec(ctx, execID); err != nil {
		return apiv1.ExecKillResponse{}, err
	}
	resp := apiv1.ExecKillResponse{ExecID: execID, Subject: bus.Kill(execID)}
	f.log.Info("execution killed", "exec_id", execID, "initiated_by", actor)
	f.auditf(ctx, actor, "exec.kill", execID, resp, sourceIP)
	return resp, nil
}
