package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/kanade-fleet/kanade/internal/api"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// MaxGroupsPerPC bounds one PC's group list.
const MaxGroupsPerPC = 256

func pcParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	pc := r.PathValue("pc_id")
	if !wire.ValidPCID(pc) {
		fieldErr(w, "pc_id", "invalid pc_id (no dots, spaces, * or >)")
		return "", false
	}
	return pc, true
}

// readGroups returns a PC's groups and the entry revision (0 = no key).
func (h *handlers) readGroups(ctx context.Context, pc string) ([]string, uint64, error) {
	kv, err := h.kv(ctx, bus.KVAgentGroups)
	if err != nil {
		return nil, 0, err
	}
	e, err := kv.Get(ctx, pc)
	if bus.IsNotFound(err) {
		return []string{}, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get agent_groups.%s: %w", pc, err)
	}
	g, err := wire.DecodeAgentGroups(e.Value())
	if err != nil {
		// A hand-written bad value must not block editing; it is replaced.
		h.log.Warn("bad agent_groups value treated as empty", "pc_id", pc, "error", err)
		return []string{}, e.Revision(), nil
	}
	if g.Groups == nil {
		g.Groups = []string{}
	}
	return g.Groups, e.Revision(), nil
}

// editGroups applies edit to a PC's groups with compare-and-set, retrying
// on a concurrent change, so two simultaneous edits both take effect.
func (h *handlers) editGroups(ctx context.Context, pc string, edit func([]string) []string) ([]string, error) {
	kv, err := h.kv(ctx, bus.KVAgentGroups)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		cur, rev, err := h.readGroups(ctx, pc)
		if err != nil {
			return nil, err
		}
		next := normGroups(edit(slices.Clone(cur)))
		data, _ := json.Marshal(wire.AgentGroups{Groups: next})
		if rev == 0 {
			_, err = kv.Create(ctx, pc, data)
		} else {
			_, err = kv.Update(ctx, pc, data, rev)
		}
		if err == nil {
			return next, nil
		}
		if !isConflict(err) || attempt >= 100 {
			return nil, fmt.Errorf("update agent_groups.%s: %w", pc, err)
		}
		select { // back off a little so contenders interleave
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(rand.IntN(5*(attempt+1))) * time.Millisecond):
		}
	}
}

func normGroups(g []string) []string {
	slices.Sort(g)
	g = slices.Compact(g)
	if g == nil {
		g = []string{}
	}
	return g
}

func checkGroups(field string, groups []string) error {
	if len(groups) > MaxGroupsPerPC {
		return &wire.FieldError{Field: field, Msg: fmt.Sprintf("at most %d groups", MaxGroupsPerPC)}
	}
	for i, g := range groups {
		if !wire.ValidID(g) {
			return &wire.FieldError{Field: fmt.Sprintf("%s[%d]", field, i),
				Msg: fmt.Sprintf("%q is not a valid group name: use 1-64 of A-Z a-z 0-9 _ - (no dots or spaces)", g)}
		}
	}
	return nil
}

func (h *handlers) getGroups(w http.ResponseWriter, r *http.Request) {
	pc, ok := pcParam(w, r)
	if !ok {
		return
	}
	g, _, err := h.readGroups(r.Context(), pc)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, wire.AgentGroups{Groups: g})
}

func (h *handlers) setGroups(w http.ResponseWriter, r *http.Request) {
	pc, ok := pcParam(w, r)
	if !ok {
		return
	}
	body, err := readBody(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var req struct {
		Groups *[]string `json:"groups"`
	}
	if err := decodeStrict(body, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if req.Groups == nil {
		fieldErr(w, "groups", "is required (a list; [] removes every group)")
		return
	}
	if err := checkGroups("groups", *req.Groups); err != nil {
		h.fail(w, r, err)
		return
	}
	g, err := h.editGroups(r.Context(), pc, func([]string) []string { return slices.Clone(*req.Groups) })
	h.groupsDone(w, r, pc, "groups.set", map[string]any{"groups": g}, g, err)
}

func (h *handlers) addGroup(w http.ResponseWriter, r *http.Request) {
	pc, ok := pcParam(w, r)
	if !ok {
		return
	}
	body, err := readBody(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var req struct {
		Group string `json:"group"`
	}
	if err := decodeStrict(body, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if !wire.ValidID(req.Group) {
		fieldErr(w, "group", "is required and must be 1-64 of A-Z a-z 0-9 _ - (no dots or spaces)")
		return
	}
	g, err := h.editGroups(r.Context(), pc, func(cur []string) []string {
		if len(cur) >= MaxGroupsPerPC {
			return cur
		}
		return append(cur, req.Group)
	})
	h.groupsDone(w, r, pc, "groups.add", map[string]any{"group": req.Group, "groups": g}, g, err)
}

func (h *handlers) removeGroup(w http.ResponseWriter, r *http.Request) {
	pc, ok := pcParam(w, r)
	if !ok {
		return
	}
	group := r.PathValue("group")
	if !wire.ValidID(group) {
		fieldErr(w, "group", "invalid group name")
		return
	}
	g, err := h.editGroups(r.Context(), pc, func(cur []string) []string {
		return slices.DeleteFunc(cur, func(s string) bool { return s == group })
	})
	h.groupsDone(w, r, pc, "groups.remove", map[string]any{"group": group, "groups": g}, g, err)
}

func (h *handlers) groupsDone(w http.ResponseWriter, r *http.Request, pc, action string, payload any, g []string, err error) {
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.Info("agent groups changed", "pc_id", pc, "action", action, "groups", g)
	h.auditf(r, action, pc, payload)
	api.WriteJSON(w, http.StatusOK, wire.AgentGroups{Groups: g})
}
