//go:build footprint

// Package footprint measures a kanade-agent process. Not part of normal
// CI: run with
//
//	go test -tags footprint -run Footprint -v -timeout 5m ./internal/agent/footprint/
//
// It builds cmd/kanade-agent, starts an embedded broker and runs the agent
// as a separate process. TestFootprint: idle with 1 s heartbeats for
// KANADE_FOOTPRINT_SECS (default 60), RSS and CPU from /proc.
// TestFootprintLargeOutput: idle RSS, then a script printing 64 MiB on
// stdout and 16 MiB on stderr (both past the 8 MiB capture bound), and the
// peak RSS (VmHWM) once its result and full output were published.
package footprint

import (
	"context"
	"encoding/json"
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
	"github.com/kanade-fleet/kanade/internal/wire"
)

type rig struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	pid int
	bin string
}

// start runs a broker and the agent "footprint" with 1 s heartbeats and
// returns once its first heartbeat arrived.
func start(t *testing.T, args ...string) *rig {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start() // returns once listening; running it in a goroutine races with Shutdown
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	url := fmt.Sprintf("nats://127.0.0.1:%d", srv.Addr().(*net.TCPAddr).Port)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
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
	cmd := exec.Command(bin, append([]string{"--id", "footprint", "--nats-url", url, "--data-dir", t.TempDir(), "--log-level", "warn"}, args...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	if _, err := hb.NextMsg(20 * time.Second); err != nil {
		t.Fatal("no heartbeat", err)
	}
	_ = hb.Unsubscribe()
	return &rig{nc: nc, js: js, pid: cmd.Process.Pid, bin: bin}
}

func (r *rig) ticks() float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.pid))
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100 // USER_HZ
}

// mem returns VmRSS and VmHWM (peak) as /proc prints them.
func (r *rig) mem() (rss, hwm string) {
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.pid))
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			rss = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			hwm = strings.TrimSpace(v)
		}
	}
	return rss, hwm
}

func TestFootprint(t *testing.T) {
	secs := 60
	if v, err := strconv.Atoi(os.Getenv("KANADE_FOOTPRINT_SECS")); err == nil {
		secs = v
	}
	r := start(t)
	hb, _ := r.nc.SubscribeSync(bus.Heartbeat("footprint"))
	cpu0, t0 := r.ticks(), time.Now()
	n := 0
	for deadline := time.Now().Add(time.Duration(secs) * time.Second); time.Now().Before(deadline); {
		if _, err := hb.NextMsg(5 * time.Second); err == nil {
			n++
		}
	}
	cpu := (r.ticks() - cpu0) / time.Since(t0).Seconds() * 100
	rss, hwm := r.mem()
	st, _ := os.Stat(r.bin)
	t.Logf("after %ds and %d heartbeats: VmRSS %s, VmHWM (peak) %s, CPU %.3f%% of one core, binary %.1f MiB",
		secs, n, rss, hwm, cpu, float64(st.Size())/(1<<20))
}

func TestFootprintLargeOutput(t *testing.T) {
	// Unsigned commands: no signing key is in KV, and the agent is told
	// not to insist on one.
	r := start(t, "--require-signed=false")
	time.Sleep(5 * time.Second) // settle after start-up before reading idle RSS
	idleRSS, idleHWM := r.mem()

	results, _ := r.nc.SubscribeSync("results.footprint.>")
	chunks := 0
	outSub, _ := r.nc.Subscribe("output.footprint.>", func(*nats.Msg) { chunks++ })
	defer outSub.Unsubscribe()
	line := "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	script := fmt.Sprintf("yes %s | head -c %d; yes %s | head -c %d >&2", line, 64<<20, line, 16<<20)
	cmd, _ := json.Marshal(wire.Command{ID: wire.AdhocJobID, RequestID: "big-1", ExecID: "big-1", Shell: "sh", Script: script, TimeoutSecs: 120})
	t0 := time.Now()
	if _, err := r.js.Publish(context.Background(), bus.CommandsPC("footprint"), cmd); err != nil {
		t.Fatal(err)
	}
	m, err := results.NextMsg(3 * time.Minute)
	if err != nil {
		t.Fatal("no result", err)
	}
	took := time.Since(t0)
	res, err := wire.DecodeExecResult(m.Data)
	if err != nil || res.ExitCode != 0 || res.StdoutRef == "" || res.StderrRef == "" {
		t.Fatalf("result %+v: %v", res, err)
	}
	rss, hwm := r.mem()
	t.Logf("idle: VmRSS %s (VmHWM %s); after 64 MiB stdout + 16 MiB stderr (result in %s, %d output chunks, %d B inline): VmRSS %s, VmHWM (peak) %s",
		idleRSS, idleHWM, took.Round(time.Millisecond), chunks, len(res.Stdout)+len(res.Stderr), rss, hwm)
}
