// Package ledger is the agent's durable at-most-once memory: every admitted
// request_id is journaled (fsynced) before its command may run, together
// with its progress, so a restart neither reruns a command nor forgets one
// that was cut short.
package ledger

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/kanade-fleet/kanade/internal/atomicfile"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Retention is how long a finished request_id is remembered: the EXEC
// stream's max age (7 d) plus a day, so catch-up can never replay it.
const Retention = 8 * 24 * time.Hour

// State is a record's progress.
type State uint8

const (
	Admitted State = 1 // accepted, not started (queued, jittering, gated)
	Started  State = 2 // EventStarted may be out; the script may be running
	Done     State = 3 // result enqueued durably
)

// Record is what the ledger knows of one request_id.
type Record struct {
	RequestID  string
	ExecID     string // kept after Done: one run per execution (see Admit)
	ResultID   string
	AdmittedAt time.Time
	State      State
	StartedAt  time.Time
	Command    *wire.Command // kept until Done, for recovery
}

// line is one journal entry. Op "a" admit, "s" start, "d" done, "r" a whole
// record (written by compaction).
type line struct {
	Op        string        `json:"op"`
	RID       string        `json:"rid"`
	Exec      string        `json:"exec,omitempty"`
	Res       string        `json:"res,omitempty"`
	At        time.Time     `json:"at,omitzero"`
	State     State         `json:"st,omitempty"`
	StartedAt time.Time     `json:"sat,omitzero"`
	Cmd       *wire.Command `json:"cmd,omitempty"`
}

// Ledger is safe for concurrent use. A Ledger from NewMemory keeps the same
// semantics without a file (fleet simulator, tests).
type Ledger struct {
	mu      sync.Mutex
	path    string
	f       *os.File
	recs    map[string]*Record
	ops     int // journal lines since the last compaction
	closed  bool
	nowFunc func() time.Time
}

// NewMemory returns a ledger that forgets everything at exit.
func NewMemory() *Ledger { return &Ledger{recs: map[string]*Record{}, nowFunc: time.Now} }

// Open loads the journal in dir (creating it) and compacts it, dropping
// finished records older than Retention and a torn last line.
func Open(dir string) (*Ledger, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	l := &Ledger{path: filepath.Join(dir, "ledger.jsonl"), recs: map[string]*Record{}, nowFunc: time.Now}
	// What a compaction cut short left behind (and an older agent's fixed
	// temporary name).
	if err := atomicfile.RemoveTemps(l.path); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	_ = os.Remove(l.path + ".tmp")
	data, err := os.ReadFile(l.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	l.recs = Load(data)
	if err := l.compactLocked(); err != nil {
		return nil, err
	}
	return l, nil
}

// Load rebuilds records from journal bytes. Lines that do not decode (a
// write torn by a crash, disk damage) are skipped: the journal is untrusted.
func Load(data []byte) map[string]*Record {
	recs := map[string]*Record{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		var ln line
		if json.Unmarshal(sc.Bytes(), &ln) != nil || ln.RID == "" {
			continue
		}
		apply(recs, ln)
	}
	return recs
}

func apply(recs map[string]*Record, ln line) {
	r := recs[ln.RID]
	switch ln.Op {
	case "a":
		if r != nil {
			return
		}
		recs[ln.RID] = &Record{RequestID: ln.RID, ExecID: execOf(ln), ResultID: ln.Res, AdmittedAt: ln.At, State: Admitted, Command: ln.Cmd}
	case "r":
		if ln.State < Admitted || ln.State > Done {
			return
		}
		r := &Record{RequestID: ln.RID, ExecID: execOf(ln), ResultID: ln.Res, AdmittedAt: ln.At, State: ln.State,
			StartedAt: ln.StartedAt, Command: ln.Cmd}
		if r.State == Done {
			r.Command = nil
		}
		recs[ln.RID] = r
	case "s":
		if r != nil && r.State == Admitted {
			r.State, r.StartedAt = Started, ln.StartedAt
		}
	case "d":
		if r != nil {
			r.State, r.Command = Done, nil
		}
	}
}

func execOf(ln line) string {
	if ln.Exec != "" || ln.Cmd == nil {
		return ln.Exec
	}
	return ln.Cmd.ExecID
}

// Seen reports whether requestID was ever admitted (and not yet expired).
func (l *Ledger) Seen(requestID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.recs[requestID]
	return ok
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("ledger: closed")

// Admit records cmd under its request_id. It returns false (and changes
// nothing) if the request_id is already known. When it returns true the
// admission is durable.
func (l *Ledger) Admit(cmd wire.Command, resultID string, now time.Time) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false, ErrClosed
	}
	if _, ok := l.recs[cmd.RequestID]; ok {
		return false, nil
	}
	// One run per execution: a PC in two targeted groups (or two waves of
	// a rollout) receives one command per subject, all with the same
	// exec_id, and the backend counts it as one target.
	if cmd.ExecID != "" {
		for _, r := range l.recs {
			if r.ExecID == cmd.ExecID {
				return false, nil
			}
		}
	}
	c := cmd
	ln := line{Op: "a", RID: cmd.RequestID, Exec: cmd.ExecID, Res: resultID, At: now.UTC(), Cmd: &c}
	if err := l.appendLocked(ln); err != nil {
		return false, err
	}
	apply(l.recs, ln)
	return true, nil
}

// Start records that the run began (before EventStarted is enqueued).
func (l *Ledger) Start(requestID string, at time.Time) error {
	return l.op(line{Op: "s", RID: requestID, StartedAt: at.UTC()})
}

// Done records that the run's result is safely in the outbox.
func (l *Ledger) Done(requestID string) error {
	return l.op(line{Op: "d", RID: requestID})
}

func (l *Ledger) op(ln line) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if _, ok := l.recs[ln.RID]; !ok {
		return fmt.Errorf("ledger: unknown request_id %q", ln.RID)
	}
	if err := l.appendLocked(ln); err != nil {
		return err
	}
	apply(l.recs, ln)
	if l.f != nil && l.ops > 4096 && l.ops > 2*len(l.recs) {
		return l.compactLocked()
	}
	return nil
}

// Unfinished returns records not Done, oldest first: what recovery must
// resume (Admitted) or report as cut short (Started).
func (l *Ledger) Unfinished() []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Record
	for _, r := range l.recs {
		if r.State != Done {
			out = append(out, *r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AdmittedAt.Before(out[j].AdmittedAt) })
	return out
}

// Len is the number of remembered request_ids.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recs)
}

// Expire forgets finished records older than Retention and rewrites the
// journal. The agent calls it periodically.
func (l *Ledger) Expire() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	return l.compactLocked()
}

func (l *Ledger) appendLocked(ln line) error {
	if l.path == "" {
		return nil // memory ledger
	}
	if l.f == nil {
		return errors.New("ledger: journal not open (an earlier compaction failed)")
	}
	b, err := json.Marshal(ln)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	b = append(b, '\n')
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("ledger: append: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("ledger: fsync: %w", err)
	}
	l.ops++
	return nil
}

// compactLocked drops expired records and rewrites the journal atomically
// as one "r" line per record.
func (l *Ledger) compactLocked() error {
	cutoff := l.nowFunc().Add(-Retention)
	for id, r := range l.recs {
		if r.State == Done && r.AdmittedAt.Before(cutoff) {
			delete(l.recs, id)
		}
	}
	if l.path == "" {
		return nil
	}
	ids := make([]string, 0, len(l.recs))
	for id := range l.recs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var buf bytes.Buffer
	for _, id := range ids {
		r := l.recs[id]
		b, err := json.Marshal(line{Op: "r", RID: id, Exec: r.ExecID, Res: r.ResultID, At: r.AdmittedAt, State: r.State,
			StartedAt: r.StartedAt, Cmd: r.Command})
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	// The journal is closed before it is replaced (Windows cannot rename
	// over an open file) and reopened whatever happened, so a failed
	// compaction leaves appends working on the old or the new journal.
	if l.f != nil {
		_ = l.f.Close()
		l.f = nil
	}
	werr := atomicfile.WriteFile(l.path, buf.Bytes(), 0o600)
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	l.f = f
	if werr != nil {
		return fmt.Errorf("ledger: compact: %w", werr)
	}
	l.ops = 0
	return nil
}

// Close releases the journal file.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.f != nil {
		err := l.f.Close()
		l.f = nil
		return err
	}
	return nil
}
