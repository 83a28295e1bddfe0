// Package atomicfile replaces files so that a reader, or the next start
// after a crash, sees either the old contents or the new ones, never a
// mix or a truncated file. It is a leaf package (standard library only):
// the agent, the CLI and the backend all link it.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// tempSuffix ends every temporary file's name, so RemoveTemps (and
// directory scanners that skip "*.tmp") recognise what a crash left.
const tempSuffix = ".tmp"

// WriteFile writes data to path with mode perm: into a temporary file in
// the same directory (so the rename stays on one volume), fsynced, renamed
// over path, and then the directory fsynced where the OS supports it, so
// the rename itself survives a power loss. On error the temporary file is
// removed and path is untouched.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*"+tempSuffix)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	// CreateTemp makes the file 0600; perm is applied explicitly (not
	// through the umask) so a secret is never readable by others, not even
	// for a moment.
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// RemoveTemps deletes the temporary files WriteFile(path, ...) calls left
// behind when the process died mid-write. Call it at startup, before any
// writer of path runs.
func RemoveTemps(path string) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("remove temporary files of %s: %w", path, err)
	}
	for _, de := range names {
		n := de.Name()
		if strings.HasPrefix(n, "."+base+".") && strings.HasSuffix(n, tempSuffix) && !de.IsDir() {
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("remove temporary files of %s: %w", path, err)
			}
		}
	}
	return nil
}
