package dirlock

import (
	"errors"
	"os"
	"os/exec"
	"testing"
)

// TestAcquireExclusive: a second locker is refused until the first
// releases. flock locks belong to open files, so two Acquire calls in one
// process conflict like two processes do.
func TestAcquireExclusive(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Acquire: %v, want ErrLocked", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	defer l2.Release()
}

// TestLockedByOtherProcess runs the test binary as a child that tries the
// lock this process holds.
func TestLockedByOtherProcess(t *testing.T) {
	if dir := os.Getenv("DIRLOCK_CHILD"); dir != "" {
		if _, err := Acquire(dir); errors.Is(err, ErrLocked) {
			os.Exit(7)
		}
		os.Exit(0)
	}
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockedByOtherProcess$")
	cmd.Env = append(os.Environ(), "DIRLOCK_CHILD="+dir)
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("child: %v, want exit 7 (locked)", err)
	}
}
