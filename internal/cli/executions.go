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
					t.row(e.ExecID, e.JobID, e.Version, string(e.Status), strconv.Itoa(e.TargetCount), strconv.Itoa(e.SuccessCount),
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
		Short: "Show one execution and its per-PC results (a unique prefix of the exec_id will do)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			id, err := resolveExecID(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			d, err := c.GetExecution(cmd.Context(), id)
			if err != nil {
				return notFound(err, "execution", id)
			}
			return a.emitValue(d, func(w io.Writer) error {
				if err := kv(w, "exec_id", d.ExecID, "job_id", d.JobID, "version", d.Version, "status", string(d.Status),
					"initiated", a.when(d.InitiatedAt)+" by "+d.InitiatedBy,
					"targets", fmt.Sprintf("%d (ok %d, failed %d, skipped %d)", d.TargetCount, d.SuccessCount, d.FailureCount, d.SkippedCount)); err != nil {
					return err
				}
				fmt.Fprintln(w)
				return a.resultsTable(w, byPC(d.Results))
			})
		},
	}
	cmd.AddCommand(list, show)
	return cmd
}
