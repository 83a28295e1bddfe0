package kv_test

import (
	"maps"
	"testing"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

func TestTargetVersions(t *testing.T) {
	s, js := open(t)
	ctx := t.Context()
	if got, err := s.AgentConfig.TargetVersions(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty bucket: %v %v", got, err)
	}
	v := func(s string) *string { return &s }
	one := 3
	for key, sc := range map[string]wire.ConfigScope{
		kv.GlobalScope:          {TargetVersion: v("1.0.0")},
		kv.GroupScope("canary"): {TargetVersion: v("1.1.0")},
		kv.GroupScope("other"):  {MaxLocalConcurrent: &one},
		kv.PCScope("pc1"):       {TargetVersion: v("1.1.0")},
		kv.PCScope("pc2"):       {TargetVersion: v("")},
	} {
		if err := s.AgentConfig.Put(ctx, key, sc); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AgentConfig.Delete(ctx, kv.PCScope("pc1")); err != nil {
		t.Fatal(err)
	}
	bucket, _ := js.KeyValue(ctx, bus.KVAgentConfig)
	if _, err := bucket.Put(ctx, "pcs.broken", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	got, err := s.AgentConfig.TargetVersions(ctx)
	want := map[string]string{"global": "1.0.0", "groups.canary": "1.1.0"}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("got %v %v, want %v", got, err, want)
	}
}
