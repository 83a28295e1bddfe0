// Package kv owns the backend's JetStream key-value state: every bucket of
// SPEC §2 is read and written here, through one typed store per bucket
// family (jobs, schedules, agent groups, agent config, freeze, waves, the
// leader locks, the command-signing keys). Nothing else in the backend
// opens a bucket or knows its name; callers declare the small interface
// they need over these types.
// Buckets are created by bus.Bootstrap, not here.
package kv

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

// Store is the one handle cache: each bucket is opened on first use and
// the handle kept (a handle is only a name; it stays valid across broker
// restarts), so a bucket missing at start (bootstrap still running on
// another replica) is retried by the next call instead of failing for good.
type Store struct {
	js  jetstream.JetStream
	log *slog.Logger

	mu   sync.Mutex
	kvs  map[string]jetstream.KeyValue
	objs map[string]jetstream.ObjectStore

	Jobs        *Jobs
	Schedules   *Schedules
	AgentGroups *AgentGroups
	AgentConfig *AgentConfig
	Freeze      *Freeze
	Waves       *Waves
	SigningKeys *SigningKeys
	// Outputs is object store result_output (full run output).
	Outputs *Outputs
	// Releases is object store agent_releases (agent self-update).
	Releases *Releases
	// NotifyChannels and NotifyState serve the notifications (SPEC §15).
	NotifyChannels *NotifyChannels
	NotifyState    *NotifyState
}

// New returns the stores over js; log (nil = slog.Default) gets the
// warnings about hand-written bad values. It does no I/O.
func New(js jetstream.JetStream, log *slog.Logger) *Store {
	if log == nil {
		log = slog.Default()
	}
	s := &Store{js: js, log: log, kvs: map[string]jetstream.KeyValue{}, objs: map[string]jetstream.ObjectStore{}}
	s.Jobs = &Jobs{s: s}
	s.Schedules = &Schedules{s: s}
	s.AgentGroups = &AgentGroups{s: s}
	s.AgentConfig = &AgentConfig{s: s}
	s.Freeze = &Freeze{s: s}
	s.Waves = &Waves{s: s}
	s.SigningKeys = &SigningKeys{s: s}
	s.Outputs = &Outputs{s: s}
	s.Releases = &Releases{s: s}
	s.NotifyChannels = &NotifyChannels{s: s}
	s.NotifyState = &NotifyState{s: s}
	return s
}

func (s *Store) bucket(ctx context.Context, name string) (jetstream.KeyValue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if kv := s.kvs[name]; kv != nil {
		return kv, nil
	}
	kv, err := s.js.KeyValue(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("open kv %s: %w", name, err)
	}
	s.kvs[name] = kv
	return kv, nil
}

// objectStore is bucket for object stores.
func (s *Store) objectStore(ctx context.Context, name string) (jetstream.ObjectStore, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.objs[name]; o != nil {
		return o, nil
	}
	o, err := s.js.ObjectStore(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("open object store %s: %w", name, err)
	}
	s.objs[name] = o
	return o, nil
}

// Locks opens the bucket of the leader-election locks (package leader
// runs its lease protocol on it directly: the bucket TTL is the lease).
func (s *Store) Locks(ctx context.Context) (jetstream.KeyValue, error) {
	return s.bucket(ctx, bus.KVLocks)
}

// BucketHealth is one bucket in GET /api/health/fleet.
type BucketHealth struct {
	Bucket  string
	Values  uint64
	Missing bool // the bucket does not exist (or cannot be opened)
	// StatusErr is set when the bucket exists but its status could not be
	// read (reported neither as missing nor with a count).
	StatusErr error
}

// Health reports every bucket bus.Bootstrap creates, in its order. The
// handles are opened afresh: a health check must see a deleted bucket.
func (s *Store) Health(ctx context.Context) []BucketHealth {
	var out []BucketHealth
	for _, cfg := range bus.KVConfigs(1) {
		h := BucketHealth{Bucket: cfg.Bucket}
		kv, err := s.js.KeyValue(ctx, cfg.Bucket)
		if err != nil {
			h.Missing = true
		} else if st, err := kv.Status(ctx); err != nil {
			h.StatusErr = err
		} else {
			h.Values = st.Values()
		}
		out = append(out, h)
	}
	return out
}

// Errors of the typed stores.
var (
	// ErrConflict is a lost compare-and-set (someone changed the key since
	// it was read).
	ErrConflict = errors.New("kv: concurrent change")
	// ErrJobNotFound: no such job in KV jobs.
	ErrJobNotFound = errors.New("job not found")
	// ErrInvalid wraps a stored value that does not decode or validate.
	ErrInvalid = errors.New("stored value does not validate")
)

// IsConflict reports a lost compare-and-set, from this package or from
// jetstream directly.
func IsConflict(err error) bool {
	return errors.Is(err, ErrConflict) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) ||
		errors.Is(err, jetstream.ErrKeyExists)
}

// invalidError is a stored value that does not validate: errors.Is finds
// ErrInvalid and the cause (a *wire.FieldError stays visible to
// errors.As), while the message is the context and the cause only.
type invalidError struct {
	msg string
	err error
}

func (e *invalidError) Error() string {
	if e.msg == "" {
		return e.err.Error()
	}
	return e.msg + ": " + e.err.Error()
}

func (e *invalidError) Unwrap() []error { return []error{ErrInvalid, e.err} }

func invalid(msg string, err error) error { return &invalidError{msg: msg, err: err} }

func conflictErr(err error) error {
	if err != nil && IsConflict(err) && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

// entry is one current key of a bucket.
type entry struct {
	key      string
	value    []byte
	revision uint64
}

// entries returns the current entries of a bucket whose keys match filter
// (">" for all), deleted keys skipped (bus.KVEntries: one pass, bounded).
func entries(ctx context.Context, kv jetstream.KeyValue, filter string) ([]entry, error) {
	es, err := bus.KVEntries(ctx, kv, filter)
	if err != nil {
		return nil, err
	}
	out := make([]entry, 0, len(es))
	for _, e := range es {
		out = append(out, entry{key: e.Key(), value: e.Value(), revision: e.Revision()})
	}
	return out, nil
}

// get reads one key; ok false when absent (or deleted).
func get(ctx context.Context, kv jetstream.KeyValue, key string) (value []byte, rev uint64, ok bool, err error) {
	e, err := kv.Get(ctx, key)
	if bus.IsNotFound(err) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, err
	}
	return e.Value(), e.Revision(), true, nil
}

// put writes with compare-and-set: rev 0 creates (fails if the key
// exists), otherwise updates revision rev. A lost race is ErrConflict.
func put(ctx context.Context, kv jetstream.KeyValue, key string, data []byte, rev uint64) (uint64, error) {
	var err error
	if rev == 0 {
		rev, err = kv.Create(ctx, key, data)
	} else {
		rev, err = kv.Update(ctx, key, data, rev)
	}
	return rev, conflictErr(err)
}

// del deletes a key; an absent key is not an error.
func del(ctx context.Context, kv jetstream.KeyValue, key string) error {
	if err := kv.Delete(ctx, key); err != nil && !bus.IsNotFound(err) {
		return err
	}
	return nil
}

// Change is one update of a watched bucket.
type Change[T any] struct {
	Key     string
	Value   T     // the decoded value of a put
	Err     error // the put's value did not decode (Value is zero)
	Deleted bool  // a delete or purge
	// Synced marks the end of the initial values (no key): every key that
	// existed when the watch started has been delivered.
	Synced   bool
	Created  time.Time // when this revision was written
	Revision uint64
}

// Watch follows a bucket: the current values first, then a Synced marker,
// then every change. Updates is closed when the underlying watch ends
// (broker trouble); callers re-watch.
type Watch[T any] struct {
	w    jetstream.KeyWatcher
	ch   chan Change[T]
	done chan struct{}
	once sync.Once
}

// Updates delivers the changes.
func (w *Watch[T]) Updates() <-chan Change[T] { return w.ch }

// Stop ends the watch.
func (w *Watch[T]) Stop() {
	w.once.Do(func() {
		close(w.done)
		_ = w.w.Stop()
	})
}

func watch[T any](ctx context.Context, kv jetstream.KeyValue, filter string, decode func([]byte) (T, error)) (*Watch[T], error) {
	kw, err := kv.Watch(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", kv.Bucket(), err)
	}
	w := &Watch[T]{w: kw, ch: make(chan Change[T]), done: make(chan struct{})}
	go func() {
		defer close(w.ch)
		for {
			var c Change[T]
			select {
			case <-w.done:
				return
			case <-ctx.Done():
				w.Stop()
				return
			case e, ok := <-kw.Updates():
				if !ok {
					return
				}
				if e == nil {
					c.Synced = true
				} else {
					c.Key, c.Created, c.Revision = e.Key(), e.Created(), e.Revision()
					if e.Operation() == jetstream.KeyValuePut {
						c.Value, c.Err = decode(e.Value())
					} else {
						c.Deleted = true
					}
				}
			}
			select {
			case w.ch <- c:
			case <-w.done:
				return
			}
		}
	}()
	return w, nil
}
