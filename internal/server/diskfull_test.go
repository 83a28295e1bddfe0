package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/health"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/testenv/testdb"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// smallDisk mounts a tmpfs of size for the test, or skips visibly.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIP: mounting a small filesystem needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("SKIP: cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v %s; lazy unmount", dir, err, out)
			_ = exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// fillDisk writes a file until the filesystem is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 256<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill: %v", err)
			}
			break
		}
	}
	// The last partial blocks.
	for _, n := range []int{4096, 512, 1} {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
}

func fleetHealth(t *testing.T, b *server.Server) (int, apiv1.FleetHealth) {
	t.Helper()
	code, body := getBody(t, b.HTTPURL()+"/api/health/fleet")
	var h apiv1.FleetHealth
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatalf("health body %s: %v", body, err)
	}
	return code, h
}

func hasReason(h apiv1.FleetHealth, code health.Code) bool {
	for _, r := range h.Reasons {
		if r.Reason == string(code) {
			return true
		}
	}
	return false
}

func putFreeze(t *testing.T, b *server.Server) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, b.HTTPURL()+"/api/freeze", bytes.NewReader([]byte(`{"reason":"disk test"}`)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e apiv1.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Error
}

// A full disk (a 64 MiB tmpfs holding the whole data dir, filled by a
// file): writes answer 503 and health says why; once the file is deleted
// the backend recovers by itself, without a restart: broker writes resume,
// the scheduler leads again, and every result accepted before the fault
// or after recovery is projected.
func TestDiskFullDegradesAndRecovers(t *testing.T) {
	if testdb.PostgresSelected() {
		t.Skip("SKIP: the disk-full test runs the SQLite store on the small filesystem")
	}
	if raceEnabled {
		// EnableJetStream (also nats-server's own config-reload path)
		// replaces its API queue while the old API subscription still reads
		// it (jetstream_api.go setJetStreamExportSubs vs apiDispatch): a
		// data race inside nats-server that the detector reports.
		t.Skip("SKIP under -race: nats-server's in-process JetStream restart races internally; run go test without -race")
	}
	dir := smallDisk(t, "64m")
	b := testenv.Backend(t, func(c *server.Config) {
		c.DataDir = dir
		c.BrokerDiskReserve = 8 << 20
		c.BrokerMinFree = 4 << 20
		c.BrokerHealPause = time.Second
		c.Health = health.Options{ProbeInterval: 200 * time.Millisecond, ProbeTimeout: time.Second, ProjectorFailing: time.Hour}
	})
	ctx := context.Background()
	testenv.Eventually(t, 30*time.Second, "scheduler leader", b.Elector.IsLeader)
	if code, h := fleetHealth(t, b); code != http.StatusOK {
		t.Fatalf("healthy backend: %d %+v", code, h)
	}

	var accepted []string
	publish := func(id string, timeout time.Duration) bool {
		r := wire.ExecResult{ResultID: id, RequestID: "req-" + id, ExecID: "e-disk", PCID: "pc-1", ManifestID: "inv-hw",
			Version: "1.0.0", Stdout: strings.Repeat("o", 200), StartedAt: time.Now().UTC(), FinishedAt: time.Now().UTC()}
		data, _ := json.Marshal(r)
		pctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if _, err := b.JS.Publish(pctx, bus.ResultFrom(r.PCID, r.RequestID), data); err != nil {
			return false
		}
		accepted = append(accepted, id)
		return true
	}
	for i := range 20 {
		if !publish(fmt.Sprintf("before-%02d", i), 5*time.Second) {
			t.Fatal("publish before the fault failed")
		}
	}
	testenv.Eventually(t, 20*time.Second, "projected before the fault", func() bool { return countRows(t, b, "execution_results") == 20 })

	fill := filepath.Join(dir, "filler")
	fillDisk(t, fill)
	t.Logf("disk full: %s", b.Broker.DiskDetail())
	testenv.Eventually(t, 30*time.Second, "health degraded: broker writes", func() bool {
		code, h := fleetHealth(t, b)
		return code == http.StatusServiceUnavailable && h.Status == apiv1.HealthDegraded && hasReason(h, health.BrokerWrites)
	})
	_, h := fleetHealth(t, b)
	t.Logf("degraded: %v", h.Problems)
	code, msg := putFreeze(t, b)
	if code != http.StatusServiceUnavailable || !strings.Contains(msg, "broker rejects writes") {
		t.Fatalf("write during the fault: %d %q", code, msg)
	}
	for i := range 3 { // may or may not be accepted; the accepted ones must not be lost
		publish(fmt.Sprintf("during-%02d", i), time.Second)
	}

	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	testenv.Eventually(t, 60*time.Second, "health ok again", func() bool {
		code, _ := fleetHealth(t, b)
		return code == http.StatusOK
	})
	t.Logf("recovered %s after freeing space: %s", time.Since(freed).Round(time.Millisecond), b.Broker.DiskDetail())
	if code, msg := putFreeze(t, b); code != http.StatusOK {
		t.Fatalf("write after recovery: %d %q", code, msg)
	}
	for i := range 20 {
		if !publish(fmt.Sprintf("after-%02d", i), 5*time.Second) {
			t.Fatal("publish after recovery failed")
		}
	}
	testenv.Eventually(t, 60*time.Second, "the scheduler leads again", b.Elector.IsLeader)
	testenv.Eventually(t, 60*time.Second, "every accepted result projected", func() bool {
		return countRows(t, b, "execution_results") == len(accepted)
	})
	for _, id := range accepted {
		var n int
		if err := testQueryRow(t, b, id, &n); err != nil || n != 1 {
			t.Fatalf("result %s: %d %v", id, n, err)
		}
	}
	t.Logf("%d results accepted and projected", len(accepted))
}
