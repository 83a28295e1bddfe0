// Package leader elects one holder of a named lock among backend replicas,
// using a key in the JetStream KV bucket `locks`, whose bucket TTL (15 s)
// is the lease: the holder renews the key with compare-and-set every TTL/3;
// a holder that stops renewing (crash, partition) loses the key when the
// broker expires it, and a follower then creates it.
//
// Safety margin: the holder reports IsLeader only while its last successful
// renewal *started* less than TTL×4/5 ago, so it steps down before the
// broker can expire its key and hand it to someone else (the broker's
// expiry counts from the put, which is after the start of the renewal).
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
)

// DefaultTTL is used when the bucket reports no TTL (it should not happen:
// bus.Bootstrap gives the locks bucket a 15 s TTL).
const DefaultTTL = 15 * time.Second

// Bucket opens the KV bucket holding the locks (kv.Store.Locks); its TTL
// is the lease. Run retries it until the bucket exists.
type Bucket func(ctx context.Context) (jetstream.KeyValue, error)

// Elector campaigns for one lock key.
type Elector struct {
	bucket Bucket
	key    string
	holder string
	log    *slog.Logger

	mu       sync.Mutex
	leading  bool
	validTil time.Time // local deadline of the lease
	rev      uint64
	changed  chan struct{} // closed and replaced on every leadership change
	// heldSeen is when some holder (this one or another) was last seen
	// holding the lock; health reports a leader missing for > 2 TTLs.
	heldSeen time.Time
	ttl      time.Duration
}

// New returns an elector for key in the bucket that bucket opens;
// holderID identifies this process in the lock value (for operators
// reading the bucket).
func New(bucket Bucket, key, holderID string, logger *slog.Logger) *Elector {
	if logger == nil {
		logger = slog.Default()
	}
	return &Elector{bucket: bucket, key: key, holder: holderID,
		log: logger.With("lock", key, "holder", holderID), changed: make(chan struct{}),
		heldSeen: time.Now(), ttl: DefaultTTL}
}

// LastHeld is when a holder of the lock was last seen, by this process
// holding it or by reading another's unexpired key; New counts as seen,
// so a starting process gets the same grace as a running one.
func (e *Elector) LastHeld() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.heldSeen
}

// TTL is the lease (the lock bucket's TTL once Run has read it).
func (e *Elector) TTL() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ttl
}

func (e *Elector) seenHeld(at time.Time) {
	e.mu.Lock()
	if at.After(e.heldSeen) {
		e.heldSeen = at
	}
	e.mu.Unlock()
}

// IsLeader reports whether this process holds the lock right now.
func (e *Elector) IsLeader() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leading && time.Now().Before(e.validTil)
}

// Changed returns a channel closed at the next change of leadership
// (gained or lost); call it again afterwards for the following change.
func (e *Elector) Changed() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changed
}

// Holder is this elector's holder id.
func (e *Elector) Holder() string { return e.holder }

func (e *Elector) set(leading bool, rev uint64, renewStart time.Time, ttl time.Duration) {
	e.mu.Lock()
	was := e.leading
	e.leading, e.rev = leading, rev
	if leading {
		e.validTil = renewStart.Add(ttl * 4 / 5)
		e.heldSeen = time.Now()
	}
	if was != leading {
		close(e.changed)
		e.changed = make(chan struct{})
	}
	e.mu.Unlock()
	if was != leading {
		if leading {
			e.log.Info("leadership acquired")
		} else {
			e.log.Warn("leadership lost or released")
		}
	}
}

// Run campaigns until ctx ends; then, if it holds the lock, it deletes the
// key (compare-and-set on its last revision) so a follower takes over at
// once instead of waiting for the TTL.
func (e *Elector) Run(ctx context.Context) error {
	var kv jetstream.KeyValue
	for {
		var err error
		kv, err = e.bucket(ctx)
		if err == nil {
			break
		}
		e.log.Warn("lock bucket unavailable; retrying", "error", err)
		if !sleep(ctx, time.Second) {
			return ctx.Err()
		}
	}
	ttl := DefaultTTL
	if st, err := kv.Status(ctx); err == nil && st.TTL() > 0 {
		ttl = st.TTL()
	}
	e.mu.Lock()
	e.ttl = ttl
	e.mu.Unlock()
	value := []byte(fmt.Sprintf(`{"holder":%q}`, e.holder))
	defer e.release(kv)

	// A follower notices a release at once through a watch; an expiry by
	// TTL leaves no marker, so it also retries when the key should expire.
	w, werr := kv.Watch(ctx, e.key, jetstream.UpdatesOnly())
	var updates <-chan jetstream.KeyValueEntry
	if werr == nil {
		defer w.Stop()
		updates = w.Updates()
	}
	var released uint64 // revision of a delete marker seen on the watch
	for ctx.Err() == nil {
		if !e.isLeading() {
			start := time.Now()
			var rev uint64
			var err error
			if released != 0 {
				// Take over straight from the release marker: Create can
				// refuse a key whose last entry is a fresh delete marker.
				rev, err = kv.Update(ctx, e.key, value, released)
				released = 0
				if err != nil {
					rev, err = kv.Create(ctx, e.key, value)
				}
			} else {
				rev, err = kv.Create(ctx, e.key, value)
			}
			if err == nil {
				e.set(true, rev, start, ttl)
				continue
			}
			wait := ttl / 3
			if errors.Is(err, jetstream.ErrKeyExists) {
				if ent, gerr := kv.Get(ctx, e.key); gerr == nil {
					if time.Since(ent.Created()) < ttl {
						e.seenHeld(time.Now())
					}
					wait = min(max(time.Until(ent.Created().Add(ttl))+50*time.Millisecond, 50*time.Millisecond), ttl/3)
				} else if bus.IsNotFound(gerr) {
					wait = 50 * time.Millisecond // just expired or released
				}
			} else if ctx.Err() == nil {
				e.log.Warn("lock create failed", "error", err)
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
			case <-t.C:
			case ent, ok := <-updates: // a release (or a renewal): look again at once
				if !ok {
					updates = nil
				} else if ent != nil && ent.Operation() != jetstream.KeyValuePut {
					released = ent.Revision()
				}
			}
			t.Stop()
			continue
		}
		if !sleep(ctx, ttl/3) {
			break
		}
		start := time.Now()
		rctx, cancel := context.WithTimeout(ctx, ttl/3)
		rev, err := kv.Update(rctx, e.key, value, e.revision())
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			e.log.Warn("lock renewal failed", "error", err)
			e.set(false, 0, time.Time{}, ttl)
			continue
		}
		e.set(true, rev, start, ttl)
	}
	return ctx.Err()
}

func (e *Elector) isLeading() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leading
}

func (e *Elector) revision() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rev
}

func (e *Elector) release(kv jetstream.KeyValue) {
	e.mu.Lock()
	leading, rev := e.leading, e.rev
	e.mu.Unlock()
	if !leading {
		return
	}
	e.set(false, 0, time.Time{}, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := kv.Delete(ctx, e.key, jetstream.LastRevision(rev)); err != nil {
		e.log.Warn("lock release failed; a follower takes over when the TTL expires", "error", err)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
