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

// TestSharedAndExclusive: shared holders coexist (replicas on one data
// dir); an exclusive one waits for all of them and keeps them out.
func TestSharedAndExclusive(t *testing.T) {
	dir := t.TempDir()
	a, err := Share(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Share(dir)
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	if _, err := Acquire(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("exclusive while shared: %v, want ErrLocked", err)
	}
	a.Release()
	b.Release()
	x, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Release()
	if _, err := Share(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("shared while exclusive: %v, want ErrLocked", err)
	}
}

// TestLockedByOtherProcess runs the test binary as a child that tries a
// shared lock while this process holds the exclusive one.
func TestLockedByOtherProcess(t *testing.T) {
	if dir := os.Getenv("DIRLOCK_CHILD"); dir != "" {
		if _, err := Share(dir); errors.Is(err, ErrLocked) {
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
