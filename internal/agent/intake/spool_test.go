//go:build !windows

package intake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/agent/exec"
	"github.com/kanade-fleet/kanade/internal/agent/ledger"
	"github.com/kanade-fleet/kanade/internal/agent/outbox"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// TestSpooledOutputTravelsWhole: with the real runner spooling into the
// outbox's spool directory, a script's 3 MiB stdout and 300 KiB stderr
// are queued as chunks that are ranges of the spool files (moved into the
// outbox, nothing left in the spool), survive a restart of the outbox
// (what kill -9 of the agent leaves), and put together are the output
// byte for byte with the digest their headers name; the result keeps
// head and tail inline and names both.
func TestSpooledOutputTravelsWhole(t *testing.T) {
	dir := t.TempDir()
	ob, err := outbox.Open(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	spool, err := ob.SpoolDir()
	if err != nil {
		t.Fatal(err)
	}
	const outLines, errLines = 3 << 20 / 64, 300 << 10 / 64
	var wantOut, wantErr bytes.Buffer
	for i := range outLines {
		fmt.Fprintf(&wantOut, "%063d\n", i)
	}
	for i := range errLines {
		fmt.Fprintf(&wantErr, "%063d\n", i)
	}
	script := fmt.Sprintf(`awk 'BEGIN{for(i=0;i<%d;i++) printf "%%063d\n", i}'; awk 'BEGIN{for(i=0;i<%d;i++) printf "%%063d\n", i > "/dev/stderr"}'`,
		outLines, errLines)
	in := newIntake(t, ledger.NewMemory(), &exec.Runner{TempDir: t.TempDir(), SpoolDir: spool}, ob, 1)
	in.Handle("commands.pc.pc1", cmdJSON(wire.Command{ID: "adhoc", RequestID: "big", Shell: "sh", Script: script, TimeoutSecs: 60}))
	waitFor(t, func() bool { return ob.Len() == 2 }) // started, result
	if names, _ := os.ReadDir(spool); len(names) != 0 {
		t.Fatalf("spool holds %v after the result was queued", names)
	}

	ob2, err := outbox.Open(dir, 0, nil) // a restart before anything was sent
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*bytes.Buffer{wire.OutputStdout: {}, wire.OutputStderr: {}}
	sums := map[string]string{}
	var res wire.ExecResult
	if _, err := ob2.Drain(context.Background(), func(_ context.Context, e outbox.Entry) error {
		if !strings.HasPrefix(e.Subject, "results.") {
			return nil
		}
		for _, p := range e.Parts {
			data, err := p.Data()
			if err != nil {
				return err
			}
			c, err := wire.DecodeOutputChunk(p.Subject, p.Header, data)
			if err != nil {
				t.Fatalf("part %s: %v", p.Subject, err)
			}
			if c.Index != got[c.Stream].Len()/wire.OutputChunkSize {
				t.Fatalf("chunk %d of %s out of place", c.Index, c.Stream)
			}
			got[c.Stream].Write(c.Data)
			sums[c.Stream] = c.SHA256
		}
		res, err = wire.DecodeExecResult(e.Payload)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for stream, want := range map[string][]byte{wire.OutputStdout: wantOut.Bytes(), wire.OutputStderr: wantErr.Bytes()} {
		d := sha256.Sum256(want)
		if !bytes.Equal(got[stream].Bytes(), want) || sums[stream] != hex.EncodeToString(d[:]) {
			t.Fatalf("%s: %d bytes reassembled, want %d identical (digest %s)", stream, got[stream].Len(), len(want), sums[stream])
		}
	}
	if res.ExitCode != 0 || res.StdoutRef != wire.OutputRef(res.ResultID, wire.OutputStdout) ||
		res.StderrRef != wire.OutputRef(res.ResultID, wire.OutputStderr) {
		t.Fatalf("result exit %d refs %q %q", res.ExitCode, res.StdoutRef, res.StderrRef)
	}
	if len(res.Stdout) > wire.MaxInlineOutput || res.Stdout != exec.Truncate(wantOut.String(), wire.MaxInlineOutput) {
		t.Fatalf("inline stdout: %d bytes, not Truncate of the output", len(res.Stdout))
	}
	if ob2.Len() != 0 || ob2.PartBytes() != 0 {
		t.Fatalf("outbox left %d entries, %d part bytes", ob2.Len(), ob2.PartBytes())
	}
}

// A short spooled output is inline whole and leaves no file behind.
func TestSpooledShortOutput(t *testing.T) {
	ob, err := outbox.Open(t.TempDir(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	spool, _ := ob.SpoolDir()
	s := &partSink{ob: ob, puts: newSink()}
	in := newIntake(t, ledger.NewMemory(), &exec.Runner{TempDir: t.TempDir(), SpoolDir: spool}, s, 1)
	in.Handle("commands.pc.pc1", cmdJSON(wire.Command{ID: "adhoc", RequestID: "short", Shell: "sh", Script: "echo hello; echo oops >&2", TimeoutSecs: 60}))
	res := s.puts.results(t, 1)[0]
	if res.Stdout != "hello\n" || res.Stderr != "oops\n" || res.StdoutRef != "" || res.StderrRef != "" {
		t.Fatalf("result %+v", res)
	}
	waitFor(t, func() bool { names, _ := os.ReadDir(spool); return len(names) == 0 })
}

// partSink records plain Puts in a sink and queues parts in an outbox.
type partSink struct {
	ob   *outbox.Outbox
	puts *sink
}

func (p *partSink) Put(subject, msgID string, payload []byte) error {
	return p.puts.Put(subject, msgID, payload)
}

func (p *partSink) PutParts(subject, msgID string, payload []byte, parts []outbox.Part) error {
	return p.ob.PutParts(subject, msgID, payload, parts)
}
