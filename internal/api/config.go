package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/release"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// scopeKey names the agent_config scope a route edits (global,
// groups.<g>, pcs.<pc>), or a *FieldError for a bad path value.
type scopeKey func(*http.Request) (string, error)

func globalScope(*http.Request) (string, error) { return kv.GlobalScope, nil }

func groupScope(r *http.Request) (string, error) {
	g := r.PathValue("group")
	if !wire.ValidID(g) {
		return "", &wire.FieldError{Field: "group", Msg: "invalid group name (1-64 of A-Z a-z 0-9 _ -)"}
	}
	return kv.GroupScope(g), nil
}

func pcScope(r *http.Request) (string, error) {
	pc := r.PathValue("pc_id")
	if !wire.ValidPCID(pc) {
		return "", &wire.FieldError{Field: "pc_id", Msg: "invalid pc_id (no dots, spaces, * or >)"}
	}
	return kv.PCScope(pc), nil
}

// decodeScope strictly decodes a config scope (the contract's body, the
// agent protocol's fields) and validates it, naming the bad field.
func decodeScope(data []byte) (wire.ConfigScope, error) {
	var body apiv1.ConfigScope
	if err := decodeStrict(data, &body); err != nil {
		return wire.ConfigScope{}, err
	}
	s := wire.ConfigScope(body)
	if err := s.Validate(); err != nil {
		return s, err
	}
	// A target is a release version (it names object store paths); to
	// halt a rollout the key is unset, not set to "".
	if s.TargetVersion != nil {
		if err := release.ValidVersion(*s.TargetVersion); err != nil {
			msg := err.Error()
			if fe := (*release.FieldError)(nil); errors.As(err, &fe) {
				msg = fe.Msg
			}
			if *s.TargetVersion == "" {
				msg += " (unset the field to stop a rollout)"
			}
			return s, &wire.FieldError{Field: "target_version", Msg: msg}
		}
	}
	return s, nil
}

func (s *Server) getConfig(key scopeKey) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, err := key(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		sc, _, err := s.d.Config.Scope(r.Context(), k)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if sc == nil {
			sc = &wire.ConfigScope{}
		}
		WriteJSON(w, http.StatusOK, scopeView(*sc))
	}
}

// putConfig replaces a scope with the body (fields left out are unset).
func (s *Server) putConfig(key scopeKey) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, err := key(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		body, err := readBody(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		sc, err := decodeScope(body)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := s.d.Config.Put(r.Context(), k, sc); err != nil {
			s.fail(w, r, err)
			return
		}
		s.d.Log.Info("agent config set", "scope", k)
		s.auditf(r, "config.set", k, sc)
		WriteJSON(w, http.StatusOK, scopeView(sc))
	}
}

// patchConfig merges the body into a scope with compare-and-set: a field
// with a value sets it, a field with null unsets it, others are kept. It is
// what `kanade config set|unset` uses, so two operators editing different
// fields at once both win.
func (s *Server) patchConfig(key scopeKey) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, err := key(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		body, err := readBody(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		// Raw values, not apiv1.ConfigPatch's any: null must be told from a
		// value, and a value is decoded once, strictly, by decodeScope.
		var patch map[string]json.RawMessage
		if err := decodeStrict(body, &patch); err != nil {
			s.fail(w, r, err)
			return
		}
		for f := range patch {
			if _, ok := wire.LookupConfigField(f); !ok {
				if f == "" {
					f = "body"
				}
				fieldErr(w, f, "unknown field (one of "+strings.Join(wire.ConfigFieldNames(), ", ")+")")
				return
			}
		}
		sc, err := s.d.Config.Patch(r.Context(), k, func(cur *wire.ConfigScope) (wire.ConfigScope, error) {
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
			return decodeScope(b)
		})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.d.Log.Info("agent config patched", "scope", k)
		s.auditf(r, "config.set", k, sc)
		WriteJSON(w, http.StatusOK, scopeView(sc))
	}
}

func (s *Server) deleteConfig(key scopeKey) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, err := key(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := s.d.Config.Delete(r.Context(), k); err != nil {
			s.fail(w, r, err)
			return
		}
		s.d.Log.Info("agent config scope deleted", "scope", k)
		s.auditf(r, "config.delete", k, map[string]any{})
		w.WriteHeader(http.StatusNoContent)
	}
}

// effectiveConfig resolves a PC's configuration the way the agent does
// (defaults → global → its groups alphabetically → pcs.<pc>), with a
// warning where two groups disagree or a layer cannot be read.
func (s *Server) effectiveConfig(w http.ResponseWriter, r *http.Request) {
	pc, ok := pcParam(w, r)
	if !ok {
		return
	}
	l, err := s.d.Config.Layers(r.Context(), pc)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	eff, resolveWarnings := wire.Resolve(l.Layers)
	warnings := append(l.Warnings, resolveWarnings...)
	if warnings == nil {
		warnings = []string{}
	}
	WriteJSON(w, http.StatusOK, apiv1.EffectiveView{Effective: effectiveView(eff), Warnings: warnings, Groups: l.Groups,
		Layers: apiv1.Layers{Defaults: effectiveView(wire.Defaults()), Global: scopeRef(l.Layers.Global),
			Groups: scopeMap(l.Layers.Groups), PC: scopeRef(l.Layers.PC)}})
}
