package api

import (
	"context"
	"net/http"
	"runtime"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
)

func (s *Server) version(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, apiv1.VersionInfo{Version: s.d.Version, Commit: s.d.Commit, Go: runtime.Version()})
}

// events is the dashboard's SSE stream (the live hub).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if s.d.Events == nil {
		WriteError(w, http.StatusNotFound, "no such API route", "")
		return
	}
	s.d.Events.ServeHTTP(w, r)
}

func (s *Server) fleetHealth(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	c, err := s.d.Store.Fleet(r.Context(), now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := apiv1.HealthOK
	var problems []string // stays nil (null) when healthy, as served so far
	js := apiv1.JetStreamHealth{Streams: []apiv1.StreamHealth{}, KV: []apiv1.KVHealth{}}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if info, err := s.d.JS.AccountInfo(ctx); err != nil {
		status, js.Error = apiv1.HealthDegraded, err.Error()
		problems = append(problems, "jetstream unreachable")
	} else {
		js.StoreBytes = info.Store
		for _, name := range []string{bus.StreamExec, bus.StreamEvents, bus.StreamResults, bus.StreamAudit, bus.StreamExecs} {
			st, err := s.d.JS.Stream(ctx, name)
			if err != nil {
				status = apiv1.HealthDegraded
				problems = append(problems, "stream "+name+" missing")
				continue
			}
			si := st.CachedInfo()
			js.Streams = append(js.Streams, apiv1.StreamHealth{Name: name, Messages: si.State.Msgs, Bytes: si.State.Bytes, Consumers: si.State.Consumers})
		}
		for _, b := range s.d.Buckets.Health(ctx) {
			switch {
			case b.Missing:
				status = apiv1.HealthDegraded
				problems = append(problems, "kv "+b.Bucket+" missing")
			case b.StatusErr == nil:
				js.KV = append(js.KV, apiv1.KVHealth{Bucket: b.Bucket, Values: b.Values})
			}
		}
	}
	if !s.d.NC.IsConnected() {
		status = apiv1.HealthDegraded
		problems = append(problems, "broker disconnected")
	}
	code := http.StatusOK
	if status != apiv1.HealthOK {
		code = http.StatusServiceUnavailable
	}
	WriteJSON(w, code, apiv1.FleetHealth{Status: status, Problems: problems, AgentsKnown: c.Known, AgentsOnline: c.Online,
		Failures24h: c.Failures24h, RunningExecutions: c.RunningExecutions, JetStream: js})
}
