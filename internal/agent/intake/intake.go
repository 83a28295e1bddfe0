// Package intake turns deliveries on commands.* into runs: it decodes and
// addresses them, admits each request_id at most once (durable ledger),
// applies the gates (version pin 124, revoke 126, deadline 125), waits out
// the jitter and a local concurrency slot, runs the script through a Runner
// and reports EventStarted and ExecResult through a durable Sink.
//
// It holds no global state and no connection of its own: the NATS side
// (Subscriber, KVPins, KillSource) is optional and shareable, so a fleet
// simulator can multiplex thousands of Intakes, each with a fake Runner and
// a memory ledger, over a few connections.
package intake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/agent/exec"
	"github.com/kanade-fleet/kanade/internal/agent/ledger"
	"github.com/kanade-fleet/kanade/internal/agent/outbox"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Runner executes one admitted command. ctx is cancelled when the agent
// stops; kill is closed by kill.<exec_id>. exec.Runner is the real one.
type Runner interface {
	Run(ctx context.Context, cmd wire.Command, kill <-chan struct{}) exec.Result
}

// Sink durably queues a message for JetStream publication (*outbox.Outbox).
type Sink interface {
	Put(subject, msgID string, payload []byte) error
}

// PartSink is a Sink that also queues a message together with messages to
// be acknowledged before it (*outbox.Outbox): a result and the chunks of
// its full output (SPEC §11). With a plain Sink (simulators) a long output
// is reported as its head and tail only.
type PartSink interface {
	PutParts(subject, msgID string, payload []byte, parts []outbox.Part) error
}

// Ledger is the at-most-once memory (*ledger.Ledger).
type Ledger interface {
	Seen(requestID string) bool
	Admit(cmd wire.Command, resultID string, now time.Time) (bool, error)
	Start(requestID string, at time.Time) error
	Done(requestID string) error
	Unfinished() []ledger.Record
}

// Pin is what the gates need to know about a job.
type Pin struct {
	Version string // script_current; "" = no pin
	Status  string // script_status; "" = unknown (treated as active)
}

// Pins looks up a job's pin and status (KVPins reads the KV buckets).
type Pins interface {
	Lookup(ctx context.Context, jobID string) (Pin, error)
}

// KillSource delivers kill requests for one execution while it is queued
// or running; stop ends the watch.
type KillSource interface {
	Watch(execID string, fire func()) (stop func())
}

// Verifier checks a delivery's signature (SPEC §12) before anything else
// looks at it: subject is the subject it arrived on (or, for catch-up, its
// stored Nats-Subject), which the signature must cover.
type Verifier interface {
	Verify(subject string, h nats.Header, payload []byte) error
}

// Config wires an Intake.
type Config struct {
	PCID   string
	Ledger Ledger
	Sink   Sink
	Runner Runner
	Pins   Pins       // nil: version-pin and revoke gates are not checked
	Kills  KillSource // nil: only Intake.Kill stops runs
	// Verifier refuses unsigned or badly signed commands (exit 123); nil
	// accepts every command (fleet simulator, unit tests).
	Verifier Verifier
	Limit    int // concurrent runs; 0 = CPU count
	Logger   *slog.Logger
	// MaxPayload bounds an encoded result (the broker's max payload minus
	// headroom); outputs are shortened further to fit. Default 1 MiB - 64 KiB.
	MaxPayload int
	// Now and Jitter are for tests; Jitter returns a duration in [0, max).
	Now    func() time.Time
	Jitter func(max time.Duration) time.Duration
}

// Intake is safe for concurrent use.
type Intake struct {
	cfg     Config
	log     *slog.Logger
	slots   *slots
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	running atomic.Int64
	refused atomic.Int64

	mu      sync.Mutex
	groups  map[string]bool
	active  map[string]map[*run]struct{} // exec_id → runs (queued or running)
	closing bool
}

type run struct {
	kill     chan struct{}
	killOnce sync.Once
}

func (r *run) fire() { r.killOnce.Do(func() { close(r.kill) }) }

// New builds an Intake. Call Recover once, then feed deliveries to Handle.
func New(cfg Config) (*Intake, error) {
	if cfg.PCID == "" || cfg.Ledger == nil || cfg.Sink == nil || cfg.Runner == nil {
		return nil, fmt.Errorf("intake: PCID, Ledger, Sink and Runner are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Limit <= 0 {
		cfg.Limit = runtime.NumCPU()
	}
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = 1<<20 - 64<<10
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Jitter == nil {
		cfg.Jitter = func(m time.Duration) time.Duration { return rand.N(m) }
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Intake{cfg: cfg, log: cfg.Logger, slots: newSlots(cfg.Limit), ctx: ctx, cancel: cancel,
		groups: map[string]bool{}, active: map[string]map[*run]struct{}{}}, nil
}

// SetGroups replaces the membership used to address group commands.
func (in *Intake) SetGroups(groups []string) {
	m := make(map[string]bool, len(groups))
	for _, g := range groups {
		m[g] = true
	}
	in.mu.Lock()
	in.groups = m
	in.mu.Unlock()
}

func (in *Intake) member(g string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.groups[g]
}

// SetLimit changes max_local_concurrent live.
func (in *Intake) SetLimit(n int) { in.slots.setLimit(n) }

// Running is the number of scripts executing now.
func (in *Intake) Running() int { return int(in.running.Load()) }

// Active is how many admitted runs have not finished: waiting out their
// jitter, queued for a slot or running. Self-update waits for zero.
func (in *Intake) Active() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for _, runs := range in.active {
		n += len(runs)
	}
	return n
}

// Queued is the number of runs waiting for a slot.
func (in *Intake) Queued() int { return in.slots.queued() }

// Refused is the number of commands refused for their signature since start.
func (in *Intake) Refused() int64 { return in.refused.Load() }

// Handle is HandleMsg without headers (an unsigned delivery).
func (in *Intake) Handle(subject string, data []byte) { in.HandleMsg(subject, nil, data) }

// HandleMsg processes one delivery from a subscription or from catch-up. It
// returns once the command is durably admitted (or rejected); the run
// itself proceeds in the background.
//
// The signature is checked right after addressing and before the ledger:
// a refused delivery never records its request_id, so a forged or
// re-routed copy that arrives first cannot make the genuine command look
// like a duplicate.
func (in *Intake) HandleMsg(subject string, h nats.Header, data []byte) {
	if !Addressed(in.cfg.PCID, in.member, subject) {
		in.log.Warn("command ignored", "subject", subject, "error", "not addressed to this PC")
		return
	}
	if v := in.cfg.Verifier; v != nil {
		if err := v.Verify(subject, h, data); err != nil {
			in.refuse(subject, h, data, err)
			return
		}
	}
	cmd, err := Decode(in.cfg.PCID, in.member, subject, data)
	if err != nil {
		in.log.Warn("command ignored", "subject", subject, "error", err)
		return
	}
	if in.cfg.Ledger.Seen(cmd.RequestID) {
		return // the live subscription and catch-up both deliver; expected
	}
	in.mu.Lock()
	closing := in.closing
	in.mu.Unlock()
	if closing {
		return // catch-up after restart will bring it back
	}
	now := in.cfg.Now()
	rec := ledger.Record{RequestID: cmd.RequestID, ResultID: newResultID(), AdmittedAt: now, State: ledger.Admitted, Command: &cmd}
	ok, err := in.cfg.Ledger.Admit(cmd, rec.ResultID, now)
	if err != nil {
		in.log.Error("cannot admit command durably; not running it", "request_id", cmd.RequestID, "exec_id", cmd.ExecID, "error", err)
		return
	}
	if !ok {
		return
	}
	in.log.Info("command admitted", "request_id", cmd.RequestID, "exec_id", cmd.ExecID, "job", cmd.ID, "subject", subject)
	in.spawn(rec)
}

// refusedPrefix marks ledger records of refusal reports. They are keyed by
// a digest of the exact delivery, not by its request_id (see HandleMsg).
const refusedPrefix = "refused:"

// refuse reports a delivery that failed verification as a failed run
// (exit 123, reason in stderr) without admitting its request_id. Each exact
// delivery (subject, signature headers, payload) is reported once: EXEC
// keeps it, so every reconnect's catch-up brings it back.
func (in *Intake) refuse(subject string, h nats.Header, data []byte, why error) {
	in.refused.Add(1)
	sum := sha256.New()
	for _, part := range []string{subject, h.Get("Kanade-Key-Id"), h.Get("Kanade-Signature")} {
		sum.Write([]byte(part))
		sum.Write([]byte{'\n'})
	}
	sum.Write(data)
	key := refusedPrefix + hex.EncodeToString(sum.Sum(nil)[:16])
	log := in.log.With("subject", subject, "reason", why.Error())
	if in.cfg.Ledger.Seen(key) {
		log.Debug("refused delivery seen again")
		return
	}
	cmd, err := wire.DecodeCommand(data)
	if err != nil || !SafeToken(cmd.RequestID) || !SafeToken(cmd.ExecID) {
		// Nothing to report against: junk (a PubAck, an API error)
		// aimed at this PC's subject by another client.
		log.Warn("refused a message that is not a usable command; nothing run")
		return
	}
	if !wire.ValidID(cmd.ID) {
		cmd.ID = ""
	}
	log = log.With("request_id", cmd.RequestID, "exec_id", cmd.ExecID)
	log.Warn("command refused: signature check failed; not run")
	now := in.cfg.Now()
	rec := ledger.Record{RequestID: cmd.RequestID, ResultID: newResultID(), Command: &cmd}
	res := in.result(rec, now)
	res.ExitCode = wire.ExitRefused
	res.Stderr = "[kanade] refused: " + why.Error() + "; the command was not run\n"
	if err := in.cfg.Sink.Put(bus.ResultFrom(in.cfg.PCID, res.RequestID), "result-"+res.ResultID, EncodeResult(res, in.cfg.MaxPayload)); err != nil {
		log.Error("cannot queue the refusal result", "error", err)
		return
	}
	// Remember the delivery (not the request_id) so a replay is not
	// reported again; best effort, a failure means one more report.
	if ok, err := in.cfg.Ledger.Admit(wire.Command{RequestID: key}, "", now); err != nil || !ok {
		return
	}
	_ = in.cfg.Ledger.Done(key)
}

// Recover resumes what a previous process left in the ledger: runs that
// never started are queued again (gates re-checked), runs that had started
// are reported failed, since their outcome is unknown.
func (in *Intake) Recover() {
	for _, rec := range in.cfg.Ledger.Unfinished() {
		switch {
		case rec.Command == nil, strings.HasPrefix(rec.RequestID, refusedPrefix):
			_ = in.cfg.Ledger.Done(rec.RequestID)
		case rec.State == ledger.Admitted:
			in.log.Info("resuming a command admitted before restart", "request_id", rec.RequestID, "exec_id", rec.Command.ExecID)
			in.spawn(rec)
		case rec.State == ledger.Started:
			in.log.Warn("reporting a run cut short by an agent stop", "request_id", rec.RequestID, "exec_id", rec.Command.ExecID, "result_id", rec.ResultID)
			res := in.result(rec, rec.StartedAt)
			res.ExitCode = wire.ExitKilled
			res.Stderr = "[kanade] the agent stopped (crash, kill or power loss) while this run was in progress; its outcome is unknown\n"
			in.finish(rec, res)
		}
	}
}

// Kill stops every queued or running run of execID; it reports whether
// there was one.
func (in *Intake) Kill(execID string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	runs := in.active[execID]
	for r := range runs {
		r.fire()
	}
	return len(runs) > 0
}

// Close stops accepting work, kills running scripts (their results are
// reported), leaves queued ones in the ledger for the next start, and
// waits for everything to settle or ctx to expire.
func (in *Intake) Close(ctx context.Context) error {
	in.mu.Lock()
	in.closing = true
	in.mu.Unlock()
	in.cancel()
	done := make(chan struct{})
	go func() { in.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("intake: runs still settling: %w", ctx.Err())
	}
}

func (in *Intake) spawn(rec ledger.Record) {
	in.wg.Add(1)
	go func() {
		defer in.wg.Done()
		in.process(rec)
	}()
}

func (in *Intake) track(execID string) (*run, func()) {
	r := &run{kill: make(chan struct{})}
	in.mu.Lock()
	if in.active[execID] == nil {
		in.active[execID] = map[*run]struct{}{}
	}
	in.active[execID][r] = struct{}{}
	in.mu.Unlock()
	stopWatch := func() {}
	if in.cfg.Kills != nil {
		stopWatch = in.cfg.Kills.Watch(execID, func() { in.Kill(execID) })
	}
	return r, func() {
		stopWatch()
		in.mu.Lock()
		delete(in.active[execID], r)
		if len(in.active[execID]) == 0 {
			delete(in.active, execID)
		}
		in.mu.Unlock()
	}
}

// process walks one admitted command through gates, jitter, slot and run.
func (in *Intake) process(rec ledger.Record) {
	cmd := *rec.Command
	log := in.log.With("request_id", cmd.RequestID, "exec_id", cmd.ExecID, "result_id", rec.ResultID)
	if code, reason := in.gate(cmd); code != 0 {
		log.Info("command skipped", "exit_code", code, "reason", reason)
		in.finish(rec, in.skipped(rec, code, reason))
		return
	}
	r, untrack := in.track(cmd.ExecID)
	defer untrack()

	var deadline <-chan time.Time
	if cmd.DeadlineAt != nil {
		t := time.NewTimer(max(cmd.DeadlineAt.Sub(in.cfg.Now()), 0))
		defer t.Stop()
		deadline = t.C
	}
	killedBefore := func(phase string) {
		log.Info("run killed before it started", "phase", phase)
		res := in.result(rec, in.cfg.Now())
		res.ExitCode, res.Killed = wire.ExitKilled, true
		res.Stderr = "[kanade] killed by remote signal while " + phase + "; the script never ran\n"
		in.finish(rec, res)
	}

	if cmd.JitterSecs > 0 {
		t := time.NewTimer(in.cfg.Jitter(time.Duration(cmd.JitterSecs) * time.Second))
		select {
		case <-t.C:
		case <-r.kill:
			t.Stop()
			killedBefore("waiting out its jitter")
			return
		case <-in.ctx.Done():
			t.Stop()
			return // still Admitted: resumed at next start
		}
	}

	granted, abandon := in.slots.acquire()
	select {
	case <-granted:
	case <-r.kill:
		abandon()
		killedBefore("queued for a local slot")
		return
	case <-deadline:
		abandon()
		in.finish(rec, in.skipped(rec, wire.ExitDeadline, fmt.Sprintf(
			"skipped: starting deadline %s passed while waiting for a local job slot", cmd.DeadlineAt.UTC().Format(time.RFC3339))))
		return
	case <-in.ctx.Done():
		abandon()
		return
	}
	defer in.slots.release()
	if code, reason := in.deadlineGate(cmd); code != 0 {
		in.finish(rec, in.skipped(rec, code, reason))
		return
	}

	started := in.cfg.Now().UTC()
	if err := in.cfg.Ledger.Start(cmd.RequestID, started); err != nil {
		log.Error("cannot record run start durably; not running it", "error", err)
		res := in.result(rec, started)
		res.ExitCode = exec.ExitStartFailed
		res.Stderr = "[kanade] the agent could not record the run durably (" + err.Error() + "); the script was not started\n"
		in.finish(rec, res)
		return
	}
	ev := wire.EventStarted{ResultID: rec.ResultID, RequestID: cmd.RequestID, ExecID: cmd.ExecID, PCID: in.cfg.PCID,
		StartedAt: started, ManifestID: cmd.ID, Version: cmd.Version}
	if b, err := json.Marshal(ev); err == nil {
		if err := in.cfg.Sink.Put(bus.EventStarted(cmd.ExecID, in.cfg.PCID), "started-"+rec.ResultID, b); err != nil {
			log.Error("cannot queue EventStarted", "error", err)
		}
	}
	log.Info("run started", "job", cmd.ID, "shell", cmd.Shell)
	in.running.Add(1)
	out := in.cfg.Runner.Run(in.ctx, cmd, r.kill)
	in.running.Add(-1)

	res := in.result(rec, started)
	res.ExitCode, res.TimedOut, res.Killed = out.ExitCode, out.TimedOut, out.Killed
	log.Info("run finished", "exit_code", res.ExitCode, "timed_out", res.TimedOut, "killed", res.Killed, "aborted", out.Aborted)
	in.report(rec, res, [2]output{{text: out.Stdout, spool: out.StdoutSpool}, {text: out.Stderr, spool: out.StderrSpool}})
}

// gate applies version pin, revoke and deadline; code 0 means run.
func (in *Intake) gate(cmd wire.Command) (int, string) {
	if cmd.ID != wire.AdhocJobID && in.cfg.Pins != nil {
		ctx, cancel := context.WithTimeout(in.ctx, 5*time.Second)
		pin, err := in.cfg.Pins.Lookup(ctx, cmd.ID)
		cancel()
		switch {
		case err != nil:
			// Fail open: an agent cut off from the broker still runs what
			// it already received; the pin is re-checked by nobody else.
			in.log.Warn("gate state unavailable; running without pin/revoke check", "job", cmd.ID, "request_id", cmd.RequestID, "error", err)
		case pin.Version != "" && pin.Version != cmd.Version:
			return wire.ExitVersionPin, fmt.Sprintf("skipped: version-pin mismatch: script_current[%s] = %s, command brought %s", cmd.ID, pin.Version, cmd.Version)
		case pin.Status == wire.StatusRevoked:
			return wire.ExitRevoked, fmt.Sprintf("skipped: job %s is revoked (script_status = REVOKED)", cmd.ID)
		}
	}
	return in.deadlineGate(cmd)
}

func (in *Intake) deadlineGate(cmd wire.Command) (int, string) {
	if cmd.DeadlineAt != nil {
		if now := in.cfg.Now(); now.After(*cmd.DeadlineAt) {
			return wire.ExitDeadline, fmt.Sprintf("skipped: starting deadline %s passed %s ago",
				cmd.DeadlineAt.UTC().Format(time.RFC3339), now.Sub(*cmd.DeadlineAt).Round(time.Second))
		}
	}
	return 0, ""
}

func (in *Intake) result(rec ledger.Record, started time.Time) wire.ExecResult {
	c := rec.Command
	return wire.ExecResult{ResultID: rec.ResultID, RequestID: c.RequestID, ExecID: c.ExecID, PCID: in.cfg.PCID,
		ManifestID: c.ID, Version: c.Version, StartedAt: started.UTC(), FinishedAt: in.cfg.Now().UTC()}
}

func (in *Intake) skipped(rec ledger.Record, code int, reason string) wire.ExecResult {
	now := in.cfg.Now()
	res := in.result(rec, now)
	res.ExitCode, res.Skipped, res.Stderr = code, true, reason+"\n"
	return res
}

// output is one stream of a result: text in memory, or a spool (a file
// holding the captured stream, and the excerpt in memory).
type output struct {
	text  string
	spool *exec.Spool
}

var streams = [2]string{wire.OutputStdout, wire.OutputStderr}

func textOutputs(res wire.ExecResult) [2]output {
	return [2]output{{text: res.Stdout}, {text: res.Stderr}}
}

func (o output) size() int64 {
	if o.spool != nil {
		return o.spool.Len()
	}
	return int64(len(o.text))
}

func (o output) excerpt(limit int) string {
	if o.spool != nil {
		return o.spool.Excerpt(limit)
	}
	return exec.Truncate(o.text, limit)
}

// whole reports whether the full stream can travel as chunks: text always
// (cut to MaxOutputSize below), a spool when its file survived and fits.
func (o output) whole() bool {
	if o.spool == nil {
		return true
	}
	_, _, ok := o.spool.File()
	return ok && o.spool.Len() <= wire.MaxOutputSize
}

// finish reports a result whose output is in res (skips, refusals,
// recovered runs).
func (in *Intake) finish(rec ledger.Record, res wire.ExecResult) {
	in.report(rec, res, textOutputs(res))
}

// report queues the result durably, then closes the ledger record. If the
// queue write fails the record stays open, so the next start reports it.
// A stream longer than the inline copy goes with the result as chunks
// (parts sent and acknowledged before it), and the result names it with
// stdout_ref/stderr_ref: a result that carries a ref reaches the broker
// only after the whole output did. A spooled stream's chunks are ranges of
// its file, which the outbox takes over; the spools are removed after.
func (in *Intake) report(rec ledger.Record, res wire.ExecResult, outs [2]output) {
	for i, o := range outs {
		if o.spool == nil {
			continue
		}
		defer o.spool.Remove()
		if err := o.spool.Err(); err != nil {
			in.log.Warn("output spool failed; the result carries the stream's head and tail only", "request_id", res.RequestID,
				"result_id", res.ResultID, "stream", streams[i], "error", err)
		}
	}
	subject, msgID := bus.ResultFrom(in.cfg.PCID, res.RequestID), "result-"+res.ResultID
	err := errNoParts
	if ps, ok := in.cfg.Sink.(PartSink); ok {
		b, cut := encodeResult(res, outs, in.cfg.MaxPayload, true)
		if len(cut) == 0 {
			err = in.cfg.Sink.Put(subject, msgID, b)
		} else if err = ps.PutParts(subject, msgID, b, outputParts(in.cfg.PCID, res.ResultID, outs, cut)); err != nil {
			in.log.Error("cannot queue the full output; reporting its head and tail only", "request_id", res.RequestID,
				"result_id", res.ResultID, "error", err)
			err = errNoParts
		}
	}
	if errors.Is(err, errNoParts) {
		b, _ := encodeResult(res, outs, in.cfg.MaxPayload, false)
		err = in.cfg.Sink.Put(subject, msgID, b)
	}
	if err != nil {
		in.log.Error("cannot queue result", "request_id", res.RequestID, "result_id", res.ResultID, "error", err)
		return
	}
	if err := in.cfg.Ledger.Done(rec.RequestID); err != nil {
		in.log.Error("cannot close ledger record", "request_id", rec.RequestID, "error", err)
	}
}

var errNoParts = errors.New("no parts")

// outputParts are the chunks of the streams in cut (indexes into outs), on
// output.<pc>.<result_id>.<stream>, each with its own de-duplication id.
func outputParts(pc, resultID string, outs [2]output, cut []int) []outbox.Part {
	var parts []outbox.Part
	add := func(stream string, c wire.OutputChunk, p outbox.Part) {
		p.Subject = bus.Output(pc, resultID, stream)
		p.MsgID = fmt.Sprintf("output-%s-%s-%d", resultID, stream, c.Index)
		p.Header = c.Header()
		parts = append(parts, p)
	}
	for _, i := range cut {
		stream, o := streams[i], outs[i]
		if o.spool != nil {
			path, sum, _ := o.spool.File()
			size := o.spool.Len()
			n := int((size + wire.OutputChunkSize - 1) / wire.OutputChunkSize)
			for k := range n {
				off := int64(k) * wire.OutputChunkSize
				c := wire.OutputChunk{Index: k, Count: n, Size: size, SHA256: sum}
				add(stream, c, outbox.Part{File: path, Offset: off, Size: min(wire.OutputChunkSize, size-off)})
			}
			continue
		}
		// The capture bound keeps real output under this; a Runner that
		// does not is cut the same way rather than refused by the decoder.
		full := exec.Truncate(o.text, wire.MaxOutputSize)
		for _, c := range wire.SplitOutput(pc, resultID, stream, []byte(full)) {
			add(stream, c, outbox.Part{Payload: c.Data})
		}
	}
	return parts
}

// EncodeResult marshals res with stdout and stderr cut to
// wire.MaxInlineOutput each, and further (head and tail kept) until the
// whole message fits maxPayload.
func EncodeResult(res wire.ExecResult, maxPayload int) []byte {
	b, _ := encodeResult(res, textOutputs(res), maxPayload, false)
	return b
}

// encodeResult is EncodeResult of res with the streams outs; with refs,
// every stream whose inline copy had to be cut, and that can travel whole,
// is named by its ref and listed in cut (to be sent whole).
func encodeResult(res wire.ExecResult, outs [2]output, maxPayload int, refs bool) (b []byte, cut []int) {
	for budget := wire.MaxInlineOutput; ; budget /= 2 {
		res.Stdout, res.Stderr = outs[0].excerpt(budget), outs[1].excerpt(budget)
		res.StdoutRef, res.StderrRef, cut = "", "", nil
		for i, ref := range []*string{&res.StdoutRef, &res.StderrRef} {
			if refs && outs[i].size() > int64(budget) && outs[i].whole() {
				*ref, cut = wire.OutputRef(res.ResultID, streams[i]), append(cut, i)
			}
		}
		b, err := json.Marshal(res)
		if err == nil && (len(b) <= maxPayload || budget < 1024) {
			return b, cut
		}
	}
}

// newResultID mints a time-ordered UUID (v7): result_id is the primary key
// of execution_results, and ordered keys append to the B-tree instead of
// scattering, which doubles the projection rate of large histories
// (docs/benchmarks.md, "Projection replay").
func newResultID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
