package agent

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/agent/intake"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// syncLoop owns groups and layered config. It runs alone, so the state it
// changes needs the mutex only for readers elsewhere.
func (a *Agent) syncLoop(ctx context.Context, nc *nats.Conn, sub *intake.Subscriber, events <-chan string) {
	refresh := time.NewTicker(5 * time.Minute) // safety net for a missed notification
	defer refresh.Stop()
	// A KV change notification can overtake the stream's store of the new
	// value, so the direct get may still return the old revision (under
	// load, for more than a second). A notification always means a change:
	// while the key's revision has not moved, it is handled again with a
	// backoff (1 s, 2 s, 4 s, 8 s), so a change is never left to the
	// 5-minute refresh.
	type retry struct {
		key     string
		attempt int
	}
	again := make(chan retry, 64)
	schedule := func(key string, attempt int) {
		time.AfterFunc(time.Second<<attempt, func() {
			select {
			case again <- retry{key, attempt + 1}:
			default:
			}
		})
	}
	for {
		var ev string
		attempt := 0
		select {
		case <-ctx.Done():
			return
		case ev = <-events:
		case r := <-again:
			ev, attempt = r.key, r.attempt
		case <-refresh.C:
			ev = "refresh"
		}
		if !nc.IsConnected() {
			continue // the next CONNECTED event redoes everything
		}
		before := a.rev(ev)
		switch {
		case ev == "":
			// (Re)connected: subscriptions are restored by the client;
			// now membership, then catch-up of every subject, then config.
			// Keys first: catch-up brings commands to verify.
			a.trust.sync(ctx)
			a.syncGroups(ctx, nc, sub, false)
			if err := sub.CatchUp(ctx, sub.Subjects()); err != nil {
				a.log.Warn("catch-up incomplete", "error", err)
			} else {
				a.caught.Add(1)
			}
			a.syncConfig(ctx, nc, nil)
			kick(a.hbNow)
			kick(a.drainNow)
		case ev == "refresh":
			a.trust.sync(ctx)
			a.syncGroups(ctx, nc, sub, true)
			a.syncConfig(ctx, nc, nil)
		case ev == bus.KVAgentGroups+"/"+a.o.PCID:
			a.syncGroups(ctx, nc, sub, true)
		case ev == bus.KVSigningKeys+"/"+bus.SigningKeysChain:
			a.trust.sync(ctx) // the notification is a hint; sync re-reads the key
		case strings.HasPrefix(ev, bus.KVAgentConfig+"/"):
			a.syncConfig(ctx, nc, []string{strings.TrimPrefix(ev, bus.KVAgentConfig+"/")})
		}
		if ev != "" && ev != "refresh" && a.rev(ev) == before && attempt < 4 {
			schedule(ev, attempt)
		}
	}
}

// rev is the last applied revision of a KV key "bucket/key" (0: none).
func (a *Agent) rev(key string) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.revs[key]
}

func (a *Agent) kvGet(ctx context.Context, nc *nats.Conn, bucket, key string) (val []byte, found, fresh bool) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, rev, ok, err := intake.KVGet(rctx, nc, bucket, key)
	if err != nil {
		a.log.Warn("kv read failed; keeping the last known value", "bucket", bucket, "key", key, "error", err)
		return nil, false, false
	}
	k := bucket + "/" + key
	a.mu.Lock()
	defer a.mu.Unlock()
	if ok && rev < a.revs[k] {
		return nil, false, false // an older copy (lagging replica)
	}
	a.revs[k] = rev
	return v, ok, true
}

// syncGroups reads agent_groups[pc] and follows it. catchUp says whether
// subjects of newly joined groups get their last command now (they do at
// every reconnect anyway, so membership changes behave the same way).
func (a *Agent) syncGroups(ctx context.Context, nc *nats.Conn, sub *intake.Subscriber, catchUp bool) {
	v, found, fresh := a.kvGet(ctx, nc, bus.KVAgentGroups, a.o.PCID)
	if !fresh {
		return
	}
	var groups []string
	if found {
		g, err := wire.DecodeAgentGroups(v)
		if err != nil {
			a.log.Error("agent_groups value rejected; keeping current membership", "error", err)
			return
		}
		groups = slices.Clone(g.Groups)
		slices.Sort(groups)
		groups = slices.Compact(groups)
	}
	a.mu.Lock()
	same := slices.Equal(groups, a.groups)
	a.mu.Unlock()
	if same {
		return
	}
	added, err := sub.SetGroups(groups)
	if err != nil {
		a.log.Error("group subscriptions", "error", err)
	}
	a.mu.Lock()
	old := a.groups
	a.groups = groups
	a.mu.Unlock()
	a.log.Info("group membership changed", "groups", groups, "was", old)
	// Fetch config scopes of joined groups, drop those of left ones.
	var keys []string
	for _, g := range groups {
		if !slices.Contains(old, g) {
			keys = append(keys, bus.GroupConfigKey(g))
		}
	}
	a.mu.Lock()
	for g := range a.layers.Groups {
		if !slices.Contains(groups, g) {
			delete(a.layers.Groups, g)
		}
	}
	a.mu.Unlock()
	a.syncConfig(ctx, nc, append(keys, "-")) // "-" forces a re-resolve
	if catchUp && len(added) > 0 {
		if err := sub.CatchUp(ctx, added); err != nil {
			a.log.Warn("catch-up of joined groups incomplete", "error", err)
		}
	}
}

// syncConfig re-reads the given agent_config keys (all relevant ones when
// keys is nil) and applies the resolved configuration live.
func (a *Agent) syncConfig(ctx context.Context, nc *nats.Conn, keys []string) {
	groups := a.Groups()
	full, allFresh := keys == nil, true
	if keys == nil {
		keys = []string{bus.ConfigGlobalKey, bus.PCConfigKey(a.o.PCID)}
		for _, g := range groups {
			keys = append(keys, bus.GroupConfigKey(g))
		}
	}
	for _, key := range keys {
		var slot func(*wire.ConfigScope)
		switch {
		case key == bus.ConfigGlobalKey:
			slot = func(s *wire.ConfigScope) { a.layers.Global = s }
		case key == bus.PCConfigKey(a.o.PCID):
			slot = func(s *wire.ConfigScope) { a.layers.PC = s }
		case strings.HasPrefix(key, "groups.") && slices.Contains(groups, strings.TrimPrefix(key, "groups.")):
			g := strings.TrimPrefix(key, "groups.")
			slot = func(s *wire.ConfigScope) {
				if s == nil {
					delete(a.layers.Groups, g)
				} else {
					a.layers.Groups[g] = *s
				}
			}
		default:
			continue
		}
		v, found, fresh := a.kvGet(ctx, nc, bus.KVAgentConfig, key)
		if !fresh {
			allFresh = false
			continue
		}
		var scope *wire.ConfigScope
		if found {
			s, err := wire.DecodeConfigScope(v)
			if err != nil {
				a.log.Error("agent_config value rejected; keeping the previous one", "key", key, "error", err)
				continue
			}
			scope = &s
		}
		a.mu.Lock()
		slot(scope)
		a.mu.Unlock()
	}
	a.mu.Lock()
	layers := wire.ConfigLayers{Global: a.layers.Global, PC: a.layers.PC, Groups: maps.Clone(a.layers.Groups)}
	a.mu.Unlock()
	eff, warnings := wire.Resolve(layers)
	for _, w := range warnings {
		a.log.Warn("multi-group config conflict", "detail", w)
	}
	a.mu.Lock()
	old := a.eff
	a.eff = eff
	in := a.in
	if full && allFresh {
		a.cfgLoaded = true
	}
	loaded := a.cfgLoaded
	a.mu.Unlock()
	if loaded && a.upd != nil {
		a.upd.SetTarget(eff.TargetVersion, eff.UpdateJitterDuration(), eff.UpdateHealthWindowDuration())
	}
	if eff == old {
		return
	}
	a.log.Info("effective config changed", "heartbeat_interval", eff.HeartbeatInterval,
		"max_local_concurrent", eff.MaxLocalConcurrent, "outbox_max_entries", eff.OutboxMaxEntries, "target_version", eff.TargetVersion)
	if in != nil {
		in.SetLimit(eff.MaxLocalConcurrent)
	}
	a.outbox.SetCap(eff.OutboxMaxEntries)
	if eff.HeartbeatInterval != old.HeartbeatInterval {
		kick(a.hbNow)
	}
}
