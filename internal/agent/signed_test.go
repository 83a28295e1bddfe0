//go:build !windows

package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// logBuf collects an agent's log for assertions.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.b.String(), s)
}

// startWith runs an agent with o (URL, token, logger defaulted) and waits
// for its first catch-up when wait is set.
func startWith(t *testing.T, o Options, logs *logBuf, wait bool) running {
	t.Helper()
	if logs != nil {
		o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	} else if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	o.Version = "test"
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent %s: %v", o.PCID, err)
		}
	}
	t.Cleanup(stop)
	if wait {
		waitFor(t, 30*time.Second, o.PCID+" caught up", func() bool { return a.caught.Load() > 0 })
	}
	return running{a: a, stop: stop}
}

func fill(c wire.Command) wire.Command {
	if c.RequestID == "" {
		c.RequestID = uuid.NewString()
	}
	if c.ExecID == "" {
		c.ExecID = uuid.NewString()
	}
	if c.ID == "" {
		c.ID = wire.AdhocJobID
	}
	if c.Shell == "" {
		c.Shell = "sh"
	}
	if c.TimeoutSecs == 0 {
		c.TimeoutSecs = 60
	}
	return c
}

func (b *broker) send(subject string, c wire.Command, s *sign.Signer, signFor string) wire.Command {
	b.t.Helper()
	c = fill(c)
	data, _ := json.Marshal(c)
	m := nats.NewMsg(subject)
	m.Data = data
	if s != nil {
		s.SignInto(m.Header, signFor, data)
	}
	if _, err := b.js.PublishMsg(context.Background(), m); err != nil {
		b.t.Fatal(err)
	}
	return c
}

func (b *broker) signedKill(execID string, s *sign.Signer) {
	b.t.Helper()
	m := nats.NewMsg(bus.Kill(execID))
	if s != nil {
		s.SignInto(m.Header, m.Subject, nil)
	}
	if err := b.nc.PublishMsg(m); err != nil {
		b.t.Fatal(err)
	}
}

func (b *broker) putChain(c sign.Chain) {
	b.t.Helper()
	v, err := c.Encode()
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := b.kv(bus.KVSigningKeys).Put(context.Background(), bus.SigningKeysChain, v); err != nil {
		b.t.Fatal(err)
	}
}

func refusedWith(t *testing.T, res wire.ExecResult, reason string) {
	t.Helper()
	if res.ExitCode != wire.ExitRefused || res.Skipped || res.Stdout != "" || !strings.Contains(res.Stderr, reason) ||
		!strings.HasPrefix(res.Stderr, "[kanade] refused:") {
		t.Fatalf("want a 123 refusal (%q), got %+v", reason, res)
	}
}

func TestSignedCommandsOnly(t *testing.T) {
	if bus.KVSigningKeys != sign.Bucket || bus.SigningKeysChain != sign.ChainKey {
		t.Fatal("bus and sign disagree on the signing_keys names")
	}
	b := newBroker(t)
	key, stranger := mustSigner(t), mustSigner(t)
	logs := &logBuf{}
	r := startWith(t, Options{PCID: "pc-s", NATSURL: b.url(), NATSToken: b.token, DataDir: t.TempDir(),
		Keyring: sign.NewKeyring(key.Public())}, logs, true)
	me := bus.CommandsPC("pc-s")
	marker := filepath.Join(t.TempDir(), "ran")
	script := "echo ran >> " + marker

	unsigned := b.send(me, wire.Command{Script: script}, nil, "")
	refusedWith(t, b.waitResult(unsigned.RequestID), "not signed")
	foreign := b.send(me, wire.Command{Script: script}, stranger, me)
	refusedWith(t, b.waitResult(foreign.RequestID), "unknown key")
	// A genuine signature over other bytes: the key id is right, the
	// signature is not.
	forged := fill(wire.Command{Script: script})
	data, _ := json.Marshal(forged)
	m := nats.NewMsg(me)
	m.Data = data
	key.SignInto(m.Header, me, []byte(`{"id":"adhoc","script":"true"}`))
	if _, err := b.js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	refusedWith(t, b.waitResult(forged.RequestID), "does not match")
	// A real command for another PC, re-routed onto this PC's subject (the
	// reply-subject trick): signed for commands.pc.pc-other.
	rerouted := b.send(me, wire.Command{Script: script}, key, bus.CommandsPC("pc-other"))
	refusedWith(t, b.waitResult(rerouted.RequestID), "does not match")
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a refused command ran")
	}
	if r.a.ledger.Seen(rerouted.RequestID) {
		t.Fatal("a refused command's request_id reached the ledger")
	}

	// The genuine command with the re-routed one's request_id still runs:
	// the refusal burned nothing.
	genuine := rerouted
	genuine.Script = script + "; echo genuine"
	b.send(me, genuine, key, me)
	waitFor(t, 30*time.Second, "genuine result", func() bool {
		return b.count(bus.StreamResults, bus.ResultFrom("pc-s", genuine.RequestID)) == 2
	})
	if res := b.waitResult(genuine.RequestID); res.ExitCode != 0 || res.Stdout != "genuine\n" {
		t.Fatalf("%+v", res)
	}
	if got, _ := os.ReadFile(marker); string(got) != "ran\n" {
		t.Fatalf("marker %q", got)
	}
	// Broadcasts are bound to their subject too.
	all := b.send(bus.SubjCommandsAll, wire.Command{Script: "echo all"}, key, bus.SubjCommandsAll)
	if res := b.waitResult(all.RequestID); res.Stdout != "all\n" {
		t.Fatalf("%+v", res)
	}

	// Kills: an unsigned one is ignored, a signed one kills.
	long := b.send(me, wire.Command{Script: "echo begun; sleep 600", TimeoutSecs: 600}, key, me)
	waitFor(t, 30*time.Second, "started", func() bool { return r.a.Heartbeat().Running == 1 })
	b.signedKill(long.ExecID, nil)
	b.signedKill(long.ExecID, stranger)
	waitFor(t, 30*time.Second, "kills refused", func() bool { return strings.Count(logs.String(), "kill refused") == 2 })
	if r.a.Heartbeat().Running != 1 {
		t.Fatal("an unsigned kill stopped the run")
	}
	b.signedKill(long.ExecID, key)
	if res := b.waitResult(long.RequestID); res.ExitCode != -1 || !res.Killed {
		t.Fatalf("%+v", res)
	}

	// Restart: the refused commands still in EXEC are not reported again,
	// and the run from catch-up happens once.
	r.stop()
	before := b.count(bus.StreamResults, "results.pc-s.>")
	r = startWith(t, Options{PCID: "pc-s", NATSURL: b.url(), NATSToken: b.token, DataDir: r.a.o.DataDir,
		Keyring: sign.NewKeyring(key.Public())}, nil, true)
	c := b.send(me, wire.Command{Script: "true"}, key, me)
	b.waitResult(c.RequestID)
	waitFor(t, 20*time.Second, "outbox drained", func() bool { return r.a.outbox.Len() == 0 })
	if after := b.count(bus.StreamResults, "results.pc-s.>"); after != before+1 {
		t.Fatalf("results %d → %d: a refusal was reported twice or a command re-ran", before, after)
	}
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func mustSigner(t *testing.T) *sign.Signer {
	t.Helper()
	s, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKeyRotation(t *testing.T) {
	b := newBroker(t)
	k1, k2 := mustSigner(t), mustSigner(t)
	now := time.Now()
	c1 := sign.NewChain(k1, now)
	b.putChain(c1)
	data := t.TempDir()
	o := Options{PCID: "pc-r", NATSURL: b.url(), NATSToken: b.token, DataDir: data, Keyring: sign.NewKeyring(k1.Public())}
	logs := &logBuf{}
	r := startWith(t, o, logs, true)
	me := bus.CommandsPC("pc-r")
	run := func(s *sign.Signer) wire.ExecResult {
		t.Helper()
		return b.waitResult(b.send(me, wire.Command{Script: "echo ok"}, s, me).RequestID)
	}
	if res := run(k1); res.ExitCode != 0 {
		t.Fatalf("%+v", res)
	}
	// Rotate to k2 and use it at once: the agent re-reads signing_keys
	// when it meets an unknown key, so the notification need not win.
	c2, err := c1.Rotate(k1, k2.Public(), now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	b.putChain(c2)
	if res := run(k2); res.ExitCode != 0 {
		t.Fatalf("new key: %+v", res)
	}
	if res := run(k1); res.ExitCode != 0 { // still trusted until retired
		t.Fatalf("old key before retirement: %+v", res)
	}
	c3, err := c2.Rotate(k2, k2.Public(), now.Add(2*time.Minute), k1.KeyID())
	if err != nil {
		t.Fatal(err)
	}
	b.putChain(c3)
	waitFor(t, 20*time.Second, "k1 retired", func() bool { _, ok := r.a.trust.keyring().Key(k1.KeyID()); return !ok })
	refusedWith(t, run(k1), "unknown key")
	if res := run(k2); res.ExitCode != 0 {
		t.Fatalf("%+v", res)
	}
	// A rolled-back value (c2 again, e.g. written with a stolen operator
	// credential) does not bring k1 back.
	b.putChain(c2)
	waitFor(t, 20*time.Second, "rollback refused", func() bool { return logs.has("stale or rolled back") })
	refusedWith(t, run(k1), "unknown key")

	// The position survives a restart: the enrollment anchor (k1) does not
	// override what rotations taught the agent.
	r.stop()
	o.Logger = nil
	r = startWith(t, o, nil, true)
	if r.a.trust.keyring().Seq() != 3 {
		t.Fatalf("seq after restart %d", r.a.trust.keyring().Seq())
	}
	refusedWith(t, run(k1), "unknown key")
	if res := run(k2); res.ExitCode != 0 {
		t.Fatalf("%+v", res)
	}
}

func TestTrustOnFirstUse(t *testing.T) {
	b := newBroker(t)
	// Legacy: not enrolled, no keys anywhere, --require-signed off.
	legacy := startWith(t, Options{PCID: "pc-l", NATSURL: b.url(), NATSToken: b.token, DataDir: t.TempDir()}, nil, true)
	if res := b.waitResult(b.send(bus.CommandsPC("pc-l"), wire.Command{Script: "echo legacy"}, nil, "").RequestID); res.ExitCode != 0 {
		t.Fatalf("%+v", res)
	}
	legacy.stop()
	// --require-signed with no keys: everything is refused.
	startWith(t, Options{PCID: "pc-q", NATSURL: b.url(), NATSToken: b.token, DataDir: t.TempDir(), RequireSigned: true}, nil, true)
	refusedWith(t, b.waitResult(b.send(bus.CommandsPC("pc-q"), wire.Command{Script: "echo no"}, nil, "").RequestID),
		"no command-signing key is trusted yet")

	// KV signing_keys holds a chain: an agent that is not enrolled trusts
	// it at its first connect, says so, and requires signatures from then on.
	k := mustSigner(t)
	b.putChain(sign.NewChain(k, time.Now()))
	logs := &logBuf{}
	startWith(t, Options{PCID: "pc-t", NATSURL: b.url(), NATSToken: b.token, DataDir: t.TempDir()}, logs, true)
	if !logs.has("trust on first use") || !logs.has(k.KeyID()) {
		t.Fatalf("no trust-on-first-use log:\n%s", logs.String())
	}
	me := bus.CommandsPC("pc-t")
	refusedWith(t, b.waitResult(b.send(me, wire.Command{Script: "echo no"}, nil, "").RequestID), "not signed")
	if res := b.waitResult(b.send(me, wire.Command{Script: "echo yes"}, k, me).RequestID); res.Stdout != "yes\n" {
		t.Fatalf("%+v", res)
	}
}
