//go:build !windows

package update

import (
	"fmt"
	"log/slog"
	"os"
	"syscall"
)

// Become replaces this process with exe (same pid: the service manager
// sees one service throughout).
func Become(exe string, args []string, log *slog.Logger) error {
	log.Info("exec", "exe", exe)
	argv := append([]string{exe}, args...)
	if err := syscall.Exec(exe, argv, withoutWatched(os.Environ())); err != nil {
		return fmt.Errorf("exec %s: %w", exe, err)
	}
	return nil // not reached
}

func interrupt(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
