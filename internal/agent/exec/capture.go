package exec

import (
	"fmt"
	"sync"
)

// MaxCapture is the per-stream capture bound (SPEC §6).
const MaxCapture = 8 << 20

// Capture is an io.Writer that keeps the first 2/3 and the last 1/3 of at
// most limit bytes, so a runaway script cannot exhaust the agent's memory
// while both its start (usually the context) and its end (usually the
// error) survive.
type Capture struct {
	mu    sync.Mutex
	limit int
	head  []byte
	tail  []byte // ring buffer of the last tailCap bytes once head is full
	tpos  int    // next write position in tail when it is full
	total int64
}

// NewCapture returns a Capture bounded to limit bytes (MaxCapture if <= 0).
func NewCapture(limit int) *Capture {
	if limit <= 0 {
		limit = MaxCapture
	}
	return &Capture{limit: limit}
}

func (c *Capture) headCap() int { return c.limit * 2 / 3 }
func (c *Capture) tailCap() int { return c.limit - c.headCap() }

// Write never fails, so the child never sees EPIPE because of us.
func (c *Capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	c.total += int64(n)
	if room := c.headCap() - len(c.head); room > 0 {
		k := min(room, len(p))
		c.head = append(c.head, p[:k]...)
		p = p[k:]
	}
	tc := c.tailCap()
	for len(p) > 0 {
		if len(c.tail) < tc {
			k := min(tc-len(c.tail), len(p))
			c.tail = append(c.tail, p[:k]...)
			p = p[k:]
			continue
		}
		if len(p) >= tc { // only the last tc bytes of p can survive
			p = p[len(p)-tc:]
		}
		k := copy(c.tail[c.tpos:], p)
		p = p[k:]
		c.tpos = (c.tpos + k) % tc
	}
	return n, nil
}

// Total is the number of bytes written, kept or not.
func (c *Capture) Total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// String returns the kept bytes, with a marker where bytes were dropped.
func (c *Capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := int64(len(c.head) + len(c.tail))
	if c.total == kept {
		return string(c.head) + string(c.tail)
	}
	tail := append(append([]byte(nil), c.tail[c.tpos:]...), c.tail[:c.tpos]...)
	return string(c.head) + Marker(c.total, c.total-kept) + string(tail)
}

// Marker is the line inserted where output was dropped.
func Marker(total, dropped int64) string {
	return fmt.Sprintf("\n[kanade] output truncated: %d bytes written, %d dropped\n", total, dropped)
}

// Truncate bounds s to at most limit bytes, keeping 2/3 head and 1/3 tail
// around a marker (used for the inline copy in a result).
func Truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	m := Marker(int64(len(s)), 0)
	budget := limit - len(m) - 16 // the real count is a few digits longer
	if budget < 0 {
		return s[:limit]
	}
	head := budget * 2 / 3
	tail := budget - head
	dropped := int64(len(s) - head - tail)
	return s[:head] + Marker(int64(len(s)), dropped) + s[len(s)-tail:]
}
