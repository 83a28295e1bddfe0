package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

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
	cmd.AddCommand(list, show, a.executionsSummaryCmd(), a.rolloutCmd("pause", "Hold an execution's pending rollout waves",
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

// summaryShown is how many groups `exec --wait` prints (the largest);
// `executions summary` prints up to --limit.
const summaryShown = 10

// Bounds of the summary's text: PCs named per group and lines (and their
// width) of each sample stream.
const (
	summaryPCs       = 8
	sampleLines      = 5
	sampleLineLength = 160
)

func (a *app) executionsSummaryCmd() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "summary <exec_id>",
		Short: "Show an execution's results grouped by outcome, exit code and output",
		Long: `Show an execution's finished results grouped by outcome (success, failure,
skipped; failures by timeout, kill or reaping apart), exit code and stdout after
normalisation (CRLF as LF, trailing spaces and blank lines ignored), largest
group first: the count, the first PCs and the first lines of one PC's output.
-o json gives the groups as GET /api/executions/{exec_id}/summary does, with
up to 20 PCs each and the whole sample output.`,
		Example: "  kanade executions summary 01JD…\n  kanade executions summary 01JD… -o json --limit 1000",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 1000 {
				return usagef("--limit %d: want 1 to 1000", limit)
			}
			c, err := a.api()
			if err != nil {
				return err
			}
			// One more than asked says whether there are more.
			id, err := resolveExecID(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			groups, err := c.ExecutionSummary(cmd.Context(), id, apiv1.SummaryQuery{Limit: min(limit+1, 1000)})
			if err != nil {
				return notFound(err, "execution", id)
			}
			shown := groups
			if len(shown) > limit {
				shown = shown[:limit]
			}
			return a.emitValue(shown, func(w io.Writer) error { return writeSummary(w, id, groups, limit) })
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many groups, the largest (1..1000)")
	return cmd
}

// writeSummary prints result groups as text: a heading per group (count,
// status, exit code, its first PCs) and the first lines of its sample
// output under it. Groups beyond shown are counted, not printed.
func writeSummary(w io.Writer, execID string, groups []apiv1.ResultGroup, shown int) error {
	more := len(groups) > shown
	if more {
		groups = groups[:shown]
	}
	n := 0
	for _, g := range groups {
		n += g.Count
	}
	switch {
	case len(groups) == 0:
		fmt.Fprintln(w, "summary: no finished results")
		return nil
	case more:
		fmt.Fprintf(w, "summary: the %d largest groups (%d results)\n", len(groups), n)
	default:
		fmt.Fprintf(w, "summary: %d results in %d %s\n", n, len(groups), plural(len(groups), "group", "groups"))
	}
	for _, g := range groups {
		status := string(g.Status)
		if g.Reason != "" {
			status += " (" + strings.ReplaceAll(g.Reason, "_", " ") + ")"
		}
		pcs := g.PCs
		if len(pcs) > summaryPCs {
			pcs = pcs[:summaryPCs]
		}
		list := strings.Join(pcs, " ")
		if rest := g.Count - len(pcs); rest > 0 {
			list += fmt.Sprintf(" and %d more", rest)
		}
		fmt.Fprintf(w, "[%d] %s, exit %d: %s\n", g.Count, status, g.ExitCode, list)
		wrote := sampleText(w, "stdout", g.SampleStdout, g.SampleResultID)
		if sampleText(w, "stderr", g.SampleStderr, g.SampleResultID) || wrote {
			continue
		}
		fmt.Fprintln(w, "    (no output)")
	}
	if more {
		fmt.Fprintf(w, "more groups: kanade executions summary %s\n", execID)
	}
	return nil
}

// sampleText writes the first sampleLines non-trailing lines of one
// stream of a sample, reporting whether it wrote anything.
func sampleText(w io.Writer, name, text, resultID string) bool {
	text = strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), " \t\r\n")
	if text == "" {
		return false
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if i == sampleLines {
			fmt.Fprintf(w, "            … %d more %s (kanade results show %s)\n", len(lines)-i, plural(len(lines)-i, "line", "lines"), resultID)
			break
		}
		l = strings.TrimRight(l, " \t\r")
		if len(l) > sampleLineLength {
			cut := sampleLineLength
			for cut > 0 && !utf8.RuneStart(l[cut]) {
				cut--
			}
			l = l[:cut] + "…"
		}
		label := "        "
		if i == 0 {
			label = name + ": "
		}
		fmt.Fprintf(w, "    %s%s\n", label, l)
	}
	return true
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// progressBarWidth is the width of `exec --watch`'s bar in characters.
const progressBarWidth = 30

// progressLine is one state of `exec --watch`: a bar of ok (#), failed
// (x), skipped (-) and pending (.) targets, then the counts. pending is
// every target without a result yet (running or not started). On a
// terminal the line is redrawn in place; elsewhere it is printed when it
// changes (plain ASCII, no escape codes).
func progressLine(d apiv1.ExecutionDetail) string {
	done := d.SuccessCount + d.FailureCount + d.SkippedCount
	pending := max(d.TargetCount-done, 0)
	total := max(d.TargetCount, done)
	bar := strings.Repeat(".", progressBarWidth)
	if total > 0 {
		// Cumulative rounding so the segments always add up to the width.
		var b strings.Builder
		edge := 0
		for _, seg := range []struct {
			n int
			c string
		}{{d.SuccessCount, "#"}, {d.FailureCount, "x"}, {d.SkippedCount, "-"}, {pending, "."}} {
			end := edge + seg.n
			from, to := edge*progressBarWidth/total, end*progressBarWidth/total
			b.WriteString(strings.Repeat(seg.c, to-from))
			edge = end
		}
		bar = b.String()
	}
	return fmt.Sprintf("[%s] %d/%d  ok %d  failed %d  skipped %d  pending %d  [%s]", bar, done, d.TargetCount,
		d.SuccessCount, d.FailureCount, d.SkippedCount, pending, orDash(string(d.Status)))
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
			id, err := resolveExecID(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			r, err := call(c)(cmd.Context(), id)
			if err != nil {
				return notFound(err, "execution", id)
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
