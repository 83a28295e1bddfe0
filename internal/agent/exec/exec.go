// Package exec runs one script with the shell a Command names, in its own
// process group (Windows: job object), with a timeout and a kill switch that
// end the whole process tree, and bounded output capture.
package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/wire"
)

// ExitStartFailed is reported when the script could not be started at all
// (shell missing, bad cwd, unsupported run_as): a failure, not a skip.
const ExitStartFailed = 127

// DefaultTimeout applies when a command carries timeout_secs 0.
const DefaultTimeout = time.Hour

// pipeGrace bounds how long we keep reading output after the shell exited
// or was killed: a background grandchild may hold the pipes open forever.
const pipeGrace = 2 * time.Second

// Spec describes one run.
type Spec struct {
	Shell   string
	Script  string
	Cwd     string
	RunAs   string
	Timeout time.Duration
	Env     []string // extra KEY=VALUE entries
	TempDir string   // where powershell scripts are staged; os.TempDir() if empty
	Capture int      // per-stream capture bound; MaxCapture if 0
	// SpoolDir, when set, has the output captured into files there as the
	// script writes it (Result.StdoutSpool/StderrSpool) instead of memory.
	SpoolDir string
}

// Result is what a run produced.
type Result struct {
	ExitCode int
	// Stdout and Stderr are the captured streams when they were kept in
	// memory. A spooled stream leaves its field empty: the spool holds it
	// (the caller owns the spool and must Remove it).
	Stdout      string
	Stderr      string
	StdoutSpool *Spool
	StderrSpool *Spool
	TimedOut    bool
	Killed      bool
	Aborted     bool // ctx was cancelled (agent shutting down)
}

// Runner adapts Run to wire.Command; it is the production implementation of
// the intake's Runner interface.
type Runner struct {
	TempDir  string
	Env      []string
	SpoolDir string // see Spec.SpoolDir
}

// Run runs cmd and blocks until it is done.
func (r *Runner) Run(ctx context.Context, cmd wire.Command, kill <-chan struct{}) Result {
	to := time.Duration(cmd.TimeoutSecs) * time.Second
	if to <= 0 {
		to = DefaultTimeout
	}
	env := append([]string{
		"KANADE_JOB_ID=" + cmd.ID, "KANADE_JOB_VERSION=" + cmd.Version,
		"KANADE_EXEC_ID=" + cmd.ExecID, "KANADE_REQUEST_ID=" + cmd.RequestID,
	}, r.Env...)
	return Run(ctx, Spec{Shell: cmd.Shell, Script: cmd.Script, Cwd: cmd.Cwd, RunAs: cmd.RunAs,
		Timeout: to, Env: env, TempDir: r.TempDir, SpoolDir: r.SpoolDir}, kill)
}

// Run starts the script and waits for it. kill (may be nil) ends the run
// early with Killed set; ctx cancellation ends it with Aborted set. Either
// way, and on timeout, the whole process tree is terminated.
func Run(ctx context.Context, s Spec, kill <-chan struct{}) Result {
	if s.RunAs != "" && s.RunAs != "system" {
		return Result{ExitCode: ExitStartFailed,
			Stderr: fmt.Sprintf("[kanade] run_as %q is not supported by this agent; the script was not started\n", s.RunAs)}
	}
	cleanup := func() {}
	cmd, err := buildCommand(s, &cleanup)
	defer cleanup()
	if err != nil {
		return Result{ExitCode: ExitStartFailed, Stderr: "[kanade] " + err.Error() + "\n"}
	}
	stdout, stderr := newOutput(s), newOutput(s)
	cmd.Dir = s.Cwd
	cmd.Env = childEnv(s.Env)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = pipeGrace
	tree, err := startInTree(cmd)
	if err != nil {
		stdout.discard()
		stderr.discard()
		return Result{ExitCode: ExitStartFailed, Stderr: fmt.Sprintf("[kanade] failed to start %s: %v\n", s.Shell, err)}
	}
	defer tree.release()

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(s.Timeout)
	defer timer.Stop()

	var res Result
	var werr error
	select {
	case werr = <-done:
	case <-timer.C:
		res.TimedOut = true
	case <-kill:
		res.Killed = true
	case <-ctx.Done():
		res.Aborted = true
	}
	if res.TimedOut || res.Killed || res.Aborted {
		if kerr := tree.kill(); kerr != nil {
			fmt.Fprintf(stderr, "\n[kanade] killing the process tree: %v\n", kerr)
		}
		werr = <-done // bounded by WaitDelay even if a grandchild escaped the tree
	}
	// When the shell exits on its own, a background grandchild it left is
	// not killed (it may be a deliberate daemon), but WaitDelay stops us
	// from waiting on the pipes it holds.
	res.ExitCode = cmd.ProcessState.ExitCode()
	if werr != nil && errors.Is(werr, osexec.ErrWaitDelay) {
		fmt.Fprintf(stderr, "\n[kanade] output pipes still held by a background process %s after the script exited; stopped reading\n", pipeGrace)
	}
	switch {
	case res.TimedOut:
		res.ExitCode = wire.ExitKilled
		fmt.Fprintf(stderr, "\n[kanade] timeout after %s: process tree killed\n", s.Timeout)
	case res.Killed:
		res.ExitCode = wire.ExitKilled
		fmt.Fprintf(stderr, "\n[kanade] killed by remote signal: process tree killed\n")
	case res.Aborted:
		res.ExitCode = wire.ExitKilled
		fmt.Fprintf(stderr, "\n[kanade] agent shutting down: process tree killed\n")
	}
	res.Stdout, res.StdoutSpool = stdout.done()
	res.Stderr, res.StderrSpool = stderr.done()
	return res
}

// output is one stream's capture: a spool file when Spec.SpoolDir is set
// and usable, memory otherwise (a spool that cannot be created must not
// cost the run its output).
type output struct {
	io.Writer
	mem   *Capture
	spool *Spool
}

func newOutput(s Spec) output {
	if s.SpoolDir != "" {
		if sp, err := NewSpool(s.SpoolDir, s.Capture); err == nil {
			return output{Writer: sp, spool: sp}
		}
	}
	c := NewCapture(s.Capture)
	return output{Writer: c, mem: c}
}

func (o output) done() (string, *Spool) {
	if o.spool != nil {
		_ = o.spool.Close() // a failed file leaves the excerpt; File reports it gone
		return "", o.spool
	}
	return o.mem.String(), nil
}

func (o output) discard() {
	if o.spool != nil {
		o.spool.Remove()
	}
}

// childEnv is the agent's environment minus secrets, plus extra.
func childEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(strings.ToUpper(kv), "="); k == "KANADE_NATS_TOKEN" || k == "KANADE_NATS_PASSWORD" {
			continue // the broker credential is the agent's, not the script's
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// buildCommand maps a shell name to a command line. PowerShell gets a temp
// .ps1 file (with a BOM so non-ASCII survives Windows PowerShell 5.1).
func buildCommand(s Spec, cleanup *func()) (*osexec.Cmd, error) {
	switch s.Shell {
	case "sh", "bash":
		return osexec.Command(s.Shell, "-c", s.Script), nil
	case "cmd":
		if runtime.GOOS != "windows" {
			return nil, errors.New("shell cmd is only available on Windows")
		}
		return cmdShell(s.Script), nil
	case "powershell", "pwsh":
		dir, err := os.MkdirTemp(s.TempDir, "kanade-run-")
		if err != nil {
			return nil, fmt.Errorf("staging script: %w", err)
		}
		*cleanup = func() { _ = os.RemoveAll(dir) }
		path := filepath.Join(dir, "script.ps1")
		if err := os.WriteFile(path, append([]byte("\xEF\xBB\xBF"), s.Script...), 0o600); err != nil {
			return nil, fmt.Errorf("staging script: %w", err)
		}
		args := []string{"-NoProfile", "-NonInteractive"}
		if runtime.GOOS == "windows" {
			args = append(args, "-ExecutionPolicy", "Bypass")
		}
		args = append(args, "-File", path)
		return osexec.Command(s.Shell, args...), nil
	default:
		return nil, fmt.Errorf("unknown shell %q", s.Shell)
	}
}
