package update

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// Executable is the running binary's real path (symlinks resolved, so the
// swap replaces the file, not a link to it).
func Executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return exe, nil
}

// PrevPath is where the previous binary is kept.
func PrevPath(exe string) string { return exe + ".prev" }

func copyFile(dst, src string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// install puts the verified binary at exe, keeping the running one at
// PrevPath(exe). On Unix exe is replaced by one rename, so at every
// instant exe is a complete binary (the old or the new). Windows cannot
// replace a running executable, only rename it: exe is renamed to prev,
// then the new file renamed into place (and put back on failure).
func install(exe, verified string) (prev string, err error) {
	dir := filepath.Dir(exe)
	next := exe + ".new"
	mode := os.FileMode(0o755)
	if fi, err := os.Stat(exe); err == nil {
		mode = fi.Mode().Perm() | 0o100
	}
	if err := copyFile(next, verified, mode); err != nil {
		_ = os.Remove(next)
		return "", fmt.Errorf("stage the new binary in %s: %w", dir, err)
	}
	prev = PrevPath(exe)
	if err := os.Remove(prev); err != nil && !errors.Is(err, os.ErrNotExist) {
		_ = os.Remove(next)
		return "", fmt.Errorf("remove the older previous binary: %w", err)
	}
	if runtime.GOOS == "windows" {
		if err := os.Rename(exe, prev); err != nil {
			_ = os.Remove(next)
			return "", fmt.Errorf("keep the running binary as %s: %w", prev, err)
		}
		if err := os.Rename(next, exe); err != nil {
			_ = os.Rename(prev, exe)
			_ = os.Remove(next)
			return "", fmt.Errorf("put the new binary in place: %w", err)
		}
		return prev, nil
	}
	// A hard link keeps the running binary's inode as prev at no cost; a
	// copy where links are not possible.
	if err := os.Link(exe, prev); err != nil {
		if err := copyFile(prev, exe, mode); err != nil {
			_ = os.Remove(next)
			return "", fmt.Errorf("keep the running binary as %s: %w", prev, err)
		}
	}
	if err := os.Rename(next, exe); err != nil {
		_ = os.Remove(next)
		return "", fmt.Errorf("put the new binary in place: %w", err)
	}
	syncDir(dir)
	return prev, nil
}

// restore puts the previous binary back at exe.
func restore(exe, prev string) error {
	if _, err := os.Stat(prev); err != nil {
		return fmt.Errorf("no previous binary to roll back to: %w", err)
	}
	if runtime.GOOS == "windows" {
		bad := exe + ".bad"
		_ = os.Remove(bad)
		if err := os.Rename(exe, bad); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("move the failed binary aside: %w", err)
		}
		if err := os.Rename(prev, exe); err != nil {
			_ = os.Rename(bad, exe)
			return fmt.Errorf("restore the previous binary: %w", err)
		}
		_ = os.Remove(bad) // fails while it still runs; removed at the next swap
		return nil
	}
	if err := os.Rename(prev, exe); err != nil {
		return fmt.Errorf("restore the previous binary: %w", err)
	}
	syncDir(filepath.Dir(exe))
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
