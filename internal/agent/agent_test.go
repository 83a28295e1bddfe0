//go:build !windows

package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/agent/ledger"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

type broker struct {
	t     *testing.T
	dir   string
	port  int
	srv   *server.Server
	nc    *nats.Conn
	js    jetstream.JetStream
	token string
}

func startServer(t *testing.T, dir string, port int, token string) *server.Server {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoSigs: true,
		Authorization: token, NoLog: true}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start() // returns once listening; running it in a goroutine races with Shutdown
	if !srv.ReadyForConnections(20 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	return srv
}

func newBroker(t *testing.T) *broker {
	t.Helper()
	b := &broker{t: t, dir: t.TempDir(), token: "s3cret"}
	b.srv = startServer(t, b.dir, -1, b.token)
	b.port = b.srv.Addr().(*net.TCPAddr).Port
	return b.connect()
}

func (b *broker) connect() *broker {
	t := b.t
	nc, err := nats.Connect(b.url(), nats.Token(b.token), nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	b.nc = nc
	b.js, _ = jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.Bootstrap(ctx, b.js, 1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		nc.Close()
		if b.srv != nil {
			b.srv.Shutdown()
			b.srv.WaitForShutdown()
		}
	})
	return b
}

func (b *broker) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", b.port) }

func (b *broker) stop() {
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
	b.srv = nil
}

func (b *broker) restart() { b.srv = startServer(b.t, b.dir, b.port, b.token) }

func (b *broker) kv(bucket string) jetstream.KeyValue {
	kv, err := b.js.KeyValue(context.Background(), bucket)
	if err != nil {
		b.t.Fatal(err)
	}
	return kv
}

func (b *broker) put(bucket, key, val string) {
	if _, err := b.kv(bucket).PutString(context.Background(), key, val); err != nil {
		b.t.Fatal(err)
	}
}

// publish sends a command into EXEC (with PubAck) and returns it.
func (b *broker) publish(subject string, c wire.Command) wire.Command {
	b.t.Helper()
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
	data, _ := json.Marshal(c)
	if _, err := b.js.Publish(context.Background(), subject, data); err != nil {
		b.t.Fatal(err)
	}
	return c
}

// count returns how many messages stream holds on subject (a filter).
func (b *broker) count(stream, subject string) uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := b.js.Stream(ctx, stream)
	if err != nil {
		b.t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		b.t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

func (b *broker) last(stream, subject string) (*jetstream.RawStreamMsg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := b.js.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	return s.GetLastMsgForSubject(ctx, subject)
}

func (b *broker) waitResult(requestID string) wire.ExecResult {
	b.t.Helper()
	var res wire.ExecResult
	waitFor(b.t, 60*time.Second, "result of "+requestID, func() bool {
		m, err := b.last(bus.StreamResults, bus.ResultsOf(requestID))
		if err != nil {
			return false
		}
		res, err = wire.DecodeExecResult(m.Data)
		if err != nil {
			b.t.Fatal(err)
		}
		return true
	})
	return res
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type running struct {
	a    *Agent
	stop func()
}

func startAgent(t *testing.T, b *broker, pc, dataDir string) running {
	t.Helper()
	a, err := New(Options{PCID: pc, NATSURL: b.url(), NATSToken: b.token, DataDir: dataDir, Version: "test",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
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
			t.Errorf("agent %s: %v", pc, err)
		}
	}
	t.Cleanup(stop)
	waitFor(t, 30*time.Second, pc+" caught up", func() bool { return a.caught.Load() > 0 })
	return running{a: a, stop: stop}
}

func TestRunPingHeartbeatAndLiveConfig(t *testing.T) {
	b := newBroker(t)
	hb, _ := b.nc.SubscribeSync(bus.Heartbeat("pc-a"))
	r := startAgent(t, b, "pc-a", t.TempDir())

	c := b.publish(bus.CommandsPC("pc-a"), wire.Command{Script: "echo hello; echo oops >&2; exit 3"})
	res := b.waitResult(c.RequestID)
	if res.ExitCode != 3 || res.Stdout != "hello\n" || res.Stderr != "oops\n" || res.PCID != "pc-a" ||
		res.ExecID != c.ExecID || res.ManifestID != "adhoc" || res.StartedAt.IsZero() || res.FinishedAt.Before(res.StartedAt) {
		t.Fatalf("%+v", res)
	}
	m, err := b.last(bus.StreamEvents, bus.EventStarted(c.ExecID, "pc-a"))
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := wire.DecodeEventStarted(m.Data)
	if ev.ResultID != res.ResultID || !ev.StartedAt.Equal(res.StartedAt) || ev.RequestID != c.RequestID {
		t.Fatalf("event %+v vs result %+v", ev, res)
	}

	// Heartbeat at connect, and a ping answer with every field.
	if _, err := hb.NextMsg(20 * time.Second); err != nil {
		t.Fatal("no heartbeat:", err)
	}
	reply, err := b.nc.Request(bus.Ping("pc-a"), nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	h, err := wire.DecodeHeartbeat(reply.Data)
	if err != nil || h.AgentVersion != "test" || h.OSFamily == "" || h.Arch == "" || h.Hostname == "" ||
		h.AgentRSSBytes == 0 || h.BootTime.IsZero() || h.OSVersion == "" || h.At.IsZero() {
		t.Fatalf("ping reply %+v %v", h, err)
	}

	// Layered config applied live: group layer, then pc layer wins.
	b.put(bus.KVAgentGroups, "pc-a", `{"groups":["lab"]}`)
	b.put(bus.KVAgentConfig, bus.ConfigGlobalKey, `{"max_local_concurrent":5}`)
	b.put(bus.KVAgentConfig, bus.GroupConfigKey("lab"), `{"max_local_concurrent":3,"heartbeat_interval":"1s"}`)
	waitFor(t, 20*time.Second, "group config", func() bool {
		c := r.a.Config()
		return c.MaxLocalConcurrent == 3 && c.HeartbeatInterval == "1s"
	})
	b.put(bus.KVAgentConfig, bus.PCConfigKey("pc-a"), `{"max_local_concurrent":2}`)
	waitFor(t, 20*time.Second, "pc config", func() bool { return r.a.Config().MaxLocalConcurrent == 2 })
	// Heartbeats now come about every second.
	for range 3 {
		if _, err := hb.NextMsg(10 * time.Second); err != nil {
			t.Fatal("heartbeat interval not applied:", err)
		}
	}
	if err := b.kv(bus.KVAgentConfig).Delete(context.Background(), bus.PCConfigKey("pc-a")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "pc config removed", func() bool { return r.a.Config().MaxLocalConcurrent == 3 })
}

func TestGroupTargetingFollowsKV(t *testing.T) {
	b := newBroker(t)
	r1 := startAgent(t, b, "pc-1", t.TempDir())
	r2 := startAgent(t, b, "pc-2", t.TempDir())

	b.put(bus.KVAgentGroups, "pc-1", `{"groups":["canary"]}`)
	waitFor(t, 20*time.Second, "pc-1 joins canary", func() bool { return len(r1.a.Groups()) == 1 })
	c1 := b.publish(bus.CommandsGroup("canary"), wire.Command{Script: "echo $KANADE_PC_ID"})
	if res := b.waitResult(c1.RequestID); res.PCID != "pc-1" || res.Stdout != "pc-1\n" {
		t.Fatalf("%+v", res)
	}

	// Membership moves to pc-2 without a restart.
	b.put(bus.KVAgentGroups, "pc-2", `{"groups":["canary"]}`)
	b.put(bus.KVAgentGroups, "pc-1", `{"groups":[]}`)
	waitFor(t, 20*time.Second, "membership moved", func() bool {
		return len(r1.a.Groups()) == 0 && len(r2.a.Groups()) == 1
	})
	c2 := b.publish(bus.CommandsGroup("canary"), wire.Command{Script: "echo $KANADE_PC_ID"})
	if res := b.waitResult(c2.RequestID); res.PCID != "pc-2" {
		t.Fatalf("%+v", res)
	}
	// pc-1 answered a later direct command, so anything it would have run
	// for c2 would have been admitted by now: it was not.
	c3 := b.publish(bus.CommandsPC("pc-1"), wire.Command{Script: "true"})
	b.waitResult(c3.RequestID)
	if r1.a.ledger.Seen(c2.RequestID) || b.count(bus.StreamResults, bus.ResultsOf(c2.RequestID)) != 1 {
		t.Fatal("pc-1 ran a command of a group it left")
	}
	// Joining a group catches up on its latest command, like a reconnect
	// does: pc-2 ran c1 (the group's last command when it joined) once.
	waitFor(t, 20*time.Second, "two results for c1", func() bool {
		return b.count(bus.StreamResults, bus.ResultsOf(c1.RequestID)) == 2
	})
	if !r2.a.ledger.Seen(c1.RequestID) {
		t.Fatal("pc-2 did not catch up on the group's last command")
	}
}

func pidFrom(t *testing.T, path string) int {
	t.Helper()
	var pid int
	waitFor(t, 20*time.Second, "grandchild pid", func() bool {
		data, err := os.ReadFile(path)
		if err != nil || !strings.HasSuffix(string(data), "\n") {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(data)))
		return err == nil
	})
	return pid
}

func assertGone(t *testing.T, pid int) {
	t.Helper()
	waitFor(t, 20*time.Second, fmt.Sprintf("pid %d gone", pid), func() bool {
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return true
		}
		// A killed orphan may linger as a zombie if nothing reaps it.
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		f := strings.Fields(string(data))
		return err == nil && len(f) > 2 && f[2] == "Z"
	})
}

func TestTimeoutAndKillEndTheTree(t *testing.T) {
	b := newBroker(t)
	startAgent(t, b, "pc-k", t.TempDir())
	dir := t.TempDir()
	script := func(f string) string { return "sleep 600 & echo $! > " + filepath.Join(dir, f) + "; echo begun; wait" }

	ct := b.publish(bus.CommandsPC("pc-k"), wire.Command{Script: script("t.pid"), TimeoutSecs: 1})
	pid := pidFrom(t, filepath.Join(dir, "t.pid"))
	res := b.waitResult(ct.RequestID)
	if res.ExitCode != -1 || !res.TimedOut || res.Killed || !strings.Contains(res.Stderr, "timeout") || res.Stdout != "begun\n" {
		t.Fatalf("%+v", res)
	}
	assertGone(t, pid)

	ck := b.publish(bus.CommandsPC("pc-k"), wire.Command{Script: script("k.pid"), TimeoutSecs: 600})
	pid = pidFrom(t, filepath.Join(dir, "k.pid"))
	if err := b.nc.Publish(bus.Kill(ck.ExecID), nil); err != nil {
		t.Fatal(err)
	}
	res = b.waitResult(ck.RequestID)
	if res.ExitCode != -1 || !res.Killed || res.TimedOut || !strings.Contains(res.Stderr, "killed") {
		t.Fatalf("%+v", res)
	}
	assertGone(t, pid)
}

func TestGatesSkipWithReservedCodes(t *testing.T) {
	b := newBroker(t)
	startAgent(t, b, "pc-g", t.TempDir())
	b.put(bus.KVScriptCurrent, "pinned", "2.0.0")
	b.put(bus.KVScriptStatus, "revoked", wire.StatusRevoked)
	past := time.Now().Add(-time.Hour)
	cases := []struct {
		c    wire.Command
		code int
	}{
		{wire.Command{ID: "pinned", Version: "1.0.0", Script: "echo no"}, wire.ExitVersionPin},
		{wire.Command{ID: "revoked", Version: "1", Script: "echo no"}, wire.ExitRevoked},
		{wire.Command{ID: "late", Version: "1", Script: "echo no", DeadlineAt: &past}, wire.ExitDeadline},
		{wire.Command{ID: "pinned", Version: "2.0.0", Script: "echo yes", JitterSecs: 1}, 0},
	}
	for _, tc := range cases {
		c := b.publish(bus.CommandsPC("pc-g"), tc.c)
		res := b.waitResult(c.RequestID)
		if res.ExitCode != tc.code || res.Skipped != (tc.code != 0) {
			t.Errorf("%s: %+v", tc.c.ID, res)
		}
		if tc.code != 0 && (!strings.HasPrefix(res.Stderr, "skipped:") || res.Stdout != "") {
			t.Errorf("%s: %+v", tc.c.ID, res)
		}
	}
}

func TestOfflineCatchUpRunsOnce(t *testing.T) {
	b := newBroker(t)
	data := t.TempDir()
	c := b.publish(bus.CommandsPC("pc-o"), wire.Command{Script: "echo caught"})
	r := startAgent(t, b, "pc-o", data)
	if res := b.waitResult(c.RequestID); res.Stdout != "caught\n" {
		t.Fatalf("%+v", res)
	}
	waitFor(t, 20*time.Second, "outbox drained", func() bool { return r.a.outbox.Len() == 0 })
	r.stop()

	r = startAgent(t, b, "pc-o", data) // caught up again: the command is still in EXEC
	c2 := b.publish(bus.CommandsPC("pc-o"), wire.Command{Script: "echo next"})
	b.waitResult(c2.RequestID)
	if n := b.count(bus.StreamResults, bus.ResultsOf(c.RequestID)); n != 1 {
		t.Fatalf("the caught-up command ran %d times", n)
	}
	if n := b.count(bus.StreamEvents, bus.EventStarted(c.ExecID, "pc-o")); n != 1 {
		t.Fatalf("%d started events", n)
	}
}

func TestCrashedRunReportedAtRestart(t *testing.T) {
	b := newBroker(t)
	data := t.TempDir()
	l, err := ledger.Open(filepath.Join(data, "ledger"))
	if err != nil {
		t.Fatal(err)
	}
	c := wire.Command{ID: "adhoc", RequestID: uuid.NewString(), ExecID: uuid.NewString(), Shell: "sh", Script: "sleep 100"}
	_, _ = l.Admit(c, "res-crash", time.Now())
	_ = l.Start(c.RequestID, time.Now())
	_ = l.Close()
	startAgent(t, b, "pc-c", data)
	res := b.waitResult(c.RequestID)
	if res.ExitCode != -1 || res.ResultID != "res-crash" || !strings.Contains(res.Stderr, "outcome is unknown") {
		t.Fatalf("%+v", res)
	}
}

func TestBrokerOutageLosesNothing(t *testing.T) {
	b := newBroker(t)
	r := startAgent(t, b, "pc-x", t.TempDir())
	c := b.publish(bus.CommandsPC("pc-x"), wire.Command{Script: "sleep 5; echo survived"})
	waitFor(t, 30*time.Second, "started event", func() bool {
		_, err := b.last(bus.StreamEvents, bus.EventStarted(c.ExecID, "pc-x"))
		return err == nil
	})
	b.nc.Close()
	b.stop()
	stopped := time.Now()
	// The run finishes while the broker is down: its result waits in the outbox.
	waitFor(t, 30*time.Second, "result queued locally", func() bool { return r.a.outbox.Len() > 0 })
	time.Sleep(time.Until(stopped.Add(10 * time.Second))) // the scenario: broker back 10 s later
	b.restart()
	b.connect()
	res := b.waitResult(c.RequestID)
	if res.Stdout != "survived\n" || res.ExitCode != 0 {
		t.Fatalf("%+v", res)
	}
	waitFor(t, 20*time.Second, "outbox drained", func() bool { return r.a.outbox.Len() == 0 })
	if n := b.count(bus.StreamResults, bus.ResultsOf(c.RequestID)); n != 1 {
		t.Fatalf("%d results", n)
	}
	if n := b.count(bus.StreamEvents, bus.EventStarted(c.ExecID, "pc-x")); n != 1 {
		t.Fatalf("%d started events", n)
	}
}

// A new PC does not run the last fleet-wide or group command published
// before it first started (SPEC §17), but does run its own pending command,
// every later one, and fleet-wide commands it missed while offline after
// joining (its first start is kept in the data dir).
func TestNewPCSkipsFleetCommandsFromBeforeIt(t *testing.T) {
	b := newBroker(t)
	old := b.publish(bus.SubjCommandsAll, wire.Command{Script: "echo old"})
	oldGroup := b.publish(bus.CommandsGroup("g"), wire.Command{Script: "echo old group"})
	own := b.publish(bus.CommandsPC("pc-new"), wire.Command{Script: "echo own"})
	b.put(bus.KVAgentGroups, "pc-new", `{"groups":["g"]}`)
	data := t.TempDir()
	r := startAgent(t, b, "pc-new", data)
	if res := b.waitResult(own.RequestID); res.Stdout != "own\n" {
		t.Fatalf("own command: %+v", res)
	}
	waitFor(t, 20*time.Second, "joined group g", func() bool { return len(r.a.Groups()) == 1 })
	later := b.publish(bus.SubjCommandsAll, wire.Command{Script: "echo later"})
	if res := b.waitResult(later.RequestID); res.Stdout != "later\n" {
		t.Fatalf("later command: %+v", res)
	}
	// The agent had answered a later command, so the old ones would have
	// been admitted by now: they were not.
	for _, c := range []wire.Command{old, oldGroup} {
		if r.a.ledger.Seen(c.RequestID) || b.count(bus.StreamResults, bus.ResultsOf(c.RequestID)) != 0 {
			t.Fatalf("the new PC ran %q, published before it existed", c.Script)
		}
	}
	waitFor(t, 20*time.Second, "outbox drained", func() bool { return r.a.outbox.Len() == 0 })
	r.stop()

	missed := b.publish(bus.SubjCommandsAll, wire.Command{Script: "echo missed"})
	startAgent(t, b, "pc-new", data)
	if res := b.waitResult(missed.RequestID); res.Stdout != "missed\n" {
		t.Fatalf("command missed while offline: %+v", res)
	}
}
