package projector

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/invtable"
	"github.com/kanade-fleet/kanade/internal/metrics"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Writer is what the JetStream projectors need from the store.
type Writer interface {
	ApplyStarted(ctx context.Context, batch []store.Started) ([]store.Started, error)
	ApplyResults(ctx context.Context, batch []store.Result) (store.ResultOutcome, error)
	InsertAudit(ctx context.Context, batch []store.Audit) error
	ApplyExecEvents(ctx context.Context, evs []wire.ExecRequested) ([]store.ExecProgress, error)
	ApplyInventory(ctx context.Context, batch []store.InventoryResult) error
	ApplyAlertEvents(ctx context.Context, evs []wire.AlertEvent) (store.AlertOutcome, error)
}

type eventsHandler struct {
	w     Writer
	jobs  *JobCache
	log   *slog.Logger
	notes Notifier
	drops *metrics.Registry
}

func (h *eventsHandler) decode(m jetstream.Msg) (any, error) {
	e, err := wire.DecodeEventStarted(m.Data())
	if err != nil {
		return nil, err
	}
	if pc := subjectPC(m.Subject(), 4, 3); pc != e.PCID {
		dropForeign(h.log, h.drops, bus.StreamEvents, m.Subject(), pc, e.PCID)
		return nil, nil
	}
	rec := publishTime(m)
	row := store.Started{EventStarted: e, RecordedAt: rec}
	if h.jobs != nil {
		if t, ok := h.jobs.Timeout(e.ManifestID); ok {
			exp := ReapDeadline(t, rec)
			row.ExpiresAt = &exp
		}
	}
	return row, nil
}

func (h *eventsHandler) write(ctx context.Context, items []any) error {
	rows := make([]store.Started, len(items))
	for i, it := range items {
		rows[i] = it.(store.Started)
	}
	inserted, err := h.w.ApplyStarted(ctx, rows)
	if err != nil {
		return err
	}
	for _, s := range inserted {
		h.notes.Publish("started", map[string]string{"result_id": s.ResultID, "exec_id": s.ExecID, "pc_id": s.PCID, "job_id": s.ManifestID})
		h.log.Debug("projected events.started", "result_id", s.ResultID, "exec_id", s.ExecID, "pc_id", s.PCID)
	}
	return nil
}

type resultsHandler struct {
	w     Writer
	jobs  *JobCache
	log   *slog.Logger
	notes Notifier
	drops *metrics.Registry
}

// resultItem is a decoded result and, for a successful inventory job's
// result, what its output does to the table.
type resultItem struct {
	store.Result
	inv *store.InventoryResult
}

// ErrInventoryTooLarge is the inventory_error of an output longer than the
// inline stdout of a result (wire.MaxInlineOutput; beyond it the result
// carries the head and tail only).
// The full output is assembled asynchronously into object store
// result_output and may never be complete, so it is not waited for: the
// job must print less (filter in the script) or the rows stay as they were.
const ErrInventoryTooLarge = "inventory output exceeds the inline limit of a result (256 KiB); rows not changed"

// inventoryOf is what r does to its job's table, nil when nothing: not an
// inventory job, or not a success (a failed, skipped, timed-out or killed
// run says nothing about what is installed).
func (h *resultsHandler) inventoryOf(r wire.ExecResult, seq uint64) *store.InventoryResult {
	if h.jobs == nil || seq == 0 || r.ExitCode != 0 || r.Skipped || r.TimedOut || r.Killed {
		return nil
	}
	spec, ok := h.jobs.Inventory(r.ManifestID)
	if !ok {
		return nil
	}
	finished := r.FinishedAt
	if finished.IsZero() {
		finished = r.StartedAt
	}
	inv := &store.InventoryResult{Table: spec.Table, Columns: spec.Columns, PCID: r.PCID, ResultID: r.ResultID,
		Seq: seq, FinishedAt: finished}
	if r.StdoutRef != "" {
		inv.Err = ErrInventoryTooLarge
		return inv
	}
	rows, err := invtable.Parse(r.Stdout, spec)
	if err != nil {
		inv.Err = err.Error()
		return inv
	}
	inv.Rows = rows
	return inv
}

func (h *resultsHandler) decode(m jetstream.Msg) (any, error) {
	r, err := wire.DecodeExecResult(m.Data())
	if err != nil {
		return nil, err
	}
	if pc := subjectPC(m.Subject(), 3, 1); pc != r.PCID {
		dropForeign(h.log, h.drops, bus.StreamResults, m.Subject(), pc, r.PCID)
		return nil, nil
	}
	return resultItem{Result: store.Result{ExecResult: r, RecordedAt: publishTime(m), Check: h.checkOf(r)},
		inv: h.inventoryOf(r, streamSeq(m))}, nil
}

// checkOf judges r when its job is a check (SPEC §15); nil otherwise.
func (h *resultsHandler) checkOf(r wire.ExecResult) *store.CheckEval {
	if h.jobs == nil || r.ManifestID == "" || r.ManifestID == wire.AdhocJobID {
		return nil
	}
	rule, ok := h.jobs.Check(r.ManifestID)
	if !ok {
		return nil
	}
	return &store.CheckEval{Verdict: rule.Judge(r), Severity: rule.Severity, FlapThreshold: rule.FlapThreshold}
}

func (h *resultsHandler) write(ctx context.Context, items []any) error {
	rows := make([]store.Result, len(items))
	var inv []store.InventoryResult
	for i, it := range items {
		ri := it.(resultItem)
		rows[i] = ri.Result
		if ri.inv != nil {
			inv = append(inv, *ri.inv)
		}
	}
	out, err := h.w.ApplyResults(ctx, rows)
	if err != nil {
		return err
	}
	// After the results (the flag needs the row), in a transaction of its
	// own: ApplyInventory is idempotent (newer-result guard, history keyed
	// by seq), so a crash between the two is repaired by the redelivery.
	if err := h.w.ApplyInventory(ctx, inv); err != nil {
		return err
	}
	for _, c := range out.Changed {
		h.notes.Publish("result", c)
		h.log.Debug("projected result", "result_id", c.ResultID, "exec_id", c.ExecID, "pc_id", c.PCID, "status", c.Status)
	}
	for _, p := range out.Executions {
		h.notes.Publish("execution", p)
	}
	publishTransitions(h.notes, h.log, out.Transitions)
	return nil
}

// publishTransitions tells dashboards about alerts opened or resolved.
func publishTransitions(notes Notifier, log *slog.Logger, ts []store.AlertTransition) {
	for _, t := range ts {
		notes.Publish("alert", map[string]string{"id": t.AlertID, "transition": t.Transition, "kind": t.Kind,
			"check_id": t.CheckID, "pc_id": t.PCID, "severity": t.Severity})
		log.Info("alert "+t.Transition, "alert_id", t.AlertID, "kind", t.Kind, "check_id", t.CheckID, "pc_id", t.PCID, "severity", t.Severity)
	}
}

// alertsHandler projects stream ALERTS (agent-offline alerts and acks).
// Only the backend publishes there (agents and the CLI may not), so the
// subject needs no pc check beyond the payload's own validation.
type alertsHandler struct {
	w     Writer
	log   *slog.Logger
	notes Notifier
}

func (h *alertsHandler) decode(m jetstream.Msg) (any, error) {
	return wire.DecodeAlertEvent(m.Data())
}

func (h *alertsHandler) write(ctx context.Context, items []any) error {
	evs := make([]wire.AlertEvent, len(items))
	for i, it := range items {
		evs[i] = it.(wire.AlertEvent)
	}
	out, err := h.w.ApplyAlertEvents(ctx, evs)
	if err != nil {
		return err
	}
	publishTransitions(h.notes, h.log, out.Transitions)
	for _, id := range out.Acked {
		h.notes.Publish("alert", map[string]string{"id": id, "transition": "acked"})
	}
	return nil
}

// subjectPC is the pc token of a subject with n tokens, at index i:
// results.<pc>.<request_id> (3, 1), events.started.<exec_id>.<pc> (4, 3).
// A subject of any other shape yields "", which no valid pc_id matches.
func subjectPC(subject string, n, i int) string {
	toks := strings.Split(subject, ".")
	if len(toks) != n {
		return ""
	}
	return toks[i]
}

// dropForeign logs and counts a message whose payload pc_id is not the pc
// its subject names (SPEC §12): with per-agent credentials the broker
// lets a PC publish on its own subjects only, so such a payload claims to
// speak for another PC. It is acknowledged and never projected.
func dropForeign(log *slog.Logger, m *metrics.Registry, stream, subject, subjectPC, payloadPC string) {
	log.Warn("dropping a message whose pc_id is not its subject's pc", "stream", stream, "subject", subject,
		"subject_pc", subjectPC, "pc_id", payloadPC)
	if m != nil {
		m.Add("kanade_projector_foreign_pc_total", "Messages dropped because their payload pc_id differs from their subject's pc.",
			1, "stream", stream)
	}
}

type auditHandler struct {
	w   Writer
	log *slog.Logger
}

func (h *auditHandler) decode(m jetstream.Msg) (any, error) {
	a, err := wire.DecodeAuditEvent(m.Data())
	if err != nil {
		return nil, err
	}
	seq := streamSeq(m)
	if seq == 0 {
		return nil, nil // no sequence, no idempotent key: skip (never happens on a stream)
	}
	return store.Audit{AuditEvent: a, Seq: seq}, nil
}

func (h *auditHandler) write(ctx context.Context, items []any) error {
	rows := make([]store.Audit, len(items))
	for i, it := range items {
		rows[i] = it.(store.Audit)
	}
	return h.w.InsertAudit(ctx, rows)
}

// execsHandler rebuilds executions from EXECS (SPEC §11). The subject's
// exec_id must be the payload's: anything else is refused as poison.
type execsHandler struct {
	w     Writer
	log   *slog.Logger
	notes Notifier
}

func (h *execsHandler) decode(m jetstream.Msg) (any, error) {
	e, err := wire.DecodeExecRequested(m.Data())
	if err != nil {
		return nil, err
	}
	if m.Subject() != bus.ExecRequested(e.ExecID) {
		return nil, fmt.Errorf("%w: %w", wire.ErrInvalid, &wire.FieldError{Field: "exec_id",
			Msg: fmt.Sprintf("%.40q is not the exec_id of subject %.80q", e.ExecID, m.Subject())})
	}
	return e, nil
}

func (h *execsHandler) write(ctx context.Context, items []any) error {
	evs := make([]wire.ExecRequested, len(items))
	for i, it := range items {
		evs[i] = it.(wire.ExecRequested)
	}
	changed, err := h.w.ApplyExecEvents(ctx, evs)
	if err != nil {
		return err
	}
	for _, p := range changed {
		h.notes.Publish("execution", p)
		h.log.Debug("projected execution", "exec_id", p.ExecID, "status", p.Status, "target_count", p.TargetCount)
	}
	return nil
}
