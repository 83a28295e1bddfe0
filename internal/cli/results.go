package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

func (a *app) resultsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "results", Aliases: []string{"result"}, Short: "List and inspect per-PC results"}
	var execID, pc, job, status, since string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List results, newest first (without output; see `results show`)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if status != "" && !slices.Contains(apiv1.ResultStatuses, apiv1.ResultStatus(status)) {
				return usagef("--status %q: want running, success, failure or skipped", status)
			}
			c, err := a.api()
			if err != nil {
				return err
			}
			rq := apiv1.ResultQuery{ExecID: execID, PCID: pc, JobID: job, Status: apiv1.ResultStatus(status), Since: since}
			rows, _, err := apiv1.All(cmd.Context(), limit, func(ctx context.Context, p apiv1.Page) (apiv1.List[apiv1.Result], error) {
				rq.Page = p
				return c.ListResults(ctx, rq)
			})
			if err != nil {
				return err
			}
			return a.emitValue(rows, func(w io.Writer) error { return a.resultsTable(w, rows) })
		},
	}
	f := list.Flags()
	f.StringVar(&execID, "exec", "", "only this execution")
	f.StringVar(&pc, "pc", "", "only this PC")
	f.StringVar(&job, "job", "", "only this job")
	f.StringVar(&status, "status", "", "running|success|failure|skipped")
	f.StringVar(&since, "since", "", "only results since this RFC 3339 time or duration ago (24h)")
	f.IntVar(&limit, "limit", 50, "at most this many (0 = all)")
	show := &cobra.Command{
		Use:   "show <result_id>",
		Short: "Show one result with its stdout and stderr",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			r, err := c.GetResult(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.emitValue(r, func(w io.Writer) error {
				exit := ""
				if r.ExitCode != nil {
					exit = strconv.Itoa(*r.ExitCode)
				}
				if err := kv(w, "result_id", r.ResultID, "exec_id", r.ExecID, "pc_id", r.PCID, "job", r.JobID+" "+r.Version,
					"status", string(r.Status), "exit_code", exit, "started", a.when(r.StartedAt), "finished", a.whenPtr(r.FinishedAt)); err != nil {
					return err
				}
				for _, s := range []struct {
					name string
					v    *string
				}{{"stdout", r.Stdout}, {"stderr", r.Stderr}} {
					if s.v != nil && *s.v != "" {
						fmt.Fprintf(w, "--- %s ---\n%s", s.name, *s.v)
						if !strings.HasSuffix(*s.v, "\n") {
							fmt.Fprintln(w)
						}
					}
				}
				return nil
			})
		},
	}
	cmd.AddCommand(list, show)
	return cmd
}

// byPC orders one execution's results by PC (then start) for reading.
func byPC(rows []apiv1.Result) []apiv1.Result {
	out := slices.Clone(rows)
	slices.SortStableFunc(out, func(x, y apiv1.Result) int {
		if c := strings.Compare(x.PCID, y.PCID); c != 0 {
			return c
		}
		return x.StartedAt.Compare(y.StartedAt)
	})
	return out
}

func (a *app) resultsTable(w io.Writer, rows []apiv1.Result) error {
	t := newTable(w, "RESULT_ID", "PC_ID", "JOB", "VERSION", "STATUS", "EXIT", "STARTED", "DURATION", "EXEC_ID")
	for _, r := range rows {
		exit := ""
		if r.ExitCode != nil {
			exit = strconv.Itoa(*r.ExitCode)
		}
		dur := ""
		if r.FinishedAt != nil {
			dur = a.opt.DurText(r.FinishedAt.Sub(r.StartedAt))
		}
		status := string(r.Status)
		switch {
		case r.TimedOut:
			status += " (timed out)"
		case r.Killed:
			status += " (killed)"
		case r.Reaped:
			status += " (reaped)"
		}
		t.row(r.ResultID, r.PCID, r.JobID, r.Version, status, exit, a.when(r.StartedAt), dur, r.ExecID)
	}
	return t.flush()
}
