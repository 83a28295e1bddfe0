package scheduler

import (
	"context"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/schedule"
)

// SchedulesForJob lists the ids of the schedules (enabled or not) that
// reference jobID, for DELETE /api/jobs/{id} (409 while any does).
func SchedulesForJob(ctx context.Context, js jetstream.JetStream, jobID string) ([]string, error) {
	kv, err := js.KeyValue(ctx, bus.KVSchedules)
	if err != nil {
		return nil, fmt.Errorf("kv schedules: %w", err)
	}
	es, err := bus.KVEntries(ctx, kv, ">")
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	var out []string
	for _, ent := range es {
		sc, err := schedule.Parse(ent.Value())
		if err != nil || sc.JobID == jobID {
			// An unreadable schedule might reference the job: refuse rather than orphan it.
			out = append(out, ent.Key())
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
