// Package command is the protocol rule of an ad-hoc run, shared by the
// backend (fanout.Run behind POST /api/run) and the CLI's direct `kanade
// run`: how the command is built, published and its result awaited.
//
// It depends on nats.go, bus, manifest and wire only, so the CLI links it without
// linking any server code (cmd/kanade's dependency test checks that).
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
	execID := a.ExecID
	if execID == "" {
		execID = uuid.NewString()
	}
	return wire.Command{ID: wire.AdhocJobID, Version: Version, RequestID: uuid.NewString(), ExecID: execID,
		Shell: a.Shell, Script: a.Script, TimeoutSecs: a.TimeoutSecs, RunAs: manifest.RunAsSystem, DeadlineAt: &deadline}, wait
}

// Publish sends cmd to one PC's command subject on the EXEC stream,
// deduplicated by its request id.
func Publish(ctx context.Context, js jetstream.JetStream, pc string, cmd wire.Command) error {
	data, err := json.Marshal(cmd)
	if err != nil {
		return fmt.Errorf("encode command: %w", err)
	}
	if _, err := js.Publish(ctx, bus.CommandsPC(pc), data, jetstream.WithMsgID(cmd.RequestID)); err != nil {
		return fmt.Errorf("publish %s exec_id=%s: %w", bus.CommandsPC(pc), cmd.ExecID, err)
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
