//go:build !windows

package ledger

import (
	"fmt"
	"os"
)

// syncDir makes a rename durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("ledger: fsync %s: %w", dir, err)
	}
	return nil
}
