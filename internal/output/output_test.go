package output_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/broker"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/metrics"
	"github.com/kanade-fleet/kanade/internal/output"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

type env struct {
	js  jetstream.JetStream
	kv  *kv.Store
	met *metrics.Registry
}

func start(t *testing.T) *env {
	t.Helper()
	b, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), Log: testenv.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Server.Shutdown)
	nc, err := nats.Connect(b.Server.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.Bootstrap(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	e := &env{js: js, kv: kv.New(js, testenv.Logger()), met: metrics.New()}
	a := &output.Assembler{JS: js, Objects: e.kv.Outputs, Log: testenv.Logger(), Metrics: e.met}
	rctx, rcancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(rctx); close(done) }()
	t.Cleanup(func() { rcancel(); <-done })
	return e
}

// send publishes chunks as the agent does: in order, each acknowledged.
func (e *env) send(t *testing.T, chunks []wire.OutputChunk) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range chunks {
		m := &nats.Msg{Subject: bus.Output(c.PCID, c.ResultID, c.Stream), Header: nats.Header(c.Header()), Data: c.Data}
		if _, err := e.js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) object(t *testing.T, rid, stream string) ([]byte, kv.OutputInfo, bool) {
	t.Helper()
	r, info, ok, err := e.kv.Outputs.Open(context.Background(), rid, stream)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return nil, info, false
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b, info, true
}

func (e *env) pending(t *testing.T) uint64 {
	t.Helper()
	st, err := e.js.Stream(context.Background(), bus.StreamOutput)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func (e *env) counter(name string) float64 {
	var b strings.Builder
	e.met.Write(&b)
	total := 0.0
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, name) {
			var v float64
			if _, err := fmt.Sscan(l[strings.LastIndex(l, " ")+1:], &v); err == nil {
				total += v
			}
		}
	}
	return total
}

func payload(n int, seed string) []byte {
	return bytes.Repeat([]byte(seed+" 0123456789\n"), n/(len(seed)+12)+1)[:n]
}

// TestAssemble: chunks become one object, byte-identical, recorded with
// the subject's pc and the digest, and OUTPUT is emptied; a resend of the
// same output changes nothing.
func TestAssemble(t *testing.T) {
	t.Parallel()
	e := start(t)
	data := payload(3<<20+17, "pc-a")
	chunks := wire.SplitOutput("pc-a", "r1", wire.OutputStdout, data)
	e.send(t, chunks)
	var got []byte
	var info kv.OutputInfo
	testenv.Eventually(t, 10*time.Second, "object stored", func() bool {
		var ok bool
		got, info, ok = e.object(t, "r1", wire.OutputStdout)
		return ok
	})
	if !bytes.Equal(got, data) || info.PCID != "pc-a" || info.SHA256 != chunks[0].SHA256 || info.Size != uint64(len(data)) {
		t.Fatalf("object: %d bytes, info %+v", len(got), info)
	}
	testenv.Eventually(t, 10*time.Second, "chunks purged", func() bool { return e.pending(t) == 0 })

	e.send(t, chunks[len(chunks)-1:]) // a lost PubAck resent after the dedup window
	testenv.Eventually(t, 10*time.Second, "resend purged", func() bool { return e.pending(t) == 0 })
	if _, again, _ := e.object(t, "r1", wire.OutputStdout); again.Modified != info.Modified {
		t.Fatal("a resend replaced the object")
	}
}

// TestRefusals: malformed chunks are counted and deleted; another PC's
// chunks for a result whose output exists do not replace it; a missing
// chunk or a wrong digest stores nothing. Every case leaves OUTPUT empty.
func TestRefusals(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := context.Background()
	own := payload(300<<10, "owner")
	e.send(t, wire.SplitOutput("owner", "r1", wire.OutputStderr, own))
	testenv.Eventually(t, 10*time.Second, "owner's object", func() bool { _, _, ok := e.object(t, "r1", wire.OutputStderr); return ok })

	// Another PC claims the same result.
	e.send(t, wire.SplitOutput("intruder", "r1", wire.OutputStderr, payload(300<<10, "intruder")))
	// A chunk in the middle is missing.
	gap := wire.SplitOutput("pc-b", "r2", wire.OutputStdout, payload(400<<10, "gap"))
	e.send(t, append(gap[:1:1], gap[2:]...))
	// The digest does not match the bytes.
	bad := wire.SplitOutput("pc-b", "r3", wire.OutputStdout, payload(200<<10, "bad"))
	for i := range bad {
		bad[i].SHA256 = strings.Repeat("0", 64)
	}
	e.send(t, bad)
	// Malformed: no headers, a wrong size.
	if _, err := e.js.Publish(ctx, bus.Output("pc-b", "r4", wire.OutputStdout), []byte("x")); err != nil {
		t.Fatal(err)
	}
	odd := wire.SplitOutput("pc-b", "r5", wire.OutputStdout, []byte("abc"))
	odd[0].Size = 4
	e.send(t, odd)

	testenv.Eventually(t, 10*time.Second, "refusals counted", func() bool {
		return e.counter("kanade_output_refused_total") == 3 && e.counter("kanade_output_poison_total") == 2
	})
	testenv.Eventually(t, 10*time.Second, "OUTPUT emptied", func() bool { return e.pending(t) == 0 })
	if got, info, _ := e.object(t, "r1", wire.OutputStderr); !bytes.Equal(got, own) || info.PCID != "owner" {
		t.Fatalf("owner's output replaced: pc %s", info.PCID)
	}
	for _, rid := range []string{"r2", "r3", "r4", "r5"} {
		if _, _, ok := e.object(t, rid, wire.OutputStdout); ok {
			t.Errorf("%s stored", rid)
		}
	}
}
