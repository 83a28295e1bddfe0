package wire

import (
	"slices"
	"testing"
)

func TestConfigFields(t *testing.T) {
	t.Parallel()
	want := []ConfigField{{"heartbeat_interval", false}, {"max_local_concurrent", true}, {"target_version", false}, {"outbox_max_entries", true},
		{"update_jitter", false}, {"update_health_window", false}, {"inventory_interval", false}}
	if !slices.Equal(ConfigFields, want) {
		t.Fatalf("ConfigFields = %+v, want %+v", ConfigFields, want)
	}
	// Every field round-trips through fields(), which Resolve's conflict
	// warnings use.
	one, s := 1, "x"
	sc := ConfigScope{HeartbeatInterval: &s, MaxLocalConcurrent: &one, TargetVersion: &s, OutboxMaxEntries: &one,
		UpdateJitter: &s, UpdateHealthWindow: &s, InventoryInterval: &s}
	for _, f := range ConfigFields {
		if _, ok := sc.fields()[f.Name]; !ok {
			t.Errorf("fields() misses %s", f.Name)
		}
	}
}

func TestUpdateConfigValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ json, field string }{
		{`{"target_version":"1.2/3"}`, "target_version"},
		{`{"target_version":"-x"}`, "target_version"},
		{`{"update_jitter":"-1s"}`, "update_jitter"},
		{`{"update_jitter":"48h"}`, "update_jitter"},
		{`{"update_health_window":"1s"}`, "update_health_window"},
		{`{"update_health_window":"soon"}`, "update_health_window"},
	} {
		_, err := DecodeConfigScope([]byte(c.json))
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != c.field {
			t.Errorf("%s: %v, want a %s error", c.json, err, c.field)
		}
	}
	s, err := DecodeConfigScope([]byte(`{"target_version":"","update_jitter":"0s","update_health_window":"30s"}`))
	if err != nil {
		t.Fatal(err)
	}
	eff, _ := Resolve(ConfigLayers{Global: &s})
	if eff.UpdateJitterDuration() != 0 || eff.UpdateHealthWindowDuration().String() != "30s" {
		t.Errorf("resolved %+v", eff)
	}
	if d := Defaults(); d.UpdateJitterDuration() != DefaultUpdateJitter || d.UpdateHealthWindowDuration() != DefaultUpdateHealthWindow {
		t.Errorf("defaults %+v", d)
	}
}
