package server_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/backup"
	"github.com/kanade-fleet/kanade/internal/dirlock"
	"github.com/kanade-fleet/kanade/internal/scheduler"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/testenv/testdb"
)

// TestBackupRestore (SPEC §17, issue 20): a backend with agents, jobs,
// executions with results, a schedule, an account, inventory and audit is
// backed up while it serves; it stops, its data dir is deleted, the backup
// is restored and a new backend on it answers every list endpoint as
// before. A running backend's data dir, a non-empty one and a damaged
// backup are refused.
func TestBackupRestore(t *testing.T) {
	if testdb.PostgresSelected() {
		t.Skip("PostgreSQL: the SQL side of a backup is pg_dump's (docs/operations.md)")
	}
	if backup.BrokerKeysFile != server.BrokerKeysFile {
		t.Fatalf("backup.BrokerKeysFile %q != server.BrokerKeysFile %q", backup.BrokerKeysFile, server.BrokerKeysFile)
	}
	dir := filepath.Join(t.TempDir(), "data")
	natsAddr := testenv.FreeAddr(t)
	cfg := func(c *server.Config) {
		c.DataDir, c.NATSAddr = dir, natsAddr
		c.Scheduler = scheduler.Options{PerPCEvery: 200 * time.Millisecond}
	}
	b := testenv.Backend(t, cfg)
	s := open(b)
	ctx := context.Background()
	must(t, s.do(t, "PUT", "/api/config", map[string]any{"heartbeat_interval": "1s"}), 200)
	fleet := map[string][]string{"pc-a": {"g1"}, "pc-b": {"g2"}}
	factsGen.Store(1)
	stopAgents, _ := runAgents(t, s, t.TempDir(), true, fleet)
	testenv.Eventually(t, 30*time.Second, "two agents online", func() bool {
		pcs, err := b.DB.OnlinePCs(ctx, time.Now(), "")
		return err == nil && len(pcs) == 2
	})
	for id, script := range map[string]string{"ok": "echo ok", "bad": "echo no >&2; exit 3"} {
		must(t, s.do(t, "POST", "/api/jobs", map[string]any{"id": id, "version": "1.0.0",
			"execute": map[string]any{"shell": "sh", "script": script, "timeout": "30s"}}), 201)
	}
	must(t, s.do(t, "POST", "/api/exec/ok", map[string]any{"target": map[string]any{"all": true}}), 200)
	must(t, s.do(t, "POST", "/api/exec/bad", map[string]any{"target": map[string]any{"pcs": []string{"pc-a"}}}), 200)
	must(t, s.do(t, "POST", "/api/run", map[string]any{"pc_id": "pc-b", "shell": "sh", "script": "echo adhoc"}), 200)
	must(t, s.do(t, "POST", "/api/schedules", map[string]any{"id": "once-g2", "job_id": "ok", "tz": "utc", "count_manual": false,
		"target": map[string]any{"groups": []string{"g2"}}, "when": map[string]any{"per_pc": "once"}}), 201)
	if _, err := b.Auth.Users().Create(ctx, auth.NewUser{Username: "alice", Password: "correct horse battery alice", Role: auth.RoleOperator}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 60*time.Second, "every execution completed and the schedule fired", func() bool {
		var execs []apiv1.Execution
		r := s.do(t, "GET", "/api/executions?limit=1000", nil)
		if r.status != 200 {
			return false
		}
		r.json(t, &execs)
		for _, e := range execs {
			if e.Status != apiv1.ExecCompleted {
				return false
			}
		}
		return len(execs) == 4
	})
	testenv.Eventually(t, 30*time.Second, "facts of two PCs", func() bool {
		return s.do(t, "GET", "/api/inventory/facts", nil).hdr.Get("X-Total-Count") == "2"
	})
	stopAgents()
	waitIdle(t, b)
	before := snapshotAPI(t, s)
	for _, want := range []string{`"failure_count":1`, `"job_id":"adhoc"`, `"initiated_by":"scheduler"`} {
		if !strings.Contains(before["GET /api/executions"], want) {
			t.Fatalf("the scenario did not produce %s:\n%s", want, before["GET /api/executions"])
		}
	}
	if !strings.Contains(before["GET /api/accounts"], `"alice"`) || before["GET /api/audit"] == "[]" {
		t.Fatalf("no account or no audit:\n%s\n%s", before["GET /api/accounts"], before["GET /api/audit"])
	}

	// Backup while the backend runs and serves (idle, so that the lists
	// can be compared afterwards).
	bdir := filepath.Join(t.TempDir(), "backup")
	br, err := server.BackupBroker(b.Cfg)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := br.Connect(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := backup.Run(ctx, backup.Source{DataDir: dir, SQLite: server.SQLitePath(b.Cfg), NC: nc, BrokerAuth: br.Auth(),
		Version: "test", Log: testenv.Logger()}, bdir)
	nc.Close()
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	streams := map[string]backup.Stream{}
	for _, st := range m.Streams {
		streams[st.Name] = st
	}
	for _, name := range []string{"AUDIT", "RESULTS", "EXECS", "KV_jobs", "KV_schedules"} {
		if streams[name].Messages == 0 {
			t.Errorf("backup has no messages of %s: %+v", name, m.Streams)
		}
	}
	if m.Database != "sqlite" || m.Checksums[backup.DBFile] == "" {
		t.Fatalf("manifest without the database: %+v", m)
	}
	// A second backup into the same dir is refused.
	if _, err := backup.Run(ctx, backup.Source{DataDir: dir, SQLite: server.SQLitePath(b.Cfg)}, bdir); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("backup into a non-empty dir: %v", err)
	}
	// The running backend's data dir is refused.
	target, err := server.RestoreTarget(b.Cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Restore(ctx, bdir, target); !errors.Is(err, dirlock.ErrLocked) {
		t.Fatalf("restore onto a running backend: %v, want ErrLocked", err)
	}

	b.Stop(ctx)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	target.Force = false
	if _, err := backup.Restore(ctx, bdir, target); err != nil {
		t.Fatalf("restore: %v", err)
	}
	// Restoring again onto the now full data dir needs --force.
	if _, err := backup.Restore(ctx, bdir, target); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("restore onto a non-empty data dir: %v", err)
	}

	b2 := testenv.Backend(t, cfg)
	s2 := open(b2)
	awaitSameAPI(t, b2, s2, before, "restore")
	b2.Stop(ctx)

	// A damaged backup is refused before anything is written.
	damaged := filepath.Join(t.TempDir(), "damaged")
	if err := os.CopyFS(damaged, os.DirFS(bdir)); err != nil {
		t.Fatal(err)
	}
	data, err := backupDataFile(damaged, "AUDIT")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(data)
	raw[len(raw)/2] ^= 0xff
	if err := os.WriteFile(data, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "fresh")
	if _, err := backup.Restore(ctx, damaged, backup.Target{DataDir: empty, SQLite: true}); !errors.Is(err, backup.ErrCorrupt) {
		t.Fatalf("restore of a damaged backup: %v, want ErrCorrupt", err)
	}
	if _, err := os.Stat(filepath.Join(empty, backup.DBFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a damaged backup wrote %s", backup.DBFile)
	}
	// So is one without its manifest (an unfinished backup).
	os.Remove(filepath.Join(damaged, backup.ManifestFile))
	if _, err := backup.Restore(ctx, damaged, backup.Target{DataDir: empty, SQLite: true}); err == nil || !strings.Contains(err.Error(), backup.ManifestFile) {
		t.Fatalf("restore without a manifest: %v", err)
	}
}

// backupDataFile is the snapshot data file of stream in a backup.
func backupDataFile(dir, stream string) (string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "streams", stream, "stream.*"))
	if err != nil || len(matches) == 0 {
		return "", errors.Join(err, errors.New("no snapshot data of "+stream))
	}
	return matches[0], nil
}
