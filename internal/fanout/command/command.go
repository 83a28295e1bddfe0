// Package command is the protocol rule of an ad-hoc run, shared by the
// backend (fanout.Run behind POST /api/run) and the CLI's direct `kanade
// run`: how the command is built, published and its result awaited.
//
// Every command and kill it publishes is signed for its exact subject
// (package sign, SPEC §12): agents refuse anything else with exit 123.
//
// It depends on nats.go, bus, manifest, sign and wire only, so the CLI links
// it without linking any server code (cmd/kanade's dependency test checks
// that).
package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Version is the version every ad-hoc command carries.
const Version = "0.0.0"

// DefaultGrace is how much longer than the script's timeout a caller waits
// for the result (delivery, start-up, the result's way back).
const DefaultGrace = 10 * time.Second

// ErrTimeout: no result came within the wait.
var ErrTimeout = errors.New("timed out waiting for the result")

// Adhoc is what an ad-hoc run is made of.
type Adhoc struct {
	ExecID      string // empty = a new UUID
	Shell       string
	Script      string
	TimeoutSecs int64
	Grace       time.Duration // 0 = DefaultGrace
	DeadlineAt  *time.Time    // nil = now + the wait
}

// AdhocCommand builds the command of an ad-hoc run (job id "adhoc", fresh
// request id) and returns how long the caller should wait for its result.
// The command carries deadline_at = now + wait: an agent that comes online
// after the caller gave up skips it (125) instead of running it unattended
// hours later.
func AdhocCommand(a Adhoc, now time.Time) (wire.Command, time.Duration) {
	grace := a.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	wait := time.Duration(a.TimeoutSecs)*time.Second + grace
	deadline := now.UTC().Add(wait)
	if a.DeadlineAt != nil {
		deadline = a.DeadlineAt.UTC()
	}
	execID := a.ExecID
	if execID == "" {
		execID = uuid.NewString()
	}
	return wire.Command{ID: wire.AdhocJobID, Version: Version, RequestID: uuid.NewString(), ExecID: execID,
		Shell: a.Shell, Script: a.Script, TimeoutSecs: a.TimeoutSecs, RunAs: manifest.RunAsSystem, DeadlineAt: &deadline}, wait
}

// ErrNoSigner: a command or kill was about to be published unsigned.
var ErrNoSigner = errors.New("no command-signing key: agents refuse unsigned commands")

// Publish sends cmd to one PC's command subject on the EXEC stream, signed
// for that subject and deduplicated by its request id.
func Publish(ctx context.Context, js jetstream.JetStream, s *sign.Signer, pc string, cmd wire.Command) error {
	return PublishTo(ctx, js, s, bus.CommandsPC(pc), cmd)
}

// PublishTo sends cmd on any command subject (commands.all,
// commands.group.<g>, commands.pc.<pc>), signed for that subject, and waits
// for the PubAck. The request id doubles as the msg id, so a retried
// publish is stored once.
func PublishTo(ctx context.Context, js jetstream.JetStream, s *sign.Signer, subject string, cmd wire.Command) error {
	if s == nil {
		return fmt.Errorf("publish %s exec_id=%s: %w", subject, cmd.ExecID, ErrNoSigner)
	}
	data, err := json.Marshal(cmd)
	if err != nil {
		return fmt.Errorf("encode command: %w", err)
	}
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	s.SignInto(msg.Header, subject, data)
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(cmd.RequestID)); err != nil {
		return fmt.Errorf("publish %s exec_id=%s: %w", subject, cmd.ExecID, err)
	}
	return nil
}

// Kill origins: the payload of a kill names who sent it, so the backend's
// audit watcher can tell its own kills (audited where they were decided,
// with the account) from a direct `kanade kill`. The payload is signed
// with the subject; agents ignore it.
const (
	KillFromBackend = "backend"
	KillFromCLI     = "cli"
)

// KillPayload is the JSON body of a kill.<exec_id> message.
type KillPayload struct {
	Origin string `json:"origin"`
}

// Kill publishes kill.<exec_id> (core NATS: agents running or queueing
// that execution terminate it), signed for that subject, and flushes so it
// has left the process.
func Kill(nc *nats.Conn, s *sign.Signer, execID, origin string) error {
	subject := bus.Kill(execID)
	if s == nil {
		return fmt.Errorf("publish %s: %w", subject, ErrNoSigner)
	}
	data, _ := json.Marshal(KillPayload{Origin: origin})
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	s.SignInto(msg.Header, subject, data)
	if err := nc.PublishMsg(msg); err != nil {
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		return fmt.Errorf("flush %s: %w", subject, err)
	}
	return nil
}

// Awaiter receives the result of one request id.
type Awaiter struct {
	sub *nats.Subscription
	// OnInvalid is told about an undecodable message on the result subject
	// (it is skipped); nil ignores them.
	OnInvalid func(error)
}

// AwaitResult subscribes to results.*.<requestID> (any PC's answer) and makes sure the
// subscription is live on the server, so a result published after this
// returns cannot be missed: call it before publishing the command.
func AwaitResult(nc *nats.Conn, requestID string) (*Awaiter, error) {
	sub, err := nc.SubscribeSync(bus.ResultsOf(requestID))
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", bus.ResultsOf(requestID), err)
	}
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("flush subscription to %s: %w", bus.ResultsOf(requestID), err)
	}
	return &Awaiter{sub: sub}, nil
}

// Wait returns the first valid result and its raw message within wait;
// ErrTimeout when none came in time (ctx's own end is returned as is).
func (a *Awaiter) Wait(ctx context.Context, wait time.Duration) (wire.ExecResult, []byte, error) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		msg, err := a.sub.NextMsgWithContext(wctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				return wire.ExecResult{}, nil, ErrTimeout
			}
			return wire.ExecResult{}, nil, fmt.Errorf("wait for result: %w", err)
		}
		res, err := wire.DecodeExecResult(msg.Data)
		if err != nil {
			if a.OnInvalid != nil {
				a.OnInvalid(err)
			}
			continue
		}
		return res, msg.Data, nil
	}
}

// Close ends the subscription.
func (a *Awaiter) Close() { _ = a.sub.Unsubscribe() }
