package projector

import (
	"context"
	"log/slog"
	"time"

	"github.com/kanade-fleet/kanade/internal/kv"
)

// GroupWriter is what the group projection needs from the store.
type GroupWriter interface {
	ReplaceAgentGroups(ctx context.Context, pc string, groups []string) error
	ReplaceAllAgentGroups(ctx context.Context, groups map[string][]string) error
}

// GroupSource is KV agent_groups as the projection follows it
// (*kv.AgentGroups).
type GroupSource interface {
	Watch(ctx context.Context) (*kv.Watch[[]string], error)
}

// WatchGroups mirrors KV agent_groups into the agent_groups table: a full
// resync on every (re)watch, then live updates.
func WatchGroups(ctx context.Context, src GroupSource, w GroupWriter, log *slog.Logger) {
	for ctx.Err() == nil {
		err := watchGroupsOnce(ctx, src, w, log)
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

func watchGroupsOnce(ctx context.Context, src GroupSource, w GroupWriter, log *slog.Logger) error {
	watch, err := src.Watch(ctx)
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
			if e.Synced {
				if err := w.ReplaceAllAgentGroups(ctx, snapshot); err != nil {
					return err
				}
				synced, snapshot = true, nil
				continue
			}
			var groups []string
			if !e.Deleted {
				if e.Err != nil {
					log.Warn("bad agent_groups value ignored", "pc_id", e.Key, "error", e.Err)
					continue
				}
				groups = e.Value
			}
			if !synced {
				snapshot[e.Key] = groups
				continue
			}
			if err := w.ReplaceAgentGroups(ctx, e.Key, groups); err != nil {
				return err
			}
		}
	}
}
