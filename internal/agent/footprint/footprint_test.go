//go:build footprint

// Package footprint measures an idle kanade-agent process. Not part of
// normal CI: run with
//
//	go test -tags footprint -run Footprint -v -timeout 5m ./internal/agent/footprint/
//
// It builds cmd/kanade-agent, starts an embedded broker, runs the agent as
// a separate process with 1 s heartbeats for KANADE_FOOTPRINT_SECS (default
// 60) and reports its RSS and CPU from /proc.
package footprint

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
)

func TestFootprint(t *testing.T) {
	secs := 60
	if v, err := strconv.Atoi(os.Getenv("KANADE_FOOTPRINT_SECS")); err == nil {
		secs = v
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start() // returns once listening; running it in a goroutine races with Shutdown
	defer srv.Shutdown()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	url := fmt.Sprintf("nats://127.0.0.1:%d", srv.Addr().(*net.TCPAddr).Port)
	nc, _ := nats.Connect(url)
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if err := bus.Bootstrap(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	kv, _ := js.KeyValue(ctx, bus.KVAgentConfig)
	_, _ = kv.PutString(ctx, bus.ConfigGlobalKey, `{"heartbeat_interval":"1s"}`)

	bin := filepath.Join(t.TempDir(), "kanade-agent")
	if out, err := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "../../../cmd/kanade-agent").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	hb, _ := nc.SubscribeSync(bus.Heartbeat("footprint"))
	cmd := exec.Command(bin, "--id", "footprint", "--nats-url", url, "--data-dir", t.TempDir(), "--log-level", "warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() }()
	pid := cmd.Process.Pid
	ticks := func() float64 {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
		u, _ := strconv.ParseFloat(f[11], 64)
		s, _ := strconv.ParseFloat(f[12], 64)
		return (u + s) / 100 // USER_HZ
	}
	if _, err := hb.NextMsg(20 * time.Second); err != nil {
		t.Fatal("no heartbeat", err)
	}
	cpu0, t0 := ticks(), time.Now()
	n := 0
	for deadline := time.Now().Add(time.Duration(secs) * time.Second); time.Now().Before(deadline); {
		if _, err := hb.NextMsg(5 * time.Second); err == nil {
			n++
		}
	}
	cpu := (ticks() - cpu0) / time.Since(t0).Seconds() * 100
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	var rss, hwm string
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			rss = strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:"))
		}
		if strings.HasPrefix(l, "VmHWM:") {
			hwm = strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	st, _ := os.Stat(bin)
	t.Logf("after %ds and %d heartbeats: VmRSS %s, VmHWM (peak) %s, CPU %.3f%% of one core, binary %.1f MiB",
		secs, n, rss, hwm, cpu, float64(st.Size())/(1<<20))
}
