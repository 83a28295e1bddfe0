package wire

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/release"
)

// ConfigScope is one layer of agent configuration (KV agent_config keys
// `global`, `groups.<g>`, `pcs.<pc>`). Every field is optional: nil means
// "this layer does not set it".
type ConfigScope struct {
	HeartbeatInterval  *string `json:"heartbeat_interval,omitempty"`   // Go duration, e.g. "30s"
	MaxLocalConcurrent *int    `json:"max_local_concurrent,omitempty"` // runs at once; queued beyond
	TargetVersion      *string `json:"target_version,omitempty"`       // self-update target (later issue)
	OutboxMaxEntries   *int    `json:"outbox_max_entries,omitempty"`   // outbox cap before oldest is dropped
	// UpdateJitter spreads a rollout: an agent waits a random time in
	// [0, jitter) before downloading its target (Go duration).
	UpdateJitter *string `json:"update_jitter,omitempty"`
	// UpdateHealthWindow is how long a new version has to heartbeat
	// before it is rolled back (Go duration, SPEC §13).
	UpdateHealthWindow *string `json:"update_health_window,omitempty"`
	// InventoryInterval is how often the agent reports its built-in facts
	// (Go duration, SPEC §14).
	InventoryInterval *string `json:"inventory_interval,omitempty"`
}

// EffectiveConfig is the resolved configuration an agent runs with.
type EffectiveConfig struct {
	HeartbeatInterval  string `json:"heartbeat_interval"`
	MaxLocalConcurrent int    `json:"max_local_concurrent"`
	TargetVersion      string `json:"target_version,omitempty"`
	OutboxMaxEntries   int    `json:"outbox_max_entries"`
	UpdateJitter       string `json:"update_jitter"`
	UpdateHealthWindow string `json:"update_health_window"`
	InventoryInterval  string `json:"inventory_interval"`
}

// DefaultInventoryInterval is the built-in inventory_interval.
const DefaultInventoryInterval = 6 * time.Hour

// InventoryEvery parses InventoryInterval, falling back to the default.
func (e EffectiveConfig) InventoryEvery() time.Duration {
	d, err := time.ParseDuration(e.InventoryInterval)
	if err != nil || d < time.Minute {
		return DefaultInventoryInterval
	}
	return d
}

// Built-in self-update timings.
const (
	DefaultUpdateJitter       = 5 * time.Minute
	DefaultUpdateHealthWindow = 2 * time.Minute
)

// UpdateJitterDuration parses UpdateJitter, falling back to the default.
func (e EffectiveConfig) UpdateJitterDuration() time.Duration {
	d, err := time.ParseDuration(e.UpdateJitter)
	if err != nil || d < 0 {
		return DefaultUpdateJitter
	}
	return d
}

// UpdateHealthWindowDuration parses UpdateHealthWindow, falling back to
// the default.
func (e EffectiveConfig) UpdateHealthWindowDuration() time.Duration {
	d, err := time.ParseDuration(e.UpdateHealthWindow)
	if err != nil || d < time.Second {
		return DefaultUpdateHealthWindow
	}
	return d
}

// HeartbeatEvery parses HeartbeatInterval, falling back to the default.
func (e EffectiveConfig) HeartbeatEvery() time.Duration {
	d, err := time.ParseDuration(e.HeartbeatInterval)
	if err != nil || d < time.Second {
		return DefaultHeartbeat
	}
	return d
}

// DefaultHeartbeat is the built-in heartbeat interval.
const DefaultHeartbeat = 30 * time.Second

// Defaults returns the built-in layer.
func Defaults() EffectiveConfig {
	return EffectiveConfig{
		HeartbeatInterval:  DefaultHeartbeat.String(),
		MaxLocalConcurrent: runtime.NumCPU(),
		OutboxMaxEntries:   10000,
		UpdateJitter:       DefaultUpdateJitter.String(),
		UpdateHealthWindow: DefaultUpdateHealthWindow.String(),
		InventoryInterval:  DefaultInventoryInterval.String(),
	}
}

// DecodeConfigScope strictly decodes a scope: unknown keys and bad values are
// errors naming the field, since a typo would otherwise silently do nothing.
func DecodeConfigScope(data []byte) (ConfigScope, error) {
	var s ConfigScope
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return s, s.Validate()
}

// FieldError names the offending field of a validation failure.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Validate checks value ranges.
func (s ConfigScope) Validate() error {
	if s.HeartbeatInterval != nil {
		d, err := time.ParseDuration(*s.HeartbeatInterval)
		if err != nil || d < time.Second || d > time.Hour {
			return &FieldError{"heartbeat_interval", "must be a duration between 1s and 1h"}
		}
	}
	if s.MaxLocalConcurrent != nil && (*s.MaxLocalConcurrent < 1 || *s.MaxLocalConcurrent > 256) {
		return &FieldError{"max_local_concurrent", "must be between 1 and 256"}
	}
	if s.OutboxMaxEntries != nil && (*s.OutboxMaxEntries < 100 || *s.OutboxMaxEntries > 1000000) {
		return &FieldError{"outbox_max_entries", "must be between 100 and 1000000"}
	}
	if s.TargetVersion != nil && *s.TargetVersion != "" && release.ValidVersion(*s.TargetVersion) != nil {
		return &FieldError{"target_version", "letters, digits and . _ + - only (at most 64), starting with a letter or digit"}
	}
	if s.UpdateJitter != nil {
		d, err := time.ParseDuration(*s.UpdateJitter)
		if err != nil || d < 0 || d > 24*time.Hour {
			return &FieldError{"update_jitter", "must be a duration between 0s and 24h"}
		}
	}
	if s.UpdateHealthWindow != nil {
		d, err := time.ParseDuration(*s.UpdateHealthWindow)
		if err != nil || d < 10*time.Second || d > time.Hour {
			return &FieldError{"update_health_window", "must be a duration between 10s and 1h"}
		}
	}
	if s.InventoryInterval != nil {
		d, err := time.ParseDuration(*s.InventoryInterval)
		if err != nil || d < time.Minute || d > 7*24*time.Hour {
			return &FieldError{"inventory_interval", "must be a duration between 1m and 168h"}
		}
	}
	return nil
}

// ConfigLayers is everything needed to resolve one PC's configuration.
type ConfigLayers struct {
	Global *ConfigScope
	Groups map[string]ConfigScope // group name → scope, only groups the PC is in
	PC     *ConfigScope
}

// Resolve applies defaults → global → groups (alphabetical, later wins) →
// pc, and reports where two groups disagree, since the alphabetical winner
// is rarely what an operator meant.
func Resolve(l ConfigLayers) (EffectiveConfig, []string) {
	eff := Defaults()
	apply := func(s *ConfigScope) {
		if s == nil {
			return
		}
		if s.HeartbeatInterval != nil {
			eff.HeartbeatInterval = *s.HeartbeatInterval
		}
		if s.MaxLocalConcurrent != nil {
			eff.MaxLocalConcurrent = *s.MaxLocalConcurrent
		}
		if s.TargetVersion != nil {
			eff.TargetVersion = *s.TargetVersion
		}
		if s.OutboxMaxEntries != nil {
			eff.OutboxMaxEntries = *s.OutboxMaxEntries
		}
		if s.UpdateJitter != nil {
			eff.UpdateJitter = *s.UpdateJitter
		}
		if s.UpdateHealthWindow != nil {
			eff.UpdateHealthWindow = *s.UpdateHealthWindow
		}
		if s.InventoryInterval != nil {
			eff.InventoryInterval = *s.InventoryInterval
		}
	}
	apply(l.Global)
	names := make([]string, 0, len(l.Groups))
	for g := range l.Groups {
		names = append(names, g)
	}
	sort.Strings(names)
	var warnings []string
	setBy := map[string]string{} // field → "group=value" of the last group that set it
	for _, g := range names {
		s := l.Groups[g]
		for field, v := range s.fields() {
			if prev, ok := setBy[field]; ok && !strings.HasSuffix(prev, "="+v) {
				warnings = append(warnings, fmt.Sprintf("%s: group %s overrides %s", field, g+"="+v, prev))
			}
			setBy[field] = g + "=" + v
		}
		apply(&s)
	}
	apply(l.PC)
	return eff, warnings
}

func (s ConfigScope) fields() map[string]string {
	m := map[string]string{}
	if s.HeartbeatInterval != nil {
		m["heartbeat_interval"] = *s.HeartbeatInterval
	}
	if s.MaxLocalConcurrent != nil {
		m["max_local_concurrent"] = fmt.Sprint(*s.MaxLocalConcurrent)
	}
	if s.TargetVersion != nil {
		m["target_version"] = *s.TargetVersion
	}
	if s.OutboxMaxEntries != nil {
		m["outbox_max_entries"] = fmt.Sprint(*s.OutboxMaxEntries)
	}
	if s.UpdateJitter != nil {
		m["update_jitter"] = *s.UpdateJitter
	}
	if s.UpdateHealthWindow != nil {
		m["update_health_window"] = *s.UpdateHealthWindow
	}
	if s.InventoryInterval != nil {
		m["inventory_interval"] = *s.InventoryInterval
	}
	return m
}
