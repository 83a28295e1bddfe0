package api

import (
	"context"
	"net/http"
	"runtime"
	"time"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

func (s *Server) version(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]string{"version": s.d.Version, "commit": s.d.Commit, "go": runtime.Version()})
}

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
	q := r.URL.Query()
	rows, total, err := s.d.Store.ListAgents(r.Context(), store.AgentFilter{Status: status, Q: q.Get("q"),
		Group: q.Get("group"), Sort: sort, Desc: order == "desc", Now: time.Now()}, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	listed(w, rows, total)
}

// one answers a single-row lookup: the row, a 404 naming the key, or a 500.
func one[T any](s *Server, w http.ResponseWriter, r *http.Request, row T, ok bool, err error, what, key string) {
	switch {
	case err != nil:
		s.fail(w, r, err)
	case !ok:
		WriteError(w, http.StatusNotFound, "no such "+what, key)
	default:
		WriteJSON(w, http.StatusOK, row)
	}
}

func (s *Server) getAgent(w http.ResponseWriter, r *http.Request) {
	a, ok, err := s.d.Store.GetAgent(r.Context(), r.PathValue("pc_id"), time.Now())
	one(s, w, r, a, ok, err, "agent", "pc_id")
}

func (s *Server) deleteAgent(w http.ResponseWriter, r *http.Request) {
	pc := r.PathValue("pc_id")
	ok, err := s.d.Store.DeleteAgent(r.Context(), pc)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok {
		WriteError(w, http.StatusNotFound, "no such agent", "pc_id")
		return
	}
	s.d.Audit.Audit(r.Context(), Actor(r), "agent.delete", pc, map[string]any{}, ClientIP(r))
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
	WriteJSON(w, http.StatusOK, hb)
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	groups, err := s.d.Store.ListGroups(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, groups)
}

func (s *Server) listExecutions(w http.ResponseWriter, r *http.Request) {
	p, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status, err := oneOf(r, "status", "pending", "running", "completed", "expired")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rows, total, err := s.d.Store.ListExecutions(r.Context(), store.ExecFilter{JobID: r.URL.Query().Get("job_id"), Status: status}, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	listed(w, rows, total)
}

func (s *Server) getExecution(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("exec_id")
	e, ok, err := s.d.Store.GetExecution(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok {
		WriteError(w, http.StatusNotFound, "no such execution", "exec_id")
		return
	}
	results, _, err := s.d.Store.ListResults(r.Context(), store.ResultFilter{ExecID: id}, store.Page{Limit: 100000})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, struct {
		store.Execution
		Results []store.ResultRow `json:"results"`
	}{e, results})
}

func (s *Server) listResults(w http.ResponseWriter, r *http.Request) {
	p, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status, err := oneOf(r, "status", "running", "success", "failure", "skipped")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	since, err := sinceParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	rows, total, err := s.d.Store.ListResults(r.Context(), store.ResultFilter{ExecID: q.Get("exec_id"), JobID: q.Get("job_id"),
		PCID: q.Get("pc_id"), Status: status, Since: since}, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	listed(w, rows, total)
}

func (s *Server) getResult(w http.ResponseWriter, r *http.Request) {
	row, ok, err := s.d.Store.GetResult(r.Context(), r.PathValue("result_id"))
	one(s, w, r, row, ok, err, "result", "result_id")
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	p, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	since, err := sinceParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	rows, total, err := s.d.Store.ListAudit(r.Context(), store.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Since: since}, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	listed(w, rows, total)
}

type streamHealth struct {
	Name      string `json:"name"`
	Messages  uint64 `json:"messages"`
	Bytes     uint64 `json:"bytes"`
	Consumers int    `json:"consumers"`
}

func (s *Server) fleetHealth(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	c, err := s.d.Store.Fleet(r.Context(), now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := "ok"
	var problems []string
	type kvHealth struct {
		Bucket string `json:"bucket"`
		Values uint64 `json:"values"`
	}
	js := struct {
		Streams    []streamHealth `json:"streams"`
		KV         []kvHealth     `json:"kv"`
		StoreBytes uint64         `json:"store_bytes"`
		Error      string         `json:"error,omitempty"`
	}{Streams: []streamHealth{}, KV: []kvHealth{}}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if info, err := s.d.JS.AccountInfo(ctx); err != nil {
		status, js.Error = "degraded", err.Error()
		problems = append(problems, "jetstream unreachable")
	} else {
		js.StoreBytes = info.Store
		for _, name := range []string{bus.StreamExec, bus.StreamEvents, bus.StreamResults, bus.StreamAudit} {
			st, err := s.d.JS.Stream(ctx, name)
			if err != nil {
				status = "degraded"
				problems = append(problems, "stream "+name+" missing")
				continue
			}
			si := st.CachedInfo()
			js.Streams = append(js.Streams, streamHealth{Name: name, Messages: si.State.Msgs, Bytes: si.State.Bytes, Consumers: si.State.Consumers})
		}
		for _, cfg := range bus.KVConfigs(1) {
			kv, err := s.d.JS.KeyValue(ctx, cfg.Bucket)
			if err != nil {
				status = "degraded"
				problems = append(problems, "kv "+cfg.Bucket+" missing")
				continue
			}
			st, err := kv.Status(ctx)
			if err != nil {
				continue
			}
			js.KV = append(js.KV, kvHealth{Bucket: cfg.Bucket, Values: st.Values()})
		}
	}
	if !s.d.NC.IsConnected() {
		status = "degraded"
		problems = append(problems, "broker disconnected")
	}
	code := http.StatusOK
	if status != "ok" {
		code = http.StatusServiceUnavailable
	}
	WriteJSON(w, code, map[string]any{
		"status": status, "problems": problems, "agents_known": c.Known, "agents_online": c.Online,
		"failures_24h": c.Failures24h, "running_executions": c.RunningExecutions, "jetstream": js,
	})
}
