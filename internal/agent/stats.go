package agent

import (
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/process"
)

// selfStats samples the agent's own RSS and CPU for heartbeats.
type selfStats struct {
	hostname  string
	osVersion string
	bootTime  time.Time

	mu       sync.Mutex
	proc     *process.Process
	lastCPU  float64 // seconds of CPU used, at lastWall
	lastWall time.Time
}

func newSelfStats() *selfStats {
	s := &selfStats{}
	s.hostname, _ = os.Hostname()
	if platform, _, version, err := host.PlatformInformation(); err == nil {
		s.osVersion = strings.TrimSpace(platform + " " + version)
	}
	if bt, err := host.BootTime(); err == nil && bt > 0 {
		s.bootTime = time.Unix(int64(bt), 0).UTC()
	}
	s.proc, _ = process.NewProcess(int32(os.Getpid()))
	s.sample() // prime the CPU delta
	return s
}

// sample returns RSS bytes and CPU percent of one core since the last call.
func (s *selfStats) sample() (rss uint64, cpuPct float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0, 0
	}
	if mi, err := s.proc.MemoryInfo(); err == nil {
		rss = mi.RSS
	}
	if t, err := s.proc.Times(); err == nil {
		now := time.Now()
		used := t.User + t.System
		if !s.lastWall.IsZero() {
			if wall := now.Sub(s.lastWall).Seconds(); wall > 0 {
				cpuPct = max(0, (used-s.lastCPU)/wall*100)
			}
		}
		s.lastCPU, s.lastWall = used, now
	}
	return rss, cpuPct
}

func osFamily() string { return runtime.GOOS }
