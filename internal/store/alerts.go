package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/cursor"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// The alerts, alert_acks and alert_transitions tables (SPEC §15). Check
// alerts are opened and resolved by ApplyResults (checks.go); agent-offline
// alerts and acks by ApplyAlertEvents from stream ALERTS. Every write is
// keyed (alert id, transition key, ack per alert), so redelivery and replay
// write nothing twice.

// AlertTransition is one row of the alert_transitions outbox: an alert
// opened or resolved, written in the transaction that did it. Notification
// delivery pages through them with AlertTransitionsSince.
type AlertTransition struct {
	Key        string // "<alert_id>:opened" | "<alert_id>:resolved"
	AlertID    string
	Transition string // opened | resolved
	Kind       string // check | agent-offline
	CheckID    string // "" for agent-offline
	PCID       string
	Severity   string
	At         time.Time
}

// Alert transitions.
const (
	TransitionOpened   = "opened"
	TransitionResolved = "resolved"
)

// OfflineSeverity is the severity of agent-offline alerts.
const OfflineSeverity = "warning"

// OfflineAlertID is the id of the alert for an agent silent since
// lastHeartbeat: one id per silence, so every replica (and a replay)
// names the same alert.
func OfflineAlertID(pc string, lastHeartbeat time.Time) string {
	return "off-" + pc + "-" + strconv.FormatInt(lastHeartbeat.UnixMilli(), 10)
}

type openAlert struct {
	ID, Kind, CheckID, PCID, Severity string
	At                                time.Time
}

// openAlert inserts an open alert (with its ack, if one was projected
// before it) and its opened transition. It returns nil when the alert
// exists already or another alert is open for the same (kind, check, PC).
func (db *DB) openAlert(ctx context.Context, tx *sql.Tx, a openAlert) (*AlertTransition, error) {
	res, err := tx.ExecContext(ctx, db.q(`INSERT INTO alerts (id, kind, check_id, pc_id, severity, opened_at, acked_by, acked_at)
		SELECT ?, ?, ?, ?, ?, ?, (SELECT acked_by FROM alert_acks WHERE alert_id = ?), (SELECT acked_at FROM alert_acks WHERE alert_id = ?)
		ON CONFLICT DO NOTHING`), a.ID, a.Kind, a.CheckID, a.PCID, a.Severity, TS(a.At), a.ID, a.ID)
	if err != nil {
		return nil, fmt.Errorf("open alert %s: %w", a.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, nil
	}
	t := AlertTransition{Key: a.ID + ":" + TransitionOpened, AlertID: a.ID, Transition: TransitionOpened, Kind: a.Kind,
		CheckID: a.CheckID, PCID: a.PCID, Severity: a.Severity, At: a.At.UTC()}
	return &t, db.insertTransition(ctx, tx, t)
}

// resolveAlerts resolves the open alerts matching cond at at and writes
// their resolved transitions.
func (db *DB) resolveAlerts(ctx context.Context, tx *sql.Tx, cond string, args []any, at time.Time) ([]AlertTransition, error) {
	rows, err := tx.QueryContext(ctx, db.q(`SELECT id, kind, check_id, pc_id, severity FROM alerts WHERE resolved_at IS NULL AND `+cond), args...)
	if err != nil {
		return nil, fmt.Errorf("find open alerts: %w", err)
	}
	var out []AlertTransition
	for rows.Next() {
		t := AlertTransition{Transition: TransitionResolved, At: at.UTC()}
		if err := rows.Scan(&t.AlertID, &t.Kind, &t.CheckID, &t.PCID, &t.Severity); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan open alert: %w", err)
		}
		t.Key = t.AlertID + ":" + TransitionResolved
		out = append(out, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find open alerts: %w", err)
	}
	for _, t := range out {
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE alerts SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL`), TS(at), t.AlertID); err != nil {
			return nil, fmt.Errorf("resolve alert %s: %w", t.AlertID, err)
		}
		if err := db.insertTransition(ctx, tx, t); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (db *DB) insertTransition(ctx context.Context, tx *sql.Tx, t AlertTransition) error {
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO alert_transitions (key, alert_id, transition, kind, check_id, pc_id, severity, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`),
		t.Key, t.AlertID, t.Transition, t.Kind, t.CheckID, t.PCID, t.Severity, TS(t.At)); err != nil {
		return fmt.Errorf("insert alert transition %s: %w", t.Key, err)
	}
	return nil
}

// AlertOutcome is what a batch of alert events changed.
type AlertOutcome struct {
	Transitions []AlertTransition
	Acked       []string // alert ids whose ack was recorded now
}

// ApplyAlertEvents projects a batch of stream ALERTS messages in one
// transaction: agent-offline opens and resolves, and acks (the first ack
// of an alert wins; an ack of an alert not projected yet is kept in
// alert_acks and picked up when the alert is inserted).
func (db *DB) ApplyAlertEvents(ctx context.Context, evs []wire.AlertEvent) (AlertOutcome, error) {
	var out AlertOutcome
	if len(evs) == 0 {
		return out, nil
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return out, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	for _, e := range evs {
		switch e.Kind {
		case wire.AlertOfflineOpened:
			t, err := db.openAlert(ctx, tx, openAlert{ID: e.AlertID, Kind: apiv1.AlertKindOffline, PCID: e.PCID,
				Severity: OfflineSeverity, At: e.At})
			if err != nil {
				return out, err
			}
			if t != nil {
				out.Transitions = append(out.Transitions, *t)
			}
		case wire.AlertOfflineResolved:
			ts, err := db.resolveAlerts(ctx, tx, `id = ? AND kind = ?`, []any{e.AlertID, apiv1.AlertKindOffline}, e.At)
			if err != nil {
				return out, err
			}
			out.Transitions = append(out.Transitions, ts...)
		case wire.AlertPCForgotten:
			ts, err := db.resolveAlerts(ctx, tx, `pc_id = ?`, []any{e.PCID}, e.At)
			if err != nil {
				return out, err
			}
			out.Transitions = append(out.Transitions, ts...)
		case wire.AlertAck:
			res, err := tx.ExecContext(ctx, db.q(`INSERT INTO alert_acks (alert_id, acked_by, acked_at) VALUES (?, ?, ?)
				ON CONFLICT (alert_id) DO NOTHING`), e.AlertID, e.Actor, TS(e.At))
			if err != nil {
				return out, fmt.Errorf("record ack of %s: %w", e.AlertID, err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				out.Acked = append(out.Acked, e.AlertID)
			}
			// From alert_acks, not from e: the first ack wins whatever order
			// the batch (or a replay) brings them in.
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE alerts SET acked_by = k.acked_by, acked_at = k.acked_at
				FROM alert_acks k WHERE k.alert_id = alerts.id AND alerts.id = ? AND alerts.acked_by IS NULL`), e.AlertID); err != nil {
				return out, fmt.Errorf("ack alert %s: %w", e.AlertID, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return out, fmt.Errorf("commit alert events: %w", err)
	}
	return out, nil
}

// AlertTransitionsSince returns up to limit transitions after (afterAt,
// afterKey) in (at, key) order; ("", "") starts at the beginning. afterAt
// is an RFC 3339 UTC timestamp as the table stores it (store.TS of the
// last transition's At).
func (db *DB) AlertTransitionsSince(ctx context.Context, afterAt string, afterKey string, limit int) ([]AlertTransition, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT key, alert_id, transition, kind, check_id, pc_id, severity, at
		FROM alert_transitions WHERE at >= ? AND (at > ? OR key > ?) ORDER BY at, key LIMIT ?`), afterAt, afterAt, afterKey, limit)
	if err != nil {
		return nil, fmt.Errorf("list alert transitions: %w", err)
	}
	defer rows.Close()
	out := []AlertTransition{}
	for rows.Next() {
		var t AlertTransition
		var at string
		if err := rows.Scan(&t.Key, &t.AlertID, &t.Transition, &t.Kind, &t.CheckID, &t.PCID, &t.Severity, &at); err != nil {
			return nil, fmt.Errorf("scan alert transition: %w", err)
		}
		t.At = ParseTS(at)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list alert transitions: %w", err)
	}
	return out, nil
}

// AlertFilter selects alerts.
type AlertFilter struct {
	State, Kind, CheckID, PCID string
	Scope                      []string // a scoped caller's groups (scope.go); nil = all
}

// alertOrder is the order of ListAlerts: newest first, id breaking ties.
var alertOrder = []sortCol{{col: "opened_at", desc: true}, {col: "id", desc: true}}

const alertCols = `id, kind, check_id, pc_id, severity, opened_at, resolved_at, acked_by, acked_at`

func alertFilter(f AlertFilter) where {
	var w where
	switch f.State {
	case apiv1.AlertOpen:
		w.add("resolved_at IS NULL")
	case apiv1.AlertResolved:
		w.add("resolved_at IS NOT NULL")
	}
	if f.Kind != "" {
		w.add("kind = ?", f.Kind)
	}
	if f.CheckID != "" {
		w.add("check_id = ?", f.CheckID)
	}
	if f.PCID != "" {
		w.add("pc_id = ?", f.PCID)
	}
	w.addScope("pc_id", f.Scope)
	return w
}

// alertQueries builds the count and page queries of ListAlerts (shared
// with the query-plan tests).
func alertQueries(f AlertFilter, p Page) (count string, countArgs []any, list string, listArgs []any, err error) {
	w := alertFilter(f)
	count, countArgs = countSQL("alerts", w, countBounded), slices.Clone(w.args)
	if p.After != nil {
		if err := w.seek(p.After, alertOrder...); err != nil {
			return "", nil, "", nil, err
		}
	}
	limit, offset := pageArgs(p)
	return count, countArgs, "SELECT " + alertCols + " FROM alerts" + w.sql() + orderBy(alertOrder...) + " LIMIT ? OFFSET ?",
		append(slices.Clone(w.args), limit, offset), nil
}

func scanAlert(s scanner) (apiv1.Alert, error) {
	var a apiv1.Alert
	var opened string
	var resolved, ackedBy, ackedAt sql.NullString
	if err := s.Scan(&a.ID, &a.Kind, &a.CheckID, &a.PCID, &a.Severity, &opened, &resolved, &ackedBy, &ackedAt); err != nil {
		return a, err
	}
	a.OpenedAt, a.ResolvedAt, a.AckedAt = ParseTS(opened), nullTime(resolved), nullTime(ackedAt)
	if ackedBy.Valid {
		a.AckedBy = &ackedBy.String
	}
	a.State = apiv1.AlertOpen
	if a.ResolvedAt != nil {
		a.State = apiv1.AlertResolved
	}
	return a, nil
}

// PageAlerts returns one page of alerts, newest first.
func (db *DB) PageAlerts(ctx context.Context, f AlertFilter, p Page) (Listing[apiv1.Alert], error) {
	l := Listing[apiv1.Alert]{Rows: []apiv1.Alert{}}
	_, _, q, args, err := alertQueries(f, p)
	if err != nil {
		return l, err
	}
	rows, err := db.read.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return l, fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return l, fmt.Errorf("scan alert: %w", err)
		}
		l.Rows = append(l.Rows, a)
	}
	if err := rows.Err(); err != nil {
		return l, fmt.Errorf("list alerts: %w", err)
	}
	if n, ok := db.endKnown(p, len(l.Rows)); ok {
		l.Total = n
	} else if l.Total, l.Estimated, err = db.count(ctx, "alerts", alertFilter(f), countBounded); err != nil {
		return l, err
	}
	trim(&l, p.Limit, func(a apiv1.Alert) cursor.Key { return cursor.Key{TS(a.OpenedAt), a.ID} })
	return l, nil
}

// GetAlert returns one alert.
func (db *DB) GetAlert(ctx context.Context, id string) (apiv1.Alert, bool, error) {
	a, err := scanAlert(db.read.QueryRowContext(ctx, db.q("SELECT "+alertCols+" FROM alerts WHERE id = ?"), id))
	if err == sql.ErrNoRows {
		return a, false, nil
	}
	if err != nil {
		return a, false, fmt.Errorf("get alert %s: %w", id, err)
	}
	return a, true, nil
}

// SilentAgent is an agent whose last heartbeat is older than a cutoff.
type SilentAgent struct {
	PCID          string
	LastHeartbeat time.Time
}

// SilentWithoutAlert returns the agents silent since before cutoff that
// have no open agent-offline alert (at most limit).
func (db *DB) SilentWithoutAlert(ctx context.Context, cutoff time.Time, limit int) ([]SilentAgent, error) {
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT a.pc_id, a.last_heartbeat FROM agents a WHERE a.last_heartbeat < ?
		AND NOT EXISTS (SELECT 1 FROM alerts al WHERE al.kind = ? AND al.check_id = '' AND al.pc_id = a.pc_id AND al.resolved_at IS NULL)
		ORDER BY a.last_heartbeat LIMIT ?`), TS(cutoff), apiv1.AlertKindOffline, limit)
	if err != nil {
		return nil, fmt.Errorf("list silent agents: %w", err)
	}
	defer rows.Close()
	var out []SilentAgent
	for rows.Next() {
		var s SilentAgent
		var last string
		if err := rows.Scan(&s.PCID, &last); err != nil {
			return nil, fmt.Errorf("scan silent agent: %w", err)
		}
		s.LastHeartbeat = ParseTS(last)
		out = append(out, s)
	}
	return out, rows.Err()
}

// BackOnline returns the open agent-offline alerts (id, pc) whose agent
// has beaten since cutoff (its silence is shorter than the alert delay
// again). An agent missing from agents (deleted, or not seen yet after a
// wipe) keeps its alert open: nothing says it is back.
func (db *DB) BackOnline(ctx context.Context, cutoff time.Time) (map[string]string, error) {
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT al.id, al.pc_id FROM alerts al JOIN agents a ON a.pc_id = al.pc_id
		WHERE al.kind = ? AND al.check_id = '' AND al.resolved_at IS NULL AND a.last_heartbeat >= ?`), apiv1.AlertKindOffline, TS(cutoff))
	if err != nil {
		return nil, fmt.Errorf("list agents back online: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, pc string
		if err := rows.Scan(&id, &pc); err != nil {
			return nil, fmt.Errorf("scan agent back online: %w", err)
		}
		out[id] = pc
	}
	return out, rows.Err()
}
