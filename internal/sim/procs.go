package sim

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// Build compiles a command of this module (e.g. "./cmd/kanade-backend")
// into dir, stripped like a release build, and returns the binary path.
func Build(ctx context.Context, dir, pkg string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return out, nil
}

func moduleRoot(ctx context.Context) (string, error) {
	b, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD (run kanade-sim from the kanade module): %w", err)
	}
	mod := strings.TrimSpace(string(b))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the kanade module; run kanade-sim from the repository")
	}
	return filepath.Dir(mod), nil
}

// FreePort returns a loopback host:port that was free a moment ago.
func FreePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Proc is a child process (backend, broker, agent) whose resources the
// scenarios sample from /proc.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	Log  string
	done chan struct{}
}

// StartProc starts bin with args and env, output to logPath.
func StartProc(name, bin string, args, env []string, logPath string) (*Proc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, Cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); lf.Close(); close(p.done) }()
	return p, nil
}

// PID of the process.
func (p *Proc) PID() int { return p.Cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends sig and waits up to wait for the exit (then kills it).
func (p *Proc) Stop(sig syscall.Signal, wait time.Duration) {
	if p == nil || p.Exited() {
		return
	}
	_ = p.Cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(wait):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// Usage is a /proc sample of one process.
type Usage struct {
	At       time.Time
	CPUSecs  float64 // user+system since start
	RSSBytes int64
	HWMBytes int64 // peak RSS
}

// Sample reads /proc/<pid>/stat and status.
func Sample(pid int) (Usage, error) {
	u := Usage{At: time.Now()}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return u, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	u.CPUSecs = (ut + st) / 100 // USER_HZ
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			u.RSSBytes = kb << 10
		case "VmHWM":
			u.HWMBytes = kb << 10
		}
	}
	return u, nil
}

// CPUPct is the CPU use between two samples, in % of one core.
func CPUPct(a, b Usage) float64 {
	d := b.At.Sub(a.At).Seconds()
	if d <= 0 {
		return 0
	}
	return (b.CPUSecs - a.CPUSecs) / d * 100
}

// BackendOpts start a kanade-backend child.
type BackendOpts struct {
	Bin, DataDir   string
	NATSURL        string // external broker; empty = embedded
	DB             string // --db: empty = SQLite in the data dir; postgres://… = PostgreSQL
	ProjectorBatch int
	Identity       bool   // --nats-identity: per-agent broker identities
	Pprof          bool   // --pprof: profiles at /api/debug/pprof/ (see Profile)
	MemoryLimit    string // --memory-limit (e.g. 448MiB); empty = none
	Env            []string
}

// BackendProc is a running kanade-backend child.
type BackendProc struct {
	*Proc
	HTTPURL, NATSURL string
	opts             BackendOpts
	natsAddr         string
}

// StartBackend starts kanade-backend (auth disabled) and waits until
// /health answers.
func StartBackend(ctx context.Context, o BackendOpts) (*BackendProc, error) {
	httpAddr, err := FreePort()
	if err != nil {
		return nil, err
	}
	natsAddr, err := FreePort()
	if err != nil {
		return nil, err
	}
	return startBackend(ctx, o, httpAddr, natsAddr)
}

func startBackend(ctx context.Context, o BackendOpts, httpAddr, natsAddr string) (*BackendProc, error) {
	args := []string{"--http-addr", httpAddr, "--data-dir", o.DataDir, "--log-level", "warn", "--cleanup-interval", "1h"}
	natsURL := o.NATSURL
	if natsURL == "" {
		args = append(args, "--nats-addr", natsAddr)
		natsURL = "nats://" + natsAddr
	} else {
		args = append(args, "--nats-url", natsURL)
	}
	if o.ProjectorBatch > 0 {
		args = append(args, "--projector-batch", strconv.Itoa(o.ProjectorBatch))
	}
	if o.DB != "" {
		args = append(args, "--db", o.DB)
	}
	// Without Identity the simulated agents connect with no credential
	// (the embedded broker's default is per-agent identity).
	args = append(args, "--nats-identity="+strconv.FormatBool(o.Identity))
	if o.Pprof {
		args = append(args, "--pprof")
	}
	if o.MemoryLimit != "" {
		args = append(args, "--memory-limit", o.MemoryLimit)
	}
	env := append([]string{"KANADE_AUTH_DISABLE=1"}, o.Env...)
	p, err := StartProc("kanade-backend", o.Bin, args, env, filepath.Join(o.DataDir, "..", filepath.Base(o.DataDir)+"-backend.log"))
	if err != nil {
		return nil, err
	}
	b := &BackendProc{Proc: p, HTTPURL: "http://" + httpAddr, NATSURL: natsURL, opts: o, natsAddr: natsAddr}
	if err := waitHTTP(ctx, NewClient(b.HTTPURL), p); err != nil {
		p.Stop(syscall.SIGKILL, time.Second)
		return nil, err
	}
	return b, nil
}

// Profile fetches /api/debug/pprof/<name> (the backend runs with Pprof;
// the simulator's backends have auth disabled) into path. A CPU profile
// ("profile") blocks for its seconds.
func (b *BackendProc) Profile(ctx context.Context, name string, seconds int, path string) error {
	u := b.HTTPURL + "/api/debug/pprof/" + name
	if seconds > 0 {
		u += "?seconds=" + strconv.Itoa(seconds)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("backend profile %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("backend profile %s: %s: %s", name, resp.Status, msg)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("backend profile %s: %w", name, err)
	}
	return f.Close()
}

// Restart stops the backend with sig and starts it again on the same
// addresses and data directory.
func (b *BackendProc) Restart(ctx context.Context, sig syscall.Signal) (*BackendProc, error) {
	b.Stop(sig, 30*time.Second)
	return startBackend(ctx, b.opts, strings.TrimPrefix(b.HTTPURL, "http://"), b.natsAddr)
}

func waitHTTP(ctx context.Context, cl *apiv1.Client, p *Proc) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if p.Exited() {
			return fmt.Errorf("%s exited; see %s", p.Name, p.Log)
		}
		if cl.Health(ctx) == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not healthy after 2 minutes; see %s", p.Name, p.Log)
}

// BrokerProc is a standalone broker child (kanade-sim broker): the
// "external NATS" topology, which can be restarted under a fleet.
type BrokerProc struct {
	*Proc
	URL            string
	self, addr, sd string
}

// StartBroker runs `<self> broker --addr A --store-dir D` (self is the
// kanade-sim executable) and waits until it accepts connections.
func StartBroker(ctx context.Context, self, addr, storeDir string) (*BrokerProc, error) {
	p, err := StartProc("broker", self, []string{"broker", "--addr", addr, "--store-dir", storeDir}, nil, storeDir+"-broker.log")
	if err != nil {
		return nil, err
	}
	b := &BrokerProc{Proc: p, URL: "nats://" + addr, self: self, addr: addr, sd: storeDir}
	deadline := time.Now().Add(time.Minute)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return b, nil
		}
		if p.Exited() || time.Now().After(deadline) {
			p.Stop(syscall.SIGKILL, time.Second)
			return nil, fmt.Errorf("broker did not start; see %s", p.Log)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Restart stops the broker with sig and starts it again on the same
// address and store; it returns the new process and when it accepted
// connections again.
func (b *BrokerProc) Restart(ctx context.Context, sig syscall.Signal) (*BrokerProc, error) {
	b.Stop(sig, 30*time.Second)
	return StartBroker(ctx, b.self, b.addr, b.sd)
}
