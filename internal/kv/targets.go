package kv

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// TargetVersions maps each agent_config scope key (global, groups.<g>,
// pcs.<pc>) that sets target_version to that version: what a release
// deletion checks so it can warn that agents are still told to run it.
// One watch reads every scope (no Get per key); unreadable scopes are
// skipped (Layers warns about them where it matters).
func (c *AgentConfig) TargetVersions(ctx context.Context) (map[string]string, error) {
	kv, err := c.s.bucket(ctx, bus.KVAgentConfig)
	if err != nil {
		return nil, err
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("read agent_config: %w", err)
	}
	defer func() { _ = w.Stop() }()
	out := map[string]string{}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e := <-w.Updates():
			if e == nil { // every current value has been delivered
				return out, nil
			}
			s, err := wire.DecodeConfigScope(e.Value())
			if err != nil || s.TargetVersion == nil || *s.TargetVersion == "" {
				delete(out, e.Key())
				continue
			}
			out[e.Key()] = *s.TargetVersion
		}
	}
}
