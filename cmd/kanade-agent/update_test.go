package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/release"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// builds are the binaries of one test run, built once.
var builds struct {
	once sync.Once
	dir  string
	err  error
}

// binary returns this command built with version v ("crasher": the
// broken release of testdata/crasher).
func binary(t *testing.T, v string) string {
	t.Helper()
	builds.once.Do(func() {
		builds.dir, builds.err = os.MkdirTemp("", "kanade-update-bins-")
		if builds.err != nil {
			return
		}
		for _, b := range [][2]string{{"1.0.0", "."}, {"2.0.0", "."}, {"crasher", "./testdata/crasher"}} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(builds.dir, b[0]),
				"-ldflags", "-X github.com/kanade-fleet/kanade/internal/version.Version="+b[0], b[1]).CombinedOutput()
			if err != nil {
				builds.err = fmt.Errorf("build %s: %v\n%s", b[0], err, out)
				return
			}
		}
	})
	if builds.err != nil {
		t.Fatal(builds.err)
	}
	return filepath.Join(builds.dir, v)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builds.dir != "" {
		_ = os.RemoveAll(builds.dir)
	}
	os.Exit(code)
}

// fleet is a backend with agent processes.
type fleet struct {
	t   *testing.T
	b   *server.Server
	api *apiv1.Client
	mu  sync.Mutex
	hbs map[string][]wire.Heartbeat // pc → heartbeats seen, in order
}

func newFleet(t *testing.T, mutate ...func(*server.Config)) *fleet {
	var m func(*server.Config)
	if len(mutate) > 0 {
		m = mutate[0]
	}
	b := testenv.Backend(t, m)
	f := &fleet{t: t, b: b, api: &apiv1.Client{Base: b.HTTPURL()}, hbs: map[string][]wire.Heartbeat{}}
	sub, err := b.NC.Subscribe("heartbeat.*", func(m *nats.Msg) {
		var hb wire.Heartbeat
		if json.Unmarshal(m.Data, &hb) == nil {
			f.mu.Lock()
			f.hbs[hb.PCID] = append(f.hbs[hb.PCID], hb)
			f.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if _, err := f.api.PatchConfig(t.Context(), apiv1.Scope{}, apiv1.ConfigPatch{
		"heartbeat_interval": "1s", "update_jitter": "0s", "update_health_window": "10s"}); err != nil {
		t.Fatal(err)
	}
	return f
}

// upload stores bin as release v for this platform; mod may tamper with
// the statement after hashing, and signer defaults to the backend's key.
func (f *fleet) upload(v, bin string, signer *sign.Signer, mod func(*release.Statement)) {
	f.t.Helper()
	data, err := os.ReadFile(bin)
	if err != nil {
		f.t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	st := release.Statement{Version: v, OS: runtime.GOOS, Arch: runtime.GOARCH, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
	if signer == nil {
		signer = f.b.Signer
	}
	sig := release.Sign(signer, st)
	if mod != nil {
		mod(&st)
		if st.Size == int64(len(data)) && st.SHA256 != hex.EncodeToString(sum[:]) {
			sig = release.Sign(signer, st) // a correctly signed lie about the digest
		}
	}
	fh, _ := os.Open(bin)
	defer fh.Close()
	if _, err := f.b.KV.Releases.Put(f.t.Context(), st, sig, fh); err != nil {
		f.t.Fatal(err)
	}
}

type proc struct {
	pc, exe, dir, log string
	cmd               *exec.Cmd
}

// start runs version v as pc from its own install dir.
func (f *fleet) start(pc, v string) *proc {
	f.t.Helper()
	return f.startIn(f.t.TempDir(), pc, v, "--id", pc, "--nats-url", f.b.NATSURL())
}

// startIn runs version v from dir/bin with data dir dir/data.
func (f *fleet) startIn(dir, pc, v string, args ...string) *proc {
	f.t.Helper()
	exe := filepath.Join(dir, "bin", "kanade-agent")
	_ = os.MkdirAll(filepath.Dir(exe), 0o755)
	data, err := os.ReadFile(binary(f.t, v))
	if err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		f.t.Fatal(err)
	}
	p := &proc{pc: pc, exe: exe, dir: dir, log: filepath.Join(dir, "agent.out")}
	out, _ := os.Create(p.log)
	p.cmd = exec.Command(exe, append(args, "--data-dir", filepath.Join(dir, "data"), "--log-level", "debug")...)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
		}
		_ = out.Close()
		if f.t.Failed() {
			b, _ := os.ReadFile(p.log)
			f.t.Logf("--- %s output ---\n%s", pc, tail(string(b), 60))
		}
	})
	return p
}

func tail(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// waitHB waits for a heartbeat of pc, after the first `after` ones, that
// satisfies ok, and returns how many pc has sent.
func (f *fleet) waitHB(pc string, after int, what string, ok func(wire.Heartbeat) bool) int {
	f.t.Helper()
	var n int
	testenv.Eventually(f.t, 90*time.Second, pc+": "+what, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		n = len(f.hbs[pc])
		for _, hb := range f.hbs[pc][min(after, n):] {
			if ok(hb) {
				return true
			}
		}
		return false
	})
	return n
}

func (f *fleet) last(pc string) wire.Heartbeat {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.hbs[pc]
	if len(l) == 0 {
		return wire.Heartbeat{}
	}
	return l[len(l)-1]
}

func (f *fleet) target(scope apiv1.Scope, v string) {
	f.t.Helper()
	if _, err := f.api.PatchConfig(f.t.Context(), scope, apiv1.ConfigPatch{"target_version": v}); err != nil {
		f.t.Fatal(err)
	}
}

func versionOf(t *testing.T, exe string) string {
	t.Helper()
	out, err := exec.Command(exe, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", exe, err)
	}
	return strings.TrimSpace(string(out))
}

// TestSelfUpdate is SPEC §13 with real processes and a real broker: a
// release that crash-loops is rolled back and quarantined, releases with a
// wrong digest or signature are refused, and a good one is installed with
// no result lost.
func TestSelfUpdate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the swap and hand-over are tested on Unix; Windows uses the service manager")
	}
	f := newFleet(t)
	other, _ := sign.GenerateKey()
	f.upload("2.0.0", binary(t, "2.0.0"), nil, nil)
	f.upload("3.0.0", binary(t, "crasher"), nil, nil)
	f.upload("4.0.0", binary(t, "2.0.0"), nil, func(s *release.Statement) { s.SHA256 = strings.Repeat("ab", 32) })
	f.upload("5.0.0", binary(t, "2.0.0"), other, nil)

	p := f.start("pc-1", "1.0.0")
	pid := p.cmd.Process.Pid
	n := f.waitHB("pc-1", 0, "running 1.0.0", func(hb wire.Heartbeat) bool {
		return hb.AgentVersion == "1.0.0" && hb.UpdateState == wire.UpdateCurrent
	})

	// 3.0.0 exits at once: three exits, rollback, quarantine.
	f.target(apiv1.Scope{}, "3.0.0")
	n = f.waitHB("pc-1", n, "3.0.0 quarantined", func(hb wire.Heartbeat) bool {
		return hb.UpdateState == wire.UpdateQuarantined && hb.QuarantinedVersion == "3.0.0" && hb.AgentVersion == "1.0.0"
	})
	if v := versionOf(t, p.exe); v != "1.0.0" {
		t.Fatalf("after the rollback %s is %s", p.exe, v)
	}
	// It does not try again: more heartbeats, same binary, still quarantined.
	n = f.waitHB("pc-1", n+3, "three more heartbeats", func(hb wire.Heartbeat) bool { return true })
	if hb := f.last("pc-1"); hb.UpdateState != wire.UpdateQuarantined || hb.AgentVersion != "1.0.0" || versionOf(t, p.exe) != "1.0.0" {
		t.Fatalf("quarantined version retried: %+v", hb)
	}
	if !strings.Contains(readFile(t, filepath.Join(p.dir, "data", "update", "quarantine.json")), "exited 3 times") {
		t.Error("quarantine record does not say why")
	}

	// A digest that does not match, then a signature by an unknown key:
	// refused, and 1.0.0 keeps running.
	f.target(apiv1.Scope{}, "4.0.0")
	n = f.waitHB("pc-1", n, "4.0.0 refused for its digest", func(hb wire.Heartbeat) bool {
		return hb.UpdateState == wire.UpdateFailed && strings.Contains(hb.UpdateError, "sha256 mismatch") && hb.AgentVersion == "1.0.0"
	})
	if hb := f.last("pc-1"); hb.QuarantinedVersion != "" {
		t.Errorf("quarantine kept after target_version changed: %+v", hb)
	}
	f.target(apiv1.Scope{}, "5.0.0")
	n = f.waitHB("pc-1", n, "5.0.0 refused for its signature", func(hb wire.Heartbeat) bool {
		return hb.UpdateState == wire.UpdateFailed && strings.Contains(hb.UpdateError, "unknown key") && hb.AgentVersion == "1.0.0"
	})
	if v := versionOf(t, p.exe); v != "1.0.0" {
		t.Fatalf("a refused release was installed: %s", v)
	}

	// 2.0.0 while runs are in flight: the swap waits for them, and every
	// result arrives.
	var wg sync.WaitGroup
	results := make([]apiv1.ExecResult, 3)
	errs := make([]error, 3)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			results[i], errs[i] = f.api.Run(ctx, apiv1.RunRequest{PCID: "pc-1", Shell: "sh",
				Script: fmt.Sprintf("sleep 2; echo run-%d", i), TimeoutSecs: 60})
		}()
	}
	f.waitHB("pc-1", n, "runs started", func(hb wire.Heartbeat) bool { return hb.Running > 0 })
	f.target(apiv1.Scope{}, "2.0.0")
	n = f.waitHB("pc-1", n, "running 2.0.0", func(hb wire.Heartbeat) bool {
		return hb.AgentVersion == "2.0.0" && hb.UpdateState == wire.UpdateCurrent
	})
	wg.Wait()
	for i, r := range results {
		if errs[i] != nil || r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != fmt.Sprintf("run-%d", i) {
			t.Errorf("run %d across the update: %+v %v", i, r, errs[i])
		}
	}
	if v := versionOf(t, p.exe); v != "2.0.0" {
		t.Fatalf("installed binary is %s", v)
	}
	if v := versionOf(t, prevOf(p.exe)); v != "1.0.0" {
		t.Fatalf("previous binary kept is %s", v)
	}
	if p.cmd.ProcessState != nil || p.cmd.Process.Pid != pid {
		t.Fatal("the agent's process changed: a service manager would have seen it exit")
	}
	// The swap is confirmed when the health window has passed.
	testenv.Eventually(t, 60*time.Second, "the update confirmed", func() bool {
		_, err := os.Stat(filepath.Join(p.dir, "data", "update", "pending.json"))
		return os.IsNotExist(err)
	})
	// The new version runs commands.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if r, err := f.api.Run(ctx, apiv1.RunRequest{PCID: "pc-1", Shell: "sh", Script: "echo after"}); err != nil || strings.TrimSpace(r.Stdout) != "after" {
		t.Fatalf("run on 2.0.0: %+v %v", r, err)
	}
	// Every run is recorded once. Run answers from the results stream, so
	// the projection of the last one may still be on its way.
	var got int
	testenv.Eventually(t, 30*time.Second, "four results projected", func() bool {
		page, err := f.api.ListResults(ctx, apiv1.ResultQuery{PCID: "pc-1"})
		if err != nil {
			t.Fatal(err)
		}
		got = len(page.Items)
		return got >= 4
	})
	if got != 4 {
		t.Errorf("pc-1 has %d results, want 4", got)
	}
}

func prevOf(exe string) string { return exe + ".prev" }

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStagedRollout: target_version on group canary updates exactly its
// two members.
func TestStagedRollout(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix hand-over")
	}
	f := newFleet(t)
	f.upload("2.0.0", binary(t, "2.0.0"), nil, nil)
	for _, pc := range []string{"pc-a", "pc-b", "pc-c"} {
		f.start(pc, "1.0.0")
		f.waitHB(pc, 0, "running", func(hb wire.Heartbeat) bool { return hb.AgentVersion == "1.0.0" })
	}
	for _, pc := range []string{"pc-a", "pc-b"} {
		if _, err := f.api.AddAgentGroup(t.Context(), pc, apiv1.AddGroupRequest{Group: "canary"}); err != nil {
			t.Fatal(err)
		}
	}
	f.target(apiv1.Scope{Group: "canary"}, "2.0.0")
	for _, pc := range []string{"pc-a", "pc-b"} {
		f.waitHB(pc, 0, "canary on 2.0.0", func(hb wire.Heartbeat) bool {
			return hb.AgentVersion == "2.0.0" && hb.UpdateState == wire.UpdateCurrent
		})
	}
	f.mu.Lock()
	n := len(f.hbs["pc-c"])
	f.mu.Unlock()
	f.waitHB("pc-c", n+3, "three more heartbeats of pc-c", func(wire.Heartbeat) bool { return true })
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, hb := range f.hbs["pc-c"] {
		if hb.AgentVersion != "1.0.0" || hb.UpdateState != wire.UpdateCurrent {
			t.Fatalf("pc-c, not in canary, moved: %+v", hb)
		}
	}
}

// TestSelfUpdateEnrolled: an agent with its own broker identity (the
// production default) may read the release store and updates; its PC's
// own config scope is enough to target it.
func TestSelfUpdateEnrolled(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix hand-over")
	}
	f := newFleet(t, func(c *server.Config) { c.NATSIdentity = true })
	f.upload("2.0.0", binary(t, "2.0.0"), nil, nil)
	tok, err := f.api.CreateEnrollmentToken(t.Context(), apiv1.CreateEnrollmentTokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out, err := exec.Command(binary(t, "1.0.0"), "enroll", "--server", f.b.HTTPURL(), "--token", tok.Token,
		"--id", "pc-e", "--data-dir", filepath.Join(dir, "data")).CombinedOutput()
	if err != nil {
		t.Fatalf("enroll: %v\n%s", err, out)
	}
	f.startIn(dir, "pc-e", "1.0.0")
	f.waitHB("pc-e", 0, "running 1.0.0", func(hb wire.Heartbeat) bool { return hb.AgentVersion == "1.0.0" })
	f.target(apiv1.Scope{PC: "pc-e"}, "2.0.0")
	f.waitHB("pc-e", 0, "running 2.0.0", func(hb wire.Heartbeat) bool {
		return hb.AgentVersion == "2.0.0" && hb.UpdateState == wire.UpdateCurrent
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if r, err := f.api.Run(ctx, apiv1.RunRequest{PCID: "pc-e", Shell: "sh", Script: "echo enrolled"}); err != nil || strings.TrimSpace(r.Stdout) != "enrolled" {
		t.Fatalf("run on 2.0.0: %+v %v", r, err)
	}
}
