package projector

import (
	"sync"
	"time"

	"github.com/kanade-fleet/kanade/internal/store"
)

// Status is how one projector is doing, for health and metrics: a
// projector that keeps failing must be visible, not retry silently.
type Status struct {
	Consumer string
	Stream   string
	// LastSuccess is when a batch was last applied and acknowledged
	// (zero: not yet).
	LastSuccess time.Time
	// FailingSince is when the oldest failure not yet overcome happened:
	// a message whose write failed and that has not been applied since, or
	// the projector itself not running (consumer, pull or database error).
	// Zero when healthy.
	FailingSince time.Time
	LastError    string
	// DBCorrupt: the last failure says the database file is damaged.
	DBCorrupt bool
}

// maxTracked bounds the per-message failure map; past it, new failing
// messages only keep the oldest failure time (already recorded).
const maxTracked = 10000

// tracker keeps a Consumer's Status. Failures are tracked per stream
// sequence, so a poison row redelivered among healthy batches keeps the
// projector failing until that very message is applied; a batch of other
// messages succeeding does not hide it.
type tracker struct {
	mu          sync.Mutex
	lastSuccess time.Time
	runFailed   time.Time            // the projector could not run since then
	msgFailed   map[uint64]time.Time // stream seq → first failed write
	lastErr     string
	corrupt     bool
}

func (t *tracker) succeeded(now time.Time, seqs []uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastSuccess = now
	t.runFailed = time.Time{}
	for _, s := range seqs {
		delete(t.msgFailed, s)
	}
	if t.runFailed.IsZero() && len(t.msgFailed) == 0 {
		t.lastErr, t.corrupt = "", false
	}
}

// tracking reports whether any failed message awaits its success.
func (t *tracker) tracking() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.msgFailed) > 0
}

func (t *tracker) messageFailed(now time.Time, seq uint64, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.msgFailed == nil {
		t.msgFailed = map[uint64]time.Time{}
	}
	if _, ok := t.msgFailed[seq]; !ok && len(t.msgFailed) < maxTracked {
		t.msgFailed[seq] = now
	}
	t.lastErr, t.corrupt = err.Error(), store.IsCorrupt(err)
}

func (t *tracker) runFailure(now time.Time, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.runFailed.IsZero() {
		t.runFailed = now
	}
	t.lastErr, t.corrupt = err.Error(), store.IsCorrupt(err)
}

// running clears a failure to run (the consumer is pulling again); failed
// messages stay until they are applied.
func (t *tracker) running() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.runFailed = time.Time{}
}

// nothingOutstanding forgets failed messages once the consumer has nothing
// delivered and unacknowledged (a failed message that left the stream by
// retention, say, must not keep the projector failing for ever).
func (t *tracker) nothingOutstanding() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.msgFailed)
	if t.runFailed.IsZero() {
		t.lastErr, t.corrupt = "", false
	}
}

func (t *tracker) status() (last, since time.Time, lastErr string, corrupt bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	since = t.runFailed
	for _, at := range t.msgFailed {
		if since.IsZero() || at.Before(since) {
			since = at
		}
	}
	return t.lastSuccess, since, t.lastErr, t.corrupt
}

// Status reports this projector's state.
func (c *Consumer) Status() Status {
	last, since, lastErr, corrupt := c.track.status()
	return Status{Consumer: c.Durable, Stream: c.Stream, LastSuccess: last, FailingSince: since, LastError: lastErr, DBCorrupt: corrupt}
}

// Statuses reports every projector of the set.
func (s *Set) Statuses() []Status {
	out := make([]Status, 0, len(s.consumers))
	for _, c := range s.consumers {
		out = append(out, c.Status())
	}
	return out
}
