// Package cmdaudit audits the commands and kills the backend did not send
// itself: a direct `kanade run` or `kanade kill --signing-key`, or any
// other client with a broker credential that may publish on commands.> and
// kill.* (SPEC §12: "a direct signed run is audited by the backend when it
// sees it").
//
// What the backend sends is audited where it is decided, with the account
// that asked (fanout). A command that verifies is the backend's own when
// its execution row exists by the time the command is stored: fan-out writes the row
// before it publishes (exec, waves, scheduler fires, ad-hoc runs), and
// projectors never create one. A kill is the backend's own when its signed
// payload says so (command.KillFromBackend). Everything else that is validly
// signed is audited with the signing key as the actor, "signing-key:<id>";
// what does not verify is logged and counted (agents refuse it with 123).
package cmdaudit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/fanout/command"
	"github.com/kanade-fleet/kanade/internal/metrics"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Executions tells the backend's executions from the others (*store.DB).
type Executions interface {
	GetExecution(ctx context.Context, execID string) (apiv1.Execution, bool, error)
}

// Chain reads KV signing_keys (*kv.SigningKeys).
type Chain interface {
	Chain(ctx context.Context) (sign.Chain, uint64, bool, error)
}

// Auditor records what was seen (*audit.Publisher).
type Auditor interface {
	Audit(ctx context.Context, actor, action, target string, payload any, sourceIP string)
}

// Watcher follows EXEC (a durable consumer shared by the replicas, from
// new messages on) and kill.* (a queue group), so each message is audited
// once per cluster.
type Watcher struct {
	JS      jetstream.JetStream
	NC      *nats.Conn
	Execs   Executions
	Keys    Chain
	Audit   Auditor
	Metrics *metrics.Registry
	Log     *slog.Logger

	mu      sync.Mutex
	kr      *sign.Keyring
	readAt  time.Time
	refresh time.Duration
}

// Actor is the audit actor of a message signed by keyID.
func Actor(keyID string) string { return "signing-key:" + keyID }

// Run watches until ctx ends, restarting after broker trouble.
func (w *Watcher) Run(ctx context.Context) {
	if w.Log == nil {
		w.Log = slog.Default()
	}
	if w.Metrics == nil {
		w.Metrics = metrics.Default
	}
	if w.refresh == 0 {
		w.refresh = time.Second
	}
	sub, err := w.NC.QueueSubscribe(bus.Kill("*"), "kanade-backend-audit", func(m *nats.Msg) { w.kill(ctx, m) })
	if err != nil {
		w.Log.Error("cannot watch kills for the audit log", "error", err)
	} else {
		defer func() { _ = sub.Unsubscribe() }()
	}
	for ctx.Err() == nil {
		err := w.commands(ctx)
		if ctx.Err() != nil {
			return
		}
		w.Log.Warn("command audit watcher stopped; restarting", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

func (w *Watcher) commands(ctx context.Context) error {
	cons, err := w.JS.CreateOrUpdateConsumer(ctx, bus.StreamExec, jetstream.ConsumerConfig{
		Durable: bus.ConsumerCommandAudit, AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverNewPolicy,
		FilterSubject: bus.SubjCommandsAllFilter, AckWait: 30 * time.Second, MaxDeliver: 5})
	if err != nil {
		return fmt.Errorf("create consumer %s: %w", bus.ConsumerCommandAudit, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return err
		}
		if err := w.command(ctx, m); err != nil {
			w.Log.Warn("command audit: will retry", "subject", m.Subject(), "error", err)
			_ = m.NakWithDelay(2 * time.Second)
			continue
		}
		_ = m.Ack()
	}
}

// command audits one stored command unless the backend sent it.
func (w *Watcher) command(ctx context.Context, m jetstream.Msg) error {
	cmd, err := wire.DecodeCommand(m.Data())
	if err != nil {
		w.refused("command", m.Subject(), "", err)
		return nil
	}
	// Verified first: a genuine command re-published on another subject
	// has the backend's execution row but no longer verifies.
	keyID, err := w.verify(ctx, m.Subject(), m.Headers(), m.Data())
	if err != nil {
		w.refused("command", m.Subject(), cmd.ExecID, err)
		return nil
	}
	_, ours, err := w.Execs.GetExecution(ctx, cmd.ExecID)
	if err != nil {
		return err
	}
	if ours {
		return nil
	}
	payload := map[string]any{"exec_id": cmd.ExecID, "request_id": cmd.RequestID, "subject": m.Subject(),
		"key_id": keyID, "direct": true}
	action, target := "exec", cmd.ID
	if cmd.ID == wire.AdhocJobID {
		action, target = "run", strings.TrimPrefix(m.Subject(), "commands.pc.")
		payload["shell"], payload["timeout_secs"], payload["script_bytes"] = cmd.Shell, cmd.TimeoutSecs, len(cmd.Script)
	} else {
		payload["version"] = cmd.Version
	}
	w.Log.Info("direct command seen", "subject", m.Subject(), "exec_id", cmd.ExecID, "key_id", keyID, "action", action)
	w.Audit.Audit(ctx, Actor(keyID), action, target, payload, "")
	return nil
}

// kill audits one kill unless the backend sent it.
func (w *Watcher) kill(ctx context.Context, m *nats.Msg) {
	execID := strings.TrimPrefix(m.Subject, "kill.")
	keyID, err := w.verify(ctx, m.Subject, m.Header, m.Data)
	if err != nil {
		w.refused("kill", m.Subject, execID, err)
		return
	}
	var p command.KillPayload
	_ = json.Unmarshal(m.Data, &p) // an empty payload is a direct kill too
	if p.Origin == command.KillFromBackend {
		return
	}
	w.Log.Info("direct kill seen", "exec_id", execID, "key_id", keyID)
	w.Audit.Audit(ctx, Actor(keyID), "kill", execID, map[string]any{"exec_id": execID, "subject": m.Subject,
		"key_id": keyID, "origin": p.Origin, "direct": true}, "")
}

func (w *Watcher) refused(kind, subject, execID string, err error) {
	w.Log.Warn("a "+kind+" agents will refuse was published (not signed by a trusted key for its subject)",
		"subject", subject, "exec_id", execID, "reason", err.Error())
	w.Metrics.Add("kanade_unsigned_commands_total", "Commands and kills seen on the broker that agents refuse (bad or missing signature).",
		1, "kind", kind)
}

// verify checks a message against the chain's active keys, re-reading
// signing_keys (at most once per refresh period) for an unknown key.
func (w *Watcher) verify(ctx context.Context, subject string, h nats.Header, data []byte) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := sign.Verify(w.kr, subject, h, data)
	if (w.kr == nil || errors.Is(err, sign.ErrUnknownKey)) && time.Since(w.readAt) >= w.refresh {
		w.readAt = time.Now()
		if c, _, ok, cerr := w.Keys.Chain(ctx); cerr == nil && ok {
			w.kr = sign.NewKeyring(c.Active()...)
			err = sign.Verify(w.kr, subject, h, data)
		}
	}
	if err != nil {
		return "", err
	}
	return h.Get(sign.HeaderKeyID), nil
}
