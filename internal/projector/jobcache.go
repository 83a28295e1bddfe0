package projector

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/kanade-fleet/kanade/internal/check"
	"github.com/kanade-fleet/kanade/internal/invtable"
	"github.com/kanade-fleet/kanade/internal/kv"
)

// JobCache keeps each job's execute.timeout and inventory declaration from
// KV jobs in memory, watched live so a job registered after the backend
// started is seen without a broker round-trip per message.
type JobCache struct {
	mu        sync.RWMutex
	timeouts  map[string]time.Duration
	inventory map[string]invtable.Spec
	checks    map[string]check.Rule
	ready     chan struct{}
	once      sync.Once
	parse     func(string) (time.Duration, error)
}

// NewJobCache returns an empty cache; parse turns a manifest timeout into a
// duration (manifest.ParseDuration).
func NewJobCache(parse func(string) (time.Duration, error)) *JobCache {
	return &JobCache{timeouts: map[string]time.Duration{}, inventory: map[string]invtable.Spec{}, checks: map[string]check.Rule{}, ready: make(chan struct{}), parse: parse}
}

// Timeout returns the job's timeout; ok is false when unknown or unparsable.
func (c *JobCache) Timeout(jobID string) (time.Duration, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	d, ok := c.timeouts[jobID]
	return d, ok
}

// Inventory returns the job's inventory declaration; ok is false when the
// job is unknown or not an inventory job. It is the job's current manifest
// whatever version a result ran (KV jobs keeps the latest only), so a
// replay after the declaration changed applies the new one.
func (c *JobCache) Inventory(jobID string) (invtable.Spec, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s, ok := c.inventory[jobID]
	return s, ok
}

// Check returns the job's compiled check rule; ok is false when the job is
// unknown or not a check. Like Inventory, it is the current manifest's.
func (c *JobCache) Check(jobID string) (check.Rule, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r, ok := c.checks[jobID]
	return r, ok
}

// Ready is closed once the initial snapshot of the bucket has been loaded.
func (c *JobCache) Ready() <-chan struct{} { return c.ready }

func (c *JobCache) set(key string, value []byte) {
	var m struct {
		Execute struct {
			Timeout string `json:"timeout"`
		} `json:"execute"`
		Inventory *struct {
			Table   string   `json:"table"`
			Key     []string `json:"key"`
			Columns []string `json:"columns"`
		} `json:"inventory"`
		Check *struct {
			Pass struct {
				ExitCode      *int   `json:"exit_code"`
				StdoutMatches string `json:"stdout_matches"`
			} `json:"pass"`
			Severity      string `json:"severity"`
			FlapThreshold int    `json:"flap_threshold"`
		} `json:"check"`
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.timeouts, key)
	delete(c.inventory, key)
	delete(c.checks, key)
	if json.Unmarshal(value, &m) != nil {
		return
	}
	if d, err := c.parse(m.Execute.Timeout); err == nil && d > 0 {
		c.timeouts[key] = d
	}
	// The API validated the declaration (manifest.Inventory.Validate);
	// only the shape the projector relies on is checked again.
	if inv := m.Inventory; inv != nil && inv.Table != "" && len(inv.Key) > 0 && len(inv.Columns) > 0 {
		c.inventory[key] = invtable.Spec{Table: inv.Table, Key: inv.Key, Columns: inv.Columns}
	}
	// Likewise for a check (manifest.Check.Validate): a pattern that no
	// longer compiles leaves the job without a rule rather than guessing.
	if ch := m.Check; ch != nil {
		r := check.Rule{Severity: ch.Severity, FlapThreshold: max(ch.FlapThreshold, 1)}
		if !check.ValidSeverity(r.Severity) {
			r.Severity = check.DefaultSeverity
		}
		ok := true
		switch {
		case ch.Pass.StdoutMatches != "":
			re, err := check.Compile(ch.Pass.StdoutMatches)
			r.Pattern, ok = re, err == nil
		case ch.Pass.ExitCode != nil:
			r.ExitCode = *ch.Pass.ExitCode
		default:
			ok = false
		}
		if ok {
			c.checks[key] = r
		}
	}
}

// JobSource is KV jobs as the cache follows it (*kv.Jobs).
type JobSource interface {
	Watch(ctx context.Context) (*kv.Watch[json.RawMessage], error)
}

// Watch follows KV jobs until ctx ends, re-watching after errors.
func (c *JobCache) Watch(ctx context.Context, src JobSource, log *slog.Logger) {
	for ctx.Err() == nil {
		if err := c.watchOnce(ctx, src); err != nil && ctx.Err() == nil {
			log.Warn("jobs cache watch failed; retrying", "error", err)
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Second):
			}
		}
	}
}

func (c *JobCache) watchOnce(ctx context.Context, src JobSource) error {
	w, err := src.Watch(ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			switch {
			case e.Synced:
				c.once.Do(func() { close(c.ready) })
			case e.Deleted:
				c.mu.Lock()
				delete(c.timeouts, e.Key)
				delete(c.inventory, e.Key)
				delete(c.checks, e.Key)
				c.mu.Unlock()
			default:
				c.set(e.Key, e.Value)
			}
		}
	}
}

const (
	minReapSlack = 2 * time.Minute
	reapCap      = 365 * 24 * time.Hour
)

// ReapDeadline is recorded_at + timeout + max(2 min, timeout/2), in the
// backend's clock domain (JetStream publish time), clamped to one year so an
// absurd timeout can never overflow.
func ReapDeadline(timeout time.Duration, recordedAt time.Time) time.Time {
	if timeout < 0 || timeout > reapCap {
		return recordedAt.Add(reapCap)
	}
	span := timeout + max(minReapSlack, timeout/2)
	if span > reapCap {
		span = reapCap
	}
	return recordedAt.Add(span)
}
