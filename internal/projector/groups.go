package projector

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// GroupWriter is what the group projection needs from the store.
type GroupWriter interface {
	ReplaceAgentGroups(ctx context.Context, pc string, groups []string) error
	ReplaceAllAgentGroups(ctx context.Context, groups map[string][]string) error
}

// WatchGroups mirrors KV agent_groups into the agent_groups table: a full
// resync on every (re)watch, then live updates.
func WatchGroups(ctx context.Context, js jetstream.JetStream, w GroupWriter, log *slog.Logger) {
	for ctx.Err() == nil {
		err := watchGroupsOnce(ctx, js, w, log)
		if ctx.Err() != nil {
			return
		}
		log.Warn("agent_groups watch ended; retrying", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

func watchGroupsOnce(ctx context.Context, js jetstream.JetStream, w GroupWriter, log *slog.Logger) error {
	kv, err := js.KeyValue(ctx, bus.KVAgentGroups)
	if err != nil {
		return err
	}
	watch, err := kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer watch.Stop()
	// The initial values are gathered and swapped in at once (exec counts
	// its targets from this table: it must never look empty mid-resync);
	// after the snapshot, each change is applied as it comes.
	snapshot := map[string][]string{}
	synced := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-watch.Updates():
			if !ok {
				return nil
			}
			if e == nil {
				if err := w.ReplaceAllAgentGroups(ctx, snapshot); err != nil {
					return err
				}
				synced, snapshot = true, nil
				continue
			}
			var groups []string
			if e.Operation() == jetstream.KeyValuePut {
				g, err := wire.DecodeAgentGroups(e.Value())
				if err != nil {
					log.Warn("bad agent_groups value ignored", "pc_id", e.Key(), "error", err)
					continue
				}
				groups = g.Groups
			}
			if !synced {
				snapshot[e.Key()] = groups
				continue
			}
			if err := w.ReplaceAgentGroups(ctx, e.Key(), groups); err != nil {
				return err
			}
		}
	}
}
