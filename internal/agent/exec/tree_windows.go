//go:build windows

package exec

import (
	"fmt"
	osexec "os/exec"
	"syscall"

	"golang.org/x/sys/windows"
)

// tree is a job object holding the shell and everything it spawns.
type tree struct{ job windows.Handle }

var procNtResumeProcess = windows.NewLazySystemDLL("ntdll.dll").NewProc("NtResumeProcess")

// startInTree creates the child suspended, puts it in a fresh job object and
// only then lets it run, so not even its first grandchild escapes the job.
func startInTree(cmd *osexec.Cmd) (*tree, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return nil, fmt.Errorf("create job object: %w", err)
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.CreationFlags |= windows.CREATE_SUSPENDED | windows.CREATE_NEW_PROCESS_GROUP
	cmd.SysProcAttr.HideWindow = true
	if err := cmd.Start(); err != nil {
		windows.CloseHandle(job)
		return nil, err
	}
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE|windows.PROCESS_SUSPEND_RESUME, false, uint32(cmd.Process.Pid))
	if err == nil {
		err = windows.AssignProcessToJobObject(job, h)
		if r, _, _ := procNtResumeProcess.Call(uintptr(h)); r != 0 && err == nil {
			err = fmt.Errorf("NtResumeProcess: status 0x%x", r)
		}
		windows.CloseHandle(h)
	}
	if err != nil {
		_ = cmd.Process.Kill()
		windows.CloseHandle(job)
		return nil, fmt.Errorf("job object: %w", err)
	}
	return &tree{job: job}, nil
}

// kill terminates every process in the job.
func (t *tree) kill() error { return windows.TerminateJobObject(t.job, 1) }

func (t *tree) release() { windows.CloseHandle(t.job) }

// cmdShell passes the script verbatim after /C: cmd.exe does its own
// parsing, and Go's argv quoting would mangle it.
func cmdShell(script string) *osexec.Cmd {
	c := osexec.Command("cmd.exe")
	c.SysProcAttr = &syscall.SysProcAttr{CmdLine: `cmd.exe /D /S /C "` + script + `"`}
	return c
}
