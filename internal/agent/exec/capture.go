package exec

import (
	"fmt"
	"slices"
	"sync"
)

// MaxCapture is the per-stream capture bound (SPEC §6).
const MaxCapture = 8 << 20

// layout is how a bounded capture keeps a stream: its first hc bytes (the
// head, usually the context) and its last tc bytes (the tail, usually the
// error) in a store of hc+tc bytes addressed by offset, the tail as a
// ring. The captured form of a stream longer than hc+tc is head, a marker
// and tail. Capture keeps the store in memory, Spool in a file.
type layout struct {
	hc, tc int64 // tc > 0
	total  int64 // bytes written so far, kept or not
}

// split is the head/tail split of a bound: 2/3 head, 1/3 tail.
func split(limit int64) layout {
	hc := limit * 2 / 3
	return layout{hc: hc, tc: limit - hc}
}

func (l layout) truncated() bool { return l.total > l.hc+l.tc }

func (l layout) marker() string {
	if !l.truncated() {
		return ""
	}
	return Marker(l.total, l.total-l.hc-l.tc)
}

// size is the length of the captured form.
func (l layout) size() int64 {
	if !l.truncated() {
		return l.total
	}
	return l.hc + int64(len(l.marker())) + l.tc
}

// place hands put the pieces of p (written at stream position l.total)
// that the store keeps, with their store offsets, and advances l.total.
func (l *layout) place(p []byte, put func(off int64, b []byte)) {
	pos := l.total
	l.total += int64(len(p))
	if pos < l.hc {
		k := min(l.hc-pos, int64(len(p)))
		put(pos, p[:k])
		pos, p = pos+k, p[k:]
	}
	if n := int64(len(p)); n > l.tc { // only the last tc bytes of p can survive
		pos, p = pos+n-l.tc, p[n-l.tc:]
	}
	for len(p) > 0 {
		off := (pos - l.hc) % l.tc
		k := min(l.tc-off, int64(len(p)))
		put(l.hc+off, p[:k])
		pos, p = pos+k, p[k:]
	}
}

// raw hands at the store ranges holding stream bytes [a, b), in order.
// Bytes the store no longer keeps (between head and tail) are skipped;
// callers ask only for kept ones.
func (l layout) raw(a, b int64, at func(off, n int64)) {
	if a < l.hc {
		e := min(b, l.hc)
		at(a, e-a)
		a = e
	}
	a = max(a, l.total-l.tc)
	for a < b {
		off := (a - l.hc) % l.tc
		n := min(b-a, l.tc-off)
		at(l.hc+off, n)
		a += n
	}
}

// captured hands the captured form's bytes [from, to) to emit, as store
// ranges (raw) and marker text (lit), in order.
func (l layout) captured(from, to int64, raw func(a, b int64), lit func(s string)) {
	if !l.truncated() {
		if from < to {
			raw(from, to)
		}
		return
	}
	m := l.marker()
	mEnd := l.hc + int64(len(m))
	if from < l.hc {
		raw(from, min(to, l.hc))
	}
	if from < mEnd && to > l.hc {
		lit(m[max(from, l.hc)-l.hc : min(to, mEnd)-l.hc])
	}
	if to > mEnd {
		// captured offset c ≥ mEnd is stream position total-tc+(c-mEnd)
		base := l.total - l.tc - mEnd
		raw(max(from, mEnd)+base, to+base)
	}
}

// memStore is a store in memory that grows as it fills, so a short
// output costs what it printed, not the bound.
type memStore struct{ buf []byte }

func (m *memStore) put(off int64, b []byte) {
	if need := int(off) + len(b); need > len(m.buf) {
		m.buf = slices.Grow(m.buf, need-len(m.buf))[:need]
	}
	copy(m.buf[off:], b)
}

// Capture is an io.Writer that keeps the first 2/3 and the last 1/3 of at
// most limit bytes in memory, so a runaway script cannot exhaust the
// agent's memory while both its start and its end survive.
type Capture struct {
	mu sync.Mutex
	l  layout
	m  memStore
}

// NewCapture returns a Capture bounded to limit bytes (MaxCapture if <= 0).
func NewCapture(limit int) *Capture {
	if limit <= 0 {
		limit = MaxCapture
	}
	return &Capture{l: split(int64(limit))}
}

// Write never fails, so the child never sees EPIPE because of us.
func (c *Capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.l.place(p, c.m.put)
	return len(p), nil
}

// Total is the number of bytes written, kept or not.
func (c *Capture) Total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.l.total
}

// String returns the kept bytes, with a marker where bytes were dropped.
func (c *Capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.slice(0, c.l.size()))
}

func (c *Capture) slice(from, to int64) []byte {
	out := make([]byte, 0, to-from)
	c.l.captured(from, to, func(a, b int64) {
		c.l.raw(a, b, func(off, n int64) { out = append(out, c.m.buf[off:off+n]...) })
	}, func(s string) { out = append(out, s...) })
	return out
}

// Marker is the line inserted where output was dropped.
func Marker(total, dropped int64) string {
	return fmt.Sprintf("\n[kanade] output truncated: %d bytes written, %d dropped\n", total, dropped)
}

// Truncate bounds s to at most limit bytes, keeping 2/3 head and 1/3 tail
// around a marker (used for the inline copy in a result).
func Truncate(s string, limit int) string {
	return string(truncate(int64(len(s)), limit, func(a, b int64) []byte { return []byte(s[a:b]) }))
}

// truncate is Truncate of a text of size bytes read through slice.
func truncate(size int64, limit int, slice func(a, b int64) []byte) []byte {
	if size <= int64(limit) {
		return slice(0, size)
	}
	m := Marker(size, 0)
	budget := limit - len(m) - 16 // the real count is a few digits longer
	if budget < 0 {
		return slice(0, int64(limit))
	}
	head := int64(budget * 2 / 3)
	tail := int64(budget) - head
	out := slice(0, head)
	out = append(out, Marker(size, size-head-tail)...)
	return append(out, slice(size-tail, size)...)
}
