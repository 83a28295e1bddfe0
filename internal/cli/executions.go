package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

func (a *app) executionsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "executions", Aliases: []string{"execution"}, Short: "List and inspect executions (exec runs)"}
	var job, status string
	var bound func() (int, error)
	list := &cobra.Command{
		Use:   "list",
		Short: "List executions, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eq := apiv1.ExecutionQuery{JobID: job, Status: apiv1.ExecutionStatus(status)}
			rows, err := listAll(cmd.Context(), a, bound, func(ctx context.Context, c *apiv1.Client, p apiv1.Page) (apiv1.List[apiv1.Execution], error) {
				eq.Page = p
				return c.ListExecutions(ctx, eq)
			})
			if err != nil {
				return err
			}
			return a.emitValue(rows, func(w io.Writer) error {
				t := newTable(w, "EXEC_ID", "JOB", "VERSION", "STATUS", "TARGETS", "OK", "FAILED", "SKIPPED", "BY", "INITIATED")
				for _, e := range rows {
					t.row(e.ExecID, e.JobID, e.Version, execStatus(e), strconv.Itoa(e.TargetCount), strconv.Itoa(e.SuccessCount),
						strconv.Itoa(e.FailureCount), strconv.Itoa(e.SkippedCount), e.InitiatedBy, a.when(e.InitiatedAt))
				}
				return t.flush()
			})
		},
	}
	list.Flags().StringVar(&job, "job", "", "only this job")
	list.Flags().StringVar(&status, "status", "", "pending|running|completed|expired")
	bound = pagingFlags(list, 50)
	show := &cobra.Command{
		Use:   "show <exec_id>",
		Short: "Show one execution and its per-PC results",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			d, err := c.GetExecution(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.emitValue(d, func(w io.Writer) error {
				if err := kv(w, "exec_id", d.ExecID, "job_id", d.JobID, "version", d.Version, "status", string(d.Status),
					"initiated", a.when(d.InitiatedAt)+" by "+d.InitiatedBy,
					"targets", fmt.Sprintf("%d (ok %d, failed %d, skipped %d)", d.TargetCount, d.SuccessCount, d.FailureCount, d.SkippedCount)); err != nil {
					return err
				}
				if d.RolloutState != "" {
					r := fmt.Sprintf("%s, %d waves pending", d.RolloutState, d.PendingWaves)
					if d.HaltReason != "" {
						r = fmt.Sprintf("halted: %s", d.HaltReason)
					}
					if err := kv(w, "rollout", r); err != nil {
						return err
					}
				}
				fmt.Fprintln(w)
				return a.resultsTable(w, byPC(d.Results))
			})
		},
	}
	cmd.AddCommand(list, show, a.rolloutCmd("pause", "Hold an execution's pending rollout waves",
		`No pending wave of the execution is sent until it is resumed (a wave that is
being sent at that moment still goes). Fails (exit 1) when the execution is
unknown, has no pending wave or is already paused.`,
		func(c *apiv1.Client) func(context.Context, string) (apiv1.RolloutActionResponse, error) {
			return c.PauseExecution
		}),
		a.rolloutCmd("resume", "Release an execution's paused rollout waves",
			`Each paused wave becomes due later by as long as it was paused, so the time
between waves is kept; halt_on is checked when each is due. Fails (exit 1)
when the execution is unknown or not paused.`,
			func(c *apiv1.Client) func(context.Context, string) (apiv1.RolloutActionResponse, error) {
				return c.ResumeExecution
			}),
		a.rolloutCmd("cancel", "Delete an execution's pending rollout waves",
			`Waves already sent keep running (kanade kill <exec_id> stops them). Fails
(exit 1) when the execution is unknown or has no pending wave.`,
			func(c *apiv1.Client) func(context.Context, string) (apiv1.RolloutActionResponse, error) {
				return c.CancelExecution
			}))
	return cmd
}

// execStatus is the status column: the status, and the rollout state when
// there is one ("running (paused)", "completed (halted)").
func execStatus(e apiv1.Execution) string {
	if e.RolloutState == "" {
		return string(e.Status)
	}
	return fmt.Sprintf("%s (%s)", e.Status, e.RolloutState)
}

// rolloutCmd is `executions pause|resume|cancel <exec_id>` (operator role,
// audited by the backend).
func (a *app) rolloutCmd(action, short, long string,
	call func(*apiv1.Client) func(context.Context, string) (apiv1.RolloutActionResponse, error)) *cobra.Command {
	return &cobra.Command{
		Use:   action + " <exec_id>",
		Short: short,
		Long:  long,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := subjectSafe("exec_id", args[0]); err != nil {
				return err
			}
			c, err := a.api()
			if err != nil {
				return err
			}
			r, err := call(c)(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.emitValue(r, func(w io.Writer) error {
				done := map[string]string{"pause": "paused", "resume": "resumed", "cancel": "cancelled"}[r.Action]
				_, err := fmt.Fprintf(w, "execution %s: %s %d pending waves; rollout %s\n", r.ExecID, done, r.Waves, stateOr(r.State))
				return err
			})
		},
	}
}

func stateOr(s apiv1.RolloutState) string {
	if s == "" {
		return "has no pending wave"
	}
	return string(s)
}
