package api

import (
	"context"
	"net/http"
	"runtime"
	"time"

	"github.com/kanade-fleet/kanade/internal/bus"
)

func (s *Server) version(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]string{"version": s.d.Version, "commit": s.d.Commit, "go": runtime.Version()})
}

// events is the dashboard's SSE stream (the live hub).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if s.d.Events == nil {
		WriteError(w, http.StatusNotFound, "no such API route", "")
		return
	}
	s.d.Events.ServeHTTP(w, r)
}

type streamHealth struct {
	Name      string `json:"name"`
	Messages  uint64 `json:"messages"`
	Bytes     uint64 `json:"bytes"`
	Consumers int    `json:"consumers"`
}

type kvHealth struct {
	Bucket string `json:"bucket"`
	Values uint64 `json:"values"`
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
		for _, b := range s.d.Buckets.Health(ctx) {
			switch {
			case b.Missing:
				status = "degraded"
				problems = append(problems, "kv "+b.Bucket+" missing")
			case b.StatusErr == nil:
				js.KV = append(js.KV, kvHealth{Bucket: b.Bucket, Values: b.Values})
			}
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
