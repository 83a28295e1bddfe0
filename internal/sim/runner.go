package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/agent/exec"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Dist is a run-time distribution: "0", "250ms" (constant),
// "uniform:100ms-2s" or "exp:500ms" (exponential with that mean).
type Dist struct {
	kind     string
	a, b     time.Duration
	original string
}

// ParseDist parses a Dist.
func ParseDist(s string) (Dist, error) {
	s = strings.TrimSpace(s)
	d := Dist{original: s}
	switch {
	case s == "" || s == "0":
		d.kind = "const"
	case strings.HasPrefix(s, "uniform:"):
		lo, hi, ok := strings.Cut(strings.TrimPrefix(s, "uniform:"), "-")
		if !ok {
			return d, fmt.Errorf("run time %q: want uniform:MIN-MAX", s)
		}
		a, err1 := time.ParseDuration(lo)
		b, err2 := time.ParseDuration(hi)
		if err1 != nil || err2 != nil || b < a || a < 0 {
			return d, fmt.Errorf("run time %q: bad bounds", s)
		}
		d.kind, d.a, d.b = "uniform", a, b
	case strings.HasPrefix(s, "exp:"):
		m, err := time.ParseDuration(strings.TrimPrefix(s, "exp:"))
		if err != nil || m < 0 {
			return d, fmt.Errorf("run time %q: bad mean", s)
		}
		d.kind, d.a = "exp", m
	default:
		c, err := time.ParseDuration(s)
		if err != nil || c < 0 {
			return d, fmt.Errorf("run time %q: want a duration, uniform:MIN-MAX or exp:MEAN", s)
		}
		d.kind, d.a = "const", c
	}
	return d, nil
}

func (d Dist) String() string {
	if d.original == "" {
		return "0"
	}
	return d.original
}

// Sample draws one run time.
func (d Dist) Sample() time.Duration {
	switch d.kind {
	case "uniform":
		if d.b == d.a {
			return d.a
		}
		return d.a + rand.N(d.b-d.a)
	case "exp":
		return time.Duration(rand.ExpFloat64() * float64(d.a))
	}
	return d.a
}

// fakeRunner stands in for exec.Runner: it sleeps a sampled run time,
// fails with the configured ratio, prints outputBytes, and counts every
// run per request_id so a second run of one command is detected.
type fakeRunner struct {
	a *simAgent
}

func (r fakeRunner) Run(ctx context.Context, cmd wire.Command, kill <-chan struct{}) exec.Result {
	f := r.a.c.f
	r.a.mu.Lock()
	r.a.runs[cmd.RequestID]++
	r.a.execs[cmd.ExecID]++
	dup := r.a.runs[cmd.RequestID] > 1
	r.a.mu.Unlock()
	f.stats.runs.Add(1)
	if dup {
		f.stats.duplicateRuns.Add(1)
		f.log.Error("duplicate run", "pc_id", r.a.pc, "request_id", cmd.RequestID, "exec_id", cmd.ExecID)
	}
	if d := f.cfg.RunTime.Sample(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-kill:
			t.Stop()
			return exec.Result{ExitCode: wire.ExitKilled, Killed: true, Stderr: "[kanade-sim] killed\n"}
		case <-ctx.Done():
			t.Stop()
			return exec.Result{ExitCode: wire.ExitKilled, Aborted: true}
		}
	}
	res := exec.Result{Stdout: f.output}
	if f.cfg.FailRatio > 0 && rand.Float64() < f.cfg.FailRatio {
		res.ExitCode = 1
		res.Stderr = "simulated failure\n"
	}
	return res
}

func makeOutput(n int) string {
	if n <= 0 {
		return ""
	}
	line := "kanade-sim output line " + strconv.Itoa(n) + "\n"
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(line)
	}
	return b.String()[:n]
}
