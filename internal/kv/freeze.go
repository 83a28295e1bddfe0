package kv

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Freeze is the fleet freeze, key "freeze" of KV fleet_config: while it
// is active the scheduler fires nothing (manual execs still run).
type Freeze struct{ s *Store }

// FreezeTarget is the audit target of freeze changes.
const FreezeTarget = bus.FreezeKey

// Get returns the freeze record; ok false when there is none. A record
// that does not decode is an error wrapping ErrInvalid: callers treat it
// as frozen (a freeze is an emergency brake, so fail safe).
func (f *Freeze) Get(ctx context.Context) (wire.Freeze, bool, error) {
	kv, err := f.s.bucket(ctx, bus.KVFleetConfig)
	if err != nil {
		return wire.Freeze{}, false, err
	}
	v, _, ok, err := get(ctx, kv, bus.FreezeKey)
	if err != nil || !ok {
		return wire.Freeze{}, false, err
	}
	var fr wire.Freeze
	if err := json.Unmarshal(v, &fr); err != nil {
		return wire.Freeze{}, true, invalid("fleet_config.freeze", err)
	}
	return fr, true, nil
}

// Set stores a freeze.
func (f *Freeze) Set(ctx context.Context, fr wire.Freeze) error {
	kv, err := f.s.bucket(ctx, bus.KVFleetConfig)
	if err != nil {
		return err
	}
	data, _ := json.Marshal(fr)
	if _, err := kv.Put(ctx, bus.FreezeKey, data); err != nil {
		return fmt.Errorf("put fleet_config.freeze: %w", err)
	}
	return nil
}

// Clear lifts the freeze; none set is fine.
func (f *Freeze) Clear(ctx context.Context) error {
	kv, err := f.s.bucket(ctx, bus.KVFleetConfig)
	if err != nil {
		return err
	}
	if err := del(ctx, kv, bus.FreezeKey); err != nil {
		return fmt.Errorf("delete fleet_config.freeze: %w", err)
	}
	return nil
}
