package update

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/release"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// ErrRestart is what the agent's Run returns after a swap: the caller
// hands over to the new binary with Handoff.
var ErrRestart = errors.New("agent binary replaced: restarting into the new version")

// Config is what an Updater needs from the agent.
type Config struct {
	DataDir string
	Version string // the running version
	Exe     string // the running binary (Executable)
	// Watched: this process is the new binary started by the old one's
	// Handoff, which decides from our heartbeat.
	Watched bool
	Conn    *nats.Conn
	Keyring func() *sign.Keyring
	// Idle reports no run in progress or queued: the swap waits for it,
	// so no script is killed by an update.
	Idle func() bool
	// Changed is called when the state to report changes (send a
	// heartbeat now).
	Changed func()
	// Restart stops the agent for the hand-over; Run then returns
	// ErrRestart.
	Restart func()
	Logger  *slog.Logger
	OS      string // default runtime.GOOS
	Arch    string // default runtime.GOARCH
}

// Updater follows target_version. Create with New; run Run once.
type Updater struct {
	c     Config
	files Files
	log   *slog.Logger
	kick  chan struct{}

	mu          sync.Mutex
	target      string
	jitter      time.Duration
	window      time.Duration
	known       bool // a target was set from the broker's config
	state       string
	errText     string
	quarantined *Quarantine
	pending     *Pending // this binary's own armed swap, until confirmed
}

// New reads the state files.
func New(c Config) (*Updater, error) {
	if c.OS == "" {
		c.OS = runtime.GOOS
	}
	if c.Arch == "" {
		c.Arch = runtime.GOARCH
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	f := FilesIn(c.DataDir)
	q, err := f.Quarantine()
	if err != nil {
		c.Logger.Warn("quarantine record unreadable; ignored", "error", err)
	}
	p, err := f.Pending()
	if err != nil {
		c.Logger.Warn("pending update record unreadable; ignored", "error", err)
	}
	if p != nil && p.To != c.Version {
		p = nil // Boot clears it; not ours
	}
	u := &Updater{c: c, files: f, log: c.Logger, kick: make(chan struct{}, 1), state: wire.UpdateCurrent,
		quarantined: q, pending: p}
	if q != nil {
		u.state = wire.UpdateQuarantined
	}
	if p != nil && c.Watched {
		u.state = wire.UpdateRestarting
	}
	return u, nil
}

// Status is what the heartbeat reports.
func (u *Updater) Status() (state, errText, quarantined string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.quarantined != nil {
		quarantined = u.quarantined.Version
	}
	return u.state, u.errText, quarantined
}

// SetTarget is called with every resolved configuration read from the
// broker (not the built-in defaults: an agent that has not read its
// config yet must not forget a quarantine).
func (u *Updater) SetTarget(target string, jitter, window time.Duration) {
	u.mu.Lock()
	changed := !u.known || target != u.target
	u.target, u.jitter, u.window, u.known = target, jitter, window, true
	u.mu.Unlock()
	if changed {
		select {
		case u.kick <- struct{}{}:
		default:
		}
	}
}

// AwaitingHealth reports whether this binary still has to prove itself
// with a heartbeat.
func (u *Updater) AwaitingHealth() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.pending != nil && u.pending.HealthyAt == nil
}

// Probed reports whether a heartbeat of this version has been recorded
// (the watched probe's exit condition).
func (u *Updater) Probed() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.pending == nil || u.pending.HealthyAt != nil
}

// Healthy records that a heartbeat of this version reached the broker:
// the watcher, polling the file, then execs us. The swap stays armed until
// the window ends, so a version that crash-loops after its first
// heartbeat is still rolled back (Boot counts its starts).
func (u *Updater) Healthy() {
	u.mu.Lock()
	p := u.pending
	if p == nil || p.HealthyAt != nil {
		u.mu.Unlock()
		return
	}
	now := time.Now().UTC()
	p.HealthyAt = &now
	cp := *p
	u.mu.Unlock()
	if err := u.files.SavePending(cp); err != nil {
		u.log.Error("cannot record that the new version is healthy", "error", err)
		return
	}
	u.log.Info("new agent version heartbeats", "version", u.c.Version, "from", cp.From)
}

func (u *Updater) set(state, errText string) {
	u.mu.Lock()
	same := u.state == state && u.errText == errText
	u.state, u.errText = state, errText
	u.mu.Unlock()
	if !same && u.c.Changed != nil {
		u.c.Changed()
	}
}

// Run follows the target until ctx ends or a swap hands over.
func (u *Updater) Run(ctx context.Context) {
	// An unwatched new binary decides at the end of its window: confirmed
	// if it heartbeated, rolled back if not.
	u.mu.Lock()
	armed := u.pending != nil
	u.mu.Unlock()
	if armed && !u.c.Watched {
		go u.watchOwnDeadline(ctx)
	}
	backoff := time.Minute
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-u.kick:
			backoff = time.Minute
		case <-retry:
		}
		retry = nil
		u.mu.Lock()
		target, jitter, window, known := u.target, u.jitter, u.window, u.known
		q := u.quarantined
		u.mu.Unlock()
		if !known {
			continue
		}
		if q != nil && q.Version != target {
			// target_version changed: the quarantine has done its job.
			if err := u.files.ClearQuarantine(); err != nil {
				u.log.Warn("clear quarantine", "error", err)
			}
			u.mu.Lock()
			u.quarantined = nil
			u.mu.Unlock()
			u.log.Info("quarantine lifted: target_version changed", "quarantined", q.Version, "target", target)
			q = nil
		}
		switch {
		case target == "" || target == u.c.Version:
			u.set(wire.UpdateCurrent, "")
			continue
		case q != nil:
			u.set(wire.UpdateQuarantined, "")
			continue
		case u.c.Watched:
			continue // the old binary is deciding about us
		}
		if jitter > 0 {
			wait := rand.N(jitter)
			u.log.Info("update to target_version after a random wait", "target", target, "wait", wait.Round(time.Second))
			select {
			case <-ctx.Done():
				return
			case <-u.kick: // the target changed while waiting: decide again
				select {
				case u.kick <- struct{}{}:
				default: // another change is already queued
				}
				continue
			case <-time.After(wait):
			}
		}
		err := u.attempt(ctx, target, window)
		if errors.Is(err, ErrRestart) {
			return
		}
		if err != nil && ctx.Err() == nil {
			u.log.Error("self-update failed; the current version keeps running", "target", target, "retry_in", backoff, "error", err)
			u.set(wire.UpdateFailed, err.Error())
			retry = time.After(backoff)
			if !errors.Is(err, ErrNoRelease) {
				// A missing release is one cheap lookup a minute (it may be
				// uploaded after the target was set); a failing download or
				// check backs off.
				backoff = min(backoff*2, 30*time.Minute)
			}
		}
	}
}

// attempt downloads, verifies and installs target, then asks the agent to
// restart (ErrRestart).
func (u *Updater) attempt(ctx context.Context, target string, window time.Duration) error {
	if err := release.ValidVersion(target); err != nil {
		return err
	}
	u.set(wire.UpdateDownloading, "")
	name := release.ObjectName(target, u.c.OS, u.c.Arch)
	if err := os.MkdirAll(u.files.Dir, 0o700); err != nil {
		return err
	}
	part := filepath.Join(u.files.Dir, "download.part")
	u.log.Info("downloading agent release", "release", name)
	st, err := download(ctx, u.c.Conn, u.files, name, part, u.c.Keyring())
	if err != nil {
		return err
	}
	u.log.Info("release verified", "release", name, "sha256", st.SHA256, "size", st.Size)
	// Wait for running scripts to finish: an update never kills one.
	for u.c.Idle != nil && !u.c.Idle() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
		u.mu.Lock()
		moved := u.target != target
		u.mu.Unlock()
		if moved {
			return fmt.Errorf("target_version changed while waiting for runs to finish")
		}
	}
	prev, err := install(u.c.Exe, part)
	if err != nil {
		return err
	}
	_ = os.Remove(part)
	if window <= 0 {
		window = wire.DefaultUpdateHealthWindow
	}
	p := Pending{From: u.c.Version, To: target, Exe: u.c.Exe, Prev: prev, ArmedAt: time.Now().UTC(), Window: window.String()}
	if err := u.files.SavePending(p); err != nil {
		if rerr := restore(u.c.Exe, prev); rerr != nil {
			u.log.Error("cannot undo the swap", "error", rerr)
		}
		return err
	}
	u.log.Info("agent binary replaced; restarting into the new version", "from", u.c.Version, "to", target,
		"exe", u.c.Exe, "previous", prev, "health_window", window)
	u.set(wire.UpdateRestarting, "")
	if u.c.Restart != nil {
		u.c.Restart()
	}
	return ErrRestart
}

// watchOwnDeadline ends this binary's pending swap at its deadline:
// confirmed when a heartbeat was recorded, else rolled back.
func (u *Updater) watchOwnDeadline(ctx context.Context) {
	u.mu.Lock()
	deadline := u.pending.Deadline()
	u.mu.Unlock()
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Until(deadline)):
	}
	u.mu.Lock()
	p := *u.pending
	healthy := p.HealthyAt != nil
	if healthy {
		u.pending = nil
	}
	u.mu.Unlock()
	if healthy {
		if err := u.files.ClearPending(); err != nil {
			u.log.Error("cannot confirm the update", "error", err)
		}
		u.log.Info("agent update confirmed: the health window passed", "from", p.From, "to", p.To)
		return
	}
	if err := rollback(u.files, p, "no heartbeat within the health window", u.log); err != nil {
		u.log.Error("rollback failed", "error", err)
		return
	}
	u.set(wire.UpdateRestarting, "")
	if u.c.Restart != nil {
		u.c.Restart()
	}
}

// rollback restores the previous binary and quarantines p.To.
func rollback(f Files, p Pending, reason string, log *slog.Logger) error {
	if err := restore(p.Exe, p.Prev); err != nil {
		return err
	}
	if err := f.SaveQuarantine(Quarantine{Version: p.To, At: time.Now().UTC(), Reason: reason}); err != nil {
		log.Error("cannot record the quarantine", "version", p.To, "error", err)
	}
	if err := f.ClearPending(); err != nil {
		log.Error("cannot clear the pending update", "error", err)
	}
	log.Error("new agent version rolled back and quarantined", "version", p.To, "back_to", p.From, "reason", reason)
	return nil
}
