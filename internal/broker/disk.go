package broker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kanade-fleet/kanade/internal/bytesize"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// The embedded broker and the SQL database usually share one disk. Two
// things keep a full disk from breaking the broker for good:
//
//   - The file-storage limit (nats-server's max_file_store) is computed at
//     start, not left at nats-server's default of 75 % of the free space:
//     limit = what JetStream holds now + free space − DiskReserve − the
//     size of the database files on the same filesystem (the database may
//     grow as large again). JetStream then refuses writes with
//     "insufficient resources" (a clean error that clears itself) before
//     the disk is full, and the database keeps its room.
//   - Something else can still fill the disk (logs, another program). A
//     stream that hits ENOSPC keeps the write error for good ("Critical
//     write error" in nats-server's filestore: every later write fails
//     without an answer) until its store is reloaded. Heal does that
//     without a process restart once space is back: JetStream is shut
//     down and enabled again in-process (what nats-server's own config
//     reload does), which reloads every stream and consumer from disk and
//     recomputes the limit. Messages acknowledged before the fault are on
//     disk (single-server streams write before they acknowledge); the
//     rejected ones were never acknowledged, so their publishers know.

// Defaults of the disk accounting.
const (
	DefaultDiskReserve = 512 << 20
	DefaultMinFree     = 16 << 20
	DefaultHealPause   = 30 * time.Second
	// minStore is the smallest limit given even on a disk already short of
	// space (JetStream then refuses writes, and health says so).
	minStore = 16 << 20
)

// diskState is the accounting of the store's filesystem.
type diskState struct {
	mu        sync.Mutex
	limit     int64 // the max_file_store in force (0 = nats-server's default)
	lastHeal  time.Time
	heals     int
	lastError string
	// sawFull: since the last restart, a probe failed while the disk was
	// short of MinFree or JetStream reported its limit reached. Only then
	// do failing writes mean a store stuck on a write error (nats-server
	// keeps an ENOSPC for good); without it they mean a busy broker, which
	// a restart would only make busier.
	sawFull bool
}

// DiskInfo is the store filesystem's state, for health and metrics.
type DiskInfo struct {
	Free, Total uint64
	Limit       int64 // JetStream's file storage limit in force (0 = nats-server's own)
	Heals       int   // in-process JetStream restarts so far
}

// storeLimit computes max_file_store (see the package comment above);
// ok is false where the free space cannot be read.
func storeLimit(storeDir string, dbFiles []string, reserve int64) (limit int64, ok bool, err error) {
	if err := os.MkdirAll(storeDir, 0o750); err != nil {
		return 0, false, fmt.Errorf("jetstream store dir: %w", err)
	}
	free, _, dev, ok := diskStat(storeDir)
	if !ok {
		return 0, false, nil
	}
	used := dirSize(storeDir)
	var db int64
	for _, f := range dbFiles {
		if st, err := os.Stat(f); err == nil {
			if _, _, d, ok := diskStat(filepath.Dir(f)); ok && d == dev {
				db += st.Size()
			}
		}
	}
	limit = used + int64(free) - reserve - db
	return max(limit, used+minStore), true, nil
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func (o Options) reserve() int64 {
	if o.DiskReserve == 0 {
		return DefaultDiskReserve
	}
	return o.DiskReserve
}

// Disk reports the store filesystem's free space and the limit in force.
func (b *Broker) Disk() DiskInfo {
	free, total, _, _ := diskStat(b.opts.StoreDir)
	b.disk.mu.Lock()
	defer b.disk.mu.Unlock()
	return DiskInfo{Free: free, Total: total, Limit: b.disk.limit, Heals: b.disk.heals}
}

// DiskDetail is a sentence about the store's disk for a health reason.
func (b *Broker) DiskDetail() string {
	d := b.Disk()
	if d.Total == 0 {
		return ""
	}
	s := fmt.Sprintf("%s free of %s on the broker's disk", bytesize.Format(d.Free), bytesize.Format(d.Total))
	if d.Limit > 0 {
		s += fmt.Sprintf(", JetStream limit %s", bytesize.Format(uint64(d.Limit)))
	}
	return s
}

// Heal is called by health after a failed broker write probe (failures:
// how many in a row). It restarts JetStream in-process when that can
// help: JetStream was switched off, or writes keep failing (timeouts,
// store failures) after the disk was full and it has room again, or the
// limit was reached and freed space would now give a larger one. Failing
// writes on a disk that was never full (a busy broker: a connect storm)
// never restart it. Restarts are at least HealPause apart. It reports
// whether it restarted.
func (b *Broker) Heal(probeErr error, failures int) (bool, error) {
	b.disk.mu.Lock()
	pause := b.opts.HealPause
	if pause <= 0 {
		pause = DefaultHealPause
	}
	if !b.disk.lastHeal.IsZero() && time.Since(b.disk.lastHeal) < pause {
		b.disk.mu.Unlock()
		return false, nil
	}
	current := b.disk.limit
	b.disk.mu.Unlock()

	minFree := b.opts.MinFree
	if minFree <= 0 {
		minFree = DefaultMinFree
	}
	free, _, _, ok := diskStat(b.opts.StoreDir)
	if (ok && int64(free) < minFree) || limitReached(probeErr) {
		b.disk.mu.Lock()
		b.disk.sawFull = true
		b.disk.mu.Unlock()
	}
	if ok && int64(free) < minFree {
		return false, nil // still full: a restart would fail the same way
	}
	b.disk.mu.Lock()
	sawFull := b.disk.sawFull
	b.disk.mu.Unlock()
	var limit int64 // 0: nats-server's own limit (DiskReserve < 0)
	if b.opts.DiskReserve >= 0 {
		var err error
		if limit, _, err = storeLimit(b.opts.StoreDir, b.opts.DBFiles, b.opts.reserve()); err != nil {
			return false, err
		}
	}
	switch {
	case !b.Server.JetStreamEnabled():
	case limitReached(probeErr) && limit == 0:
		return false, nil // nats-server's own limit: a restart changes nothing
	case limitReached(probeErr):
		if limit <= current+minFree {
			return false, nil // nothing was freed: the limit stands
		}
	case failures < 2:
		return false, nil // one slow answer is not a stuck store
	case !sawFull:
		return false, nil // busy, not stuck: the disk was never full
	}
	return true, b.restartJetStream(limit, probeErr)
}

func limitReached(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == 10047 || apiErr.ErrorCode == 10023 // storage resources exceeded, insufficient resources
	}
	return false
}

func (b *Broker) restartJetStream(limit int64, cause error) error {
	b.disk.mu.Lock()
	b.disk.lastHeal = time.Now()
	b.disk.heals++
	b.disk.sawFull = false
	b.disk.mu.Unlock()
	log := b.opts.Log
	if log != nil {
		log.Warn("restarting JetStream in-process to recover from failed writes", "cause", cause, "file_store_limit", limit)
	}
	if b.Server.JetStreamEnabled() {
		if err := b.Server.ShutdownJetStream(); err != nil {
			return fmt.Errorf("shut JetStream down: %w", err)
		}
	}
	so := b.so
	cfg := &server.JetStreamConfig{StoreDir: so.StoreDir, MaxMemory: so.JetStreamMaxMemory, MaxStore: limit,
		SyncInterval: so.SyncInterval, SyncAlways: so.SyncAlways, Strict: !so.NoJetStreamStrict}
	if limit <= 0 {
		cfg.MaxStore = so.JetStreamMaxStore
	}
	if err := b.Server.EnableJetStream(cfg); err != nil {
		b.disk.mu.Lock()
		b.disk.lastError = err.Error()
		b.disk.mu.Unlock()
		return fmt.Errorf("enable JetStream again: %w", err)
	}
	b.disk.mu.Lock()
	b.disk.limit = cfg.MaxStore
	b.disk.mu.Unlock()
	if log != nil {
		log.Info("JetStream restarted in-process", "file_store_limit", cfg.MaxStore)
	}
	return nil
}
