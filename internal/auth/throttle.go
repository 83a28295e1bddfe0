package auth

import (
	"sync"
	"time"
)

// Per-IP login throttle (SPEC §8): 30 failures within a minute from one
// client address → refused until the oldest of them leaves the window.
const (
	IPMaxFailures = 30
	IPWindow      = time.Minute
	// ipMaxTracked bounds memory under a flood from many addresses.
	ipMaxTracked = 100_000
)

// ipThrottle is an exact sliding window: it keeps the times of the last
// IPMaxFailures failures of each address. In memory, per backend process.
type ipThrottle struct {
	mu   sync.Mutex
	fail map[string][]time.Time
}

func newIPThrottle() *ipThrottle { return &ipThrottle{fail: map[string][]time.Time{}} }

// blocked returns how long ip must wait, or 0.
func (t *ipThrottle) blocked(ip string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := recent(t.fail[ip], now)
	if len(f) < IPMaxFailures {
		return 0
	}
	return f[len(f)-IPMaxFailures].Add(IPWindow).Sub(now)
}

// failure records one failed attempt from ip.
func (t *ipThrottle) failure(ip string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.fail[ip]
	if !ok && len(t.fail) >= ipMaxTracked {
		t.sweep(now)
		if len(t.fail) >= ipMaxTracked {
			// Still full of live entries: forget one arbitrary address
			// rather than grow without bound.
			for k := range t.fail {
				delete(t.fail, k)
				break
			}
		}
	}
	f = append(recent(f, now), now)
	if len(f) > IPMaxFailures {
		f = append(f[:0], f[len(f)-IPMaxFailures:]...)
	}
	t.fail[ip] = f
}

func (t *ipThrottle) sweep(now time.Time) {
	for k, f := range t.fail {
		if len(recent(f, now)) == 0 {
			delete(t.fail, k)
		}
	}
}

// recent drops the times that left the window (f is in ascending order).
func recent(f []time.Time, now time.Time) []time.Time {
	cut := now.Add(-IPWindow)
	i := 0
	for i < len(f) && !f[i].After(cut) {
		i++
	}
	return f[i:]
}
