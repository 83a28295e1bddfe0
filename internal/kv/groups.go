package kv

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// MaxGroupsPerPC bounds one PC's group list.
const MaxGroupsPerPC = 256

// AgentGroups is KV agent_groups: pc_id → {"groups": [...]}, which agents
// watch (their subscriptions follow it) and the projector mirrors to SQL.
type AgentGroups struct{ s *Store }

// Get returns a PC's groups (sorted as stored; [] when none).
func (g *AgentGroups) Get(ctx context.Context, pc string) ([]string, error) {
	groups, _, err := g.read(ctx, pc)
	return groups, err
}

// read returns a PC's groups and the entry revision (0 = no key).
func (g *AgentGroups) read(ctx context.Context, pc string) ([]string, uint64, error) {
	kv, err := g.s.bucket(ctx, bus.KVAgentGroups)
	if err != nil {
		return nil, 0, err
	}
	v, rev, ok, err := get(ctx, kv, pc)
	if err != nil {
		return nil, 0, fmt.Errorf("get agent_groups.%s: %w", pc, err)
	}
	if !ok {
		return []string{}, 0, nil
	}
	ag, err := wire.DecodeAgentGroups(v)
	if err != nil {
		// A hand-written bad value must not block editing; it is replaced.
		g.s.log.Warn("bad agent_groups value treated as empty", "pc_id", pc, "error", err)
		return []string{}, rev, nil
	}
	if ag.Groups == nil {
		ag.Groups = []string{}
	}
	return ag.Groups, rev, nil
}

// Set replaces a PC's groups ([] keeps the key with no groups).
func (g *AgentGroups) Set(ctx context.Context, pc string, groups []string) ([]string, error) {
	return g.Edit(ctx, pc, func([]string) []string { return slices.Clone(groups) })
}

// Add puts the PC in group (no change at MaxGroupsPerPC groups).
func (g *AgentGroups) Add(ctx context.Context, pc, group string) ([]string, error) {
	return g.Edit(ctx, pc, func(cur []string) []string {
		if len(cur) >= MaxGroupsPerPC {
			return cur
		}
		return append(cur, group)
	})
}

// Remove takes the PC out of group.
func (g *AgentGroups) Remove(ctx context.Context, pc, group string) ([]string, error) {
	return g.Edit(ctx, pc, func(cur []string) []string {
		return slices.DeleteFunc(cur, func(s string) bool { return s == group })
	})
}

// Edit applies edit to a PC's groups with compare-and-set, retrying on a
// concurrent change, so two simultaneous edits both take effect. The
// result is sorted and without duplicates.
func (g *AgentGroups) Edit(ctx context.Context, pc string, edit func([]string) []string) ([]string, error) {
	kv, err := g.s.bucket(ctx, bus.KVAgentGroups)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		cur, rev, err := g.read(ctx, pc)
		if err != nil {
			return nil, err
		}
		next := normGroups(edit(slices.Clone(cur)))
		data, _ := json.Marshal(wire.AgentGroups{Groups: next})
		if _, err = put(ctx, kv, pc, data, rev); err == nil {
			return next, nil
		}
		if !IsConflict(err) || attempt >= 100 {
			return nil, fmt.Errorf("update agent_groups.%s: %w", pc, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

// Put writes a PC's groups as they are, without compare-and-set (bulk
// loaders such as the simulator; operators' edits go through Edit).
func (g *AgentGroups) Put(ctx context.Context, pc string, groups []string) error {
	kv, err := g.s.bucket(ctx, bus.KVAgentGroups)
	if err != nil {
		return err
	}
	data, _ := json.Marshal(wire.AgentGroups{Groups: groups})
	if _, err := kv.Put(ctx, pc, data); err != nil {
		return fmt.Errorf("put agent_groups.%s: %w", pc, err)
	}
	return nil
}

// Delete removes a PC's key (it is then in no group); absent is fine.
func (g *AgentGroups) Delete(ctx context.Context, pc string) error {
	kv, err := g.s.bucket(ctx, bus.KVAgentGroups)
	if err != nil {
		return err
	}
	if err := del(ctx, kv, pc); err != nil {
		return fmt.Errorf("delete agent_groups.%s: %w", pc, err)
	}
	return nil
}

// Watch follows KV agent_groups; a put that does not decode has Err set.
func (g *AgentGroups) Watch(ctx context.Context) (*Watch[[]string], error) {
	kv, err := g.s.bucket(ctx, bus.KVAgentGroups)
	if err != nil {
		return nil, err
	}
	return watch(ctx, kv, ">", func(b []byte) ([]string, error) {
		ag, err := wire.DecodeAgentGroups(b)
		return ag.Groups, err
	})
}

func normGroups(g []string) []string {
	slices.Sort(g)
	g = slices.Compact(g)
	if g == nil {
		g = []string{}
	}
	return g
}

// backoff waits a little, growing with attempt, so compare-and-set
// contenders interleave.
func backoff(ctx context.Context, attempt int) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Duration(rand.IntN(5*(attempt+1))) * time.Millisecond):
		return nil
	}
}
