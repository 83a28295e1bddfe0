// Package alerting publishes the alert changes that are not derived from
// results (SPEC §15) on stream ALERTS: agent-offline alerts, which the
// leader backend opens and resolves from heartbeat liveness, and
// operators' acks. The alerts projector turns them into rows, so a wipe
// and replay rebuilds them; every message carries a deterministic alert
// id (and a Nats-Msg-Id), so a repeat is harmless.
package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// DefaultOfflineAfter is how long an agent may be silent before an
// agent-offline alert opens (server.Config.OfflineAlertAfter).
const DefaultOfflineAfter = 10 * time.Minute

// Publisher is the part of JetStream alerting publishes with.
type Publisher interface {
	Publish(ctx context.Context, subject string, data []byte, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

func publish(ctx context.Context, js Publisher, subject string, e wire.AlertEvent) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode alert event: %w", err)
	}
	// The message id makes a repeat within the stream's dedupe window a
	// no-op at the broker; beyond it the projector's keys do the same.
	msgID := e.Kind + ":" + e.AlertID
	if e.Kind == wire.AlertAck {
		msgID += ":" + e.Actor
	}
	if _, err := js.Publish(ctx, subject, data, jetstream.WithMsgID(msgID)); err != nil {
		return fmt.Errorf("publish %s for alert %s: %w", e.Kind, e.AlertID, err)
	}
	return nil
}

// PublishAck records an operator's ack of alert id durably (stream ALERTS).
func PublishAck(ctx context.Context, js Publisher, id, actor string, at time.Time) (wire.AlertEvent, error) {
	e := wire.AlertEvent{Kind: wire.AlertAck, AlertID: id, Actor: actor, At: at.UTC()}
	return e, publish(ctx, js, bus.SubjAlertAck, e)
}

// PublishForgotten resolves every open alert of pc (offline and check
// alerts) once the PC is deleted: it will never beat or pass again.
func PublishForgotten(ctx context.Context, js Publisher, pc string, at time.Time) error {
	at = at.UTC()
	id := fmt.Sprintf("forget-%s-%d", pc, at.UnixMilli())
	return publish(ctx, js, bus.AlertForgotten(pc), wire.AlertEvent{Kind: wire.AlertPCForgotten, AlertID: id, PCID: pc, At: at})
}

// OfflineStore is what the detector reads.
type OfflineStore interface {
	SilentWithoutAlert(ctx context.Context, cutoff time.Time, limit int) ([]store.SilentAgent, error)
	BackOnline(ctx context.Context, cutoff time.Time) (map[string]string, error)
}

// Offline opens an agent-offline alert for every agent silent longer than
// After and resolves it when the agent beats again. Only the leader acts
// (every replica runs it; IsLeader gates each round), and the alert id is
// derived from the silence (pc and last heartbeat), so two replicas that
// both believed they led for a moment publish the same alert, once.
type Offline struct {
	JS       Publisher
	Store    OfflineStore
	IsLeader func() bool
	After    time.Duration // default DefaultOfflineAfter
	Every    time.Duration // default After/4, between 1 s and 30 s
	Log      *slog.Logger
	Now      func() time.Time

	started time.Time
}

// batchLimit bounds one round's opens (a fleet-wide outage is worked
// through round by round).
const batchLimit = 1000

// Run checks every Every until ctx ends.
func (o *Offline) Run(ctx context.Context) {
	if o.After <= 0 {
		o.After = DefaultOfflineAfter
	}
	if o.Every <= 0 {
		o.Every = min(max(o.After/4, time.Second), 30*time.Second)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	o.started = o.Now()
	t := time.NewTicker(o.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if o.IsLeader != nil && !o.IsLeader() {
				continue
			}
			if err := o.Round(ctx); err != nil && ctx.Err() == nil {
				o.Log.Warn("agent-offline alerts: round failed; retrying next tick", "error", err)
			}
		}
	}
}

// Round opens and resolves what is due now.
func (o *Offline) Round(ctx context.Context) error {
	now := o.Now().UTC()
	// A backend that was down sees every agent silent until their next
	// heartbeats (up to one interval, 30 s by default) land: no alerts in
	// that first stretch, or a restart would alert the whole fleet.
	if !o.started.IsZero() && now.Sub(o.started) < min(o.After, store.OnlineWindow) {
		return nil
	}
	cutoff := now.Add(-o.After)
	back, err := o.Store.BackOnline(ctx, cutoff)
	if err != nil {
		return err
	}
	for id, pc := range back {
		if err := publish(ctx, o.JS, bus.AlertOffline(pc), wire.AlertEvent{Kind: wire.AlertOfflineResolved, AlertID: id, PCID: pc, At: now}); err != nil {
			return err
		}
	}
	silent, err := o.Store.SilentWithoutAlert(ctx, cutoff, batchLimit)
	if err != nil {
		return err
	}
	for _, s := range silent {
		if !wire.ValidPCID(s.PCID) {
			continue // never projected from a heartbeat; nothing to alert on a subject
		}
		e := wire.AlertEvent{Kind: wire.AlertOfflineOpened, AlertID: store.OfflineAlertID(s.PCID, s.LastHeartbeat), PCID: s.PCID, At: now}
		if err := publish(ctx, o.JS, bus.AlertOffline(s.PCID), e); err != nil {
			return err
		}
	}
	return nil
}
