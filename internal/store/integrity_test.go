package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/store"
)

// fill writes enough rows for a page in the middle of the file to hold
// projection data (audit), and one account.
func fill(t *testing.T, dir string) {
	t.Helper()
	db, err := store.Open(context.Background(), "", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	store.TestExec(t, db, `INSERT INTO users (username, password_hash, role, created_at, updated_at)
		VALUES ('admin', 'x', 'admin', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')`)
	if err := db.PutSetting(context.Background(), "mfa_required", "true", "admin", time.Now()); err != nil {
		t.Fatal(err)
	}
	store.TestExec(t, db, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000)
		INSERT INTO audit_log (stream_seq, actor, action, target, payload, occurred_at)
		SELECT x, 'alice', 'job.create', 'job-' || x, '{"pad":"' || hex(randomblob(64)) || '"}', '2026-01-01T00:00:00.000000Z' FROM c`)
	if err := db.Check(context.Background()); err != nil {
		t.Fatalf("sound database fails its check: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedDatabaseRefused(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir)
	store.TestDamageFile(t, filepath.Join(dir, "backend.db"))
	_, _, err := store.OpenChecked(context.Background(), "", dir, store.CorruptRefuse, nil)
	if err == nil || !strings.Contains(err.Error(), "refusing to start") || !store.IsCorrupt(err) {
		t.Fatalf("damaged database with refuse: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "backend.db")); err != nil {
		t.Fatalf("refusing moved the file: %v", err)
	}
}

func TestDamagedDatabaseMovedAsideAndSalvaged(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir)
	store.TestDamageFile(t, filepath.Join(dir, "backend.db"))
	db, out, err := store.OpenChecked(context.Background(), "", dir, store.CorruptRebuild, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if out.MovedAside == "" || !strings.HasPrefix(filepath.Base(out.MovedAside), "backend.db.corrupt-") || out.Problem == "" {
		t.Fatalf("outcome: %+v", out)
	}
	if _, err := os.Stat(out.MovedAside); err != nil {
		t.Fatalf("damaged file not kept: %v", err)
	}
	if err := db.Check(context.Background()); err != nil {
		t.Fatalf("new database: %v", err)
	}
	var audit, users int
	if err := store.TestQueryRow(t, db, "SELECT COUNT(*) FROM audit_log").Scan(&audit); err != nil || audit != 0 {
		t.Fatalf("projection rows in the new database: %d %v (they replay from the streams)", audit, err)
	}
	if err := store.TestQueryRow(t, db, "SELECT COUNT(*) FROM users").Scan(&users); err != nil || users != 1 || out.Salvaged["users"] != 1 {
		t.Fatalf("account not salvaged: %d %v %v", users, out.Salvaged, err)
	}
	// The MFA policy is SQL-only too: a damaged file must not turn it off.
	if v, err := db.GetSetting(context.Background(), "mfa_required"); err != nil || v != "true" || out.Salvaged["settings"] != 1 {
		t.Fatalf("settings not salvaged: %q %v %v", v, out.Salvaged, err)
	}
	// A sound database is left alone.
	db.Close()
	db2, out2, err := store.OpenChecked(context.Background(), "", dir, store.CorruptRefuse, nil)
	if err != nil || out2.MovedAside != "" {
		t.Fatalf("sound database: %+v %v", out2, err)
	}
	db2.Close()
}

func TestIsCorrupt(t *testing.T) {
	if store.IsCorrupt(nil) || store.IsCorrupt(errors.New("connection refused")) {
		t.Fatal("not corruption")
	}
	if !store.IsCorrupt(errors.New("sql: database disk image is malformed (11)")) {
		t.Fatal("SQLite's message")
	}
	if _, err := store.ParseCorruptPolicy("explode"); err == nil {
		t.Fatal("bad policy accepted")
	}
}
