package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/cursor"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// The notification_deliveries table, projected from stream NOTIFY_LOG.

// NotifyAttempt is one delivery attempt with its stream sequence.
type NotifyAttempt struct {
	wire.NotifyAttempt
	Seq uint64
}

// InsertNotifyAttempts projects attempts; the stream sequence makes it
// idempotent.
func (db *DB) InsertNotifyAttempts(ctx context.Context, batch []NotifyAttempt) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, db.q(`INSERT INTO notification_deliveries
		(stream_seq, delivery_id, channel_id, channel_name, channel_type, event, check_id, severity, count,
		 attempt, status, status_code, error, replica, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (stream_seq) DO NOTHING`))
	if err != nil {
		return fmt.Errorf("prepare notification insert: %w", err)
	}
	defer st.Close()
	for _, a := range batch {
		if _, err := st.ExecContext(ctx, int64(a.Seq), a.DeliveryID, a.ChannelID, cleanText(a.ChannelName), a.ChannelType,
			a.Event, a.CheckID, a.Severity, a.Count, a.Attempt, a.Status, a.StatusCode, cleanText(a.Error), a.Replica,
			TS(a.At)); err != nil {
			return fmt.Errorf("insert notification attempt seq=%d: %w", a.Seq, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit notification attempts: %w", err)
	}
	return nil
}

// NotificationFilter selects delivery attempts.
type NotificationFilter struct {
	Channel, Status string
}

var notificationOrder = []sortCol{{col: "at", desc: true}, {col: "stream_seq", desc: true, num: true}}

func notificationKey(n apiv1.NotificationDelivery) cursor.Key {
	return cursor.Key{TS(n.At), strconv.FormatInt(n.ID, 10)}
}

// PageNotifications returns one page of delivery attempts, newest first.
func (db *DB) PageNotifications(ctx context.Context, f NotificationFilter, p Page) (Listing[apiv1.NotificationDelivery], error) {
	l := Listing[apiv1.NotificationDelivery]{Rows: []apiv1.NotificationDelivery{}}
	var w where
	if f.Channel != "" {
		w.add("channel_id = ?", f.Channel)
	}
	if f.Status != "" {
		w.add("status = ?", f.Status)
	}
	seek := where{conds: slices.Clone(w.conds), args: slices.Clone(w.args)}
	if p.After != nil {
		if err := seek.seek(p.After, notificationOrder...); err != nil {
			return l, err
		}
	}
	limit, offset := pageArgs(p)
	q := `SELECT stream_seq, delivery_id, channel_id, channel_name, channel_type, event, check_id, severity, count,
		attempt, status, status_code, error, replica, at FROM notification_deliveries` + seek.sql() +
		orderBy(notificationOrder...) + " LIMIT ? OFFSET ?"
	rows, err := db.read.QueryContext(ctx, db.q(q), append(seek.args, limit, offset)...)
	if err != nil {
		return l, fmt.Errorf("list notifications: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var n apiv1.NotificationDelivery
		var at string
		if err := rows.Scan(&n.ID, &n.DeliveryID, &n.ChannelID, &n.ChannelName, &n.ChannelType, &n.Event, &n.CheckID,
			&n.Severity, &n.Count, &n.Attempt, &n.Status, &n.StatusCode, &n.Error, &n.Replica, &at); err != nil {
			return l, fmt.Errorf("scan notification: %w", err)
		}
		n.At = ParseTS(at)
		l.Rows = append(l.Rows, n)
	}
	if err := rows.Err(); err != nil {
		return l, fmt.Errorf("list notifications: %w", err)
	}
	if n, ok := db.endKnown(p, len(l.Rows)); ok {
		l.Total = n
	} else if l.Total, l.Estimated, err = db.count(ctx, "notification_deliveries", w, countBounded); err != nil {
		return l, err
	}
	trim(&l, p.Limit, notificationKey)
	return l, nil
}
