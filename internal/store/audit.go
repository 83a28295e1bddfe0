package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/cursor"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// The audit_log table, projected from the AUDIT stream.

// Audit is one audit event with its stream sequence.
type Audit struct {
	wire.AuditEvent
	Seq uint64
}

// InsertAudit projects audit events; the stream sequence makes it idempotent.
func (db *DB) InsertAudit(ctx context.Context, batch []Audit) error {
	return db.d.insertAudit(ctx, db, batch)
}

// insertAuditRows is InsertAudit one prepared statement per row.
func (db *DB) insertAuditRows(ctx context.Context, batch []Audit) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, db.q(`INSERT INTO audit_log
		(stream_seq, actor, action, target, payload, occurred_at, source_ip)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (stream_seq) DO NOTHING`))
	if err != nil {
		return fmt.Errorf("prepare audit insert: %w", err)
	}
	defer st.Close()
	for _, a := range batch {
		payload := string(a.Payload)
		if payload == "" || payload == "null" {
			payload = "{}"
		}
		if _, err := st.ExecContext(ctx, int64(a.Seq), a.Actor, a.Action, a.Target, cleanText(payload),
			TS(a.OccurredAt), a.SourceIP); err != nil {
			return fmt.Errorf("insert audit seq=%d: %w", a.Seq, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit audit: %w", err)
	}
	return nil
}

// insertAuditSets projects audit events in one statement.
func (db *DB) insertAuditSets(ctx context.Context, batch []Audit) error {
	n := len(batch)
	seq := make([]int64, n)
	actor, action, target, payload, at, ip := make(pgText, n), make(pgText, n), make(pgText, n), make(pgText, n),
		make(pgText, n), make(pgText, n)
	for i, a := range batch {
		p := string(a.Payload)
		if p == "" || p == "null" {
			p = "{}"
		}
		seq[i], actor[i], action[i], target[i], payload[i], at[i], ip[i] = int64(a.Seq), a.Actor, a.Action, a.Target,
			cleanText(p), TS(a.OccurredAt), a.SourceIP
	}
	_, err := db.write.ExecContext(ctx, `INSERT INTO audit_log
		(stream_seq, actor, action, target, payload, occurred_at, source_ip)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
		ON CONFLICT (stream_seq) DO NOTHING`, seq, actor, action, target, payload, at, ip)
	if err != nil {
		return fmt.Errorf("insert %d audit events: %w", n, err)
	}
	return nil
}

// AuditFilter selects audit rows.
type AuditFilter struct {
	Actor, Action string
	Since         time.Time
}

// auditOrder is the order of ListAudit, newest first; the stream
// sequence breaks ties.
var auditOrder = []sortCol{{col: "occurred_at", desc: true}, {col: "stream_seq", desc: true, num: true}}

func auditKey(a apiv1.AuditEntry) cursor.Key {
	return cursor.Key{TS(a.OccurredAt), strconv.FormatInt(a.ID, 10)}
}

// auditPageSQL is the page query of ListAudit and its filter.
func auditPageSQL(f AuditFilter, p Page) (w where, list string, args []any, err error) {
	if f.Actor != "" {
		w.add("actor = ?", f.Actor)
	}
	if f.Action != "" {
		w.add("action = ?", f.Action)
	}
	if !f.Since.IsZero() {
		w.add("occurred_at >= ?", TS(f.Since))
	}
	seek := where{conds: slices.Clone(w.conds), args: slices.Clone(w.args)}
	if p.After != nil {
		if err := seek.seek(p.After, auditOrder...); err != nil {
			return w, "", nil, err
		}
	}
	limit, offset := pageArgs(p)
	return w, "SELECT stream_seq, actor, action, target, payload, occurred_at, source_ip FROM audit_log" + seek.sql() +
		orderBy(auditOrder...) + " LIMIT ? OFFSET ?", append(seek.args, limit, offset), nil
}

// ListAudit returns one page of audit rows, newest first, and the total.
func (db *DB) ListAudit(ctx context.Context, f AuditFilter, p Page) ([]apiv1.AuditEntry, int, error) {
	l, err := db.PageAudit(ctx, f, p)
	return l.Rows, l.Total, err
}

// PageAudit returns one page of audit rows, newest first, with its total
// (bounded: the log only grows) and the next page's key.
func (db *DB) PageAudit(ctx context.Context, f AuditFilter, p Page) (Listing[apiv1.AuditEntry], error) {
	l := Listing[apiv1.AuditEntry]{Rows: []apiv1.AuditEntry{}}
	w, listQ, listArgs, err := auditPageSQL(f, p)
	if err != nil {
		return l, err
	}
	rows, err := db.read.QueryContext(ctx, db.q(listQ), listArgs...)
	if err != nil {
		return l, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a apiv1.AuditEntry
		var payload, at string
		if err := rows.Scan(&a.ID, &a.Actor, &a.Action, &a.Target, &payload, &at, &a.SourceIP); err != nil {
			return l, fmt.Errorf("scan audit: %w", err)
		}
		a.Payload = json.RawMessage(payload)
		if !json.Valid(a.Payload) {
			a.Payload = json.RawMessage("{}")
		}
		a.OccurredAt = ParseTS(at)
		l.Rows = append(l.Rows, a)
	}
	if err := rows.Err(); err != nil {
		return l, fmt.Errorf("list audit: %w", err)
	}
	if n, ok := db.endKnown(p, len(l.Rows)); ok {
		l.Total = n
	} else if l.Total, l.Estimated, err = db.count(ctx, "audit_log", w, countBounded); err != nil {
		return l, err
	}
	trim(&l, p.Limit, auditKey)
	return l, nil
}
