package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/manifest"
)

// Execution is GET /api/executions rows.
type Execution struct {
	ExecID       string    `json:"exec_id"`
	JobID        string    `json:"job_id"`
	Version      string    `json:"version"`
	InitiatedBy  string    `json:"initiated_by"`
	InitiatedAt  time.Time `json:"initiated_at"`
	TargetCount  int       `json:"target_count"`
	SuccessCount int       `json:"success_count"`
	FailureCount int       `json:"failure_count"`
	SkippedCount int       `json:"skipped_count"`
	Status       string    `json:"status"`
}

// Result is GET /api/results rows.
type Result struct {
	ResultID   string     `json:"result_id"`
	RequestID  string     `json:"request_id"`
	ExecID     string     `json:"exec_id"`
	PCID       string     `json:"pc_id"`
	JobID      string     `json:"job_id"`
	Version    string     `json:"version"`
	ExitCode   *int       `json:"exit_code"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	RecordedAt time.Time  `json:"recorded_at"`
	Reaped     bool       `json:"reaped"`
	Skipped    bool       `json:"skipped"`
	TimedOut   bool       `json:"timed_out"`
	Killed     bool       `json:"killed"`
	Status     string     `json:"status"`
	Stdout     *string    `json:"stdout"`
	Stderr     *string    `json:"stderr"`
}

// execResponse is POST /api/exec/{job_id}.
type execResponse struct {
	ExecID      string   `json:"exec_id"`
	JobID       string   `json:"job_id"`
	Version     string   `json:"version"`
	TargetCount int      `json:"target_count"`
	Subjects    []string `json:"subjects"`
}

// parseWave reads --wave group=G,delay=D.
func parseWave(s string) (manifest.Wave, error) {
	var w manifest.Wave
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return w, usagef("--wave %q: want group=G,delay=D", s)
		}
		switch strings.TrimSpace(k) {
		case "group":
			w.Group = strings.TrimSpace(v)
		case "delay":
			w.Delay = strings.TrimSpace(v)
		default:
			return w, usagef("--wave %q: unknown key %q (want group and delay)", s, k)
		}
	}
	if w.Group == "" {
		return w, usagef("--wave %q: group is required", s)
	}
	return w, nil
}

func (a *app) execCmd() *cobra.Command {
	var (
		all     bool
		groups  []string
		pcs     []string
		waves   []string
		jitter  string
		dead    string
		wait    bool
		waitMax time.Duration
	)
	cmd := &cobra.Command{
		Use:   "exec <job_id> (--all | --group G... | --pc P...) [--wave group=G,delay=D...] [--jitter 5m] [--wait]",
		Short: "Run a job on a set of PCs (through the backend)",
		Long: `Run a job on every PC (--all), on members of groups (--group, repeatable)
and/or listed PCs (--pc, repeatable), or as a staged rollout (--wave, repeatable:
one group per wave with a delay from now). --jitter makes every agent wait a
random time first. The plan is validated locally before it is sent.

--wait follows the execution until it completes, with a live progress line on
a terminal (plain lines otherwise); the exit status is 1 if any target failed.`,
		Example: `  kanade exec cleanup-temp --all
  kanade exec patch --group canary --group pilots --pc web-01 --jitter 5m --wait
  kanade exec patch --wave group=canary,delay=0 --wave group=prod,delay=30m`,
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
			path := "/api/exec/" + pathEsc(job)
			res, err := a.call(cmd.Context(), http.MethodPost, path, nil, p, "")
			if err != nil {
				return err
			}
			var er execResponse
			if err := decodeBody(res, path, &er); err != nil {
				return err
			}
			if !wait {
				return a.emit(res.Body, func(w io.Writer) error {
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
			return a.waitExec(cmd.Context(), er.ExecID, waitMax, lastWave)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&all, "all", false, "every PC")
	f.StringArrayVar(&groups, "group", nil, "members of this group (repeatable)")
	f.StringArrayVar(&pcs, "pc", nil, "this PC (repeatable)")
	f.StringArrayVar(&waves, "wave", nil, "a rollout wave: group=G,delay=D (repeatable; instead of a target)")
	f.StringVar(&jitter, "jitter", "", "agents wait a random time in [0, jitter) first, e.g. 5m")
	f.StringVar(&dead, "deadline", "", "agents skip the run if they would start after this (RFC 3339 or a duration from now)")
	f.BoolVar(&wait, "wait", false, "follow the execution until it completes; exit 1 if any target failed")
	f.DurationVar(&waitMax, "wait-timeout", 0, "give up waiting after this long (0 = no limit)")
	return cmd
}

// waveGrace is how long after a wave is due `exec --wait` still expects
// its targets to be added to the execution.
const waveGrace = 3 * time.Second

// execDetail is GET /api/executions/{id}.
type execDetail struct {
	Execution
	Results []Result `json:"results"`
}

// waitExec polls the execution until it is completed or expired, drawing a
// progress line, then prints the per-PC results.
func (a *app) waitExec(ctx context.Context, execID string, max time.Duration, notBefore time.Time) error {
	tty := a.opt.IsTerminal(a.opt.Out) && a.output == "table"
	if max > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, max)
		defer cancel()
	}
	path := "/api/executions/" + pathEsc(execID)
	last := ""
	var d execDetail
	var raw []byte
	for {
		res, err := a.call(ctx, http.MethodGet, path, nil, nil, "")
		var ae *apiError
		switch {
		case err == nil:
			if err := decodeBody(res, path, &d); err != nil {
				return err
			}
			raw = res.Body
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
			// The projector has not seen the execution yet.
		case ctx.Err() != nil:
			return fmt.Errorf("gave up waiting for execution %s; `kanade executions show %s` shows where it is", execID, execID)
		default:
			return err
		}
		running := 0
		for _, r := range d.Results {
			if r.Status == "running" {
				running++
			}
		}
		done := d.SuccessCount + d.FailureCount + d.SkippedCount
		line := fmt.Sprintf("%d/%d done  ok %d  failed %d  skipped %d  running %d  [%s]",
			done, d.TargetCount, d.SuccessCount, d.FailureCount, d.SkippedCount, running, orDash(d.Status))
		if a.output == "table" && line != last {
			if tty {
				fmt.Fprintf(a.opt.Out, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(a.opt.Out, line)
			}
			last = line
		}
		if d.Status == "expired" || d.Status == "completed" && !a.opt.Now().Before(notBefore) {
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
	if err := a.emit(raw, func(w io.Writer) error {
		fmt.Fprintln(w)
		return a.resultsTable(w, byPC(d.Results))
	}); err != nil {
		return err
	}
	missing := d.TargetCount - (d.SuccessCount + d.FailureCount + d.SkippedCount)
	switch {
	case d.FailureCount > 0:
		return fmt.Errorf("execution %s: %d of %d targets failed", execID, d.FailureCount, d.TargetCount)
	case d.Status == "expired" && missing > 0:
		return fmt.Errorf("execution %s expired with %d of %d targets not reporting", execID, missing, d.TargetCount)
	}
	return nil
}

// byPC orders one execution's results by PC (then start) for reading.
func byPC(rows []Result) []Result {
	out := slices.Clone(rows)
	slices.SortStableFunc(out, func(x, y Result) int {
		if c := strings.Compare(x.PCID, y.PCID); c != 0 {
			return c
		}
		return x.StartedAt.Compare(y.StartedAt)
	})
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (a *app) resultsTable(w io.Writer, rows []Result) error {
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
		status := r.Status
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

func (a *app) executionsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "executions", Aliases: []string{"execution"}, Short: "List and inspect executions (exec runs)"}
	var job, status string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List executions, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			setIf(q, "job_id", job)
			setIf(q, "status", status)
			raw, err := a.listAll(cmd.Context(), "/api/executions", q, limit)
			if err != nil {
				return err
			}
			var rows []Execution
			if err := decodeBody(&response{Body: raw}, "/api/executions", &rows); err != nil {
				return err
			}
			return a.emit(raw, func(w io.Writer) error {
				t := newTable(w, "EXEC_ID", "JOB", "VERSION", "STATUS", "TARGETS", "OK", "FAILED", "SKIPPED", "BY", "INITIATED")
				for _, e := range rows {
					t.row(e.ExecID, e.JobID, e.Version, e.Status, strconv.Itoa(e.TargetCount), strconv.Itoa(e.SuccessCount),
						strconv.Itoa(e.FailureCount), strconv.Itoa(e.SkippedCount), e.InitiatedBy, a.when(e.InitiatedAt))
				}
				return t.flush()
			})
		},
	}
	list.Flags().StringVar(&job, "job", "", "only this job")
	list.Flags().StringVar(&status, "status", "", "pending|running|completed|expired")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many (0 = all)")
	show := &cobra.Command{
		Use:   "show <exec_id>",
		Short: "Show one execution and its per-PC results",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/api/executions/" + pathEsc(args[0])
			res, err := a.call(cmd.Context(), http.MethodGet, path, nil, nil, "")
			if err != nil {
				return err
			}
			var d execDetail
			if err := decodeBody(res, path, &d); err != nil {
				return err
			}
			return a.emit(res.Body, func(w io.Writer) error {
				if err := kv(w, "exec_id", d.ExecID, "job_id", d.JobID, "version", d.Version, "status", d.Status,
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

func setIf(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}
