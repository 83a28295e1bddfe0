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
	var bound func() (int, error)
	list := &cobra.Command{
		Use:   "list",
		Short: "List results, newest first (without output; -o wide adds the last line of stderr; see `results show`)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if status != "" && !slices.Contains(apiv1.ResultStatuses, apiv1.ResultStatus(status)) {
				return usagef("--status %q: want running, success, failure or skipped", status)
			}
			rq := apiv1.ResultQuery{ExecID: execID, PCID: pc, JobID: job, Status: apiv1.ResultStatus(status), Since: since}
			rows, err := listAll(cmd.Context(), a, bound, func(ctx context.Context, c *apiv1.Client, p apiv1.Page) (apiv1.List[apiv1.Result], error) {
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
	bound = pagingFlags(list, 50)
	show := &cobra.Command{
		Use:   "show <result_id>",
		Short: "Show one result with its stdout and stderr (a unique prefix of the result_id will do)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			id, err := resolveResultID(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			r, err := c.GetResult(cmd.Context(), id)
			if err != nil {
				return notFound(err, "result", id)
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
					ref  string
				}{{"stdout", r.Stdout, r.StdoutRef}, {"stderr", r.Stderr, r.StderrRef}} {
					if s.v != nil && *s.v != "" {
						note := ""
						if s.ref != "" {
							note = fmt.Sprintf(" (head and tail; all of it: kanade results output %s --stream %s)", r.ResultID, s.name)
						}
						fmt.Fprintf(w, "--- %s%s ---\n%s", s.name, note, *s.v)
						if !strings.HasSuffix(*s.v, "\n") {
							fmt.Fprintln(w)
						}
					}
				}
				return nil
			})
		},
	}
	var stream string
	output := &cobra.Command{
		Use:   "output <result_id>",
		Short: "Write one stream of a result's output, all of it, as the script printed it",
		Long: "Write one stream of a result's output to stdout, byte for byte: the whole stream when the agent\n" +
			"stored it (outputs longer than a result carries inline, up to the agent's 8 MiB capture), else\n" +
			"the result's own copy. A note on stderr says when only the head and tail are available.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if stream != string(apiv1.StreamStdout) && stream != string(apiv1.StreamStderr) {
				return usagef("--stream %q: want stdout or stderr", stream)
			}
			c, err := a.api()
			if err != nil {
				return err
			}
			id, err := resolveResultID(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			out, err := c.ResultOutput(cmd.Context(), id, apiv1.OutputQuery{Stream: apiv1.OutputStream(stream)})
			if err != nil {
				return notFound(err, "result", id)
			}
			if _, err := cmd.OutOrStdout().Write(out.Data); err != nil {
				return err
			}
			if !out.Full && strings.Contains(string(out.Data), "[kanade] output truncated") {
				fmt.Fprintln(cmd.ErrOrStderr(), "kanade: only the head and tail of this output are stored (the agent did not send the rest, or it is still being assembled)")
			}
			return nil
		},
	}
	output.Flags().StringVar(&stream, "stream", "stdout", "stdout|stderr")
	cmd.AddCommand(list, show, output)
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

// resultsTable lists results; -o wide adds STDERR, the last non-blank line
// of each result's stderr (stderr_excerpt, at most 200 bytes).
func (a *app) resultsTable(w io.Writer, rows []apiv1.Result) error {
	head := []string{"RESULT_ID", "PC_ID", "JOB", "VERSION", "STATUS", "EXIT", "STARTED", "DURATION", "EXEC_ID"}
	if a.wide() {
		head = append(head, "STDERR")
	}
	t := newTable(w, head...)
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
		cells := []string{r.ResultID, r.PCID, r.JobID, r.Version, status, exit, a.when(r.StartedAt), dur, r.ExecID}
		if a.wide() {
			cells = append(cells, r.StderrExcerpt)
		}
		t.row(cells...)
	}
	return t.flush()
}
