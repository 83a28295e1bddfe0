//go:build !windows

package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/wire"
)

func TestRunSh(t *testing.T) {
	r := Run(context.Background(), Spec{Shell: "sh", Script: "echo out; echo err >&2; exit 3", Timeout: 10 * time.Second}, nil)
	if r.ExitCode != 3 || r.Stdout != "out\n" || !strings.HasPrefix(r.Stderr, "err\n") || r.TimedOut || r.Killed {
		t.Fatalf("got %+v", r)
	}
}

func TestRunCwdAndEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KANADE_NATS_TOKEN", "secret")
	t.Setenv("KANADE_NATS_PASSWORD", "secret")
	r := Run(context.Background(), Spec{Shell: "sh", Script: `pwd; echo "tok=$KANADE_NATS_TOKEN$KANADE_NATS_PASSWORD x=$X"`, Cwd: dir,
		Env: []string{"X=1"}, Timeout: 10 * time.Second}, nil)
	real, _ := filepath.EvalSymlinks(dir)
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, real) || !strings.Contains(r.Stdout, "tok= x=1") {
		t.Fatalf("got %+v", r)
	}
}

func TestStartFailures(t *testing.T) {
	for _, s := range []Spec{
		{Shell: "sh", Script: "true", Cwd: "/nonexistent/dir", Timeout: time.Second},
		{Shell: "nosuchshell", Script: "true", Timeout: time.Second},
		{Shell: "sh", Script: "true", RunAs: "user", Timeout: time.Second},
	} {
		if r := Run(context.Background(), s, nil); r.ExitCode != ExitStartFailed || r.Stderr == "" {
			t.Errorf("%+v: got %+v", s, r)
		}
	}
}

// grandchildScript starts a background sleeper that inherits the pipes and
// writes its pid to a file, then waits forever itself.
func grandchildScript(pidFile string) string {
	return "sleep 300 & echo $! > " + pidFile + "; echo started; sleep 300"
}

func waitPid(t *testing.T, pidFile string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(pidFile)
		if err == nil && strings.HasSuffix(string(b), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err == nil {
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("grandchild pid never written")
	return 0
}

func assertGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		// A zombie reparented to init still answers kill(0); reading
		// /proc/<pid>/stat tells zombies apart where available.
		err := syscall.Kill(pid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("grandchild %d still alive", pid)
}

func TestTimeoutKillsTree(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	r := Run(context.Background(), Spec{Shell: "sh", Script: grandchildScript(pidFile), Timeout: time.Second}, nil)
	if !r.TimedOut || r.ExitCode != -1 || !strings.Contains(r.Stderr, "timeout") || r.Stdout != "started\n" {
		t.Fatalf("got %+v", r)
	}
	if time.Since(start) > 60*time.Second {
		t.Fatal("run hung")
	}
	assertGone(t, waitPid(t, pidFile))
}

func TestKillKillsTree(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	kill := make(chan struct{})
	done := make(chan Result)
	go func() {
		done <- Run(context.Background(), Spec{Shell: "sh", Script: grandchildScript(pidFile), Timeout: time.Hour}, kill)
	}()
	pid := waitPid(t, pidFile)
	close(kill)
	r := <-done
	if !r.Killed || r.ExitCode != -1 || !strings.Contains(r.Stderr, "killed") {
		t.Fatalf("got %+v", r)
	}
	assertGone(t, pid)
}

func TestBackgroundGrandchildDoesNotHang(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The shell exits at once; its child keeps stdout open.
	r := Run(context.Background(), Spec{Shell: "sh", Script: "sleep 30 & echo $! > " + pidFile + "; echo bye", Timeout: time.Hour}, nil)
	if r.ExitCode != 0 || r.Stdout != "bye\n" || !strings.Contains(r.Stderr, "background process") {
		t.Fatalf("got %+v", r)
	}
	pid := waitPid(t, pidFile)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func TestAbortOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pidFile := filepath.Join(t.TempDir(), "pid")
	done := make(chan Result)
	go func() {
		done <- Run(ctx, Spec{Shell: "sh", Script: grandchildScript(pidFile), Timeout: time.Hour}, nil)
	}()
	pid := waitPid(t, pidFile)
	cancel()
	if r := <-done; !r.Aborted || r.ExitCode != -1 {
		t.Fatalf("got %+v", r)
	}
	assertGone(t, pid)
}

func TestCaptureBounded(t *testing.T) {
	r := Run(context.Background(), Spec{Shell: "sh", Capture: 3000,
		Script: `i=0; while [ $i -lt 1000 ]; do echo "line $i"; i=$((i+1)); done`, Timeout: 30 * time.Second}, nil)
	if r.ExitCode != 0 || len(r.Stdout) > 3200 || !strings.HasPrefix(r.Stdout, "line 0\n") ||
		!strings.HasSuffix(r.Stdout, "line 999\n") || !strings.Contains(r.Stdout, "output truncated") {
		t.Fatalf("len %d: %q", len(r.Stdout), r.Stdout)
	}
}

func TestCaptureRing(t *testing.T) {
	for _, chunk := range []int{1, 7, 100, 5000} {
		c := NewCapture(300)
		var all []byte
		for i := 0; len(all) < 10000; i++ {
			p := []byte(strings.Repeat(string(rune('a'+i%26)), chunk))
			all = append(all, p...)
			_, _ = c.Write(p)
		}
		got := c.String()
		want := string(all[:200]) + Marker(int64(len(all)), int64(len(all)-300)) + string(all[len(all)-100:])
		if got != want {
			t.Fatalf("chunk %d: got %q", chunk, got)
		}
	}
	c := NewCapture(300)
	_, _ = c.Write([]byte("short"))
	if c.String() != "short" {
		t.Fatal(c.String())
	}
}

func TestTruncate(t *testing.T) {
	s := strings.Repeat("x", 1000) + strings.Repeat("y", 1000)
	got := Truncate(s, 500)
	if len(got) > 500 || !strings.HasPrefix(got, "xxx") || !strings.HasSuffix(got, "yyy") || !strings.Contains(got, "truncated") {
		t.Fatalf("%d %q", len(got), got)
	}
	if Truncate("abc", 10) != "abc" {
		t.Fatal("short string changed")
	}
}

// TestSpoolBoundedMemory: a script printing 64 MiB with a spool costs the
// agent's heap the excerpt and a few copy buffers, not the 8 MiB capture
// (which alone would allocate more than the bound, and its string copy as
// much again); the file holds the captured form, head and tail exact.
func TestSpoolBoundedMemory(t *testing.T) {
	dir := t.TempDir()
	const total = 64 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := Run(context.Background(), Spec{Shell: "sh", SpoolDir: dir, Timeout: 60 * time.Second,
		Script: fmt.Sprintf("yes 0123456789abcdef | head -c %d", total)}, nil)
	runtime.ReadMemStats(&after)
	sp := r.StdoutSpool
	if sp == nil || r.Stdout != "" || r.ExitCode != 0 {
		t.Fatalf("result %+v", r)
	}
	defer sp.Remove()
	defer r.StderrSpool.Remove()
	t.Logf("allocated %d bytes", after.TotalAlloc-before.TotalAlloc)
	const bound = 4 << 20
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > bound {
		t.Fatalf("the run allocated %d bytes, bound %d", alloc, bound)
	}
	if len(sp.ex.buf) > excerptHead+excerptTail {
		t.Fatalf("excerpt store %d bytes, cap %d", len(sp.ex.buf), excerptHead+excerptTail)
	}
	if sp.Total() != total || sp.Len() != MaxCapture+int64(len(Marker(total, total-MaxCapture))) {
		t.Fatalf("total %d, captured %d", sp.Total(), sp.Len())
	}
	path, _, ok := sp.File()
	if !ok {
		t.Fatal("no spool file", sp.Err())
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line := "0123456789abcdef\n"
	head := make([]byte, 4096)
	tail := make([]byte, 4096)
	_, _ = f.ReadAt(head, 0)
	_, _ = f.ReadAt(tail, sp.Len()-4096)
	// yes prints 17-byte lines; head -c cuts the last one at total % 17.
	wantTail := strings.Repeat(line, total/17+300)[:total]
	if string(head) != strings.Repeat(line, 300)[:4096] || string(tail) != wantTail[len(wantTail)-4096:] {
		t.Fatalf("spool head %.40q… tail …%.40q", head, tail[len(tail)-40:])
	}
	if ex := sp.Excerpt(wire.MaxInlineOutput); len(ex) > wire.MaxInlineOutput || !strings.HasSuffix(ex, wantTail[len(wantTail)-1000:]) {
		t.Fatalf("excerpt %d bytes", len(ex))
	}
	if names, _ := os.ReadDir(dir); len(names) != 2 { // the captured stdout and the empty stderr
		t.Fatalf("spool dir holds %v", names)
	}
}
