//go:build windows

package update

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"

	"golang.org/x/sys/windows/svc"
)

// Become makes exe run in place of this process. A service exits with
// ErrServiceRestart and the service manager's recovery actions (set by
// `kanade-agent install`, including non-crash failures) start exe; run by
// hand, exe is started detached and this process exits.
func Become(exe string, args []string, log *slog.Logger) error {
	if ok, err := svc.IsWindowsService(); err == nil && ok {
		return ErrServiceRestart
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = withoutWatched(os.Environ())
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", exe, err)
	}
	log.Info("started the updated binary; exiting", "exe", exe, "pid", cmd.Process.Pid)
	os.Exit(0)
	return nil
}

// interrupt: Windows has no SIGTERM for another process; the child's
// outbox and ledger are fsynced, so a kill loses nothing queued.
func interrupt(p *os.Process) error { return p.Kill() }
