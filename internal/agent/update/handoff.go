package update

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"
)

// WatchedEnv marks the new binary started by Handoff.
const WatchedEnv = "KANADE_UPDATE_WATCHED"

// IsWatched reports whether this process was started by Handoff.
func IsWatched() bool { return os.Getenv(WatchedEnv) == "1" }

// maxExits inside the window make a crash loop (SPEC §13).
const maxExits = 3

// Boot runs first at every agent start. It clears what an earlier swap
// left, and for a new binary started unwatched (by its watcher's exec, a
// service restart, a reboot) counts the start: the third inside the
// window rolls back, so a version that crash-loops under its service
// manager after its first heartbeat is caught too. restart true means the binary at exe was replaced by the previous one: the caller
// must become it (Become) instead of running.
func Boot(dataDir, version, exe string, log *slog.Logger) (restart bool, err error) {
	f := FilesIn(dataDir)
	_ = os.Remove(exe + ".new") // a swap interrupted before its rename
	p, err := f.Pending()
	if err != nil {
		log.Warn("pending update record unreadable; cleared", "error", err)
		return false, f.ClearPending()
	}
	if p == nil {
		return false, nil
	}
	if p.To != version {
		// The swap did not take (the old binary runs) or the record is
		// older than this binary: nothing to decide.
		log.Warn("a pending update to another version was found; cleared", "pending_to", p.To, "running", version)
		return false, f.ClearPending()
	}
	if IsWatched() {
		return false, nil
	}
	now := time.Now().UTC()
	if now.After(p.Deadline()) {
		if p.HealthyAt != nil {
			log.Info("agent update confirmed", "from", p.From, "to", p.To)
			return false, f.ClearPending()
		}
		// Down for the whole window (a machine switched off): a fresh
		// window rather than a verdict on a version that never ran.
		w := p.Deadline().Sub(p.ArmedAt)
		p.ArmedAt, p.Boots = now, nil
		p.Window = w.String()
	}
	boots := p.Boots[:0]
	for _, b := range p.Boots {
		if !b.Before(p.ArmedAt) {
			boots = append(boots, b)
		}
	}
	p.Boots = append(boots, now)
	if len(p.Boots) >= maxExits {
		return true, rollback(f, *p, fmt.Sprintf("started %d times within the health window", len(p.Boots)), log)
	}
	return false, f.SavePending(*p)
}

// Handoff runs in the old binary after its agent stopped with ErrRestart.
// It starts the new binary (args are this process's arguments) and waits
// for its heartbeat; a child that exits maxExits times or stays silent past
// the window is rolled back. Then this process becomes exe — the new
// binary, or the previous one restored. A cancelled ctx (the service is
// stopping) stops the child and returns, leaving the swap armed for Boot.
func Handoff(ctx context.Context, dataDir, exe string, args []string, log *slog.Logger) error {
	f := FilesIn(dataDir)
	p, err := f.Pending()
	if err != nil || p == nil {
		// A rollback already happened (or nothing is armed): just run exe.
		return Become(exe, args, log)
	}
	exits := 0
	for {
		cmd := exec.Command(exe, args...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.Env = append(withoutWatched(os.Environ()), WatchedEnv+"=1")
		if err := cmd.Start(); err != nil {
			exits++
			log.Error("cannot start the new agent binary", "exe", exe, "error", err)
			if exits >= maxExits {
				return finishRollback(f, *p, "the new binary does not start: "+err.Error(), exe, args, log)
			}
			time.Sleep(time.Second)
			continue
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		log.Info("new agent version started; waiting for its heartbeat", "to", p.To, "pid", cmd.Process.Pid, "deadline", p.Deadline())
		verdict := watch(ctx, f, *p, done)
		switch verdict {
		case verdictHealthy:
			stopChild(cmd, done, log)
			log.Info("new agent version heartbeats; handing over", "to", p.To)
			return Become(exe, args, log)
		case verdictStopping:
			stopChild(cmd, done, log)
			return ctx.Err()
		case verdictLate:
			stopChild(cmd, done, log)
			return finishRollback(f, *p, "no heartbeat within the health window", exe, args, log)
		case verdictExited:
			exits++
			log.Error("new agent version exited", "to", p.To, "exits", exits)
			if exits >= maxExits {
				return finishRollback(f, *p, fmt.Sprintf("exited %d times within the health window", exits), exe, args, log)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
	}
}

type verdict int

const (
	verdictHealthy verdict = iota
	verdictExited
	verdictLate
	verdictStopping
)

func watch(ctx context.Context, f Files, p Pending, done <-chan error) verdict {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	late := time.NewTimer(time.Until(p.Deadline()))
	defer late.Stop()
	for {
		select {
		case <-ctx.Done():
			return verdictStopping
		case <-done:
			if healthy(f) { // it heartbeated, then stopped: still a pass
				return verdictHealthy
			}
			return verdictExited
		case <-late.C:
			if healthy(f) {
				return verdictHealthy
			}
			return verdictLate
		case <-tick.C:
			if healthy(f) {
				return verdictHealthy
			}
		}
	}
}

func healthy(f Files) bool {
	p, err := f.Pending()
	return err == nil && p != nil && p.HealthyAt != nil
}

// stopChild asks the child to stop as a service stop would, and waits.
func stopChild(cmd *exec.Cmd, done <-chan error, log *slog.Logger) {
	if cmd.ProcessState != nil {
		return
	}
	if err := interrupt(cmd.Process); err != nil {
		_ = cmd.Process.Kill()
	}
	select {
	case <-done:
	case <-time.After(45 * time.Second):
		log.Warn("new agent binary did not stop in 45 s; killing it")
		_ = cmd.Process.Kill()
		<-done
	}
}

func finishRollback(f Files, p Pending, reason, exe string, args []string, log *slog.Logger) error {
	if err := rollback(f, p, reason, log); err != nil {
		return fmt.Errorf("rollback of %s: %w", p.To, err)
	}
	return Become(exe, args, log)
}

func withoutWatched(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, WatchedEnv+"=") {
			out = append(out, e)
		}
	}
	return out
}

// ErrServiceRestart: on Windows under the service manager, the process
// must exit for the service manager to start the binary now at exe.
var ErrServiceRestart = errors.New("exiting so the service manager starts the updated binary")
