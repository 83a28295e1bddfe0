package projector

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Writer is what the JetStream projectors need from the store.
type Writer interface {
	ApplyStarted(ctx context.Context, batch []store.Started) ([]store.Started, error)
	ApplyResults(ctx context.Context, batch []store.Result) (store.ResultOutcome, error)
	InsertAudit(ctx context.Context, batch []store.Audit) error
}

func poison(log *slog.Logger, consumer string, m jetstream.Msg, err error) {
	log.Warn("undecodable message acknowledged and dropped", "consumer", consumer, "subject", m.Subject(),
		"seq", streamSeq(m), "error", err)
}

type eventsHandler struct {
	w     Writer
	jobs  *JobCache
	log   *slog.Logger
	notes Notifier
}

func (h *eventsHandler) apply(ctx context.Context, msgs []jetstream.Msg) error {
	rows := make([]store.Started, 0, len(msgs))
	for _, m := range msgs {
		e, err := wire.DecodeEventStarted(m.Data())
		if err != nil {
			poison(h.log, "events", m, err)
			continue
		}
		rec := publishTime(m)
		row := store.Started{EventStarted: e, RecordedAt: rec}
		if t, ok := h.jobs.Timeout(e.ManifestID); ok {
			exp := ReapDeadline(t, rec)
			row.ExpiresAt = &exp
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil
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
	log   *slog.Logger
	notes Notifier
}

func (h *resultsHandler) apply(ctx context.Context, msgs []jetstream.Msg) error {
	rows := make([]store.Result, 0, len(msgs))
	for _, m := range msgs {
		r, err := wire.DecodeExecResult(m.Data())
		if err != nil {
			poison(h.log, "results", m, err)
			continue
		}
		rows = append(rows, store.Result{ExecResult: r, RecordedAt: publishTime(m)})
	}
	if len(rows) == 0 {
		return nil
	}
	out, err := h.w.ApplyResults(ctx, rows)
	if err != nil {
		return err
	}
	for _, c := range out.Changed {
		h.notes.Publish("result", c)
	}
	for _, p := range out.Executions {
		h.notes.Publish("execution", p)
	}
	return nil
}

type auditHandler struct {
	w   Writer
	log *slog.Logger
}

func (h *auditHandler) apply(ctx context.Context, msgs []jetstream.Msg) error {
	rows := make([]store.Audit, 0, len(msgs))
	for _, m := range msgs {
		a, err := wire.DecodeAuditEvent(m.Data())
		if err != nil {
			poison(h.log, "audit", m, err)
			continue
		}
		seq := streamSeq(m)
		if seq == 0 {
			continue
		}
		rows = append(rows, store.Audit{AuditEvent: a, Seq: seq})
	}
	if len(rows) == 0 {
		return nil
	}
	return h.w.InsertAudit(ctx, rows)
}
