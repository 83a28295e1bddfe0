package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/api"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// scopeRoute is one layer of agent_config: its route and how the route
// names its KV key (global, groups.<g>, pcs.<pc>).
type scopeRoute struct {
	path string
	key  func(*http.Request) (string, error)
}

func groupScope(r *http.Request) (string, error) {
	g := r.PathValue("group")
	if !wire.ValidID(g) {
		return "", &wire.FieldError{Field: "group", Msg: "invalid group name (1-64 of A-Z a-z 0-9 _ -)"}
	}
	return bus.GroupConfigKey(g), nil
}

func pcScope(r *http.Request) (string, error) {
	pc := r.PathValue("pc_id")
	if !wire.ValidPCID(pc) {
		return "", &wire.FieldError{Field: "pc_id", Msg: "invalid pc_id (no dots, spaces, * or >)"}
	}
	return bus.PCConfigKey(pc), nil
}

// decodeScope strictly decodes a config scope, naming the bad field.
func decodeScope(data []byte) (wire.ConfigScope, error) {
	var s wire.ConfigScope
	if err := decodeStrict(data, &s); err != nil {
		return s, err
	}
	return s, s.Validate()
}

// readScope returns a stored scope (nil if absent) and its revision.
func (h *handlers) readScope(ctx context.Context, kv jetstream.KeyValue, key string) (*wire.ConfigScope, uint64, error) {
	e, err := kv.Get(ctx, key)
	if bus.IsNotFound(err) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get agent_config.%s: %w", key, err)
	}
	s, err := wire.DecodeConfigScope(e.Value())
	if err != nil {
		return nil, e.Revision(), fmt.Errorf("agent_config.%s is not a valid scope: %w", key, err)
	}
	return &s, e.Revision(), nil
}

func (h *handlers) getConfig(key func(*http.Request) (string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, err := key(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		kv, err := h.kv(r.Context(), bus.KVAgentConfig)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		s, _, err := h.readScope(r.Context(), kv, k)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if s == nil {
			s = &wire.ConfigScope{}
		}
		api.WriteJSON(w, http.StatusOK, s)
	}
}

// putConfig replaces a scope with the body (fields left out are unset).
func (h *handlers) putConfig(key func(*http.Request) (string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, err := key(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		body, err := readBody(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		s, err := decodeScope(body)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		kv, err := h.kv(r.Context(), bus.KVAgentConfig)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		data, _ := json.Marshal(s)
		if _, err := kv.Put(r.Context(), k, data); err != nil {
			h.fail(w, r, err)
			return
		}
		h.log.Info("agent config set", "scope", k)
		h.auditf(r, "config.set", k, s)
		api.WriteJSON(w, http.StatusOK, s)
	}
}

// patchConfig merges the body into a scope with compare-and-set: a field
// with a value sets it, a field with null unsets it, others are kept. It is
// what `kanade config set|unset` uses, so two operators editing different
// fields at once both win.
func (h *handlers) patchConfig(key func(*http.Request) (string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, err := key(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		body, err := readBody(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		var patch map[string]json.RawMessage
		if err := decodeStrict(body, &patch); err != nil {
			h.fail(w, r, err)
			return
		}
		known := []string{"heartbeat_interval", "max_local_concurrent", "target_version", "outbox_max_entries"}
		for f := range patch {
			if !slices.Contains(known, f) {
				if f == "" {
					f = "body"
				}
				fieldErr(w, f, "unknown field (one of "+strings.Join(known, ", ")+")")
				return
			}
		}
		ctx := r.Context()
		kv, err := h.kv(ctx, bus.KVAgentConfig)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for attempt := 0; ; attempt++ {
			cur, rev, err := h.readScope(ctx, kv, k)
			if err != nil && rev == 0 {
				h.fail(w, r, err)
				return
			}
			merged := map[string]json.RawMessage{}
			if cur != nil {
				b, _ := json.Marshal(cur)
				_ = json.Unmarshal(b, &merged)
			}
			for f, v := range patch {
				if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
					delete(merged, f)
				} else {
					merged[f] = v
				}
			}
			b, _ := json.Marshal(merged)
			s, err := decodeScope(b)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			data, _ := json.Marshal(s)
			if rev == 0 {
				_, err = kv.Create(ctx, k, data)
			} else {
				_, err = kv.Update(ctx, k, data, rev)
			}
			if err == nil {
				h.log.Info("agent config patched", "scope", k)
				h.auditf(r, "config.set", k, s)
				api.WriteJSON(w, http.StatusOK, s)
				return
			}
			if !isConflict(err) || attempt >= 100 {
				h.fail(w, r, fmt.Errorf("update agent_config.%s: %w", k, err))
				return
			}
			time.Sleep(time.Duration(rand.IntN(5*(attempt+1))) * time.Millisecond)
		}
	}
}

func (h *handlers) deleteConfig(key func(*http.Request) (string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, err := key(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		kv, err := h.kv(r.Context(), bus.KVAgentConfig)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if err := kv.Delete(r.Context(), k); err != nil && !bus.IsNotFound(err) {
			h.fail(w, r, err)
			return
		}
		h.log.Info("agent config scope deleted", "scope", k)
		h.auditf(r, "config.delete", k, map[string]any{})
		w.WriteHeader(http.StatusNoContent)
	}
}

// EffectiveView is the body of GET /api/agents/{pc}/effective_config.
type EffectiveView struct {
	Effective wire.EffectiveConfig `json:"effective"`
	Warnings  []string             `json:"warnings"`
	Groups    []string             `json:"groups"`
	Layers    Layers               `json:"layers"`
}

// Layers shows each layer that went into an effective config.
type Layers struct {
	Defaults wire.EffectiveConfig        `json:"defaults"`
	Global   *wire.ConfigScope           `json:"global"`
	Groups   map[string]wire.ConfigScope `json:"groups"`
	PC       *wire.ConfigScope           `json:"pc"`
}

// effectiveConfig resolves a PC's configuration the way the agent does
// (defaults → global → its groups alphabetically → pcs.<pc>), with a
// warning where two groups disagree. An unreadable layer is skipped with a
// warning rather than failing the whole view.
func (h *handlers) effectiveConfig(w http.ResponseWriter, r *http.Request) {
	pc, ok := pcParam(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	groups, _, err := h.readGroups(ctx, pc)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	kv, err := h.kv(ctx, bus.KVAgentConfig)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var warnings []string
	layer := func(key string) *wire.ConfigScope {
		s, _, err := h.readScope(ctx, kv, key)
		if err != nil {
			warnings = append(warnings, err.Error()+" (layer ignored)")
			return nil
		}
		return s
	}
	l := wire.ConfigLayers{Global: layer(bus.ConfigGlobalKey), Groups: map[string]wire.ConfigScope{}, PC: layer(bus.PCConfigKey(pc))}
	for _, g := range groups {
		if s := layer(bus.GroupConfigKey(g)); s != nil {
			l.Groups[g] = *s
		}
	}
	eff, resolveWarnings := wire.Resolve(l)
	warnings = append(warnings, resolveWarnings...)
	if warnings == nil {
		warnings = []string{}
	}
	api.WriteJSON(w, http.StatusOK, EffectiveView{Effective: eff, Warnings: warnings, Groups: groups,
		Layers: Layers{Defaults: wire.Defaults(), Global: l.Global, Groups: l.Groups, PC: l.PC}})
}
