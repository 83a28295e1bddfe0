package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/manifest"
)

// parseWave reads --wave group=G,delay=D.
func parseWave(s string) (manifest.Wave, error) {
	var w manifest.Wave
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "rest" {
			w.Rest = true
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return w, usagef("--wave %q: want group=G, percent=P or rest, and delay=D", s)
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "group":
			w.Group = v
		case "percent":
			n, err := strconv.Atoi(strings.TrimSuffix(v, "%"))
			if err != nil {
				return w, usagef("--wave %q: percent %q is not a whole number", s, v)
			}
			w.Percent = n
		case "rest":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return w, usagef("--wave %q: rest %q is not true or false", s, v)
			}
			w.Rest = b
		case "delay":
			w.Delay = v
		default:
			return w, usagef("--wave %q: unknown key %q (want group, percent, rest and delay)", s, k)
		}
	}
	if w.Group == "" && w.Percent == 0 && !w.Rest {
		return w, usagef("--wave %q: name group=G, percent=P or rest", s)
	}
	return w, nil
}

// parseHaltOn reads --halt-on failures=N or failure_pct=P.
func parseHaltOn(s string) (*manifest.HaltOn, error) {
	k, v, ok := strings.Cut(strings.TrimSpace(s), "=")
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), "%"))
	if !ok || err != nil {
		return nil, usagef("--halt-on %q: want failures=N or failure_pct=P", s)
	}
	switch strings.TrimSpace(k) {
	case "failures":
		return &manifest.HaltOn{Failures: n}, nil
	case "failure_pct", "failure-pct":
		return &manifest.HaltOn{FailurePct: n}, nil
	}
	return nil, usagef("--halt-on %q: unknown key %q (want failures or failure_pct)", s, k)
}

func (a *app) execCmd() *cobra.Command {
	var (
		all     bool
		groups  []string
		pcs     []string
		waves   []string
		haltOn  string
		jitter  string
		dead    string
		wait    bool
		watch   bool
		waitMax time.Duration
	)
	cmd := &cobra.Command{
		Use:   "exec <job_id> (--all | --group G... | --pc P...) [--wave group=G|percent=P|rest,delay=D...] [--halt-on failures=N] [--jitter 5m] [--wait | --watch]",
		Short: "Run a job on a set of PCs (through the backend)",
		Long: `Run a job on every PC (--all), on members of groups (--group, repeatable)
and/or listed PCs (--pc, repeatable), or as a staged rollout (--wave, repeatable,
in order, each with a delay from now). Without a target each wave names a
group. With a target the waves slice it: group=G (the target's members of G),
percent=P (P % of the target's PCs no earlier wave took, chosen by pc_id hash)
or rest (all the PCs left; last wave only); every PC is in one wave at most.
--halt-on failures=N (or failure_pct=P) sends no later wave once that many of
the execution's results so far failed. Pending waves can be paused, resumed or
cancelled with kanade executions pause|resume|cancel. --jitter makes every
agent wait a random time first. The plan is validated locally before it is
sent.

--wait follows the execution until it completes, with a live progress line on
a terminal (plain lines otherwise), then prints the per-PC results and the
summary: the results grouped by outcome, exit code and stdout (after
normalising line ends and trailing blanks), largest group first, with the
first PCs of each group and the first lines of a sample output. The exit
status is 1 if any target failed.

--watch is --wait with a live progress bar (ok/failed/skipped/pending) instead
of the line, and only the summary at the end (no per-PC table: that is
` + "`kanade executions show`" + `). On a non-terminal it prints a plain progress line
whenever the counts change, without escape codes. Both poll the execution
(every 500ms).

With -o json, --wait and --watch print the execution with its results;
` + "`kanade executions summary <exec_id> -o json`" + ` gives the groups.`,
		Example: `  kanade exec cleanup-temp --all
  kanade exec patch --group canary --group pilots --pc web-01 --jitter 5m --wait
  kanade exec inventory-disk --all --watch
  kanade exec patch --wave group=canary,delay=0 --wave group=prod,delay=30m
  kanade exec patch --all --wave group=canary --wave percent=10,delay=1h --wave rest,delay=4h --halt-on failures=2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			job := args[0]
			p := manifest.Plan{Target: manifest.Target{All: all, Groups: groups, PCs: pcs}, Jitter: jitter}
			for _, s := range waves {
				w, err := parseWave(s)
				if err != nil {
					return err
				}
				if p.Rollout == nil {
					p.Rollout = &manifest.Rollout{}
				}
				p.Rollout.Waves = append(p.Rollout.Waves, w)
			}
			if haltOn != "" {
				if p.Rollout == nil {
					return usagef("--halt-on needs --wave: it stops a rollout's later waves")
				}
				h, err := parseHaltOn(haltOn)
				if err != nil {
					return err
				}
				p.Rollout.HaltOn = h
			}
			if !all && len(groups) == 0 && len(pcs) == 0 && p.Rollout == nil {
				return usagef("say where to run %s: --all, --group G, --pc P or --wave group=G,delay=D", job)
			}
			if dead != "" {
				t, err := time.Parse(time.RFC3339, dead)
				if err != nil {
					d, derr := manifest.ParseDuration(dead)
					if derr != nil {
						return usagef("--deadline %q: want an RFC 3339 time or a duration from now", dead)
					}
					t = a.opt.Now().Add(d)
				}
				t = t.UTC()
				p.DeadlineAt = &t
			}
			if err := manifest.CheckID("job_id", job); err != nil {
				return &usageError{err}
			}
			if err := p.Validate(); err != nil {
				return usagef("invalid plan: %s", fieldMsg(err))
			}
			c, err := a.api()
			if err != nil {
				return err
			}
			er, err := c.Exec(cmd.Context(), job, execRequest(p))
			if err != nil {
				return err
			}
			if !wait && !watch {
				return a.emitValue(er, func(w io.Writer) error {
					return kv(w, "exec_id", er.ExecID, "job_id", er.JobID, "version", er.Version,
						"target_count", strconv.Itoa(er.TargetCount), "subjects", strings.Join(er.Subjects, ","))
				})
			}
			if a.output == "table" {
				fmt.Fprintf(a.opt.Out, "exec_id %s: %s %s on %d targets\n", er.ExecID, er.JobID, er.Version, er.TargetCount)
			}
			// A rollout's execution can look complete between waves; keep
			// following it until the last wave is due, plus a grace for the
			// dispatcher to raise target_count.
			var lastWave time.Time
			if p.Rollout != nil {
				lastWave = a.opt.Now().Add(waveGrace)
				for _, w := range p.Rollout.Waves {
					if t := a.opt.Now().Add(w.DelayDuration() + waveGrace); t.After(lastWave) {
						lastWave = t
					}
				}
			}
			return a.waitExec(cmd.Context(), c, er.ExecID, waitMax, lastWave, watch)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&all, "all", false, "every PC")
	f.StringArrayVar(&groups, "group", nil, "members of this group (repeatable)")
	f.StringArrayVar(&pcs, "pc", nil, "this PC (repeatable)")
	f.StringArrayVar(&waves, "wave", nil, "a rollout wave: group=G, percent=P or rest, with delay=D (repeatable; percent and rest slice the target)")
	f.StringVar(&haltOn, "halt-on", "", "stop sending later waves at failures=N or failure_pct=P failed results so far")
	f.StringVar(&jitter, "jitter", "", "agents wait a random time in [0, jitter) first, e.g. 5m")
	f.StringVar(&dead, "deadline", "", "agents skip the run if they would start after this (RFC 3339 or a duration from now)")
	f.BoolVar(&wait, "wait", false, "follow the execution until it completes; exit 1 if any target failed")
	f.BoolVar(&watch, "watch", false, "like --wait with a live progress bar, ending with the summary only")
	f.DurationVar(&waitMax, "wait-timeout", 0, "give up waiting after this long (0 = no limit; --wait or --watch)")
	return cmd
}

// waveGrace is how long after a wave is due `exec --wait` still expects
// its targets to be added to the execution.
const waveGrace = 3 * time.Second

// waitExec polls the execution until it is completed or expired, drawing a
// progress line (watch: a bar), then prints the per-PC results (not with
// watch) and the summary. Polling GetExecution (rather than the live event
// stream) survives reconnects and backend restarts for free, and reads the
// counters the execution page shows.
func (a *app) waitExec(ctx context.Context, c *apiv1.Client, execID string, max time.Duration, notBefore time.Time, watch bool) error {
	tty := a.opt.IsTerminal(a.opt.Out) && (a.output == "table" || a.wide())
	if max > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, max)
		defer cancel()
	}
	last := ""
	var d apiv1.ExecutionDetail
	for {
		got, err := c.GetExecution(ctx, execID)
		switch {
		case err == nil:
			d = got
		case apiv1.StatusOf(err) == http.StatusNotFound:
			// The projector has not seen the execution yet.
		case ctx.Err() != nil:
			return fmt.Errorf("gave up waiting for execution %s; `kanade executions show %s` shows where it is", execID, execID)
		default:
			return err
		}
		running := 0
		for _, r := range d.Results {
			if r.Status == apiv1.ResultRunning {
				running++
			}
		}
		done := d.SuccessCount + d.FailureCount + d.SkippedCount
		line := fmt.Sprintf("%d/%d done  ok %d  failed %d  skipped %d  running %d  [%s]",
			done, d.TargetCount, d.SuccessCount, d.FailureCount, d.SkippedCount, running, orDash(string(d.Status)))
		if watch {
			line = progressLine(d)
		}
		if (a.output == "table" || a.wide()) && line != last {
			if tty {
				fmt.Fprintf(a.opt.Out, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(a.opt.Out, line)
			}
			last = line
		}
		if d.Status == apiv1.ExecExpired || d.Status == apiv1.ExecCompleted && !a.opt.Now().Before(notBefore) {
			break
		}
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(a.opt.Out)
			}
			return fmt.Errorf("gave up waiting for execution %s; `kanade executions show %s` shows where it is", execID, execID)
		case <-time.After(a.opt.PollEvery):
		}
	}
	if tty {
		fmt.Fprintln(a.opt.Out)
	}
	var groups []apiv1.ResultGroup
	summary := a.output == "table" || a.wide()
	if summary {
		// One more than shown says whether there are more. A backend
		// without the route (older) still gets its results printed.
		got, err := c.ExecutionSummary(ctx, execID, apiv1.SummaryQuery{Limit: summaryShown + 1})
		if err != nil {
			fmt.Fprintf(a.opt.Err, "kanade: no summary of execution %s: %v\n", execID, err)
			summary = false
		}
		groups = got
	}
	if err := a.emitValue(d, func(w io.Writer) error {
		if !watch {
			fmt.Fprintln(w)
			if err := a.resultsTable(w, byPC(d.Results)); err != nil {
				return err
			}
		}
		if !summary {
			return nil
		}
		fmt.Fprintln(w)
		return writeSummary(w, execID, groups, summaryShown)
	}); err != nil {
		return err
	}
	missing := d.TargetCount - (d.SuccessCount + d.FailureCount + d.SkippedCount)
	switch {
	case d.FailureCount > 0:
		return fmt.Errorf("execution %s: %d of %d targets failed", execID, d.FailureCount, d.TargetCount)
	case d.Status == apiv1.ExecExpired && missing > 0:
		return fmt.Errorf("execution %s expired with %d of %d targets not reporting", execID, missing, d.TargetCount)
	}
	return nil
}

// execRequest is the plan as the API takes it.
func execRequest(p manifest.Plan) apiv1.ExecRequest {
	r := apiv1.ExecRequest{Target: apiv1.Target{All: p.Target.All, Groups: p.Target.Groups, PCs: p.Target.PCs},
		Jitter: p.Jitter, DeadlineAt: p.DeadlineAt}
	if p.Rollout != nil {
		r.Rollout = &apiv1.Rollout{}
		for _, w := range p.Rollout.Waves {
			r.Rollout.Waves = append(r.Rollout.Waves, apiv1.Wave(w))
		}
		r.Rollout.HaltOn = (*apiv1.HaltOn)(p.Rollout.HaltOn)
	}
	return r
}
