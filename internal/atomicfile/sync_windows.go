//go:build windows

package atomicfile

// SyncDir is a no-op: NTFS journals the rename metadata, and a directory
// cannot be opened for FlushFileBuffers without backup privileges.
func SyncDir(string) error { return nil }
