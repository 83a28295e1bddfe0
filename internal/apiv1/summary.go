package apiv1

import "context"

// ResultGroup is one group of GET /api/executions/{exec_id}/summary: the
// finished results of the execution that ended the same way and printed
// the same stdout after normalisation (CRLF → LF, trailing spaces and tabs
// of each line and leading/trailing blank lines dropped, the agent's
// truncation note without its byte counts; see internal/outgroup). The
// answer is an array of groups, largest first, then by exit code, then by
// first PC; the
// header X-Total-Count says how many groups there are in all.
type ResultGroup struct {
	// Status is the results' status (success, failure or skipped; never
	// running: results still in flight are not grouped).
	Status ResultStatus `json:"status"`
	// Reason is set for failures that are not a script's own exit:
	// timed_out, killed or reaped (no result came back). Such results group
	// by reason, never with a script's exit of the same code.
	Reason   string `json:"reason,omitempty"`
	ExitCode int    `json:"exit_code"`
	Count    int    `json:"count"`
	// PCs are the group's first 20 PCs in pc_id order.
	PCs []string `json:"pcs"`
	// SampleStdout and SampleStderr are the output of the first PC's
	// result as stored (all of a short output; head and tail of a long
	// one); SampleResultID names that result (GET /api/results/{id}).
	SampleStdout   string `json:"sample_stdout"`
	SampleStderr   string `json:"sample_stderr"`
	SampleResultID string `json:"sample_result_id"`
	// StdoutHash is the group's key ("" when stdout is empty).
	StdoutHash string `json:"stdout_hash"`
}

// SummaryQuery bounds GET /api/executions/{exec_id}/summary.
type SummaryQuery struct {
	Limit int `query:"limit"` // the largest groups returned (default 100, at most 1000)
}

// ExecutionSummary is GET /api/executions/{exec_id}/summary.
func (c *Client) ExecutionSummary(ctx context.Context, execID string, q SummaryQuery) ([]ResultGroup, error) {
	return get[[]ResultGroup](ctx, c, "/api/executions/"+esc(execID)+"/summary", Query(q))
}
