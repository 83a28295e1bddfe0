// Package update is the agent's self-update (SPEC §13): it follows the
// effective target_version, downloads the release for its platform from
// object store agent_releases over plain direct gets (resumable, no
// consumer), verifies its SHA-256 and the command-signing key's signature,
// swaps the binary keeping the previous one, and hands over to it.
//
// The hand-over is watched by the old binary: after the swap the old
// process stops its agent work, starts the new binary as a child and waits
// for it to send a heartbeat. A child that exits three times, or sends no
// heartbeat within update_health_window, is rolled back — whatever made it
// fail, even a binary that never reaches our code — and its version is
// quarantined on this PC until target_version changes. A new version that
// heartbeats is then exec'd in place of the old process (Unix: same pid,
// so systemd/launchd see one service; Windows: the service exits and the
// service manager starts the new binary). When the watcher itself is gone
// (the service was restarted, the machine rebooted), the new binary counts
// its own boots against the same file and rolls itself back.
//
// State lives in <data dir>/update: pending.json (an armed swap),
// quarantine.json, and the partial download with its progress.
package update

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kanade-fleet/kanade/internal/atomicfile"
)

// Pending is an armed swap: from the version that swapped to the one it
// installed, and what the watcher and the new binary need to decide.
type Pending struct {
	From    string    `json:"from"`
	To      string    `json:"to"`
	Exe     string    `json:"exe"`  // the installed path (now the new binary)
	Prev    string    `json:"prev"` // the previous binary, kept for rollback
	ArmedAt time.Time `json:"armed_at"`
	Window  string    `json:"window"` // update_health_window at the swap
	// Boots are the new binary's unwatched starts (see Boot).
	Boots []time.Time `json:"boots,omitempty"`
	// HealthyAt is when the new version's first heartbeat reached the
	// broker.
	HealthyAt *time.Time `json:"healthy_at,omitempty"`
}

// Deadline is when the new version must have sent a heartbeat.
func (p Pending) Deadline() time.Time {
	w, err := time.ParseDuration(p.Window)
	if err != nil || w <= 0 {
		w = 2 * time.Minute
	}
	return p.ArmedAt.Add(w)
}

// Quarantine is a version that failed here and was rolled back.
type Quarantine struct {
	Version string    `json:"version"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason"`
}

// Files are the update state files in one data dir.
type Files struct{ Dir string }

// FilesIn returns the state files of an agent data dir.
func FilesIn(dataDir string) Files { return Files{Dir: filepath.Join(dataDir, "update")} }

func (f Files) path(name string) string { return filepath.Join(f.Dir, name) }

func (f Files) load(name string, v any) (bool, error) {
	b, err := os.ReadFile(f.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("update state: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("update state %s: %w", name, err)
	}
	return true, nil
}

func (f Files) save(name string, v any) error {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return fmt.Errorf("update state: %w", err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(f.path(name), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("update state %s: %w", name, err)
	}
	return nil
}

func (f Files) remove(name string) error {
	if err := os.Remove(f.path(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("update state: %w", err)
	}
	return nil
}

// Pending reads the armed swap (nil: none). A damaged file reads as none:
// refusing to start over it would strand the PC.
func (f Files) Pending() (*Pending, error) {
	var p Pending
	ok, err := f.load("pending.json", &p)
	if err != nil || !ok {
		return nil, err
	}
	return &p, nil
}

// SavePending writes the armed swap.
func (f Files) SavePending(p Pending) error { return f.save("pending.json", p) }

// ClearPending removes the armed swap.
func (f Files) ClearPending() error { return f.remove("pending.json") }

// Quarantine reads the quarantined version (nil: none).
func (f Files) Quarantine() (*Quarantine, error) {
	var q Quarantine
	ok, err := f.load("quarantine.json", &q)
	if err != nil || !ok {
		return nil, err
	}
	return &q, nil
}

// SaveQuarantine records a quarantined version.
func (f Files) SaveQuarantine(q Quarantine) error { return f.save("quarantine.json", q) }

// ClearQuarantine forgets the quarantined version.
func (f Files) ClearQuarantine() error { return f.remove("quarantine.json") }
