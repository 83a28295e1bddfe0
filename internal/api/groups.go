package api

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// listGroups is GET /api/groups: every group with its members, from SQL.
func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	groups, err := s.d.Store.ListGroups(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if scope := scopeOf(r); scope != nil { // a scoped caller sees its own groups
		groups = slices.DeleteFunc(groups, func(g apiv1.GroupMembers) bool { return !slices.Contains(scope, g.Group) })
	}
	WriteJSON(w, http.StatusOK, groups)
}

func checkGroups(field string, groups []string) error {
	if len(groups) > kv.MaxGroupsPerPC {
		return &wire.FieldError{Field: field, Msg: fmt.Sprintf("at most %d groups", kv.MaxGroupsPerPC)}
	}
	for i, g := range groups {
		if !wire.ValidID(g) {
			return &wire.FieldError{Field: fmt.Sprintf("%s[%d]", field, i),
				Msg: fmt.Sprintf("%q is not a valid group name: use 1-64 of A-Z a-z 0-9 _ - (no dots or spaces)", g)}
		}
	}
	return nil
}

func (s *Server) getGroups(w http.ResponseWriter, r *http.Request) {
	pc, ok := pcParam(w, r)
	if !ok {
		return
	}
	g, err := s.d.Groups.Get(r.Context(), pc)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, apiv1.AgentGroups{Groups: g})
}

func (s *Server) setGroups(w http.ResponseWriter, r *http.Request) {
	pc, ok := pcParam(w, r)
	if !ok {
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// Absent and null both decode to nil; [] is an empty, non-nil list.
	var req apiv1.AgentGroups
	if err := decodeStrict(body, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Groups == nil {
		fieldErr(w, "groups", "is required (a list; [] removes every group)")
		return
	}
	if err := checkGroups("groups", req.Groups); err != nil {
		s.fail(w, r, err)
		return
	}
	g, err := s.d.Groups.Set(r.Context(), pc, req.Groups)
	s.groupsDone(w, r, pc, "groups.set", map[string]any{"groups": g}, g, err)
}

func (s *Server) addGroup(w http.ResponseWriter, r *http.Request) {
	pc, ok := pcParam(w, r)
	if !ok {
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req apiv1.AddGroupRequest
	if err := decodeStrict(body, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if !wire.ValidID(req.Group) {
		fieldErr(w, "group", "is required and must be 1-64 of A-Z a-z 0-9 _ - (no dots or spaces)")
		return
	}
	g, err := s.d.Groups.Add(r.Context(), pc, req.Group)
	s.groupsDone(w, r, pc, "groups.add", map[string]any{"group": req.Group, "groups": g}, g, err)
}

func (s *Server) removeGroup(w http.ResponseWriter, r *http.Request) {
	pc, ok := pcParam(w, r)
	if !ok {
		return
	}
	group := r.PathValue("group")
	if !wire.ValidID(group) {
		fieldErr(w, "group", "invalid group name")
		return
	}
	g, err := s.d.Groups.Remove(r.Context(), pc, group)
	s.groupsDone(w, r, pc, "groups.remove", map[string]any{"group": group, "groups": g}, g, err)
}

func (s *Server) groupsDone(w http.ResponseWriter, r *http.Request, pc, action string, payload any, g []string, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.d.Log.Info("agent groups changed", "pc_id", pc, "action", action, "groups", g)
	s.auditf(r, action, pc, payload)
	WriteJSON(w, http.StatusOK, apiv1.AgentGroups{Groups: g})
}
