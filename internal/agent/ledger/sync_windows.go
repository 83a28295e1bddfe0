//go:build windows

package ledger

// syncDir is a no-op: NTFS journals the rename metadata and directories
// cannot be opened for FlushFileBuffers without backup privileges.
func syncDir(string) error { return nil }
