package projector

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/metrics"
	"github.com/kanade-fleet/kanade/internal/store"
)

// Store is everything the projectors write.
type Store interface {
	Writer
	FactsWriter
	HeartbeatWriter
	GroupWriter
	NotifyWriter
	TableEmpty(ctx context.Context, table string) (bool, error)
}

// Options configure the projector set.
type Options struct {
	Batch   int           // max messages per transaction (default 1000; 1 = one per transaction)
	Linger  time.Duration // wait for a batch to fill (default 0: take what is buffered)
	Log     *slog.Logger
	Metrics *metrics.Registry
	Notes   Notifier // live events, to every replica's dashboards
	// Local reaches only this replica's dashboards (agent offline, which
	// every replica derives itself); nil = Notes.
	Local Notifier
	Jobs  *JobCache
	// JobSource feeds Jobs; Groups is mirrored into the agent_groups
	// table (both *kv types).
	JobSource JobSource
	Groups    GroupSource
}

// Set is every projector of the backend.
type Set struct {
	opts      Options
	store     Store
	consumers []*Consumer
	beats     *Heartbeats
}

// New builds the projectors.
func New(st Store, o Options) *Set {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = metrics.Default
	}
	if o.Notes == nil {
		o.Notes = nopNotifier{}
	}
	if o.Batch <= 0 {
		o.Batch = defaultBatch
	}
	mk := func(stream, durable, filter string, h handler) *Consumer {
		return &Consumer{Stream: stream, Durable: durable, Filter: filter, Batch: o.Batch, Linger: o.Linger,
			Log: o.Log, Metrics: o.Metrics, h: h}
	}
	return &Set{
		opts:  o,
		store: st,
		consumers: []*Consumer{
			mk(bus.StreamEvents, bus.ConsumerEvents, bus.SubjEventsStartedAll, &eventsHandler{w: st, jobs: o.Jobs, log: o.Log, notes: o.Notes, drops: o.Metrics}),
			mk(bus.StreamResults, bus.ConsumerResults, "", &resultsHandler{w: st, jobs: o.Jobs, log: o.Log, notes: o.Notes, drops: o.Metrics}),
			mk(bus.StreamAudit, bus.ConsumerAudit, "", &auditHandler{w: st, log: o.Log}),
			mk(bus.StreamExecs, bus.ConsumerExecs, "", &execsHandler{w: st, log: o.Log, notes: o.Notes}),
			mk(bus.StreamInventory, bus.ConsumerInventory, "", &inventoryHandler{w: st, log: o.Log, notes: o.Notes, drops: o.Metrics}),
			mk(bus.StreamAlerts, bus.ConsumerAlerts, "", &alertsHandler{w: st, log: o.Log, notes: o.Notes}),
			mk(bus.StreamNotifyLog, bus.ConsumerNotifyLog, "", &notifyLogHandler{w: st}),
		},
		beats: &Heartbeats{W: st, Log: o.Log, Notes: o.Notes, Local: o.Local, Metrics: o.Metrics},
	}
}

// ResetIfWiped deletes the durable consumer of every projection whose table
// is empty, so it is recreated with deliver-all and the stream replays.
func (s *Set) ResetIfWiped(ctx context.Context, js jetstream.JetStream) error {
	pairs := []struct{ stream, durable, table string }{
		{bus.StreamEvents, bus.ConsumerEvents, "execution_results"},
		{bus.StreamResults, bus.ConsumerResults, "execution_results"},
		{bus.StreamAudit, bus.ConsumerAudit, "audit_log"},
		{bus.StreamExecs, bus.ConsumerExecs, "executions"},
		{bus.StreamInventory, bus.ConsumerInventory, "agent_facts"},
		{bus.StreamAlerts, bus.ConsumerAlerts, "alerts"},
		{bus.StreamNotifyLog, bus.ConsumerNotifyLog, "notification_deliveries"},
	}
	for _, p := range pairs {
		empty, err := s.store.TableEmpty(ctx, p.table)
		if err != nil {
			return err
		}
		if !empty {
			continue
		}
		// A consumer that has acknowledged nothing will replay everything
		// anyway; leaving it alone spares a replica starting next to
		// another on an empty database from resetting its peer's projectors.
		if c, err := js.Consumer(ctx, p.stream, p.durable); err == nil {
			if info, err := c.Info(ctx); err == nil && info.AckFloor.Stream == 0 && info.NumAckPending == 0 {
				continue
			}
		}
		err = js.DeleteConsumer(ctx, p.stream, p.durable)
		switch {
		case err == nil:
			s.opts.Log.Info("projection table empty: consumer reset, stream will replay", "table", p.table, "consumer", p.durable)
		case bus.IsNotFound(err):
		default:
			s.opts.Log.Warn("could not reset consumer after wipe; projector resumes where it was", "consumer", p.durable, "error", err)
		}
	}
	return nil
}

// Run starts every projector and blocks until ctx ends and all have stopped
// (each finishes its current batch first).
func (s *Set) Run(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) {
	var wg sync.WaitGroup
	if s.opts.Jobs != nil && s.opts.JobSource != nil {
		wg.Go(func() { s.opts.Jobs.Watch(ctx, s.opts.JobSource, s.opts.Log) })
		// Events need job timeouts: give the cache a moment to load so a
		// replay does not stamp NULL expires_at on rows it could have dated.
		select {
		case <-s.opts.Jobs.Ready():
		case <-time.After(5 * time.Second):
		case <-ctx.Done():
		}
	}
	for _, c := range s.consumers {
		wg.Go(func() { c.Supervise(ctx, js) })
	}
	if s.opts.Groups != nil {
		wg.Go(func() { WatchGroups(ctx, s.opts.Groups, s.store, s.opts.Log) })
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			if err := s.beats.Run(ctx, nc); err != nil {
				s.opts.Log.Warn("heartbeat projector failed; retrying", "error", err)
				select {
				case <-ctx.Done():
				case <-time.After(2 * time.Second):
				}
			}
		}
	})
	wg.Wait()
}

var _ Store = (*store.DB)(nil)
