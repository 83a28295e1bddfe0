// Package dirlock tells whether a backend runs on a data dir: every
// backend holds a shared lock on it for its lifetime (replicas on one host
// may share a data dir), and `kanade-backend restore` takes it exclusively,
// so it never writes under a running backend and no backend starts during
// a restore. The lock is an advisory file lock, released by the kernel
// when the process dies, so a crash never leaves a stale lock behind.
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// FileName is the lock file inside the data dir.
const FileName = "kanade.lock"

// ErrLocked is returned when another process holds the lock.
var ErrLocked = errors.New("data dir is in use by another process (a running kanade-backend, or a restore)")

// Lock is a held data-dir lock.
type Lock struct{ f *os.File }

// Acquire locks dir (created if missing) exclusively without waiting:
// ErrLocked when anyone else holds it.
func Acquire(dir string) (*Lock, error) { return acquire(dir, true) }

// Share locks dir (created if missing) shared without waiting: ErrLocked
// while someone holds it exclusively.
func Share(dir string) (*Lock, error) { return acquire(dir, false) }

func acquire(dir string, exclusive bool) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := lock(f, exclusive); err != nil {
		f.Close()
		if errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("%s: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Release unlocks; the file stays (removing it would race a waiting locker).
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
