package fanout_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/fanout"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// setup starts a backend (no agents) where the given PCs heartbeat and
// belong to groups, and stores job "j".
func setup(t *testing.T, members map[string][]string) *server.Server {
	t.Helper()
	// The backend's own wave dispatcher stays out of the way: the tests
	// run theirs (newFanout) and must be the only one sending.
	b := testenv.Backend(t, func(c *server.Config) { c.WavePoll = time.Hour })
	ctx := t.Context()
	groups, _ := b.JS.KeyValue(ctx, bus.KVAgentGroups)
	for pc, gs := range members {
		data, _ := json.Marshal(wire.AgentGroups{Groups: gs})
		if _, err := groups.Put(ctx, pc, data); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 20*time.Second, "PCs online in their groups", func() bool {
		for pc := range members {
			hb, _ := json.Marshal(wire.Heartbeat{PCID: pc, Hostname: pc, OSFamily: "linux", At: time.Now().UTC()})
			_ = b.NC.Publish(bus.Heartbeat(pc), hb)
		}
		for pc, gs := range members {
			for _, g := range append([]string{""}, gs...) {
				online, err := b.DB.OnlinePCs(ctx, time.Now(), g)
				if err != nil || !slices.Contains(online, pc) {
					return false
				}
			}
		}
		return true
	})
	m := manifest.Manifest{ID: "j", Version: "1", Execute: manifest.Execute{Shell: "sh", Script: "true", Timeout: "10s", RunAs: "system"}}
	jobs, _ := b.JS.KeyValue(ctx, bus.KVJobs)
	if _, err := jobs.Put(ctx, "j", m.JSON()); err != nil {
		t.Fatal(err)
	}
	return b
}

func newFanout(b *server.Server) *fanout.Fanout {
	f := fanout.New(fanout.Deps{JS: b.JS, NC: b.NC, Store: b.DB, Jobs: b.KV.Jobs, Waves: b.KV.Waves, Audit: b.Audit, Signer: b.Signer, Log: b.Log})
	f.WavePoll = 5 * time.Millisecond
	return f
}

func waves(p string) manifest.Plan {
	plan, err := manifest.ParsePlan([]byte(p))
	if err != nil {
		panic(err)
	}
	return plan
}

func targetCount(t *testing.T, b *server.Server, execID string) int {
	t.Helper()
	e, ok, err := b.DB.GetExecution(t.Context(), execID)
	if err != nil || !ok {
		t.Fatalf("execution %s: %v %v", execID, ok, err)
	}
	return e.TargetCount
}

func waveKeys(t *testing.T, b *server.Server) []string {
	t.Helper()
	kv, _ := b.JS.KeyValue(t.Context(), bus.KVWaves)
	ks, err := kv.Keys(t.Context())
	if err != nil && err != jetstream.ErrNoKeysFound {
		t.Fatal(err)
	}
	return ks
}

func execSeq(t *testing.T, b *server.Server) uint64 {
	t.Helper()
	s, err := b.JS.Stream(t.Context(), bus.StreamExec)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

// Two dispatchers racing for the same due waves send each one once and
// raise target_count once.
func TestTwoDispatchersSendEachWaveOnce(t *testing.T) {
	b := setup(t, map[string][]string{"pc-1": {"g1"}, "pc-2": {"g2"}, "pc-3": {"g2"}})
	f := newFanout(b)
	const rounds = 4
	var ids []string
	for range rounds {
		r, err := f.Exec(t.Context(), fanout.ExecRequest{JobID: "j", InitiatedBy: "t",
			Plan: waves(`{"rollout":{"waves":[{"group":"g1"},{"group":"g2","delay":"200ms"}]}}`)})
		if err != nil {
			t.Fatal(err)
		}
		if r.TargetCount != 1 {
			t.Fatalf("initial target_count %d", r.TargetCount)
		}
		ids = append(ids, r.ExecID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 3 {
		d := newFanout(b)
		wg.Go(func() { d.RunWaves(ctx, nil) })
	}
	testenv.Eventually(t, 20*time.Second, "all waves sent", func() bool { return len(waveKeys(t, b)) == 0 })
	cancel()
	wg.Wait()
	for _, id := range ids {
		if n := targetCount(t, b, id); n != 3 {
			t.Fatalf("exec %s target_count %d, want 3 (wave counted twice?)", id, n)
		}
	}
	if n := execSeq(t, b); n != 2*rounds {
		t.Fatalf("EXEC stored %d commands, want %d", n, 2*rounds)
	}
}

// A wave claimed by a dispatcher that died is retaken after the lease and
// re-sent with the same request_id, without counting its targets again; a
// freshly claimed one is left to its claimer.
func TestStaleClaimIsRetakenWithoutRecount(t *testing.T) {
	b := setup(t, map[string][]string{"pc-1": {"g1"}})
	ctx := t.Context()
	kv, _ := b.JS.KeyValue(ctx, bus.KVWaves)
	now := time.Now().UTC()
	put := func(exec string, claimed time.Time) wire.Command {
		if err := b.DB.CreateExecution(ctx, apiv1.Execution{ExecID: exec, JobID: "j", Version: "1", InitiatedBy: "t", TargetCount: 1}); err != nil {
			t.Fatal(err)
		}
		cmd := wire.Command{ID: "j", Version: "1", RequestID: exec + "-req", ExecID: exec, Shell: "sh", Script: "true", TimeoutSecs: 10}
		rec := fanout.WaveRecord{ExecID: exec, JobID: "j", Index: 1, Group: "g1", DueAt: now.Add(-time.Minute),
			Command: cmd, InitiatedBy: "t", ClaimedAt: &claimed, Counted: true}
		data, _ := json.Marshal(rec)
		if _, err := kv.Create(ctx, "j."+exec+".1", data); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	put("fresh", now)
	cmd := put("stale", now.Add(-time.Hour))

	f := newFanout(b)
	f.ClaimLease = 10 * time.Minute
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.RunWaves(rctx, nil); close(done) }()
	testenv.Eventually(t, 10*time.Second, "stale wave re-sent", func() bool { return !slices.Contains(waveKeys(t, b), "j.stale.1") })
	cancel()
	<-done
	if !slices.Contains(waveKeys(t, b), "j.fresh.1") {
		t.Fatal("a freshly claimed wave was taken from its claimer")
	}
	if n := targetCount(t, b, "stale"); n != 1 {
		t.Fatalf("target_count %d after retake, want 1", n)
	}
	s, _ := b.JS.Stream(ctx, bus.StreamExec)
	m, err := s.GetLastMsgForSubject(ctx, bus.CommandsGroup("g1"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := wire.DecodeCommand(m.Data)
	if err != nil || got.RequestID != cmd.RequestID || m.Header.Get(jetstream.MsgIDHeader) != cmd.RequestID {
		t.Fatalf("re-sent command %+v (msg id %q): %v", got, m.Header.Get(jetstream.MsgIDHeader), err)
	}
}

// With no live target in the immediate waves the row is floored to 1; the
// first wave that reaches live PCs absorbs that phantom target.
func TestFlooredTargetIsAbsorbedByFirstLiveWave(t *testing.T) {
	b := setup(t, map[string][]string{"pc-1": {"g1"}, "pc-2": {"g1"}})
	f := newFanout(b)
	r, err := f.Exec(t.Context(), fanout.ExecRequest{JobID: "j", InitiatedBy: "t",
		Plan: waves(`{"rollout":{"waves":[{"group":"nobody"},{"group":"g1","delay":"10ms"}]}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if r.TargetCount != 1 {
		t.Fatalf("floored target_count %d", r.TargetCount)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.RunWaves(ctx, nil); close(done) }()
	testenv.Eventually(t, 10*time.Second, "wave and pad consumed", func() bool { return len(waveKeys(t, b)) == 0 })
	cancel()
	<-done
	if n := targetCount(t, b, r.ExecID); n != 2 {
		t.Fatalf("target_count %d, want 2", n)
	}
}

// Only the leader sends; cancelling removes waves (and the pad) for good.
func TestLeaderGateAndCancel(t *testing.T) {
	b := setup(t, map[string][]string{"pc-1": {"g1"}})
	f := newFanout(b)
	var leader atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.RunWaves(ctx, leader.Load); close(done) }()
	defer func() { cancel(); <-done }()

	r, err := f.Exec(t.Context(), fanout.ExecRequest{JobID: "j", InitiatedBy: "t",
		Plan: waves(`{"rollout":{"waves":[{"group":"g1","delay":"1ms"}]}}`)})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)      // many polls as a follower
	if ks := waveKeys(t, b); len(ks) != 3 { // the wave, the pad, the counted set
		t.Fatalf("a follower sent a wave: keys %v", ks)
	}
	leader.Store(true)
	testenv.Eventually(t, 10*time.Second, "leader sends", func() bool { return len(waveKeys(t, b)) == 0 })
	if n := targetCount(t, b, r.ExecID); n != 1 {
		t.Fatalf("target_count %d, want 1 (pc-1 absorbs the floor)", n)
	}

	_, err = f.Exec(t.Context(), fanout.ExecRequest{JobID: "j", InitiatedBy: "t",
		Plan: waves(`{"rollout":{"waves":[{"group":"g1"},{"group":"g2","delay":"1h"},{"group":"g3","delay":"2h"}]}}`)})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := f.PendingWaves(t.Context(), "j")
	if err != nil || len(pending) != 2 || pending[0].Group != "g2" {
		t.Fatalf("pending %+v %v", pending, err)
	}
	n, err := f.CancelWaves(t.Context(), "j")
	if err != nil || n != 2 {
		t.Fatalf("cancelled %d %v", n, err)
	}
	if ks := waveKeys(t, b); len(ks) != 0 {
		t.Fatalf("left after cancel: %v", ks)
	}
	if _, err := f.Exec(t.Context(), fanout.ExecRequest{JobID: "missing", Plan: waves(`{"target":{"all":true}}`)}); err != fanout.ErrJobNotFound {
		t.Fatalf("missing job: %v", err)
	}
}

// A PC that joins an earlier wave's group after that wave went out, and is
// in a later wave's group too, is counted by the later wave: each PC is the
// target of exactly one wave (the first that counts it), whatever the
// groups look like when the later wave is sent.
func TestEveryPCIsCountedByExactlyOneWave(t *testing.T) {
	b := setup(t, map[string][]string{"pc-a": {"g1"}, "pc-both": {"g1", "g2"}, "pc-b": {"g2"}, "late": {"g2"}})
	f := newFanout(b)
	r, err := f.Exec(t.Context(), fanout.ExecRequest{JobID: "j", InitiatedBy: "t",
		Plan: waves(`{"rollout":{"waves":[{"group":"g1"},{"group":"g2","delay":"10ms"}]}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if r.TargetCount != 2 { // pc-a, pc-both
		t.Fatalf("first wave targets %d, want 2", r.TargetCount)
	}
	// "late" joins g1 after the first wave went out.
	groups, _ := b.JS.KeyValue(t.Context(), bus.KVAgentGroups)
	data, _ := json.Marshal(wire.AgentGroups{Groups: []string{"g1", "g2"}})
	if _, err := groups.Put(t.Context(), "late", data); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "late in g1", func() bool {
		online, err := b.DB.OnlinePCs(t.Context(), time.Now(), "g1")
		return err == nil && slices.Contains(online, "late")
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.RunWaves(ctx, nil); close(done) }()
	testenv.Eventually(t, 10*time.Second, "wave and counted set consumed", func() bool { return len(waveKeys(t, b)) == 0 })
	cancel()
	<-done
	// pc-both was counted by the first wave; pc-b and late by the second.
	if n := targetCount(t, b, r.ExecID); n != 4 {
		t.Fatalf("target_count %d, want 4 (pc-a, pc-both, pc-b, late)", n)
	}
}
