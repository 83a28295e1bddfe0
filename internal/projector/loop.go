// Package projector turns the JetStream streams into SQL rows. Each
// projector is a durable pull consumer whose messages are applied in batches:
// one transaction per batch, acknowledged after commit. Every write is
// idempotent, so redelivery, reordering and replay change nothing.
package projector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/metrics"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Notifier receives live events for the dashboard (live.Hub satisfies it).
type Notifier interface {
	Publish(eventType string, data any)
}

type nopNotifier struct{}

func (nopNotifier) Publish(string, any) {}

// handler turns messages into rows. decode runs on the reader goroutine, so
// JSON decoding overlaps the previous batch's SQL work; write applies a
// batch of decoded items in one transaction (an error means nothing of the
// batch is acknowledged).
type handler interface {
	decode(m jetstream.Msg) (any, error)
	write(ctx context.Context, items []any) error
}

// envelope is a message and what decode made of it.
type envelope struct {
	msg  jetstream.Msg
	item any
	err  error
}

// Consumer is one batched, supervised projector.
type Consumer struct {
	Stream   string
	Durable  string
	Filter   string
	Batch    int           // max messages per transaction
	Linger   time.Duration // wait this long for a batch to fill once a message is in hand
	Log      *slog.Logger
	Metrics  *metrics.Registry
	h        handler
	lastSeen time.Time
	track    tracker
}

const (
	defaultBatch = 1000
	// ackWait bounds how long messages delivered to a crashed backend stay
	// invisible before JetStream redelivers them; a batch commits in well
	// under a second, so 15 s leaves a wide margin.
	ackWait = 15 * time.Second
)

func (c *Consumer) consumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       c.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: c.Filter,
		AckWait:       ackWait,
		MaxAckPending: c.Batch * 8,
		MaxDeliver:    -1,
	}
}

// Supervise runs the consumer until ctx ends, restarting it with backoff
// when it fails (a broker blip, a deleted consumer, a database outage).
func (c *Consumer) Supervise(ctx context.Context, js jetstream.JetStream) {
	backoff := time.Second
	for ctx.Err() == nil {
		start := time.Now()
		err := c.run(ctx, js)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			backoff = time.Second
		}
		if err == nil {
			err = errors.New("stopped")
		}
		c.track.runFailure(time.Now(), err)
		c.Log.Warn("projector stopped; restarting", "consumer", c.Durable, "error", err, "backoff", backoff)
		c.Metrics.Add("kanade_projector_restarts_total", "Projector restarts.", 1, "consumer", c.Durable)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

func (c *Consumer) run(ctx context.Context, js jetstream.JetStream) error {
	if c.Batch <= 0 {
		c.Batch = defaultBatch
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, c.Stream, c.consumerConfig())
	if err != nil {
		return fmt.Errorf("create consumer %s on %s: %w", c.Durable, c.Stream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(c.Batch * 2))
	if err != nil {
		return fmt.Errorf("pull %s: %w", c.Durable, err)
	}
	defer it.Stop()
	c.Log.Info("projector started", "stream", c.Stream, "consumer", c.Durable, "filter", c.Filter, "batch", c.Batch)

	// A reader goroutine turns the blocking iterator into a channel so the
	// batcher can take "whatever is already here" without blocking.
	ch := make(chan envelope, c.Batch*2)
	errc := make(chan error, 1)
	go func() {
		defer close(ch)
		strikes := 0
		for {
			msg, err := it.Next()
			if err != nil {
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
					return
				}
				strikes++
				if strikes >= 5 {
					errc <- fmt.Errorf("consumer %s: %w", c.Durable, err)
					return
				}
				continue
			}
			strikes = 0
			item, derr := c.h.decode(msg)
			select {
			case ch <- envelope{msg, item, derr}:
			case <-ctx.Done():
				return
			}
		}
	}()

	lagTicker := time.NewTicker(5 * time.Second)
	defer lagTicker.Stop()
	batch := make([]envelope, 0, c.Batch)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case <-lagTicker.C:
			c.recordLag(ctx, cons)
			continue
		case msg, ok := <-ch:
			if !ok {
				select {
				case err := <-errc:
					return err
				default:
					return errors.New("message iterator ended")
				}
			}
			batch = append(batch, msg)
		}
		batch = c.fill(ch, batch)
		if err := c.process(ctx, batch); err != nil {
			return err
		}
	}
}

// fill takes what is already buffered, waiting at most Linger for more.
func (c *Consumer) fill(ch <-chan envelope, batch []envelope) []envelope {
	var timer <-chan time.Time
	for len(batch) < c.Batch {
		select {
		case msg, ok := <-ch:
			if !ok {
				return batch
			}
			batch = append(batch, msg)
			continue
		default:
		}
		if c.Linger <= 0 {
			return batch
		}
		if timer == nil {
			timer = time.After(c.Linger)
		}
		select {
		case msg, ok := <-ch:
			if !ok {
				return batch
			}
			batch = append(batch, msg)
		case <-timer:
			return batch
		}
	}
	return batch
}

// process applies a batch and acknowledges it after commit. Messages that
// did not decode are logged and acknowledged (a poison message must never
// stall the projector). If the batch fails as a whole, each message is
// retried alone so one bad row cannot hold back the others; those that still
// fail are not acknowledged and JetStream redelivers them.
func (c *Consumer) process(ctx context.Context, batch []envelope) error {
	start := time.Now()
	items := make([]any, 0, len(batch))
	for _, e := range batch {
		if e.err != nil {
			reason := wire.Reason(e.err)
			c.Log.Warn("undecodable message acknowledged and dropped", "consumer", c.Durable, "subject", e.msg.Subject(),
				"seq", streamSeq(e.msg), "reason", reason, "error", e.err)
			c.Metrics.Add("kanade_projector_poison_total", "Messages dropped because they did not decode or broke a field rule (reason: the field, or malformed).",
				1, "stream", c.Stream, "reason", reason)
			continue
		}
		if e.item != nil {
			items = append(items, e.item)
		}
	}
	var err error
	if len(items) > 0 {
		err = c.h.write(ctx, items)
	}
	if err == nil {
		var seqs []uint64
		tracked := c.track.tracking() // only then are sequences worth parsing
		for _, e := range batch {
			_ = e.msg.Ack()
			if tracked {
				seqs = append(seqs, streamSeq(e.msg))
			}
		}
		c.track.succeeded(time.Now(), seqs)
		c.observe(len(batch), start)
		return nil
	}
	if ctx.Err() != nil {
		return nil // shutting down: unacked messages are redelivered later
	}
	c.Log.Warn("batch write failed; retrying one by one", "consumer", c.Durable, "size", len(batch), "error", err)
	failed := 0
	applied := make([]uint64, 0, len(batch))
	for _, e := range batch {
		if e.err == nil && e.item != nil {
			if err := c.h.write(ctx, []any{e.item}); err != nil {
				failed++
				c.track.messageFailed(time.Now(), streamSeq(e.msg), err)
				c.Log.Error("write failed; not acknowledged, JetStream will redeliver", "consumer", c.Durable,
					"subject", e.msg.Subject(), "error", err)
				_ = e.msg.NakWithDelay(5 * time.Second)
				continue
			}
		}
		_ = e.msg.Ack()
		applied = append(applied, streamSeq(e.msg))
	}
	if len(applied) > 0 {
		c.track.succeeded(time.Now(), applied)
	}
	c.observe(len(batch)-failed, start)
	if failed == len(batch) {
		// Probably the database is down: let the supervisor back off.
		return fmt.Errorf("all %d messages failed: %w", failed, err)
	}
	return nil
}

func (c *Consumer) observe(n int, start time.Time) {
	c.Metrics.Add("kanade_projected_messages_total", "Messages projected into SQL.", float64(n), "stream", c.Stream)
	c.Metrics.Observe("kanade_projector_batch_size", "Messages per projector transaction.", metrics.SizeBuckets, float64(n), "stream", c.Stream)
	c.Metrics.Observe("kanade_projector_batch_seconds", "Time to apply and ack one batch.", metrics.DefaultBuckets, time.Since(start).Seconds(), "stream", c.Stream)
}

func (c *Consumer) recordLag(ctx context.Context, cons jetstream.Consumer) {
	info, err := cons.Info(ctx)
	if err != nil {
		return
	}
	// The consumer answers: the projector runs. With nothing delivered and
	// unacknowledged, no failed message is outstanding either.
	c.track.running()
	if info.NumAckPending == 0 {
		c.track.nothingOutstanding()
	}
	c.Metrics.Set("kanade_projector_lag_messages", "Messages not yet projected.", float64(info.NumPending+uint64(info.NumAckPending)), "consumer", c.Durable)
}

// publishTime is the JetStream publish time of a message: recorded_at, so a
// replay reproduces the original arrival times.
func publishTime(m jetstream.Msg) time.Time {
	md, err := m.Metadata()
	if err != nil || md.Timestamp.IsZero() {
		return time.Now().UTC()
	}
	return md.Timestamp.UTC()
}

func streamSeq(m jetstream.Msg) uint64 {
	md, err := m.Metadata()
	if err != nil {
		return 0
	}
	return md.Sequence.Stream
}
