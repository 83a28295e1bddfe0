package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/fanout/command"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/wire"
)

func (a *app) runCmd() *cobra.Command {
	var (
		shell    string
		timeout  time.Duration
		jsonOut  bool
		execID   string
		deadline time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run <pc_id> [--shell sh] [--timeout 60s] -- <script...>",
		Short: "Run an ad-hoc script on one PC (through the backend, or signed straight to the broker)",
		Long: `Run an ad-hoc script on one PC. Agents run only commands signed by a key
they trust, so there are two paths:

  - without --signing-key the backend runs it (POST /api/run, operator role,
    audited with your account) and signs the command itself;
  - with --signing-key FILE [KANADE_SIGNING_KEY] (a PKCS#8 PEM Ed25519 key
    that KV signing_keys trusts, e.g. the backend's signing.key) the CLI signs
    the command and publishes it straight to the NATS broker
    (commands.pc.<pc_id>), so it works while the backend is down; the backend
    audits it when it sees it, as signing-key:<key_id>.

The script's stdout and stderr are printed as it wrote them and kanade exits
with the script's exit code (1 when the remote code does not fit an exit
status, e.g. -1 for killed or timed out; 123 when the agent refused the
signature). Use "-" as the script to read it from stdin.`,
		Example: `  kanade run web-01 -- uname -a
  kanade run win-07 --shell powershell -- 'Get-Service spooler'
  kanade run web-01 --json -- 'df -h'
  kanade run web-01 --signing-key /etc/kanade/signing.key -- uptime`,
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
			o := adhocRun{pc: pc, shell: shell, script: script, timeout: timeout, execID: execID,
				jsonOut: jsonOut || a.output == "json"}
			if cmd.Flags().Changed("deadline") {
				if deadline <= 0 || deadline > 7*24*time.Hour {
					return usagef("--deadline %s: want a duration from now, at most 168h (the broker keeps a command 7 days)", deadline)
				}
				dl := a.opt.Now().UTC().Add(deadline)
				o.deadlineAt = &dl
			}
			keyFile := a.signingKeyFile(cmd)
			if keyFile == "" {
				return a.runViaAPI(cmd.Context(), o)
			}
			signer, err := sign.LoadKey(keyFile)
			if err != nil {
				return fmt.Errorf("--signing-key: %w", err)
			}
			return a.run(cmd.Context(), signer, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&shell, "shell", "sh", "shell: "+strings.Join(wire.Shells, "|"))
	f.DurationVar(&timeout, "timeout", 60*time.Second, "script timeout on the agent")
	f.BoolVar(&jsonOut, "json", false, "print the whole ExecResult as JSON instead of the script's output")
	f.StringVar(&execID, "exec-id", "", "exec_id to use (default: a new UUID); kanade kill takes it")
	f.DurationVar(&deadline, "deadline", 0, "an agent that gets the command after now + this skips it (exit 125); default: the time kanade waits (--timeout + grace)")
	addSigningKeyFlag(f)
	return cmd
}

// adhocRun is one `kanade run` as the flags describe it.
type adhocRun struct {
	pc, shell, script, execID string
	timeout                   time.Duration
	deadlineAt                *time.Time // nil: the default (now + the wait)
	jsonOut                   bool
}

// run is the direct path: sign the command and publish it to the broker.
func (a *app) run(ctx context.Context, signer *sign.Signer, o adhocRun) error {
	pc, timeout, execID := o.pc, o.timeout, o.execID
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
	c, wait := command.AdhocCommand(command.Adhoc{ExecID: execID, Shell: o.shell, Script: o.script,
		TimeoutSecs: int64(math.Ceil(timeout.Seconds())), DeadlineAt: o.deadlineAt}, a.opt.Now())
	// Subscribe before publishing, so a fast agent's result is not missed.
	aw, err := command.AwaitResult(nc, c.RequestID)
	if err != nil {
		return err
	}
	defer aw.Close()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = command.Publish(pctx, js, signer, pc, c)
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
	return a.report(pc, timeout, r, raw, o.jsonOut)
}

// runViaAPI is the path without a signing key: POST /api/run waits for
// the result on the backend, which signs the command and audits the run.
func (a *app) runViaAPI(ctx context.Context, o adhocRun) error {
	pc, timeout, execID := o.pc, o.timeout, o.execID
	c, err := a.api()
	if err != nil {
		return err
	}
	// The backend waits up to timeout + its grace (10 s) for the result.
	if need := timeout + command.DefaultGrace + 10*time.Second; c.HTTP.Timeout < need {
		c.HTTP.Timeout = need
	}
	r, err := c.Run(ctx, apiv1.RunRequest{PCID: pc, Shell: o.shell, Script: o.script,
		TimeoutSecs: int64(math.Ceil(timeout.Seconds())), ExecID: execID, DeadlineAt: o.deadlineAt})
	var ae *apiv1.Error
	if errors.As(err, &ae) && ae.Status == http.StatusRequestTimeout {
		return fmt.Errorf("no result from %s in time (exec_id %s); is the agent online? try `kanade ping %s`; `kanade results list --exec %s` shows it later", pc, execID, pc, execID)
	}
	if err != nil {
		return err
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	var res wire.ExecResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return err
	}
	return a.report(pc, timeout, res, raw, o.jsonOut)
}

// report prints a run's result and turns its exit code into ours.
func (a *app) report(pc string, timeout time.Duration, r wire.ExecResult, raw []byte, jsonOut bool) error {
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
