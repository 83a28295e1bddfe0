package kv_test

import (
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/broker"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/schedule"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// open starts an embedded broker with every bucket bootstrapped and
// returns the stores and a raw JetStream handle (tests may write
// hand-made values).
func open(t *testing.T) (*kv.Store, jetstream.JetStream) {
	t.Helper()
	b, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Shutdown)
	nc, err := nats.Connect(b.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Bootstrap(t.Context(), js, 1); err != nil {
		t.Fatal(err)
	}
	return kv.New(js, quiet), js
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func rawPut(t *testing.T, js jetstream.JetStream, bucket, key, value string) {
	t.Helper()
	b, err := js.KeyValue(t.Context(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutString(t.Context(), key, value); err != nil {
		t.Fatal(err)
	}
}

func job(id string) manifest.Manifest {
	return manifest.Manifest{ID: id, Version: "1", Execute: manifest.Execute{Shell: "sh", Script: "true", Timeout: "10s", RunAs: "system"}}
}

func sched(t *testing.T, id, jobID string) schedule.Schedule {
	t.Helper()
	sc, err := schedule.Parse([]byte("id: " + id + "\njob_id: " + jobID + "\ncron: '0 3 * * *'\ntarget: {all: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// UsingJob reads only job_id: a schedule that no longer validates still
// blocks deleting the job it names but no other; one whose JSON cannot be
// read might name any job and blocks them all. The ids come sorted.
// (scheduler.SchedulesForJob used to parse fully, so one invalid schedule
// blocked deleting every job; api/ops listed them unsorted.)
func TestSchedulesUsingJob(t *testing.T) {
	s, js := open(t)
	ctx := t.Context()
	for _, sc := range []schedule.Schedule{sched(t, "zeta", "a"), sched(t, "alpha", "a"), sched(t, "other", "b")} {
		if _, err := s.Schedules.Put(ctx, sc, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	check := func(jobID string, want ...string) {
		t.Helper()
		got, err := s.Schedules.UsingJob(ctx, jobID)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("UsingJob(%s) = %v %v, want %v", jobID, got, err, want)
		}
	}
	check("a", "alpha", "zeta")
	check("b", "other")
	check("c")

	// Valid JSON, invalid schedule (no trigger): counts for its own job only.
	rawPut(t, js, bus.KVSchedules, "stale", `{"id":"stale","job_id":"c","target":{"all":true}}`)
	if _, _, _, err := s.Schedules.Get(ctx, "stale"); !errors.Is(err, kv.ErrInvalid) {
		t.Fatalf("stale schedule parses: %v", err)
	}
	check("a", "alpha", "zeta")
	check("c", "stale")
	// Unreadable JSON: counts for every job.
	rawPut(t, js, bus.KVSchedules, "garbled", `{"job_id":`)
	check("a", "alpha", "garbled", "zeta")
	check("d", "garbled")
}

func TestJobsCatalog(t *testing.T) {
	t.Parallel()
	s, js := open(t)
	ctx := t.Context()
	if _, err := s.Jobs.Get(ctx, "j"); err != kv.ErrJobNotFound {
		t.Fatalf("missing job: %v", err)
	}
	created, err := s.Jobs.Put(ctx, job("j"), []byte("id: j # text\n"))
	if err != nil || !created {
		t.Fatalf("put: %v %v", created, err)
	}
	if created, _ := s.Jobs.Put(ctx, job("j"), []byte("id: j\n")); created {
		t.Fatal("second put reported created")
	}
	if text, ok := s.Jobs.Text(ctx, "j"); !ok || text != "id: j\n" {
		t.Fatalf("text %q %v", text, ok)
	}
	if st, err := s.Jobs.State(ctx, "j"); err != nil || st.Status != wire.StatusActive || st.Pinned != nil {
		t.Fatalf("state %+v %v", st, err)
	}
	if err := s.Jobs.Pin(ctx, "j", "1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Jobs.SetStatus(ctx, "j", true); err != nil {
		t.Fatal(err)
	}
	if rev, err := s.Jobs.Revoked(ctx, "j"); err != nil || !rev {
		t.Fatalf("revoked %v %v", rev, err)
	}
	rawPut(t, js, bus.KVJobs, "bad", `{"id":"bad"}`)
	if _, err := s.Jobs.Get(ctx, "bad"); !errors.Is(err, kv.ErrInvalid) {
		t.Fatalf("invalid job: %v", err)
	}
	list, err := s.Jobs.List(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "bad" || list[0].Err == nil || list[1].ID != "j" ||
		list[1].Status != wire.StatusRevoked || list[1].Pinned == nil || *list[1].Pinned != "1" {
		t.Fatalf("list %+v %v", list, err)
	}
	if err := s.Jobs.Delete(ctx, "j"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Jobs.Exists(ctx, "j"); ok {
		t.Fatal("deleted job exists")
	}
	if ok, _ := s.Jobs.HasStatus(ctx, "j"); !ok {
		t.Fatal("a deleted job keeps its REVOKED status")
	}
}

// Concurrent group and config edits all land (compare-and-set).
func TestEditsAreCompareAndSet(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	for _, g := range []string{"a", "b", "c", "d", "e", "f"} {
		wg.Go(func() {
			if _, err := s.AgentGroups.Add(ctx, "pc1", g); err != nil {
				t.Error(err)
			}
		})
	}
	fields := []func(*wire.ConfigScope){
		func(c *wire.ConfigScope) { v := "30s"; c.HeartbeatInterval = &v },
		func(c *wire.ConfigScope) { v := 3; c.MaxLocalConcurrent = &v },
		func(c *wire.ConfigScope) { v := "2.0.0"; c.TargetVersion = &v },
		func(c *wire.ConfigScope) { v := 500; c.OutboxMaxEntries = &v },
	}
	for _, set := range fields {
		wg.Go(func() {
			_, err := s.AgentConfig.Patch(ctx, kv.GroupScope("a"), func(cur *wire.ConfigScope) (wire.ConfigScope, error) {
				next := wire.ConfigScope{}
				if cur != nil {
					next = *cur
				}
				set(&next)
				return next, nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if g, err := s.AgentGroups.Get(ctx, "pc1"); err != nil || !slices.Equal(g, []string{"a", "b", "c", "d", "e", "f"}) {
		t.Fatalf("groups %v %v", g, err)
	}
	sc, _, err := s.AgentConfig.Scope(ctx, kv.GroupScope("a"))
	if err != nil || sc == nil || sc.HeartbeatInterval == nil || sc.MaxLocalConcurrent == nil || sc.TargetVersion == nil || sc.OutboxMaxEntries == nil {
		t.Fatalf("scope %+v %v", sc, err)
	}
	l, err := s.AgentConfig.Layers(ctx, "pc1")
	if err != nil || len(l.Groups) != 6 || len(l.Layers.Groups) != 1 || l.Layers.Global != nil || len(l.Warnings) != 0 {
		t.Fatalf("layers %+v %v", l, err)
	}
}

// A watch delivers the current values, a Synced marker, then changes.
func TestWatch(t *testing.T) {
	s, js := open(t)
	ctx := t.Context()
	if err := s.AgentGroups.Put(ctx, "pc1", []string{"g"}); err != nil {
		t.Fatal(err)
	}
	w, err := s.AgentGroups.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	next := func() kv.Change[[]string] {
		t.Helper()
		select {
		case c := <-w.Updates():
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("no change")
		}
		return kv.Change[[]string]{}
	}
	if c := next(); c.Key != "pc1" || !slices.Equal(c.Value, []string{"g"}) {
		t.Fatalf("initial %+v", c)
	}
	if c := next(); !c.Synced {
		t.Fatalf("want synced, got %+v", c)
	}
	rawPut(t, js, bus.KVAgentGroups, "pc2", `{"groups":"nope"}`)
	if c := next(); c.Key != "pc2" || c.Err == nil {
		t.Fatalf("bad value %+v", c)
	}
	if err := s.AgentGroups.Delete(ctx, "pc1"); err != nil {
		t.Fatal(err)
	}
	if c := next(); c.Key != "pc1" || !c.Deleted {
		t.Fatalf("delete %+v", c)
	}
}

func TestFreezeAndHealth(t *testing.T) {
	t.Parallel()
	s, js := open(t)
	ctx := t.Context()
	if _, ok, err := s.Freeze.Get(ctx); ok || err != nil {
		t.Fatalf("fresh freeze %v %v", ok, err)
	}
	if err := s.Freeze.Set(ctx, wire.Freeze{Reason: "r", Since: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	if f, ok, err := s.Freeze.Get(ctx); !ok || err != nil || f.Reason != "r" {
		t.Fatalf("freeze %+v %v %v", f, ok, err)
	}
	rawPut(t, js, bus.KVFleetConfig, "freeze", "{")
	if _, _, err := s.Freeze.Get(ctx); !errors.Is(err, kv.ErrInvalid) {
		t.Fatalf("corrupt freeze: %v", err)
	}
	if err := s.Freeze.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteKeyValue(ctx, bus.KVWaves); err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, h := range s.Health(ctx) {
		if h.Missing {
			missing = append(missing, h.Bucket)
		}
	}
	if !slices.Equal(missing, []string{bus.KVWaves}) {
		t.Fatalf("missing %v", missing)
	}
}
