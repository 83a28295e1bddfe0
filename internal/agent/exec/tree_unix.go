//go:build !windows

package exec

import (
	osexec "os/exec"
	"syscall"
)

// tree is the process group the shell leads.
type tree struct{ pgid int }

func startInTree(cmd *osexec.Cmd) (*tree, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &tree{pgid: cmd.Process.Pid}, nil
}

// kill sends SIGKILL to the whole group, so grandchildren die with the shell.
func (t *tree) kill() error {
	err := syscall.Kill(-t.pgid, syscall.SIGKILL)
	if err == syscall.ESRCH {
		return nil
	}
	return err
}

func (t *tree) release() {}

func cmdShell(string) *osexec.Cmd { return nil }
