package exec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/kanade-fleet/kanade/internal/wire"
)

// TestSpoolMatchesCapture: for bounds and stream lengths around every
// boundary of the layout, a Spool's file is byte for byte what the
// in-memory Capture keeps, its digest is the file's, and every excerpt a
// result may carry equals Truncate of the captured form, although the
// spool never held that form in memory.
func TestSpoolMatchesCapture(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := rand.NewChaCha8([32]byte{7})
	limits := []int{1, 2, 3, 100, 1000, 300 << 10, 384<<10 - 1, 384 << 10, 384<<10 + 1, 393215, 393216, 400 << 10, 1 << 20}
	for _, limit := range limits {
		for _, total := range []int{0, 1, limit / 2, limit - 1, limit, limit + 1, limit + 7, 2*limit + 13, 3*limit + excerptHead + 5} {
			t.Run(fmt.Sprintf("limit=%d/total=%d", limit, total), func(t *testing.T) {
				data := make([]byte, total)
				_, _ = src.Read(data)
				c := NewCapture(limit)
				sp, err := NewSpool(t.TempDir(), limit)
				if err != nil {
					t.Fatal(err)
				}
				defer sp.Remove()
				for rest := data; len(rest) > 0; {
					n := min(len(rest), 1+rng.IntN(3*limit/2+64))
					_, _ = c.Write(rest[:n])
					_, _ = sp.Write(rest[:n])
					rest = rest[n:]
				}
				if err := sp.Close(); err != nil {
					t.Fatal(err)
				}
				want := c.String()
				path, sum, ok := sp.File()
				if !ok {
					t.Fatal("no file")
				}
				got, err := os.ReadFile(path)
				if err != nil || string(got) != want || sp.Len() != int64(len(want)) {
					t.Fatalf("file %d bytes (%v), Len %d, want %d identical", len(got), err, sp.Len(), len(want))
				}
				if d := sha256.Sum256(got); sum != hex.EncodeToString(d[:]) {
					t.Fatalf("digest %s", sum)
				}
				for _, n := range []int{wire.MaxInlineOutput, wire.MaxInlineOutput / 2, wire.MaxInlineOutput / 5, 1024, 100, 10} {
					if ex := sp.Excerpt(n); ex != Truncate(want, n) {
						t.Fatalf("excerpt(%d): %d bytes differ from Truncate's %d", n, len(ex), len(Truncate(want, n)))
					}
				}
				if len(sp.ex.buf) > excerptHead+excerptTail {
					t.Fatalf("excerpt store %d bytes, cap %d", len(sp.ex.buf), excerptHead+excerptTail)
				}
			})
		}
	}
}

// A spool whose file breaks keeps an exact excerpt and reports no file.
func TestSpoolFileErrorKeepsExcerpt(t *testing.T) {
	sp, err := NewSpool(t.TempDir(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	_ = sp.f.Close() // every write from now on fails
	data := bytes.Repeat([]byte("0123456789"), 500)
	c := NewCapture(1000)
	_, _ = sp.Write(data)
	_, _ = c.Write(data)
	if err := sp.Close(); err == nil {
		t.Fatal("close reported no error")
	}
	if _, _, ok := sp.File(); ok {
		t.Fatal("a broken spool offers its file")
	}
	if sp.Excerpt(300) != Truncate(c.String(), 300) {
		t.Fatal("excerpt differs")
	}
	sp.Remove()
}
