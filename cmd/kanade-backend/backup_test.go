package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/testenv/testdb"
)

// TestBackupRestoreCommand drives `kanade-backend backup` and `restore`
// through their flags against the production default broker mode
// (per-agent identity, operator JWTs): the backup mints a backend
// credential from the data dir's trust chain, the restore brings the keys
// back so the restored backend's streams (in the KANADE account) and its
// agents' credentials are the same.
func TestBackupRestoreCommand(t *testing.T) {
	if testdb.PostgresSelected() {
		t.Skip("PostgreSQL: the SQL side of a backup is pg_dump's")
	}
	dir := filepath.Join(t.TempDir(), "data")
	natsAddr := testenv.FreeAddr(t)
	cfg := func(c *server.Config) { c.DataDir, c.NATSAddr, c.NATSIdentity = dir, natsAddr, true }
	b := testenv.Backend(t, cfg)
	post(t, b.HTTPURL()+"/api/jobs", `{"id":"hello","version":"1.0.0","execute":{"shell":"sh","script":"echo hi","timeout":"30s"}}`)
	jobs, audit := get(t, b.HTTPURL()+"/api/jobs"), get(t, b.HTTPURL()+"/api/audit")
	keys, err := os.ReadFile(filepath.Join(dir, server.BrokerKeysFile))
	if err != nil {
		t.Fatal(err)
	}

	bdir := filepath.Join(t.TempDir(), "backup")
	flags := []string{"--data-dir", dir, "--nats-addr", natsAddr, "--log-level", "error"}
	var out bytes.Buffer
	if err := backupCmd(append([]string{"--to", bdir}, flags...), &out); err != nil {
		t.Fatalf("backup: %v", err)
	}
	if !strings.Contains(out.String(), "database sqlite") {
		t.Fatalf("backup output: %s", out.String())
	}
	if err := restoreCmd(append([]string{"--from", bdir, "--force"}, flags...), io.Discard); err == nil ||
		!strings.Contains(err.Error(), "in use") {
		t.Fatalf("restore onto the running backend: %v", err)
	}
	if err := restoreCmd(flags, io.Discard); err == nil || !strings.Contains(err.Error(), "--from") {
		t.Fatalf("restore without --from: %v", err)
	}

	b.Stop(context.Background())
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := restoreCmd(append([]string{"--from", bdir}, flags...), &out); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if strings.Contains(out.String(), "warning") {
		t.Fatalf("restore output: %s", out.String())
	}
	if k, _ := os.ReadFile(filepath.Join(dir, server.BrokerKeysFile)); !bytes.Equal(k, keys) {
		t.Fatal("the broker trust chain was not restored")
	}
	b2 := testenv.Backend(t, cfg)
	if got := get(t, b2.HTTPURL()+"/api/jobs"); got != jobs {
		t.Errorf("jobs after restore:\n%s\nwant\n%s", got, jobs)
	}
	testenv.Eventually(t, 30*time.Second, "the audit log replayed", func() bool { return get(t, b2.HTTPURL()+"/api/audit") == audit })
}

func post(t *testing.T, url, body string) {
	t.Helper()
	r, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	if r.StatusCode/100 != 2 {
		b, _ := io.ReadAll(r.Body)
		t.Fatalf("POST %s: %d %s", url, r.StatusCode, b)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != 200 || !json.Valid(b) {
		t.Fatalf("GET %s: %d %s", url, r.StatusCode, b)
	}
	return string(b)
}
