package api

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

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
	reasons := []apiv1.HealthReason{}
	if s.d.Health != nil {
		for _, r := range s.d.Health.Reasons(now) {
			status = apiv1.HealthDegraded
			problems = append(problems, r.Message)
			reasons = append(reasons, apiv1.HealthReason{Reason: string(r.Code), Subject: r.Subject, Message: r.Message, Since: r.Since.UTC()})
		}
	}
	code := http.StatusOK
	if status != apiv1.HealthOK {
		code = http.StatusServiceUnavailable
	}
	WriteJSON(w, code, apiv1.FleetHealth{Status: status, Problems: problems, Reasons: reasons, AgentsKnown: c.Known, AgentsOnline: c.Online,
		Failures24h: c.Failures24h, RunningExecutions: c.RunningExecutions, JetStream: js})
}

// gateWrites answers 503 to every change under /api/ while the broker
// rejects writes (full disk, broken store): the change could not be
// recorded, and a clear "retry later" beats a 500 or a timeout. Reads,
// and signing in (SQL only), still work so operators can look.
func (s *Server) gateWrites(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.d.Health != nil && isWrite(r) {
			if msg, bad := s.d.Health.WritesRejected(); bad {
				w.Header().Set("Retry-After", "10")
				WriteError(w, http.StatusServiceUnavailable, msg+"; nothing was changed, retry when GET /api/health/fleet is ok", "")
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

func isWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return strings.HasPrefix(r.URL.Path, "/api/") && !strings.HasPrefix(r.URL.Path, "/api/auth/")
}

// JetStream API error codes meaning the broker cannot store anything now.
const (
	jsInsufficientResources    = 10023
	jsStorageResourcesExceeded = 10047
	jsNotEnabledForAccount     = 10039
	jsNotEnabled               = 10076
	jsStreamStoreFailed        = 10077
)

// brokerRejects reports an error saying the broker cannot store writes
// (resources exceeded, store failure, JetStream off): a 503, not a 500.
func brokerRejects(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case jsInsufficientResources, jsStorageResourcesExceeded, jsNotEnabledForAccount, jsNotEnabled, jsStreamStoreFailed:
			return true
		}
	}
	return false
}
