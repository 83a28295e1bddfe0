package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/fanout/command"
	"github.com/kanade-fleet/kanade/internal/wire"
)

func (a *app) runCmd() *cobra.Command {
	var (
		shell   string
		timeout time.Duration
		jsonOut bool
		execID  string
	)
	cmd := &cobra.Command{
		Use:   "run <pc_id> [--shell sh] [--timeout 60s] -- <script...>",
		Short: "Run an ad-hoc script on one PC, straight through the broker",
		Long: `Run an ad-hoc script on one PC. The command goes straight to the NATS broker
(commands.pc.<pc_id>), not through the backend, so it works while the backend
is down. The script's stdout and stderr are printed as it wrote them and kanade
exits with the script's exit code (1 when the remote code does not fit an exit
status, e.g. -1 for killed or timed out). Use "-" as the script to read it
from stdin.`,
		Example: `  kanade run web-01 -- uname -a
  kanade run win-07 --shell powershell -- 'Get-Service spooler'
  kanade run web-01 --json -- 'df -h'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pc := args[0]
			if !wire.ValidPCID(pc) {
				return usagef("pc_id %q is not valid (letters, digits, '_' and '-')", pc)
			}
			rest := args[1:]
			if dash := cmd.ArgsLenAtDash(); dash > 1 {
				return usagef("put exactly one pc_id before --")
			}
			script := strings.Join(rest, " ")
			if script == "-" {
				b, err := io.ReadAll(a.opt.In)
				if err != nil {
					return fmt.Errorf("read script from stdin: %w", err)
				}
				script = string(b)
			}
			if strings.TrimSpace(script) == "" {
				return usagef("no script given: kanade run %s -- <script>", pc)
			}
			if !wire.ValidShell(shell) {
				return usagef("--shell %q: want one of %s", shell, strings.Join(wire.Shells, ", "))
			}
			if timeout < time.Second {
				return usagef("--timeout %s: want at least 1s", timeout)
			}
			if execID == "" {
				execID = uuid.NewString()
			} else if err := subjectSafe("--exec-id", execID); err != nil {
				return err
			}
			return a.run(cmd.Context(), pc, shell, script, timeout, execID, jsonOut || a.output == "json")
		},
	}
	f := cmd.Flags()
	f.StringVar(&shell, "shell", "sh", "shell: "+strings.Join(wire.Shells, "|"))
	f.DurationVar(&timeout, "timeout", 60*time.Second, "script timeout on the agent")
	f.BoolVar(&jsonOut, "json", false, "print the whole ExecResult as JSON instead of the script's output")
	f.StringVar(&execID, "exec-id", "", "exec_id to use (default: a new UUID); kanade kill takes it")
	return cmd
}

func (a *app) run(ctx context.Context, pc, shell, script string, timeout time.Duration, execID string, jsonOut bool) error {
	nc, err := a.connectNATS()
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	// The same command the backend's POST /api/run sends, start deadline
	// included: an agent that only comes online after we gave up skips it.
	c, wait := command.AdhocCommand(command.Adhoc{ExecID: execID, Shell: shell, Script: script,
		TimeoutSecs: int64(math.Ceil(timeout.Seconds()))}, a.opt.Now())
	// Subscribe before publishing, so a fast agent's result is not missed.
	aw, err := command.AwaitResult(nc, c.RequestID)
	if err != nil {
		return err
	}
	defer aw.Close()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = command.Publish(pctx, js, pc, c)
	cancel()
	if err != nil {
		if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("publish to %s: no JetStream stream %s on %s; start kanade-backend once so it creates the streams", bus.CommandsPC(pc), bus.StreamExec, a.natsURL)
		}
		return err
	}
	aw.OnInvalid = func(err error) { fmt.Fprintf(a.opt.Err, "kanade: ignoring an invalid result message: %v\n", err) }
	r, raw, err := aw.Wait(ctx, wait)
	if errors.Is(err, command.ErrTimeout) {
		return fmt.Errorf("no result from %s within %s (exec_id %s); is the agent online? try `kanade ping %s`; `kanade results list --exec %s` shows it later", pc, wait, execID, pc, execID)
	}
	if err != nil {
		return fmt.Errorf("wait for the result: %w", err)
	}
	if jsonOut {
		if err := a.emitJSON(raw); err != nil {
			return err
		}
	} else {
		_, _ = io.WriteString(a.opt.Out, r.Stdout)
		_, _ = io.WriteString(a.opt.Err, r.Stderr)
	}
	code := r.ExitCode
	note := ""
	switch {
	case r.TimedOut:
		note = fmt.Sprintf("timed out after %s on %s", timeout, pc)
	case r.Killed:
		note = "killed on " + pc
	case r.Skipped:
		note = fmt.Sprintf("skipped by %s (exit code %d)", pc, code)
	}
	if code < 0 || code > 255 {
		if note == "" {
			note = fmt.Sprintf("remote exit code %d", code)
		}
		code = 1
	}
	if note != "" && !jsonOut {
		fmt.Fprintf(a.opt.Err, "kanade: %s\n", note)
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}
