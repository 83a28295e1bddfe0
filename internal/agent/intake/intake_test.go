package intake

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/agent/exec"
	"github.com/kanade-fleet/kanade/internal/agent/ledger"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/wire"
)

type sink struct {
	mu   sync.Mutex
	msgs []string // subject|payload
	ch   chan struct{}
}

func newSink() *sink { return &sink{ch: make(chan struct{}, 1000)} }

func (s *sink) Put(subject, _ string, payload []byte) error {
	s.mu.Lock()
	s.msgs = append(s.msgs, subject+"|"+string(payload))
	s.mu.Unlock()
	s.ch <- struct{}{}
	return nil
}

func (s *sink) results(t *testing.T, n int) []wire.ExecResult {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		s.mu.Lock()
		var out []wire.ExecResult
		for _, m := range s.msgs {
			subj, payload, _ := strings.Cut(m, "|")
			if strings.HasPrefix(subj, "results.") {
				r, err := wire.DecodeExecResult([]byte(payload))
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, r)
			}
		}
		s.mu.Unlock()
		if len(out) >= n {
			return out
		}
		select {
		case <-s.ch:
		case <-deadline:
			t.Fatalf("got %d results, want %d", len(out), n)
		}
	}
}

// fakeRunner blocks until released or killed, counting concurrency.
type fakeRunner struct {
	mu       sync.Mutex
	cur, max int
	started  chan string
	release  chan struct{}
}

func newFakeRunner() *fakeRunner {
	return &fakeRunner{started: make(chan string, 100), release: make(chan struct{})}
}

func (f *fakeRunner) Run(ctx context.Context, cmd wire.Command, kill <-chan struct{}) exec.Result {
	f.mu.Lock()
	f.cur++
	f.max = max(f.max, f.cur)
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.cur--; f.mu.Unlock() }()
	f.started <- cmd.RequestID
	select {
	case <-f.release:
		return exec.Result{ExitCode: 0, Stdout: "ran " + cmd.RequestID}
	case <-kill:
		return exec.Result{ExitCode: -1, Killed: true}
	case <-ctx.Done():
		return exec.Result{ExitCode: -1, Aborted: true}
	}
}

type pins map[string]Pin

func (p pins) Lookup(_ context.Context, job string) (Pin, error) { return p[job], nil }

func newIntake(t *testing.T, l Ledger, r Runner, s Sink, limit int) *Intake {
	t.Helper()
	in, err := New(Config{PCID: "pc1", Ledger: l, Sink: s, Runner: r, Limit: limit,
		Pins: pins{"pinned": {Version: "2"}, "revoked": {Status: wire.StatusRevoked}, "adhoc": {Status: wire.StatusRevoked}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Close(context.Background()) })
	return in
}

func cmdJSON(c wire.Command) []byte {
	if c.Shell == "" {
		c.Shell = "sh"
	}
	if c.ExecID == "" {
		c.ExecID = "ex-" + c.RequestID
	}
	b, _ := json.Marshal(c)
	return b
}

func TestGates(t *testing.T) {
	s, r := newSink(), newFakeRunner()
	close(r.release)
	in := newIntake(t, ledger.NewMemory(), r, s, 4)
	past := time.Now().Add(-time.Minute)
	in.Handle("commands.all", cmdJSON(wire.Command{ID: "pinned", Version: "1", RequestID: "r-pin"}))
	in.Handle("commands.all", cmdJSON(wire.Command{ID: "revoked", Version: "1", RequestID: "r-rev"}))
	in.Handle("commands.all", cmdJSON(wire.Command{ID: "job", Version: "1", RequestID: "r-dl", DeadlineAt: &past}))
	in.Handle("commands.all", cmdJSON(wire.Command{ID: "pinned", Version: "2", RequestID: "r-ok"}))
	in.Handle("commands.all", cmdJSON(wire.Command{ID: "adhoc", RequestID: "r-adhoc"})) // adhoc skips pin/revoke
	got := map[string]wire.ExecResult{}
	for _, res := range s.results(t, 5) {
		got[res.RequestID] = res
	}
	for rid, want := range map[string]int{"r-pin": 124, "r-rev": 126, "r-dl": 125} {
		if res := got[rid]; res.ExitCode != want || !res.Skipped || !strings.HasPrefix(res.Stderr, "skipped:") {
			t.Errorf("%s: %+v", rid, res)
		}
	}
	for _, rid := range []string{"r-ok", "r-adhoc"} {
		if res := got[rid]; res.ExitCode != 0 || res.Skipped || res.Stdout != "ran "+rid || res.PCID != "pc1" {
			t.Errorf("%s: %+v", rid, res)
		}
	}
}

func TestAddressingAndDedup(t *testing.T) {
	s, r := newSink(), newFakeRunner()
	close(r.release)
	l := ledger.NewMemory()
	in := newIntake(t, l, r, s, 4)
	in.SetGroups([]string{"g1"})
	in.Handle("commands.pc.other", cmdJSON(wire.Command{ID: "j", RequestID: "r-other"}))
	in.Handle("commands.group.g2", cmdJSON(wire.Command{ID: "j", RequestID: "r-g2"}))
	in.Handle("commands.group.g1", cmdJSON(wire.Command{ID: "j", RequestID: "r-g1"}))
	in.Handle("commands.group.g1", cmdJSON(wire.Command{ID: "j", RequestID: "r-g1"}))
	in.Handle("commands.pc.pc1", cmdJSON(wire.Command{ID: "j", RequestID: "r-pc"}))
	in.Handle("commands.all", cmdJSON(wire.Command{ID: "j", RequestID: "r-pc"}))
	// Admission is decided synchronously in Handle.
	if l.Len() != 2 || !l.Seen("r-g1") || !l.Seen("r-pc") {
		t.Fatalf("admitted %d", l.Len())
	}
	s.results(t, 2)
}

func TestConcurrencyLimitKillAndDeadlineWhileQueued(t *testing.T) {
	s, r := newSink(), newFakeRunner()
	in := newIntake(t, ledger.NewMemory(), r, s, 1)
	in.Handle("commands.all", cmdJSON(wire.Command{ID: "j", RequestID: "first", ExecID: "e1"}))
	<-r.started
	soon := time.Now().Add(300 * time.Millisecond)
	in.Handle("commands.all", cmdJSON(wire.Command{ID: "j", RequestID: "queued-kill", ExecID: "e2"}))
	in.Handle("commands.all", cmdJSON(wire.Command{ID: "j", RequestID: "queued-deadline", ExecID: "e3", DeadlineAt: &soon}))
	waitFor(t, func() bool { return in.Queued() == 2 })
	if !in.Kill("e2") {
		t.Fatal("kill found nothing")
	}
	got := map[string]wire.ExecResult{}
	for _, res := range s.results(t, 2) {
		got[res.RequestID] = res
	}
	if res := got["queued-kill"]; !res.Killed || res.ExitCode != -1 {
		t.Errorf("%+v", res)
	}
	if res := got["queued-deadline"]; !res.Skipped || res.ExitCode != 125 || !strings.Contains(res.Stderr, "slot") {
		t.Errorf("%+v", res)
	}
	in.SetLimit(3)
	in.Handle("commands.all", cmdJSON(wire.Command{ID: "j", RequestID: "second", ExecID: "e4"}))
	<-r.started
	if in.Running() != 2 {
		t.Fatalf("running %d", in.Running())
	}
	in.Kill("e1")
	close(r.release)
	s.results(t, 4)
	if r.max != 2 {
		t.Fatalf("max concurrency %d", r.max)
	}
}

func TestJitterIsKillable(t *testing.T) {
	s, r := newSink(), newFakeRunner()
	in, _ := New(Config{PCID: "pc1", Ledger: ledger.NewMemory(), Sink: s, Runner: r,
		Jitter: func(time.Duration) time.Duration { return time.Hour }})
	defer in.Close(context.Background())
	in.Handle("commands.all", cmdJSON(wire.Command{ID: "j", RequestID: "r", ExecID: "e", JitterSecs: 3600}))
	waitFor(t, func() bool { return in.Kill("e") })
	if res := s.results(t, 1)[0]; !res.Killed || !strings.Contains(res.Stderr, "jitter") {
		t.Fatalf("%+v", res)
	}
}

func TestRecover(t *testing.T) {
	l := ledger.NewMemory()
	now := time.Now()
	started := wire.Command{ID: "j", RequestID: "was-running", ExecID: "e1", Shell: "sh"}
	queued := wire.Command{ID: "j", RequestID: "was-queued", ExecID: "e2", Shell: "sh"}
	_, _ = l.Admit(started, "res-1", now)
	_ = l.Start("was-running", now)
	_, _ = l.Admit(queued, "res-2", now)
	s, r := newSink(), newFakeRunner()
	close(r.release)
	in := newIntake(t, l, r, s, 2)
	in.Recover()
	got := map[string]wire.ExecResult{}
	for _, res := range s.results(t, 2) {
		got[res.RequestID] = res
	}
	if res := got["was-running"]; res.ExitCode != -1 || res.ResultID != "res-1" || !strings.Contains(res.Stderr, "outcome is unknown") {
		t.Errorf("%+v", res)
	}
	if res := got["was-queued"]; res.ExitCode != 0 || res.ResultID != "res-2" {
		t.Errorf("%+v", res)
	}
	// The result is queued just before the record is closed.
	waitFor(t, func() bool { return len(l.Unfinished()) == 0 })
}

func TestCloseLeavesQueuedAdmitted(t *testing.T) {
	l := ledger.NewMemory()
	s, r := newSink(), newFakeRunner()
	in, _ := New(Config{PCID: "pc1", Ledger: l, Sink: s, Runner: r, Limit: 1})
	in.Handle("commands.all", cmdJSON(wire.Command{ID: "j", RequestID: "running"}))
	<-r.started
	in.Handle("commands.all", cmdJSON(wire.Command{ID: "j", RequestID: "queued"}))
	waitFor(t, func() bool { return in.Queued() == 1 })
	if err := in.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	un := l.Unfinished()
	if len(un) != 1 || un[0].RequestID != "queued" || un[0].State != ledger.Admitted {
		t.Fatalf("%+v", un)
	}
	if res := s.results(t, 1)[0]; res.RequestID != "running" || res.ExitCode != -1 {
		t.Fatalf("%+v", res)
	}
}

func TestEncodeResultFits(t *testing.T) {
	big := strings.Repeat("\x01", 600<<10) // escapes to 6 bytes each in JSON
	b := EncodeResult(wire.ExecResult{ResultID: "r", PCID: "p", Stdout: big, Stderr: big}, 1<<20-64<<10)
	if len(b) > 1<<20-64<<10 {
		t.Fatalf("encoded %d bytes", len(b))
	}
	if _, err := wire.DecodeExecResult(b); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("commands.all", []byte(`{"id":"job","version":"1","request_id":"r1","exec_id":"e1","shell":"sh","script":"echo","timeout_secs":5}`))
	f.Add("commands.group.g1", []byte(`{"id":"adhoc","request_id":"r.1","exec_id":"e1","shell":"cmd","deadline_at":"2026-01-01T00:00:00Z"}`))
	f.Add("commands.pc.pc1", []byte(`{"id":"job","request_id":"r1","exec_id":"e>","shell":"pwsh","run_as":"x"}`))
	f.Add("commands.pc.pc2", []byte(`{}`))
	f.Add("commands.group.g1", []byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		cmd, err := Decode("pc1", func(g string) bool { return g == "g1" }, subject, data)
		if err != nil {
			return
		}
		if !wire.ValidID(cmd.ID) || !SafeToken(cmd.RequestID) || !SafeToken(cmd.ExecID) || !wire.ValidShell(cmd.Shell) {
			t.Fatalf("accepted unsafe command %+v", cmd)
		}
		if subject != "commands.all" && subject != "commands.pc.pc1" && subject != "commands.group.g1" {
			t.Fatalf("accepted subject %q", subject)
		}
	})
}

// keyVerifier accepts what key signed (internal/sign), like the agent's.
type keyVerifier struct{ kr *sign.Keyring }

func (v keyVerifier) Verify(subject string, h nats.Header, payload []byte) error {
	return sign.Verify(v.kr, subject, h, payload)
}

func TestRefusedCommandsDoNotBurnTheRequestID(t *testing.T) {
	key, _ := sign.GenerateKey()
	other, _ := sign.GenerateKey()
	s, r := newSink(), newFakeRunner()
	close(r.release)
	l := ledger.NewMemory()
	in, err := New(Config{PCID: "pc1", Ledger: l, Sink: s, Runner: r, Verifier: keyVerifier{sign.NewKeyring(key.Public())}})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(context.Background())
	data := cmdJSON(wire.Command{ID: "j", RequestID: "r1"})
	forPC2 := key.Sign("commands.pc.pc2", data)
	// Re-routed (signed for pc2), unsigned, foreign key: refused, once each
	// even when delivered twice, and the request_id stays free.
	for range 2 {
		in.HandleMsg("commands.pc.pc1", forPC2, data)
		in.HandleMsg("commands.all", nil, data)
		in.HandleMsg("commands.all", other.Sign("commands.all", data), data)
	}
	in.HandleMsg("commands.all", nil, []byte(`{"stream":"EXEC","seq":7}`)) // a PubAck aimed at us: junk
	if l.Seen("r1") {
		t.Fatal("a refused command was admitted")
	}
	in.HandleMsg("commands.pc.pc1", key.Sign("commands.pc.pc1", data), data)
	got := s.results(t, 4)
	var refused, ran int
	for _, res := range got {
		switch {
		case res.ExitCode == wire.ExitRefused && !res.Skipped && strings.HasPrefix(res.Stderr, "[kanade] refused:"):
			refused++
		case res.ExitCode == 0 && res.Stdout == "ran r1":
			ran++
		default:
			t.Errorf("unexpected %+v", res)
		}
	}
	if refused != 3 || ran != 1 || in.Refused() != 7 {
		t.Fatalf("refused %d ran %d counted %d", refused, ran, in.Refused())
	}
	select {
	case id := <-r.started:
		if id != "r1" {
			t.Fatal(id)
		}
	default:
		t.Fatal("the genuine command did not run")
	}
	if len(r.started) != 0 {
		t.Fatal("a refused command ran")
	}
	s.mu.Lock()
	for _, m := range s.msgs {
		if subj, _, _ := strings.Cut(m, "|"); strings.HasPrefix(subj, "results.") && subj != "results.pc1.r1" {
			t.Errorf("result on %s", subj)
		}
	}
	s.mu.Unlock()
}

// One execution arriving on two subjects (commands.all and a group, or two
// waves) runs once: the ledger refuses the second request_id of the exec,
// and the intake must honour that refusal.
func TestOneExecutionOnTwoSubjectsRunsOnce(t *testing.T) {
	s, r := newSink(), newFakeRunner()
	close(r.release)
	l := ledger.NewMemory()
	in := newIntake(t, l, r, s, 4)
	in.SetGroups([]string{"g1"})
	in.Handle("commands.all", cmdJSON(wire.Command{ID: "j", RequestID: "r-all", ExecID: "exec-1"}))
	in.Handle("commands.group.g1", cmdJSON(wire.Command{ID: "j", RequestID: "r-g1", ExecID: "exec-1"}))
	in.Handle("commands.pc.pc1", cmdJSON(wire.Command{ID: "j", RequestID: "r-pc", ExecID: "exec-1"}))
	in.wg.Wait() // every spawned run has finished and reported
	res := s.results(t, 1)
	if len(res) != 1 || res[0].RequestID != "r-all" || res[0].ExecID != "exec-1" {
		t.Fatalf("want one result for r-all, got %+v", res)
	}
	if n := len(r.started); n != 1 {
		t.Fatalf("runner started %d times", n)
	}
	if l.Len() != 1 || l.Seen("r-g1") {
		t.Fatalf("ledger holds %d records", l.Len())
	}
}
