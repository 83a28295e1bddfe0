package wire

import (
	"slices"
	"testing"
)

func TestConfigFields(t *testing.T) {
	t.Parallel()
	want := []ConfigField{{"heartbeat_interval", false}, {"max_local_concurrent", true}, {"target_version", false}, {"outbox_max_entries", true}}
	if !slices.Equal(ConfigFields, want) {
		t.Fatalf("ConfigFields = %+v, want %+v", ConfigFields, want)
	}
	// Every field round-trips through fields(), which Resolve's conflict
	// warnings use.
	one, s := 1, "x"
	sc := ConfigScope{HeartbeatInterval: &s, MaxLocalConcurrent: &one, TargetVersion: &s, OutboxMaxEntries: &one}
	for _, f := range ConfigFields {
		if _, ok := sc.fields()[f.Name]; !ok {
			t.Errorf("fields() misses %s", f.Name)
		}
	}
}
