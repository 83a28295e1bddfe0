package api

import (
	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/schedule"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// The one place where domain values become the /api contract's types.
// Handlers write apiv1 values only; the store already answers in them.
// The domain types (manifest, schedule, wire) stay what they are because
// they are also the KV documents and the agent protocol; where their Go
// fields match the contract's a plain conversion does the work, so a field
// added on one side and not the other stops the build here.

func manifestView(m manifest.Manifest) apiv1.Manifest {
	return apiv1.Manifest{ID: m.ID, Version: m.Version, Description: m.Description, Tags: m.Tags,
		Execute: apiv1.Execute(m.Execute), Inventory: (*apiv1.Inventory)(m.Inventory)}
}

func targetView(t manifest.Target) apiv1.Target { return apiv1.Target(t) }

func rolloutView(r *manifest.Rollout) *apiv1.Rollout {
	if r == nil {
		return nil
	}
	out := &apiv1.Rollout{HaltOn: (*apiv1.HaltOn)(r.HaltOn)}
	if r.Waves != nil {
		out.Waves = make([]apiv1.Wave, len(r.Waves))
		for i, w := range r.Waves {
			out.Waves[i] = apiv1.Wave(w)
		}
	}
	return out
}

func scheduleView(sc schedule.Schedule) apiv1.Schedule {
	out := apiv1.Schedule{ID: sc.ID, JobID: sc.JobID, Enabled: sc.Enabled, TZ: sc.TZ,
		When: apiv1.When{Cron: sc.When.Cron}, Target: targetView(sc.Target), Rollout: rolloutView(sc.Rollout),
		Jitter: sc.Jitter, StartingDeadline: sc.StartingDeadline, CountManual: sc.CountManual}
	if c := sc.When.Calendar; c != nil {
		v := apiv1.Calendar(*c)
		out.When.Calendar = &v
	}
	if p := sc.When.PerPC; p != nil {
		v := apiv1.PerPC(*p)
		out.When.PerPC = &v
	}
	return out
}

func scopeView(s wire.ConfigScope) apiv1.ConfigScope { return apiv1.ConfigScope(s) }

// scopeRef keeps nil (a layer that is not set is null in the view).
func scopeRef(s *wire.ConfigScope) *apiv1.ConfigScope { return (*apiv1.ConfigScope)(s) }

// scopeMap keeps nil and empty apart (null versus {}).
func scopeMap(m map[string]wire.ConfigScope) map[string]apiv1.ConfigScope {
	if m == nil {
		return nil
	}
	out := make(map[string]apiv1.ConfigScope, len(m))
	for k, v := range m {
		out[k] = scopeView(v)
	}
	return out
}

func effectiveView(e wire.EffectiveConfig) apiv1.EffectiveConfig { return apiv1.EffectiveConfig(e) }

func heartbeatView(hb wire.Heartbeat) apiv1.Heartbeat { return apiv1.Heartbeat(hb) }

func execResultView(r wire.ExecResult) apiv1.ExecResult { return apiv1.ExecResult(r) }
