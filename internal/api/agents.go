package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/kanade-fleet/kanade/internal/alerting"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

func (s *Server) listAgents(w http.ResponseWriter, r *http.Request) {
	p, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status, err := oneOf(r, "status", "online", "offline")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sort, err := oneOf(r, "sort", "pc_id", "hostname", "last_heartbeat", "os_family", "agent_version")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	order, err := oneOf(r, "order", "asc", "desc")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	state, err := oneOf(r, "update_state", wire.UpdateStates...)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	prefix, err := idPrefix(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	l, err := s.d.Store.PageAgents(r.Context(), store.AgentFilter{Status: status, Q: q.Get("q"), IDPrefix: prefix,
		Group: q.Get("group"), UpdateState: state, Version: q.Get("version"), Quarantined: q.Get("quarantined"),
		Sort: sort, Desc: order == "desc", Now: time.Now(), Scope: scopeOf(r)}, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	listed(w, r, l)
}

// agentVersions is the fleet's version distribution (SPEC §13): what a
// rollout's progress is read from.
func (s *Server) agentVersions(w http.ResponseWriter, r *http.Request) {
	vs, err := s.d.Store.AgentVersions(r.Context(), time.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, vs)
}

func (s *Server) getAgent(w http.ResponseWriter, r *http.Request) {
	a, ok, err := s.d.Store.GetAgent(r.Context(), r.PathValue("pc_id"), time.Now())
	one(s, w, r, a, ok, err, "agent", "pc_id")
}

func (s *Server) deleteAgent(w http.ResponseWriter, r *http.Request) {
	pc := r.PathValue("pc_id")
	// The broker credential goes first: a PC that is forgotten must not
	// keep a working credential (see revokeAgent).
	revoked, err := s.revokeAgent(r.Context(), pc)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ok, err := s.d.Store.DeleteAgent(r.Context(), pc)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok && !revoked {
		WriteError(w, http.StatusNotFound, "no such agent", "pc_id")
		return
	}
	if wire.ValidPCID(pc) {
		if err := alerting.PublishForgotten(r.Context(), s.d.JS, pc, time.Now()); err != nil {
			s.fail(w, r, fmt.Errorf("resolve the alerts of pc_id=%s: %w", pc, err))
			return
		}
	}
	s.auditf(r, "agent.delete", pc, map[string]any{"credential_revoked": revoked})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) pingAgent(w http.ResponseWriter, r *http.Request) {
	pc := r.PathValue("pc_id")
	if !wire.ValidPCID(pc) {
		WriteError(w, http.StatusUnprocessableEntity, "invalid pc_id", "pc_id")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	msg, err := s.d.NC.RequestWithContext(ctx, bus.Ping(pc), nil)
	if err != nil {
		WriteError(w, http.StatusGatewayTimeout, "agent did not answer within 5s: "+err.Error(), "")
		return
	}
	hb, err := wire.DecodeHeartbeat(msg.Data)
	if err != nil {
		WriteError(w, http.StatusBadGateway, "agent sent an invalid reply", "")
		return
	}
	WriteJSON(w, http.StatusOK, heartbeatView(hb))
}

// pcParam reads {pc_id}, answering 422 when it is not a valid pc_id.
func pcParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	pc := r.PathValue("pc_id")
	if !wire.ValidPCID(pc) {
		fieldErr(w, "pc_id", "invalid pc_id (no dots, spaces, * or >)")
		return "", false
	}
	return pc, true
}
