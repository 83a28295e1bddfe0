package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// The scenarios talk to the backend only through apiv1.Client; these are
// the few waits they share.

// NewClient is the API client of a backend started by the simulator (auth
// disabled, so no token).
func NewClient(base string) *apiv1.Client { return &apiv1.Client{Base: base} }

// AllPCs is the plan that targets every PC.
var AllPCs = apiv1.ExecRequest{Target: apiv1.Target{All: true}}

// PutJob stores the simulator's job under id.
func PutJob(ctx context.Context, cl *apiv1.Client, id string) error {
	_, err := cl.PutJob(ctx, apiv1.Source(SimJob(id)))
	return err
}

// FindExecution returns one executions row, found through the list
// endpoint (the single-execution endpoint also returns every per-PC row).
func FindExecution(ctx context.Context, cl *apiv1.Client, job, execID string) (apiv1.Execution, bool, error) {
	l, err := cl.ListExecutions(ctx, apiv1.ExecutionQuery{JobID: job, Page: apiv1.Page{Limit: 20}})
	if err != nil {
		return apiv1.Execution{}, false, err
	}
	for _, e := range l.Items {
		if e.ExecID == execID {
			return e, true, nil
		}
	}
	return apiv1.Execution{}, false, nil
}

// WaitCompleted polls an execution until it is completed; it returns the
// row and when completion was first observed.
func WaitCompleted(ctx context.Context, cl *apiv1.Client, job, execID string, every time.Duration) (apiv1.Execution, time.Time, error) {
	for {
		e, ok, err := FindExecution(ctx, cl, job, execID)
		now := time.Now()
		if err == nil && ok && e.Status == apiv1.ExecCompleted {
			return e, now, nil
		}
		select {
		case <-ctx.Done():
			return e, now, fmt.Errorf("execution %s not completed (last: %+v, err %v): %w", execID, e, err, ctx.Err())
		case <-time.After(every):
		}
	}
}

// OnlineCount is the number of agents online now.
func OnlineCount(ctx context.Context, cl *apiv1.Client) (int, error) {
	l, err := cl.ListAgents(ctx, apiv1.AgentQuery{Status: apiv1.AgentOnline, Page: apiv1.Page{Limit: 1}})
	return l.Total, err
}

// WaitOnline waits until at least n agents are online.
func WaitOnline(ctx context.Context, cl *apiv1.Client, n int) error {
	for {
		got, err := OnlineCount(ctx, cl)
		if err == nil && got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("online agents %d of %d (err %v): %w", got, n, err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// SimJob is the manifest the scenarios run (the simulated runner ignores
// the script).
func SimJob(id string) string {
	return "id: " + id + "\nversion: 1.0.0\ndescription: kanade-sim load job\nexecute:\n  shell: sh\n  script: echo sim\n  timeout: 60s\n"
}
