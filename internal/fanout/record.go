package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// ErrBrokerUnavailable means the broker did not take a write the exec
// path needed before anything was sent: nothing runs, and the same request
// can be retried (the API answers 503 with Retry-After).
var ErrBrokerUnavailable = errors.New("the broker is unavailable")

// brokerErr marks a broker failure before any command left.
type brokerErr struct{ err error }

func (e *brokerErr) Error() string   { return e.err.Error() }
func (e *brokerErr) Unwrap() []error { return []error{ErrBrokerUnavailable, e.err} }

func unavailable(err error) error {
	if err == nil || errors.Is(err, ErrBrokerUnavailable) {
		return err
	}
	return &brokerErr{err}
}

// FanoutError is an execution the broker failed in the middle of. It is
// recorded (executions row, EXECS, audit) and runs wherever its command
// arrived; Resp says how many subjects were sent and which were not.
// When nothing was sent and no later wave is left, it also is
// ErrBrokerUnavailable (nothing runs: retrying is safe).
type FanoutError struct {
	Resp    apiv1.ExecResponse
	Err     error
	nothing bool
}

func (e *FanoutError) Error() string { return e.Resp.Error }

func (e *FanoutError) Unwrap() []error {
	if e.nothing {
		return []error{ErrBrokerUnavailable, e.Err}
	}
	return []error{e.Err}
}

// NothingSent reports whether the execution reached no subject and has no
// wave left to send.
func (e *FanoutError) NothingSent() bool { return e.nothing }

// publishExec publishes one ExecRequested on execs.<exec_id> and waits for
// the PubAck. Its msg id (wire.ExecRequested.MsgID) makes a retry after a
// lost acknowledgement a duplicate the stream drops.
func (f *Fanout) publishExec(ctx context.Context, e wire.ExecRequested) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode %s of exec_id=%s: %w", e.Kind, e.ExecID, err)
	}
	if _, err := f.js.Publish(ctx, bus.ExecRequested(e.ExecID), data, jetstream.WithMsgID(e.MsgID())); err != nil {
		return unavailable(fmt.Errorf("publish %s of exec_id=%s: %w", e.Kind, e.ExecID, err))
	}
	return nil
}

// record publishes an ExecRequested, then applies it to the executions
// table at once (read-your-writes; the projector's later copy changes
// nothing).
func (f *Fanout) record(ctx context.Context, e wire.ExecRequested) error {
	if err := f.publishExec(ctx, e); err != nil {
		return err
	}
	return f.apply(ctx, e)
}

func (f *Fanout) apply(ctx context.Context, e wire.ExecRequested) error {
	if _, err := f.store.ApplyExecEvents(ctx, []wire.ExecRequested{e}); err != nil {
		return fmt.Errorf("record %s of exec_id=%s: %w", e.Kind, e.ExecID, err)
	}
	return nil
}

// recordOutcome records how a fan-out ended: in SQL now, on EXECS now or,
// when the broker is what failed, as soon as it takes writes again.
func (f *Fanout) recordOutcome(ctx context.Context, e wire.ExecRequested) {
	if err := f.apply(ctx, e); err != nil {
		f.log.Error("fan-out outcome not written to the database; the executions projector will apply it",
			"exec_id", e.ExecID, "error", err)
	}
	if err := f.publishExec(ctx, e); err != nil {
		f.log.Warn("fan-out outcome not on EXECS yet; retrying in the background", "exec_id", e.ExecID, "error", err)
		f.later(ctx, "fan-out outcome of "+e.ExecID, func(ctx context.Context) error { return f.publishExec(ctx, e) })
	}
}

// recorder is the part of *audit.Publisher that reports failure.
type recorder interface {
	Record(ctx context.Context, actor, action, target string, payload any, sourceIP string) error
}

// auditLater records an audit event now or, when the broker refuses it, in
// the background until it takes writes again.
func (f *Fanout) auditLater(ctx context.Context, actor, action, target string, payload any, ip string) {
	r, ok := f.audit.(recorder)
	if !ok {
		f.auditf(ctx, actor, action, target, payload, ip)
		return
	}
	rec := func(ctx context.Context) error { return r.Record(ctx, actor, action, target, payload, ip) }
	if err := rec(ctx); err != nil {
		f.log.Warn("audit event not recorded yet; retrying in the background", "action", action, "target", target, "error", err)
		f.later(ctx, "audit "+action+" "+target, rec)
	}
}

// RetryFor bounds the background retries of records the broker refused.
const RetryFor = time.Hour

// later retries fn with backoff until it succeeds, RetryFor passes or the
// broker connection is closed for good (the backend is exiting).
func (f *Fanout) later(ctx context.Context, what string, fn func(context.Context) error) {
	ctx = context.WithoutCancel(ctx)
	f.bg.Go(func() {
		deadline := time.Now().Add(RetryFor)
		wait := 500 * time.Millisecond
		for {
			select {
			case <-f.stop:
				f.log.Error("gave up recording after a broker failure: backend stopping", "what", what)
				return
			case <-time.After(wait):
			}
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := fn(actx)
			cancel()
			if err == nil {
				f.log.Info("recorded after a broker failure", "what", what)
				return
			}
			if time.Now().After(deadline) || (f.nc != nil && f.nc.IsClosed()) {
				f.log.Error("gave up recording after a broker failure", "what", what, "error", err)
				return
			}
			wait = min(wait*2, 15*time.Second)
		}
	})
}

// Close stops the background retries and waits for them.
func (f *Fanout) Close() {
	f.stopOnce.Do(func() { close(f.stop) })
	f.bg.Wait()
}

// reached is the target that a set of sent command subjects reaches.
func reached(subjects []string) manifest.Target {
	var t manifest.Target
	for _, s := range subjects {
		switch {
		case s == bus.SubjCommandsAll:
			t.All = true
		case strings.HasPrefix(s, bus.CommandsGroup("")):
			t.Groups = append(t.Groups, strings.TrimPrefix(s, bus.CommandsGroup("")))
		case strings.HasPrefix(s, bus.CommandsPC("")):
			t.PCs = append(t.PCs, strings.TrimPrefix(s, bus.CommandsPC("")))
		}
	}
	return t
}
