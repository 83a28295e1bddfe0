package kv

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// AgentConfig is KV agent_config: the layered agent configuration, one
// scope per key (GlobalScope, GroupScope(g), PCScope(pc)), which agents
// watch and resolve themselves (wire.Resolve).
type AgentConfig struct{ s *Store }

// Scope keys of agent_config.
const GlobalScope = bus.ConfigGlobalKey

// GroupScope is the agent_config key of group g.
func GroupScope(g string) string { return bus.GroupConfigKey(g) }

// PCScope is the agent_config key of one PC.
func PCScope(pc string) string { return bus.PCConfigKey(pc) }

// Scope returns a stored scope (nil if absent) and its revision. A value
// that does not decode is an error returned with its revision, so an
// editor may overwrite it.
func (c *AgentConfig) Scope(ctx context.Context, key string) (*wire.ConfigScope, uint64, error) {
	kv, err := c.s.bucket(ctx, bus.KVAgentConfig)
	if err != nil {
		return nil, 0, err
	}
	v, rev, ok, err := get(ctx, kv, key)
	if err != nil {
		return nil, 0, fmt.Errorf("get agent_config.%s: %w", key, err)
	}
	if !ok {
		return nil, 0, nil
	}
	s, err := wire.DecodeConfigScope(v)
	if err != nil {
		return nil, rev, fmt.Errorf("agent_config.%s is not a valid scope: %w", key, err)
	}
	return &s, rev, nil
}

// Put replaces a scope.
func (c *AgentConfig) Put(ctx context.Context, key string, s wire.ConfigScope) error {
	kv, err := c.s.bucket(ctx, bus.KVAgentConfig)
	if err != nil {
		return err
	}
	data, _ := json.Marshal(s)
	if _, err := kv.Put(ctx, key, data); err != nil {
		return fmt.Errorf("put agent_config.%s: %w", key, err)
	}
	return nil
}

// Patch changes a scope with compare-and-set: merge gets the current
// scope (nil when absent or unreadable) and returns the new one; it is
// called again after a concurrent change, so two operators editing
// different fields at once both win. An error from merge is returned as
// is (validation).
func (c *AgentConfig) Patch(ctx context.Context, key string, merge func(cur *wire.ConfigScope) (wire.ConfigScope, error)) (wire.ConfigScope, error) {
	kv, err := c.s.bucket(ctx, bus.KVAgentConfig)
	if err != nil {
		return wire.ConfigScope{}, err
	}
	for attempt := 0; ; attempt++ {
		cur, rev, err := c.Scope(ctx, key)
		if err != nil && rev == 0 {
			return wire.ConfigScope{}, err
		}
		next, err := merge(cur)
		if err != nil {
			return wire.ConfigScope{}, err
		}
		data, _ := json.Marshal(next)
		if _, err = put(ctx, kv, key, data, rev); err == nil {
			return next, nil
		}
		if !IsConflict(err) || attempt >= 100 {
			return wire.ConfigScope{}, fmt.Errorf("update agent_config.%s: %w", key, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return wire.ConfigScope{}, err
		}
	}
}

// Delete removes a scope; absent is fine.
func (c *AgentConfig) Delete(ctx context.Context, key string) error {
	kv, err := c.s.bucket(ctx, bus.KVAgentConfig)
	if err != nil {
		return err
	}
	if err := del(ctx, kv, key); err != nil {
		return fmt.Errorf("delete agent_config.%s: %w", key, err)
	}
	return nil
}

// Layered is every layer of one PC's configuration.
type Layered struct {
	Groups   []string // the PC's groups (agent_groups)
	Layers   wire.ConfigLayers
	Warnings []string // layers that could not be read (and were ignored)
}

// Layers reads the layers that make up a PC's configuration the way the
// agent reads them: global, the PC's groups, pcs.<pc>. An unreadable layer
// is skipped with a warning rather than failing the whole view.
func (c *AgentConfig) Layers(ctx context.Context, pc string) (Layered, error) {
	groups, err := c.s.AgentGroups.Get(ctx, pc)
	if err != nil {
		return Layered{}, err
	}
	if _, err := c.s.bucket(ctx, bus.KVAgentConfig); err != nil {
		return Layered{}, err
	}
	out := Layered{Groups: groups}
	layer := func(key string) *wire.ConfigScope {
		s, _, err := c.Scope(ctx, key)
		if err != nil {
			out.Warnings = append(out.Warnings, err.Error()+" (layer ignored)")
			return nil
		}
		return s
	}
	out.Layers = wire.ConfigLayers{Global: layer(GlobalScope), Groups: map[string]wire.ConfigScope{}, PC: layer(PCScope(pc))}
	for _, g := range groups {
		if s := layer(GroupScope(g)); s != nil {
			out.Layers.Groups[g] = *s
		}
	}
	return out, nil
}
