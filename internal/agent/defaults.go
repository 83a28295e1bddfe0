package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/kanade-fleet/kanade/internal/wire"
)

// DefaultPCID derives a pc_id from the hostname: the first DNS label (a
// dot would split the subject), which must then be a valid pc_id.
func DefaultPCID() (string, error) {
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("hostname: %w", err)
	}
	h, _, _ = strings.Cut(h, ".")
	if !wire.ValidPCID(h) {
		return "", fmt.Errorf("hostname %q is not a valid pc_id; set --id", h)
	}
	return h, nil
}

// DefaultDataDir is the per-OS data directory of an installed agent.
func DefaultDataDir() string {
	switch runtime.GOOS {
	case "windows":
		base := os.Getenv("ProgramData")
		if base == "" {
			base = `C:\ProgramData`
		}
		return filepath.Join(base, "Kanade", "data")
	case "darwin":
		return "/Library/Application Support/Kanade/data"
	default:
		return "/var/lib/kanade"
	}
}
