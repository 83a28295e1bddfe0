// Package outbox is the agent's durable, ordered, bounded queue of messages
// waiting for a JetStream PubAck. Every entry is its own fsynced file named
// by a sequence number, so a crash at any point loses nothing that Put
// returned for, and draining resumes in the original order.
//
// An entry may carry parts: messages that must be acknowledged before it
// (a result's full-output chunks, SPEC §11). They live in a sidecar file
// written before the entry, so an entry that exists has its parts, and they
// are sent, in order, each time just before their entry. A part's payload
// is either in the sidecar or a byte range of a blob: a file (a spooled
// output) that PutParts moves into the outbox, so a large output is never
// held in memory whole, neither when queued nor when sent.
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
	partsMagic = "KOP1\n" // payloads inline only (what older agents wrote)
	// partsMagic2 also allows blob references: a size line "@<blob> <offset> <size>".
	partsMagic2 = "KOP2\n"
	// maxBlobPart bounds one part read from a blob (chunks are 128 KiB), so
	// a damaged sidecar cannot make Drain allocate without bound.
	maxBlobPart = 16 << 20
	// spoolDir is where files to be handed to PutParts are written.
	spoolDir = "spool"
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

// Part is a message sent ahead of its entry. Its payload is Payload or,
// when File is set, the Size bytes at Offset of File (see PutParts).
type Part struct {
	Subject string
	MsgID   string
	Header  map[string][]string
	Payload []byte
	File    string
	Offset  int64
	Size    int64
}

// Data returns the part's payload, reading it from its file when it has
// one (one part in memory at a time).
func (p Part) Data() ([]byte, error) {
	if p.File == "" {
		return p.Payload, nil
	}
	if p.Size < 0 || p.Size > maxBlobPart || p.Offset < 0 {
		return nil, fmt.Errorf("outbox: part %s: bad range %d+%d", p.MsgID, p.Offset, p.Size)
	}
	f, err := os.Open(p.File)
	if err != nil {
		return nil, fmt.Errorf("outbox: part %s: %w", p.MsgID, err)
	}
	defer f.Close()
	b := make([]byte, p.Size)
	if _, err := f.ReadAt(b, p.Offset); err != nil {
		return nil, fmt.Errorf("outbox: part %s: %w", p.MsgID, err)
	}
	return b, nil
}

// partFiles is what one entry's parts occupy on disk: the sidecar and its
// blobs (names in the outbox directory) and their total size.
type partFiles struct {
	bytes int64
	blobs []string
}

// Outbox is safe for concurrent use.
type Outbox struct {
	dir  string
	log  *slog.Logger
	mu   sync.Mutex
	seqs []uint64 // ascending
	next uint64
	cap  int
	// parts is what each entry's parts occupy; partBytes the sum of
	// their sizes, bounded by partCap.
	parts     map[uint64]partFiles
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
	o := &Outbox{dir: dir, log: log, next: 1, notify: make(chan struct{}, 1), parts: map[uint64]partFiles{}, partCap: DefaultPartCap}
	o.SetCap(capacity)
	// Spool files are outputs of runs the previous process did not queue:
	// those runs are reported as cut short, without them.
	if err := os.RemoveAll(filepath.Join(dir, spoolDir)); err != nil {
		return nil, fmt.Errorf("outbox: clearing the spool: %w", err)
	}
	sidecars := map[uint64]int64{}
	blobs := map[uint64]partFiles{}
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
		if seq, ok := parseBlobName(name); ok {
			pf := blobs[seq]
			if fi, err := de.Info(); err == nil {
				pf.bytes += fi.Size()
			}
			pf.blobs = append(pf.blobs, name)
			blobs[seq] = pf
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
	for seq, pf := range blobs {
		_, entry := slices.BinarySearch(o.seqs, seq)
		if _, sidecar := sidecars[seq]; !entry || !sidecar { // a PutParts interrupted before its sidecar or entry
			for _, b := range pf.blobs {
				_ = os.Remove(filepath.Join(dir, b))
			}
			delete(blobs, seq)
		}
	}
	for seq, size := range sidecars {
		if _, ok := slices.BinarySearch(o.seqs, seq); !ok { // a PutParts interrupted before its entry
			_ = os.Remove(filepath.Join(dir, partsName(seq)))
			continue
		}
		pf := blobs[seq]
		pf.bytes += size
		o.parts[seq] = pf
		o.partBytes += pf.bytes
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

// blobName is the k-th blob of entry seq.
func blobName(seq uint64, k int) string { return fmt.Sprintf("%020d.%d.blob", seq, k) }

func parseBlobName(name string) (uint64, bool) {
	s, ok := strings.CutSuffix(name, ".blob")
	if !ok {
		return 0, false
	}
	seq, k, ok := strings.Cut(s, ".")
	if n, err := strconv.ParseUint(k, 10, 16); !ok || err != nil || strconv.FormatUint(n, 10) != k || len(seq) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	return n, err == nil
}

// SpoolDir is a directory on the outbox's volume for files to be handed
// to PutParts (moved, not copied); it is emptied at Open.
func (o *Outbox) SpoolDir() (string, error) {
	d := filepath.Join(o.dir, spoolDir)
	if err := os.MkdirAll(d, 0o700); err != nil {
		return "", fmt.Errorf("outbox: %w", err)
	}
	return d, nil
}

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
// per part its subject, msg id, headers (one JSON line), and either its
// payload length and payload or "@<file> <offset> <size>" for a part whose
// payload is in a blob (File names it, a blobName).
func EncodeParts(parts []Part) ([]byte, error) {
	var b bytes.Buffer
	m := partsMagic
	for _, p := range parts {
		if p.File != "" {
			m = partsMagic2
		}
	}
	b.WriteString(m)
	fmt.Fprintf(&b, "%d\n", len(parts))
	for _, p := range parts {
		h, err := json.Marshal(p.Header)
		if err != nil {
			return nil, fmt.Errorf("outbox: part headers: %w", err)
		}
		fmt.Fprintf(&b, "%s\n%s\n%s\n", p.Subject, p.MsgID, h)
		if p.File != "" {
			if _, ok := parseBlobName(p.File); !ok || p.Offset < 0 || p.Size < 0 || p.Size > maxBlobPart {
				return nil, fmt.Errorf("outbox: part %s: bad blob reference %q %d+%d", p.MsgID, p.File, p.Offset, p.Size)
			}
			fmt.Fprintf(&b, "@%s %d %d\n", p.File, p.Offset, p.Size)
			continue
		}
		fmt.Fprintf(&b, "%d\n", len(p.Payload))
		b.Write(p.Payload)
	}
	return b.Bytes(), nil
}

// DecodeParts parses a sidecar file (untrusted: the disk may be damaged).
func DecodeParts(data []byte) ([]Part, error) {
	rest, ok := bytes.CutPrefix(data, []byte(partsMagic))
	blobsOK := false
	if !ok {
		if rest, ok = bytes.CutPrefix(data, []byte(partsMagic2)); !ok {
			return nil, ErrCorrupt
		}
		blobsOK = true
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
		if !ok1 || !ok2 || !ok3 || !ok4 || p.Subject == "" {
			return nil, ErrCorrupt
		}
		if err := json.Unmarshal([]byte(hs), &p.Header); err != nil {
			return nil, ErrCorrupt
		}
		if ref, isBlob := strings.CutPrefix(ls, "@"); isBlob {
			if !blobsOK || !parseBlobRef(ref, &p) {
				return nil, ErrCorrupt
			}
			parts = append(parts, p)
			continue
		}
		size, err := strconv.Atoi(ls)
		if err != nil || size < 0 || size > len(rest) {
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

// parseBlobRef reads "<blob> <offset> <size>" into p.
func parseBlobRef(ref string, p *Part) bool {
	f := strings.Split(ref, " ")
	if len(f) != 3 {
		return false
	}
	if _, ok := parseBlobName(f[0]); !ok {
		return false
	}
	off, err1 := strconv.ParseInt(f[1], 10, 64)
	size, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || off < 0 || size < 0 || size > maxBlobPart {
		return false
	}
	p.File, p.Offset, p.Size = f[0], off, size
	return true
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
//
// A part with File set takes its payload from that file's bytes [Offset,
// Offset+Size). PutParts takes each such file over: it is fsynced and
// moved into the outbox (so it must be on the outbox's volume: write it in
// SpoolDir), and removed once the entry is sent or dropped. On error the
// files may be gone too.
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

	var pf partFiles
	undo := func() {
		for _, b := range pf.blobs {
			_ = os.Remove(filepath.Join(o.dir, b))
		}
		_ = os.Remove(filepath.Join(o.dir, partsName(seq)))
	}
	if len(parts) > 0 {
		parts = slices.Clone(parts)
		adopted := map[string]string{} // caller's path → blob name
		for i := range parts {
			p := &parts[i]
			if p.File == "" {
				continue
			}
			name, ok := adopted[p.File]
			if !ok {
				name = blobName(seq, len(pf.blobs))
				size, err := adopt(p.File, filepath.Join(o.dir, name))
				if err != nil {
					undo()
					return err
				}
				adopted[p.File] = name
				pf.blobs = append(pf.blobs, name)
				pf.bytes += size
			}
			p.File = name
		}
		if len(pf.blobs) > 0 {
			if err := atomicfile.SyncDir(o.dir); err != nil { // the renames, before a sidecar names them
				undo()
				return fmt.Errorf("outbox: %w", err)
			}
		}
		data, err := EncodeParts(parts)
		if err == nil {
			err = writeFileSync(filepath.Join(o.dir, partsName(seq)), data)
		}
		if err != nil {
			undo()
			return err
		}
		pf.bytes += int64(len(data))
	}
	path := filepath.Join(o.dir, fileName(seq))
	if err := writeFileSync(path, Encode(Entry{Subject: subject, MsgID: msgID, Payload: payload})); err != nil {
		undo()
		return err
	}
	o.mu.Lock()
	if len(parts) > 0 {
		o.parts[seq] = pf
		o.partBytes += pf.bytes
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
		if _, ok := o.parts[seq]; ok {
			o.dropPartsLocked(seq)
			o.log.Warn("outbox parts over their cap: the oldest entry's parts dropped (its full output is lost; the result keeps its excerpt)",
				"seq", seq, "part_cap_bytes", o.partCap)
		}
	}
}

func (o *Outbox) dropPartsLocked(seq uint64) {
	pf, ok := o.parts[seq]
	if !ok {
		return
	}
	delete(o.parts, seq)
	o.partBytes -= pf.bytes
	// The sidecar goes first: blobs without it are discarded at Open.
	for _, name := range append([]string{partsName(seq)}, pf.blobs...) {
		if err := os.Remove(filepath.Join(o.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			o.log.Error("outbox: dropping parts", "seq", seq, "file", name, "error", err)
		}
	}
}

// adopt fsyncs the file at src and moves it to dst, returning its size.
func adopt(src, dst string) (int64, error) {
	f, err := os.OpenFile(src, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("outbox: part file: %w", err)
	}
	fi, err := f.Stat()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(src, dst)
	}
	if err != nil {
		return 0, fmt.Errorf("outbox: part file %s: %w", src, err)
	}
	return fi.Size(), nil
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
			if e.Parts, err = DecodeParts(pd); err == nil {
				err = o.locateBlobs(seq, e.Parts)
			}
			if err != nil {
				e.Parts = nil
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

// locateBlobs points blob parts at their files, checking that each is a
// blob of this entry that holds the part's range (the sidecar is untrusted).
func (o *Outbox) locateBlobs(seq uint64, parts []Part) error {
	sizes := map[string]int64{}
	for i := range parts {
		p := &parts[i]
		if p.File == "" {
			continue
		}
		if s, ok := parseBlobName(p.File); !ok || s != seq {
			return fmt.Errorf("%w: part %s names blob %q of another entry", ErrCorrupt, p.MsgID, p.File)
		}
		size, ok := sizes[p.File]
		if !ok {
			fi, err := os.Stat(filepath.Join(o.dir, p.File))
			if err != nil {
				return fmt.Errorf("outbox: part %s: %w", p.MsgID, err)
			}
			size, sizes[p.File] = fi.Size(), fi.Size()
		}
		if p.Offset+p.Size > size {
			return fmt.Errorf("%w: part %s reaches past its blob (%d+%d > %d)", ErrCorrupt, p.MsgID, p.Offset, p.Size, size)
		}
		p.File = filepath.Join(o.dir, p.File)
	}
	return nil
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
