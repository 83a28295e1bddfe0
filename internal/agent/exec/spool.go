package exec

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/kanade-fleet/kanade/internal/wire"
)

// The excerpt a Spool keeps in memory: the first and last bytes of the
// stream, as many as an inline copy of at most wire.MaxInlineOutput can
// take from the captured form (a copy that is not the whole of it takes at
// most 2/3 from the start and 1/3 from the end; half leaves a margin).
const (
	excerptHead = wire.MaxInlineOutput
	excerptTail = wire.MaxInlineOutput / 2
)

// Spool is an io.Writer that captures a stream like Capture (head and tail
// of at most limit bytes around a marker) into a file as it is written,
// so the agent's memory holds only the excerpt a result carries inline
// (excerptHead + excerptTail bytes) however much the script prints. After
// Close, File is exactly the captured form and Excerpt(n) equals
// Truncate(captured form, n).
//
// A file error does not fail the run: the file is given up (File reports
// none) and the excerpt, which lives in memory, is still exact.
type Spool struct {
	mu   sync.Mutex
	l    layout // the captured form, in the file
	f    *os.File
	path string
	err  error // the first file error; the file is abandoned
	// ex keeps the stream's first excerptHead and last excerptTail bytes.
	exl layout
	ex  memStore

	closed bool
	sum    string // SHA-256 of the captured form, after Close
}

// NewSpool creates a spool file in dir bounded to limit bytes (MaxCapture
// if <= 0).
func NewSpool(dir string, limit int) (*Spool, error) {
	if limit <= 0 {
		limit = MaxCapture
	}
	f, err := os.CreateTemp(dir, "spool-*.out")
	if err != nil {
		return nil, fmt.Errorf("output spool: %w", err)
	}
	return &Spool{l: split(int64(limit)), f: f, path: f.Name(), exl: layout{hc: excerptHead, tc: excerptTail}}, nil
}

// Write never fails, so the child never sees EPIPE because of us.
func (s *Spool) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return len(p), nil
	}
	s.exl.place(p, s.ex.put)
	s.l.place(p, func(off int64, b []byte) {
		if s.err == nil {
			_, s.err = s.f.WriteAt(b, off)
		}
	})
	return len(p), nil
}

// Len is the size of the captured form (what File holds after Close).
func (s *Spool) Len() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.l.size()
}

// Total is the number of bytes written, kept or not.
func (s *Spool) Total() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.l.total
}

// Excerpt is Truncate(captured form, limit) for limit up to
// wire.MaxInlineOutput (larger limits are treated as that), built from
// memory only.
func (s *Spool) Excerpt(limit int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit = min(limit, wire.MaxInlineOutput)
	return string(truncate(s.l.size(), limit, func(from, to int64) []byte {
		out := make([]byte, 0, to-from)
		s.l.captured(from, to, func(a, b int64) {
			s.exl.raw(a, b, func(off, n int64) { out = append(out, s.ex.buf[off:off+n]...) })
		}, func(m string) { out = append(out, m...) })
		return out
	}))
}

// Close ends writing and makes the file exactly the captured form: a
// stream that outgrew the bound is rewritten as head, marker and tail in
// a new file (streamed, a small buffer at a time). It is idempotent.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.err
	}
	s.closed = true
	if s.err == nil {
		s.err = s.finish()
	}
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
	if s.err != nil {
		_ = os.Remove(s.path)
		s.path = ""
	}
	return s.err
}

func (s *Spool) finish() error {
	h := sha256.New()
	buf := make([]byte, 32<<10)
	if !s.l.truncated() {
		if _, err := io.CopyBuffer(h, io.NewSectionReader(s.f, 0, s.l.total), buf); err != nil {
			return fmt.Errorf("output spool: %w", err)
		}
		s.sum = hex.EncodeToString(h.Sum(nil))
		return nil
	}
	out, err := os.CreateTemp(filepath.Dir(s.path), "spool-*.out")
	if err != nil {
		return fmt.Errorf("output spool: %w", err)
	}
	err = s.copyCaptured(io.MultiWriter(out, h), buf)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(out.Name())
		return fmt.Errorf("output spool: %w", err)
	}
	_ = s.f.Close()
	s.f = nil
	_ = os.Remove(s.path)
	s.path, s.sum = out.Name(), hex.EncodeToString(h.Sum(nil))
	return nil
}

func (s *Spool) copyCaptured(w io.Writer, buf []byte) error {
	var err error
	s.l.captured(0, s.l.size(), func(a, b int64) {
		s.l.raw(a, b, func(off, n int64) {
			if err == nil {
				_, err = io.CopyBuffer(w, io.NewSectionReader(s.f, off, n), buf)
			}
		})
	}, func(m string) {
		if err == nil {
			_, err = io.WriteString(w, m)
		}
	})
	return err
}

// File is the spool file holding the captured form and its SHA-256 (hex),
// once Close succeeded; ok is false when the file was given up.
func (s *Spool) File() (path, sha256 string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed || s.err != nil || s.path == "" {
		return "", "", false
	}
	return s.path, s.sum, true
}

// Err is the file error that made the spool give up its file, if any.
func (s *Spool) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Remove closes the spool and deletes its file unless someone took it
// over (moved it) already.
func (s *Spool) Remove() {
	_ = s.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.path != "" {
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.err = err
		}
		s.path = ""
	}
}
