// Package dirlock keeps one process at a time on a backend data dir: the
// embedded JetStream store and SQLite file are not safe to share, and
// `kanade-backend restore` must know that no backend runs on the dir it
// writes. The lock is an advisory file lock, released by the kernel when
// the process dies, so a crash never leaves a stale lock behind.
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
var ErrLocked = errors.New("data dir is in use by another process (a running kanade-backend?)")

// Lock is a held data-dir lock.
type Lock struct{ f *os.File }

// Acquire locks dir (created if missing) without waiting: ErrLocked when
// another process holds it.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := lock(f); err != nil {
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
