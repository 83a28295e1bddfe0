// Package audit publishes AuditEvents to the AUDIT stream, from which the
// audit projector fills audit_log. Publishing (not writing SQL) keeps the
// stream the source of truth, so the audit trail survives a database wipe.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Publisher records audit events.
type Publisher struct {
	JS  jetstream.JetStream
	Log *slog.Logger
}

// Record publishes one event and waits for the broker's acknowledgement.
func (p *Publisher) Record(ctx context.Context, actor, action, target string, payload any, sourceIP string) error {
	raw, err := json.Marshal(payload)
	if err != nil || (len(raw) > 0 && raw[0] != '{') {
		raw, _ = json.Marshal(map[string]any{"value": payload})
	}
	ev := wire.AuditEvent{Actor: actor, Action: action, Target: target, Payload: raw,
		OccurredAt: time.Now().UTC(), SourceIP: sourceIP}
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode audit event: %w", err)
	}
	if _, err := p.JS.Publish(ctx, bus.Audit(actor, action), data); err != nil {
		return fmt.Errorf("publish audit %s/%s: %w", actor, action, err)
	}
	return nil
}

// Audit records and logs a failure instead of returning it (auth.Auditor):
// an audit outage must be loud but must not turn a done change into an error.
func (p *Publisher) Audit(ctx context.Context, actor, action, target string, payload any, sourceIP string) {
	if err := p.Record(ctx, actor, action, target, payload, sourceIP); err != nil {
		p.Log.Error("audit event not recorded", "actor", actor, "action", action, "target", target, "error", err)
	}
}
