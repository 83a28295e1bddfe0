package ops

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/kanade-fleet/kanade/internal/api"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// FreezeView is the body of GET /api/freeze.
type FreezeView struct {
	Frozen bool       `json:"frozen"`
	Reason string     `json:"reason,omitempty"`
	By     string     `json:"by,omitempty"`
	Since  *time.Time `json:"since,omitempty"`
	Until  *time.Time `json:"until,omitempty"`
}

func (h *handlers) getFreeze(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	kv, err := h.kv(ctx, bus.KVFleetConfig)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := FreezeView{}
	e, err := kv.Get(ctx, bus.FreezeKey)
	switch {
	case bus.IsNotFound(err):
	case err != nil:
		h.fail(w, r, err)
		return
	default:
		var f wire.Freeze
		if err := json.Unmarshal(e.Value(), &f); err != nil {
			h.log.Warn("undecodable fleet_config.freeze; treated as frozen", "error", err)
			out.Frozen, out.Reason = true, "unreadable freeze record"
			break
		}
		since := f.Since
		out = FreezeView{Frozen: f.Active(time.Now()), Reason: f.Reason, By: f.By, Since: &since, Until: f.Until}
	}
	api.WriteJSON(w, http.StatusOK, out)
}

// putFreeze sets a freeze: {reason, until?}; no until = until cleared.
func (h *handlers) putFreeze(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var req struct {
		Reason string  `json:"reason"`
		Until  *string `json:"until"`
	}
	if len(body) > 0 {
		if err := decodeStrict(body, &req); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	now := time.Now().UTC()
	f := wire.Freeze{Reason: req.Reason, By: api.Actor(r), Since: now}
	if req.Until != nil && *req.Until != "" {
		t, err := time.Parse(time.RFC3339Nano, *req.Until)
		if err != nil {
			fieldErr(w, "until", "must be an RFC 3339 time (e.g. 2027-01-05T09:00:00Z)")
			return
		}
		if !t.After(now) {
			fieldErr(w, "until", "must be in the future")
			return
		}
		t = t.UTC()
		f.Until = &t
	}
	if len(f.Reason) > 1024 {
		fieldErr(w, "reason", "must be at most 1024 bytes")
		return
	}
	ctx := r.Context()
	kv, err := h.kv(ctx, bus.KVFleetConfig)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	data, _ := json.Marshal(f)
	if _, err := kv.Put(ctx, bus.FreezeKey, data); err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.Info("fleet frozen", "by", f.By, "reason", f.Reason, "until", f.Until)
	h.auditf(r, "freeze.set", bus.FreezeKey, f)
	since := f.Since
	api.WriteJSON(w, http.StatusOK, FreezeView{Frozen: true, Reason: f.Reason, By: f.By, Since: &since, Until: f.Until})
}

func (h *handlers) deleteFreeze(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	kv, err := h.kv(ctx, bus.KVFleetConfig)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := kv.Delete(ctx, bus.FreezeKey); err != nil && !bus.IsNotFound(err) {
		h.fail(w, r, err)
		return
	}
	h.log.Info("fleet freeze cleared", "by", api.Actor(r))
	h.auditf(r, "freeze.clear", bus.FreezeKey, map[string]any{})
	w.WriteHeader(http.StatusNoContent)
}
