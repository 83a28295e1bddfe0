// Package outbox is the agent's durable, ordered, bounded queue of messages
// waiting for a JetStream PubAck. Every entry is its own fsynced file named
// by a sequence number, so a crash at any point loses nothing that Put
// returned for, and draining resumes in the original order.
//
// An entry may carry parts: messages that must be acknowledged before it
// (a result's full-output chunks, SPEC §11). They live in a sidecar file
// written before the entry, so an entry that exists has its parts, and they
// are sent, in order, each time just before their entry.
package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/kanade-fleet/kanade/internal/atomicfile"
)

const (
	magic      = "KOB1\n"
	partsMagic = "KOP1\n"
)

// Entry is one queued message.
type Entry struct {
	Seq     uint64
	Subject string
	MsgID   string // JetStream de-duplication id, so a resend after a lost ack is not stored twice
	Payload []byte
	// Parts are published (each acknowledged) before the entry itself.
	Parts []Part
}

// Part is a message sent ahead of its entry.
type Part struct {
	Subject string
	MsgID   string
	Header  map[string][]string
	Payload []byte
}

// Outbox is safe for concurrent use.
type Outbox struct {
	dir  string
	log  *slog.Logger
	mu   sync.Mutex
	seqs []uint64 // ascending
	next uint64
	cap  int
	// parts is the size of each entry's sidecar; partBytes their sum,
	// bounded by partCap.
	parts     map[uint64]int64
	partBytes int64
	partCap   int64
	notify    chan struct{}
	drainMu   sync.Mutex
}

// DefaultCap bounds the number of queued entries when none is given.
const DefaultCap = 10000

// DefaultPartCap bounds the bytes of all queued parts (about 30 maximal
// outputs of 8 MiB per stream); past it the oldest entries lose their
// parts, never themselves.
const DefaultPartCap = 256 << 20

// Open loads (or creates) the outbox in dir.
func Open(dir string, capacity int, log *slog.Logger) (*Outbox, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	o := &Outbox{dir: dir, log: log, next: 1, notify: make(chan struct{}, 1), parts: map[uint64]int64{}, partCap: DefaultPartCap}
	o.SetCap(capacity)
	sidecars := map[uint64]int64{}
	for _, de := range names {
		name := de.Name()
		if strings.HasSuffix(name, ".tmp") { // a Put interrupted before its rename
			_ = os.Remove(filepath.Join(dir, name))
			continue
		}
		if seq, ok := parsePartsName(name); ok {
			if fi, err := de.Info(); err == nil {
				sidecars[seq] = fi.Size()
			}
			o.next = max(o.next, seq+1)
			continue
		}
		seq, ok := parseName(name)
		if !ok {
			continue
		}
		o.seqs = append(o.seqs, seq)
		o.next = max(o.next, seq+1)
	}
	slices.Sort(o.seqs)
	for seq, size := range sidecars {
		if _, ok := slices.BinarySearch(o.seqs, seq); !ok { // a PutParts interrupted before its entry
			_ = os.Remove(filepath.Join(dir, partsName(seq)))
			continue
		}
		o.parts[seq] = size
		o.partBytes += size
	}
	if len(o.seqs) > 0 {
		log.Info("outbox: entries waiting from a previous run", "count", len(o.seqs))
	}
	o.mu.Lock()
	o.trimLocked()
	o.mu.Unlock()
	return o, nil
}

func fileName(seq uint64) string { return fmt.Sprintf("%020d.msg", seq) }

func partsName(seq uint64) string { return fmt.Sprintf("%020d.parts", seq) }

func parseName(name string) (uint64, bool) { return parseSeq(name, ".msg") }

func parsePartsName(name string) (uint64, bool) { return parseSeq(name, ".parts") }

func parseSeq(name, suffix string) (uint64, bool) {
	s, ok := strings.CutSuffix(name, suffix)
	if !ok || len(s) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// SetPartCap changes the bound on the bytes of queued parts (DefaultPartCap
// if n <= 0); it applies at the next Put.
func (o *Outbox) SetPartCap(n int64) {
	if n <= 0 {
		n = DefaultPartCap
	}
	o.mu.Lock()
	o.partCap = n
	o.mu.Unlock()
}

// PartBytes is the size of the queued parts on disk.
func (o *Outbox) PartBytes() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.partBytes
}

// EncodeParts renders a sidecar file: the magic, the number of parts, then
// per part its subject, msg id, headers (one JSON line), payload length and
// payload.
func EncodeParts(parts []Part) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(partsMagic)
	fmt.Fprintf(&b, "%d\n", len(parts))
	for _, p := range parts {
		h, err := json.Marshal(p.Header)
		if err != nil {
			return nil, fmt.Errorf("outbox: part headers: %w", err)
		}
		fmt.Fprintf(&b, "%s\n%s\n%s\n%d\n", p.Subject, p.MsgID, h, len(p.Payload))
		b.Write(p.Payload)
	}
	return b.Bytes(), nil
}

// DecodeParts parses a sidecar file (untrusted: the disk may be damaged).
func DecodeParts(data []byte) ([]Part, error) {
	rest, ok := bytes.CutPrefix(data, []byte(partsMagic))
	if !ok {
		return nil, ErrCorrupt
	}
	line := func() (string, bool) {
		l, r, ok := bytes.Cut(rest, []byte{'\n'})
		rest = r
		return string(l), ok
	}
	ns, ok := line()
	n, err := strconv.Atoi(ns)
	if !ok || err != nil || n < 0 || n > len(data) {
		return nil, ErrCorrupt
	}
	parts := make([]Part, 0, n)
	for range n {
		var p Part
		var hs, ls string
		var ok1, ok2, ok3, ok4 bool
		p.Subject, ok1 = line()
		p.MsgID, ok2 = line()
		hs, ok3 = line()
		ls, ok4 = line()
		size, err := strconv.Atoi(ls)
		if !ok1 || !ok2 || !ok3 || !ok4 || p.Subject == "" || err != nil || size < 0 || size > len(rest) {
			return nil, ErrCorrupt
		}
		if err := json.Unmarshal([]byte(hs), &p.Header); err != nil {
			return nil, ErrCorrupt
		}
		p.Payload, rest = rest[:size], rest[size:]
		parts = append(parts, p)
	}
	if len(rest) != 0 {
		return nil, ErrCorrupt
	}
	return parts, nil
}

// SetCap changes the bound; the oldest entries beyond it are dropped at the
// next Put.
func (o *Outbox) SetCap(n int) {
	if n <= 0 {
		n = DefaultCap
	}
	o.mu.Lock()
	o.cap = n
	o.mu.Unlock()
}

// Len is the number of queued entries.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.seqs)
}

// Notify receives a value after each Put (coalesced), to wake a drainer.
func (o *Outbox) Notify() <-chan struct{} { return o.notify }

// Encode renders an entry's file contents.
func Encode(e Entry) []byte {
	var b bytes.Buffer
	b.WriteString(magic)
	b.WriteString(e.Subject)
	b.WriteByte('\n')
	b.WriteString(e.MsgID)
	b.WriteByte('\n')
	b.Write(e.Payload)
	return b.Bytes()
}

// ErrCorrupt is returned by Decode for anything Encode did not produce.
var ErrCorrupt = errors.New("outbox: corrupt entry")

// Decode parses an entry file (untrusted: the disk may be damaged).
func Decode(data []byte) (Entry, error) {
	rest, ok := bytes.CutPrefix(data, []byte(magic))
	if !ok {
		return Entry{}, ErrCorrupt
	}
	subj, rest, ok := bytes.Cut(rest, []byte{'\n'})
	if !ok || len(subj) == 0 {
		return Entry{}, ErrCorrupt
	}
	id, payload, ok := bytes.Cut(rest, []byte{'\n'})
	if !ok {
		return Entry{}, ErrCorrupt
	}
	return Entry{Subject: string(subj), MsgID: string(id), Payload: payload}, nil
}

func checkNames(subject, msgID string) error {
	if subject == "" || strings.ContainsAny(subject, "\n\r \t") || strings.ContainsAny(msgID, "\n\r") {
		return fmt.Errorf("outbox: bad subject %q or msg id %q", subject, msgID)
	}
	return nil
}

// Put durably appends a message. When it returns nil the message survives
// a crash.
func (o *Outbox) Put(subject, msgID string, payload []byte) error {
	return o.PutParts(subject, msgID, payload, nil)
}

// PutParts durably appends a message with parts to send (each acknowledged)
// before it. When it returns nil both survive a crash: the parts are
// written first, and a sidecar without its entry is discarded at Open.
func (o *Outbox) PutParts(subject, msgID string, payload []byte, parts []Part) error {
	if err := checkNames(subject, msgID); err != nil {
		return err
	}
	for _, p := range parts {
		if err := checkNames(p.Subject, p.MsgID); err != nil {
			return err
		}
	}
	o.mu.Lock()
	seq := o.next
	o.next++
	o.mu.Unlock()

	var sidecar int64
	if len(parts) > 0 {
		data, err := EncodeParts(parts)
		if err != nil {
			return err
		}
		if err := writeFileSync(filepath.Join(o.dir, partsName(seq)), data); err != nil {
			return err
		}
		sidecar = int64(len(data))
	}
	path := filepath.Join(o.dir, fileName(seq))
	if err := writeFileSync(path, Encode(Entry{Subject: subject, MsgID: msgID, Payload: payload})); err != nil {
		if sidecar > 0 {
			_ = os.Remove(filepath.Join(o.dir, partsName(seq)))
		}
		return err
	}
	o.mu.Lock()
	if sidecar > 0 {
		o.parts[seq] = sidecar
		o.partBytes += sidecar
	}
	// Keep seqs sorted even if two Puts finish out of order.
	i, _ := slices.BinarySearch(o.seqs, seq)
	o.seqs = slices.Insert(o.seqs, i, seq)
	o.trimLocked()
	o.mu.Unlock()
	select {
	case o.notify <- struct{}{}:
	default:
	}
	return nil
}

func (o *Outbox) trimLocked() {
	for len(o.seqs) > o.cap {
		seq := o.seqs[0]
		o.seqs = o.seqs[1:]
		if err := os.Remove(filepath.Join(o.dir, fileName(seq))); err != nil && !errors.Is(err, os.ErrNotExist) {
			o.log.Error("outbox: dropping oldest entry", "seq", seq, "error", err)
		}
		o.dropPartsLocked(seq)
		o.log.Warn("outbox full: oldest entry dropped", "seq", seq, "cap", o.cap)
	}
	for _, seq := range o.seqs {
		if o.partBytes <= o.partCap {
			break
		}
		if o.parts[seq] > 0 {
			o.dropPartsLocked(seq)
			o.log.Warn("outbox parts over their cap: the oldest entry's parts dropped (its full output is lost; the result keeps its excerpt)",
				"seq", seq, "part_cap_bytes", o.partCap)
		}
	}
}

func (o *Outbox) dropPartsLocked(seq uint64) {
	size, ok := o.parts[seq]
	if !ok {
		return
	}
	delete(o.parts, seq)
	o.partBytes -= size
	if err := os.Remove(filepath.Join(o.dir, partsName(seq))); err != nil && !errors.Is(err, os.ErrNotExist) {
		o.log.Error("outbox: dropping parts", "seq", seq, "error", err)
	}
}

func writeFileSync(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// permanentError marks a publish failure that retrying cannot fix.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent wraps err so Drain drops the entry (with a log line) instead of
// retrying it forever and blocking everything behind it.
func Permanent(err error) error { return permanentError{err} }

// PublishFunc sends one entry and returns nil once the broker acknowledged it.
type PublishFunc func(ctx context.Context, e Entry) error

// Drain publishes queued entries oldest first and removes each one after
// publish returns nil. It stops at the first (retryable) failure, so order
// is preserved, and returns how many entries were sent.
func (o *Outbox) Drain(ctx context.Context, publish PublishFunc) (int, error) {
	o.drainMu.Lock()
	defer o.drainMu.Unlock()
	sent := 0
	for {
		if err := ctx.Err(); err != nil {
			return sent, err
		}
		o.mu.Lock()
		if len(o.seqs) == 0 {
			o.mu.Unlock()
			return sent, nil
		}
		seq := o.seqs[0]
		o.mu.Unlock()
		path := filepath.Join(o.dir, fileName(seq))
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) { // dropped by trim meanwhile
			o.forget(seq)
			continue
		}
		if err != nil {
			return sent, fmt.Errorf("outbox: read %s: %w", path, err)
		}
		e, err := Decode(data)
		if err != nil {
			o.log.Error("outbox: dropping unreadable entry", "seq", seq, "error", err)
			o.remove(seq)
			continue
		}
		e.Seq = seq
		if pd, err := os.ReadFile(filepath.Join(o.dir, partsName(seq))); err == nil {
			if e.Parts, err = DecodeParts(pd); err != nil {
				o.log.Error("outbox: dropping unreadable parts; sending the entry without them", "seq", seq, "error", err)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return sent, fmt.Errorf("outbox: read parts of %d: %w", seq, err)
		}
		if err := publish(ctx, e); err != nil {
			var perm permanentError
			if errors.As(err, &perm) {
				o.log.Error("outbox: dropping entry the broker refuses", "seq", seq, "subject", e.Subject, "error", err)
				o.remove(seq)
				continue
			}
			return sent, err
		}
		o.remove(seq)
		sent++
	}
}

func (o *Outbox) remove(seq uint64) {
	if err := os.Remove(filepath.Join(o.dir, fileName(seq))); err != nil && !errors.Is(err, os.ErrNotExist) {
		o.log.Error("outbox: remove sent entry", "seq", seq, "error", err)
	}
	o.mu.Lock()
	o.dropPartsLocked(seq)
	o.mu.Unlock()
	o.forget(seq)
}

func (o *Outbox) forget(seq uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if i, ok := slices.BinarySearch(o.seqs, seq); ok {
		o.seqs = slices.Delete(o.seqs, i, i+1)
	}
}
