package intake

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/agent/exec"
	"github.com/kanade-fleet/kanade/internal/agent/ledger"
	"github.com/kanade-fleet/kanade/internal/agent/outbox"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// bigRunner prints out on stdout and a short line on stderr.
type bigRunner struct{ out string }

func (b bigRunner) Run(context.Context, wire.Command, <-chan struct{}) exec.Result {
	return exec.Result{Stdout: b.out, Stderr: "short\n"}
}

// TestLongOutputTravelsWhole: with an outbox, a stdout longer than the
// inline copy is queued as chunks ahead of its result, the result names it
// by stdout_ref and keeps the head and tail inline, and the chunks put
// together are the output byte for byte. A short stream gets no ref.
func TestLongOutputTravelsWhole(t *testing.T) {
	ob, err := outbox.Open(t.TempDir(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Repeat("line of output 0123456789\n", (3<<20)/26)
	in := newIntake(t, ledger.NewMemory(), bigRunner{out}, ob, 1)
	in.Handle("commands.pc.pc1", cmdJSON(wire.Command{ID: "adhoc", RequestID: "big"}))

	var whole []byte
	var res wire.ExecResult
	waitFor(t, func() bool {
		_, err := ob.Drain(context.Background(), func(_ context.Context, e outbox.Entry) error {
			if !strings.HasPrefix(e.Subject, "results.") {
				return nil
			}
			for _, p := range e.Parts {
				c, err := wire.DecodeOutputChunk(p.Subject, p.Header, p.Payload)
				if err != nil {
					t.Fatalf("part %s: %v", p.Subject, err)
				}
				if c.PCID != "pc1" || c.Stream != wire.OutputStdout || c.Index != len(whole)/wire.OutputChunkSize {
					t.Fatalf("chunk %+v out of place", c)
				}
				whole = append(whole, c.Data...)
			}
			if res, err = wire.DecodeExecResult(e.Payload); err != nil {
				t.Fatal(err)
			}
			return nil
		})
		return err == nil && res.ResultID != ""
	})
	if !bytes.Equal(whole, []byte(out)) {
		t.Fatalf("reassembled %d bytes, want %d identical", len(whole), len(out))
	}
	if res.StdoutRef != wire.OutputRef(res.ResultID, wire.OutputStdout) || res.StderrRef != "" {
		t.Fatalf("refs %q %q", res.StdoutRef, res.StderrRef)
	}
	if len(res.Stdout) > wire.MaxInlineOutput || !strings.HasPrefix(res.Stdout, out[:1000]) ||
		!strings.HasSuffix(res.Stdout, out[len(out)-1000:]) || res.Stderr != "short\n" {
		t.Fatalf("inline copy: %d bytes, stderr %q", len(res.Stdout), res.Stderr)
	}
}

// A plain Sink (simulators) gets the excerpt and no ref.
func TestLongOutputPlainSink(t *testing.T) {
	s := newSink()
	in := newIntake(t, ledger.NewMemory(), bigRunner{strings.Repeat("x", 1<<20)}, s, 1)
	in.Handle("commands.pc.pc1", cmdJSON(wire.Command{ID: "adhoc", RequestID: "big"}))
	res := s.results(t, 1)[0]
	if res.StdoutRef != "" || len(res.Stdout) > wire.MaxInlineOutput {
		t.Fatalf("ref %q, %d bytes inline", res.StdoutRef, len(res.Stdout))
	}
}
