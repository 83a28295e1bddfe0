//go:build !windows

package server_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/agent"
	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// lines is what `awk 'BEGIN{for(i=0;i<n;i++) printf "%063d\n", i}'`
// prints: n lines of 64 bytes.
func lines(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "%063d\n", i)
	}
	return b.Bytes()
}

// TestLargeOutputArrivesWhole (SPEC §11): a real agent with its own broker
// identity (operator mode: no JetStream in its account) runs a script that
// prints 5 MiB on stdout and 400 KiB on stderr; the result carries head and
// tail inline and names both outputs, and GET /api/results/{id}/output
// serves each stream byte for byte. An object planted for that result by
// anyone but its PC is not served: the API falls back to the excerpt.
func TestLargeOutputArrivesWhole(t *testing.T) {
	needPOSIX(t)
	b := testenv.Backend(t, func(c *server.Config) { c.NATSIdentity, c.Dev = true, true })
	pc, err := agent.DefaultPCID()
	if err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	testenv.Eventually(t, 30*time.Second, "dev agent online", func() bool {
		pcs, err := b.DB.OnlinePCs(ctx, time.Now(), "")
		return err == nil && slices.Contains(pcs, pc)
	})
	const outLines, errLines = 5 << 20 / 64, 400 << 10 / 64
	wantOut, wantErr := lines(outLines), lines(errLines)
	script := fmt.Sprintf(`awk 'BEGIN{for(i=0;i<%d;i++) printf "%%063d\n", i}'; awk 'BEGIN{for(i=0;i<%d;i++) printf "%%063d\n", i > "/dev/stderr"}'`,
		outLines, errLines)
	c := &apiv1.Client{Base: b.HTTPURL()}
	res, err := c.Run(ctx, apiv1.RunRequest{PCID: pc, Shell: "sh", Script: script, TimeoutSecs: 60})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || res.StdoutRef != wire.OutputRef(res.ResultID, wire.OutputStdout) ||
		res.StderrRef != wire.OutputRef(res.ResultID, wire.OutputStderr) {
		t.Fatalf("result: exit %d, refs %q %q, stderr %.200q", res.ExitCode, res.StdoutRef, res.StderrRef, res.Stderr)
	}
	if len(res.Stdout) > wire.MaxInlineOutput || !strings.HasPrefix(res.Stdout, string(wantOut[:4096])) ||
		!strings.HasSuffix(res.Stdout, string(wantOut[len(wantOut)-4096:])) {
		t.Fatalf("inline stdout: %d bytes, not the head and tail", len(res.Stdout))
	}

	for stream, want := range map[apiv1.OutputStream][]byte{apiv1.StreamStdout: wantOut, apiv1.StreamStderr: wantErr} {
		var got apiv1.Output
		testenv.Eventually(t, 60*time.Second, string(stream)+" stored whole", func() bool {
			got, err = c.ResultOutput(ctx, res.ResultID, apiv1.OutputQuery{Stream: stream})
			return err == nil && got.Full
		})
		if !bytes.Equal(got.Data, want) {
			t.Fatalf("%s: %d bytes served, want %d identical", stream, len(got.Data), len(want))
		}
	}
	row, err := c.GetResult(ctx, res.ResultID)
	if err != nil || row.StdoutRef != res.StdoutRef || row.StderrRef != res.StderrRef {
		t.Fatalf("GET result refs %q %q: %v", row.StdoutRef, row.StderrRef, err)
	}

	// Another PC's bytes under this result's name are not served.
	if err := b.KV.Outputs.Put(ctx, res.ResultID, wire.OutputStdout, "intruder", strings.Repeat("0", 64), []byte("planted")); err != nil {
		t.Fatal(err)
	}
	got, err := c.ResultOutput(ctx, res.ResultID, apiv1.OutputQuery{})
	if err != nil || got.Full || !bytes.Equal(got.Data, []byte(res.Stdout)) {
		t.Fatalf("planted output: full=%v %d bytes %.40q, %v", got.Full, len(got.Data), got.Data, err)
	}
	if row, _ := c.GetResult(ctx, res.ResultID); row.StdoutRef != "" {
		t.Fatalf("planted output named by the result: %q", row.StdoutRef)
	}

	// A short output has no object: the result's copy is all of it.
	short, err := c.Run(ctx, apiv1.RunRequest{PCID: pc, Shell: "sh", Script: "echo hello", TimeoutSecs: 30})
	if err != nil || short.StdoutRef != "" {
		t.Fatalf("short run: %+v %v", short, err)
	}
	testenv.Eventually(t, 30*time.Second, "short result projected", func() bool {
		row, err := c.GetResult(ctx, short.ResultID) // the started event makes the row first
		return err == nil && row.ExitCode != nil
	})
	if got, err = c.ResultOutput(ctx, short.ResultID, apiv1.OutputQuery{Stream: apiv1.StreamStdout}); err != nil {
		t.Fatal(err)
	}
	if got.Full || string(got.Data) != "hello\n" {
		t.Fatalf("short output: full=%v %q", got.Full, got.Data)
	}
	if _, err := c.ResultOutput(ctx, "no-such-result", apiv1.OutputQuery{}); apiv1.StatusOf(err) != 404 {
		t.Fatalf("unknown result: %v", err)
	}
	if _, err := c.ResultOutput(ctx, short.ResultID, apiv1.OutputQuery{Stream: "stdin"}); apiv1.StatusOf(err) != 400 {
		t.Fatalf("bad stream: %v", err)
	}
}
