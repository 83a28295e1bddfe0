package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Sender delivers the notifications of stream NOTIFY. Every replica runs
// one on the same durable consumer, so each notification is handed to one
// replica at a time; it is acknowledged once delivered (or given up), and
// otherwise redelivered after a growing delay for Opts.RetryFor.
type Sender struct {
	JS       jetstream.JetStream
	Channels ChannelSource
	Log      *slog.Logger
	Opts     Options
	// HTTP sends webhook and Slack requests (nil: a client with no
	// redirects followed; every request is bounded by SendTimeout).
	HTTP *http.Client
}

// ConsumerConfig is the sender's durable consumer: explicit acks, no
// delivery limit (the sender gives up itself after RetryFor), and an ack
// wait that outlasts one attempt.
func (s *Sender) ConsumerConfig() jetstream.ConsumerConfig {
	o := s.Opts.withDefaults()
	return jetstream.ConsumerConfig{Durable: bus.ConsumerNotifySender, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 2*o.SendTimeout + 10*time.Second, MaxDeliver: -1, MaxAckPending: 4 * o.Workers,
		DeliverPolicy: jetstream.DeliverAllPolicy, FilterSubject: bus.SubjNotifyAll,
		Description: "notification sender (shared by every backend replica)"}
}

// Run consumes until ctx ends, re-attaching after broker trouble.
func (s *Sender) Run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := s.consume(ctx); err != nil && ctx.Err() == nil {
			s.log().Warn("notification sender stopped; restarting", "error", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

func (s *Sender) log() *slog.Logger {
	if s.Log == nil {
		return slog.Default()
	}
	return s.Log
}

func (s *Sender) consume(ctx context.Context) error {
	o := s.Opts.withDefaults()
	cons, err := s.JS.CreateOrUpdateConsumer(ctx, bus.StreamNotify, s.ConsumerConfig())
	if err != nil {
		return fmt.Errorf("notify consumer: %w", err)
	}
	sem := make(chan struct{}, o.Workers)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		go func() {
			defer func() { <-sem }()
			s.handle(ctx, m)
		}()
	}, jetstream.PullMaxMessages(o.Workers))
	if err != nil {
		return fmt.Errorf("consume NOTIFY: %w", err)
	}
	defer cc.Stop()
	select {
	case <-ctx.Done():
	case <-cc.Closed():
		return errors.New("consumer closed")
	}
	for range o.Workers { // let attempts in flight finish
		sem <- struct{}{}
	}
	return nil
}

// backoff is the delay before attempt n+1: BackoffMin doubled per
// attempt, at most BackoffMax.
func backoff(o Options, attempt int) time.Duration {
	d := o.BackoffMin
	for i := 1; i < attempt && d < o.BackoffMax; i++ {
		d *= 2
	}
	return min(d, o.BackoffMax)
}

func (s *Sender) handle(ctx context.Context, m jetstream.Msg) {
	o := s.Opts.withDefaults()
	var n Notification
	if err := json.Unmarshal(m.Data(), &n); err != nil || n.ID == "" || n.ChannelID == "" {
		s.log().Warn("undecodable notification dropped", "subject", m.Subject())
		_ = m.Term()
		return
	}
	md, err := m.Metadata()
	if err != nil {
		_ = m.Term()
		return
	}
	attempt := int(md.NumDelivered)
	rec := wire.NotifyAttempt{DeliveryID: n.ID, ChannelID: n.ChannelID, Event: n.Event, CheckID: n.CheckID,
		Severity: n.Severity, Count: n.Count, Attempt: attempt, Replica: o.Replica}
	ch, _, err := s.Channels.Get(ctx, n.ChannelID)
	switch {
	case errors.Is(err, ErrChannelNotFound):
		rec.Status, rec.Error = wire.AttemptGaveUp, "the channel was deleted"
		s.record(ctx, rec)
		_ = m.Term()
		return
	case err != nil:
		// KV trouble: try again soon, nothing was sent.
		s.log().Warn("notification channel unreadable; retrying", "channel_id", n.ChannelID, "error", err)
		_ = m.NakWithDelay(backoff(o, attempt))
		return
	}
	rec.ChannelName, rec.ChannelType = ch.Name, ch.Type
	actx, cancel := context.WithTimeout(ctx, o.SendTimeout)
	code, err := deliver(actx, s.httpClient(), o.UserAgent, ch, n, o.SendTimeout)
	cancel()
	rec.StatusCode = code
	if err == nil {
		rec.Status = wire.AttemptDelivered
		s.record(ctx, rec)
		if aerr := m.DoubleAck(ctx); aerr != nil {
			s.log().Warn("ack of a delivered notification failed: it may be sent again", "delivery_id", n.ID, "error", aerr)
		}
		return
	}
	if ctx.Err() != nil {
		_ = m.Nak() // shutting down: another replica takes it
		return
	}
	rec.Error = err.Error()
	delay := backoff(o, attempt)
	if time.Since(md.Timestamp)+delay > o.RetryFor {
		rec.Status = wire.AttemptGaveUp
		s.record(ctx, rec)
		s.log().Warn("notification given up", "delivery_id", n.ID, "channel_id", ch.ID, "attempts", attempt, "error", rec.Error)
		_ = m.Term()
		return
	}
	rec.Status = wire.AttemptFailed
	s.record(ctx, rec)
	s.log().Info("notification attempt failed; will retry", "delivery_id", n.ID, "channel_id", ch.ID, "attempt", attempt,
		"retry_in", delay.String(), "error", rec.Error)
	_ = m.NakWithDelay(delay)
}

func (s *Sender) httpClient() *http.Client {
	if s.HTTP != nil {
		return s.HTTP
	}
	return defaultHTTP
}

// defaultHTTP follows no redirect: a channel URL is where the admin said.
var defaultHTTP = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// record publishes an attempt to NOTIFY_LOG (deduplicated on delivery id
// and attempt number), retrying briefly: the log is what operators read.
func (s *Sender) record(ctx context.Context, a wire.NotifyAttempt) {
	a.At = time.Now().UTC()
	data, _ := json.Marshal(a)
	id := a.DeliveryID + "/" + strconv.Itoa(a.Attempt)
	var err error
	for i := range 3 {
		if _, err = s.JS.Publish(ctx, bus.NotifyLog(a.ChannelID), data, jetstream.WithMsgID(id)); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(i+1) * 200 * time.Millisecond):
		}
	}
	s.log().Warn("delivery attempt not recorded", "delivery_id", a.DeliveryID, "attempt", a.Attempt, "error", err)
}
