package projector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
)

// transitionSources are the projections whose commits write alert
// transitions: check results (both result paths) and the ALERTS stream.
var transitionSources = []struct{ stream, durable, filter string }{
	{bus.StreamEvents, bus.ConsumerEvents, bus.SubjEventsStartedAll},
	{bus.StreamResults, bus.ConsumerResults, ""},
	{bus.StreamAlerts, bus.ConsumerAlerts, ""},
}

// Horizon is the broker time before which every alert transition has
// been committed: the arrival time of the oldest message a transition
// projector has not acknowledged yet, or now when all are caught up. A
// transition's time is its message's broker time and each projector
// commits before it acknowledges, in stream order, so a notification
// window that ends before the horizon is complete even when a projector
// is catching up on a backlog (the dispatcher waits for it instead of
// passing those transitions by).
func Horizon(ctx context.Context, js jetstream.JetStream, now time.Time) (time.Time, error) {
	h := now
	for _, src := range transitionSources {
		t, err := ConsumerHorizon(ctx, js, src.stream, src.durable, src.filter)
		if err != nil {
			return time.Time{}, err
		}
		if !t.IsZero() && t.Before(h) {
			h = t
		}
	}
	return h, nil
}

// ConsumerHorizon returns the broker time of the first message after the
// consumer's ack floor, or zero when nothing is outstanding.
func ConsumerHorizon(ctx context.Context, js jetstream.JetStream, stream, durable, filter string) (time.Time, error) {
	c, err := js.Consumer(ctx, stream, durable)
	if bus.IsNotFound(err) {
		// Not created yet (a first start): its projector replays from the
		// start, so wait for the stream's first message.
		return firstAfter(ctx, js, stream, 0, filter)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("consumer %s: %w", durable, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("consumer %s info: %w", durable, err)
	}
	if info.NumPending == 0 && info.NumAckPending == 0 {
		return time.Time{}, nil
	}
	return firstAfter(ctx, js, stream, info.AckFloor.Stream, filter)
}

func firstAfter(ctx context.Context, js jetstream.JetStream, stream string, seq uint64, filter string) (time.Time, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return time.Time{}, fmt.Errorf("stream %s: %w", stream, err)
	}
	if filter == "" {
		filter = ">"
	}
	// next_by_subj skips gaps (deleted or filtered-out messages), and any
	// message at or after the floor is no newer than the first unacked one.
	m, err := s.GetMsg(ctx, seq+1, jetstream.WithGetMsgSubject(filter))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("stream %s message after %d: %w", stream, seq, err)
	}
	return m.Time, nil
}
