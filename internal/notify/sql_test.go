package notify_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/kanade-fleet/kanade/internal/notify"
)

// alertTransitionsDDL is the contract of table alert_transitions (created
// by migration 00015 of the alerts work; here for the test only).
const alertTransitionsDDL = `CREATE TABLE alert_transitions (
    key        TEXT PRIMARY KEY,
    alert_id   TEXT NOT NULL,
    transition TEXT NOT NULL,
    kind       TEXT NOT NULL,
    check_id   TEXT NOT NULL DEFAULT '',
    pc_id      TEXT NOT NULL,
    severity   TEXT NOT NULL,
    at         TEXT NOT NULL
);
CREATE INDEX alert_transitions_at ON alert_transitions (at, key);`

// sqlSource is the query the alerts store's AlertTransitionsSince runs.
type sqlSource struct{ db *sql.DB }

func (s sqlSource) AlertTransitionsSince(ctx context.Context, afterAt, afterKey string, limit int) ([]notify.AlertTransition, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, alert_id, transition, kind, check_id, pc_id, severity, at
		FROM alert_transitions WHERE at >= ? AND (at > ? OR key > ?) ORDER BY at, key LIMIT ?`, afterAt, afterAt, afterKey, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []notify.AlertTransition
	for rows.Next() {
		var t notify.AlertTransition
		if err := rows.Scan(&t.Key, &t.AlertID, &t.Transition, &t.Kind, &t.CheckID, &t.PCID, &t.Severity, &t.At); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// TestSQLTransitionsWipeAndReplay reads the contract's table in a real
// SQLite file; wiping and rebuilding it identically notifies nothing again.
func TestSQLTransitionsWipeAndReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "alerts.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Exec(alertTransitionsDDL); err != nil {
		t.Fatal(err)
	}
	at := base()
	insert := func() {
		t.Helper()
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}()
		for i := range 1500 { // more than one page of the dispatcher
			tr := tr("disk-usage", fmt.Sprintf("pc-%04d", i), notify.TransitionOpened, "critical", at.Add(time.Duration(i)*time.Millisecond))
			if _, err := tx.Exec(`INSERT INTO alert_transitions VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				tr.Key, tr.AlertID, tr.Transition, tr.Kind, tr.CheckID, tr.PCID, tr.Severity, tr.At); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tx.Exec(`INSERT INTO alert_transitions VALUES ('a-off:opened', 'a-off', 'opened', 'agent-offline', '', 'pc-x', 'warning', ?)`,
			ts(at.Add(2*time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	insert()
	rcv := newReceiver(t, "k")
	e.addChannel(webhook("ops", rcv.URL, "k"))
	d := e.dispatcher(nil)
	d.Source = sqlSource{db}
	if n := e.tick(d); n != 2 {
		t.Fatalf("queued %d, want 2 (the check burst and the offline PC)", n)
	}
	e.sender(e.js, nil)
	eventually(t, 10*time.Second, "2 deliveries", func() bool { return len(rcv.got()) == 2 && e.settled() })
	rcv.check(t)
	for _, b := range rcv.got() {
		switch b.Kind {
		case notify.KindCheck:
			if b.Count != 1500 {
				t.Errorf("check burst count %d", b.Count)
			}
		case notify.KindAgentOffline:
			if b.Summary != "[kanade] WARNING: 1 PC offline" || b.PCIDs[0] != "pc-x" {
				t.Errorf("offline body %+v", b)
			}
		}
	}
	// Wipe and replay: the same rows again.
	if _, err := db.Exec(`DELETE FROM alert_transitions`); err != nil {
		t.Fatal(err)
	}
	insert()
	d2 := e.dispatcher(nil)
	d2.Source = sqlSource{db}
	if n := e.tick(d2); n != 0 {
		t.Fatalf("a rebuilt table queued %d notifications", n)
	}
	if len(rcv.got()) != 2 {
		t.Fatalf("receiver got %d", len(rcv.got()))
	}
}
