package projector_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/projector"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// TestConsumerHorizon: the horizon is the broker time of the first message
// after the ack floor, zero once everything is acknowledged; a consumer
// not created yet waits for the stream's first message.
func TestConsumerHorizon(t *testing.T) {
	b := testenv.Backend(t, nil)
	ctx := context.Background()
	if _, err := b.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "HTEST", Subjects: []string{"htest.>"}}); err != nil {
		t.Fatal(err)
	}
	var times []time.Time
	for _, subj := range []string{"htest.a", "htest.b", "htest.a"} {
		ack, err := b.JS.Publish(ctx, subj, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		s, _ := b.JS.Stream(ctx, "HTEST")
		m, err := s.GetMsg(ctx, ack.Sequence)
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, m.Time)
	}
	h, err := projector.ConsumerHorizon(ctx, b.JS, "HTEST", "hdur", "")
	if err != nil || !h.Equal(times[0]) {
		t.Fatalf("no consumer yet: %v %v, want %v", h, err, times[0])
	}
	c, err := b.JS.CreateOrUpdateConsumer(ctx, "HTEST", jetstream.ConsumerConfig{Durable: "hdur", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.Fetch(1)
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if h, err := projector.ConsumerHorizon(ctx, b.JS, "HTEST", "hdur", ""); err != nil || !h.Equal(times[1]) {
		t.Fatalf("one acked: %v %v, want %v", h, err, times[1])
	}
	// A filter skips what the consumer never sees (htest.b).
	if h, err := projector.ConsumerHorizon(ctx, b.JS, "HTEST", "hdur", "htest.a"); err != nil || !h.Equal(times[2]) {
		t.Fatalf("filtered: %v %v, want %v", h, err, times[2])
	}
	batch, err = c.Fetch(2)
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if h, err := projector.ConsumerHorizon(ctx, b.JS, "HTEST", "hdur", ""); err != nil || !h.IsZero() {
		t.Fatalf("all acked: %v %v, want zero", h, err)
	}
	// The real projections of an idle backend are caught up: now.
	now := time.Now()
	testenv.Eventually(t, 15*time.Second, "horizon now", func() bool {
		h, err := projector.Horizon(ctx, b.JS, now)
		return err == nil && h.Equal(now)
	})
}
