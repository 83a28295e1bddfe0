package api

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/store"
)

func (s *Server) version(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, apiv1.VersionInfo{Version: s.d.Version, Commit: s.d.Commit, Go: runtime.Version()})
}

// events is the dashboard's SSE stream (the live hub). It streams under
// auth.Watch: the stream ends when the caller's account is deleted or
// disabled, its password changes or its API token is revoked (SPEC §16).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if s.d.Events == nil {
		WriteError(w, http.StatusNotFound, "no such API route", "")
		return
	}
	if p, ok := auth.FromContext(r.Context()); ok && s.d.Auth != nil {
		r = r.WithContext(s.d.Auth.Watch(r.Context(), p))
	}
	if scope := scopeOf(r); scope != nil {
		s.scopedEvents(w, r, scope)
		return
	}
	s.d.Events.ServeHTTP(w, r)
}

// fleetSnapshot is what GET /api/health/fleet reads from the database and
// the broker: counts over the agents and results tables and a dozen
// JetStream API round trips (~15 ms at 10 000 agents / 1 000 000 results).
// It is shared by every caller for fleetMaxAge and refreshed in the
// background once older, so the route answers from memory (SPEC §18:
// < 20 ms p99); the health reasons and the broker connection stay live.
type fleetSnapshot struct {
	at       time.Time
	counts   store.FleetCounts
	js       apiv1.JetStreamHealth
	problems []string // broker-side problems found while taking it
}

// fleetMaxAge is how old a snapshot may be before a caller triggers a
// refresh; fleetStale is how old it may be before a caller waits for one.
const (
	fleetMaxAge = time.Second
	fleetStale  = 10 * time.Second
)

type fleetCache struct {
	mu         sync.Mutex
	snap       *fleetSnapshot
	refreshing bool
	take       sync.Mutex // one snapshot taken at a time
}

func (s *Server) takeFleetSnapshot(ctx context.Context) (*fleetSnapshot, error) {
	s.fleet.take.Lock()
	defer s.fleet.take.Unlock()
	if c := s.cachedFleet(); c != nil && time.Since(c.at) < fleetMaxAge {
		return c, nil // taken while this caller waited
	}
	now := time.Now()
	c, err := s.d.Store.Fleet(ctx, now)
	if err != nil {
		return nil, err
	}
	snap := &fleetSnapshot{at: now, counts: c}
	js := apiv1.JetStreamHealth{Streams: []apiv1.StreamHealth{}, KV: []apiv1.KVHealth{}}
	jctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if info, err := s.d.JS.AccountInfo(jctx); err != nil {
		js.Error = err.Error()
		snap.problems = append(snap.problems, "jetstream unreachable")
	} else {
		js.StoreBytes = info.Store
		for _, name := range []string{bus.StreamExec, bus.StreamEvents, bus.StreamResults, bus.StreamAudit, bus.StreamExecs, bus.StreamInventory} {
			st, err := s.d.JS.Stream(jctx, name)
			if err != nil {
				snap.problems = append(snap.problems, "stream "+name+" missing")
				continue
			}
			si := st.CachedInfo()
			js.Streams = append(js.Streams, apiv1.StreamHealth{Name: name, Messages: si.State.Msgs, Bytes: si.State.Bytes, Consumers: si.State.Consumers})
		}
		for _, b := range s.d.Buckets.Health(jctx) {
			switch {
			case b.Missing:
				snap.problems = append(snap.problems, "kv "+b.Bucket+" missing")
			case b.StatusErr == nil:
				js.KV = append(js.KV, apiv1.KVHealth{Bucket: b.Bucket, Values: b.Values})
			}
		}
	}
	snap.js = js
	s.fleet.mu.Lock()
	s.fleet.snap = snap
	s.fleet.mu.Unlock()
	return snap, nil
}

func (s *Server) cachedFleet() *fleetSnapshot {
	s.fleet.mu.Lock()
	defer s.fleet.mu.Unlock()
	return s.fleet.snap
}

// fleetView returns a snapshot no older than fleetStale: a fresh one from
// memory, an older one while a background refresh runs, or (first call,
// or the last refreshes failed) one taken now.
func (s *Server) fleetView(ctx context.Context) (*fleetSnapshot, error) {
	s.fleet.mu.Lock()
	snap := s.fleet.snap
	if snap != nil && time.Since(snap.at) < fleetStale {
		if time.Since(snap.at) >= fleetMaxAge && !s.fleet.refreshing {
			s.fleet.refreshing = true
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if _, err := s.takeFleetSnapshot(ctx); err != nil {
					s.d.Log.Warn("fleet health snapshot failed", "error", err)
				}
				s.fleet.mu.Lock()
				s.fleet.refreshing = false
				s.fleet.mu.Unlock()
			}()
		}
		s.fleet.mu.Unlock()
		return snap, nil
	}
	s.fleet.mu.Unlock()
	return s.takeFleetSnapshot(ctx)
}

func (s *Server) fleetHealth(w http.ResponseWriter, r *http.Request) {
	snap, err := s.fleetView(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := apiv1.HealthOK
	// problems stays nil (null) when healthy, as served so far.
	problems := append([]string(nil), snap.problems...)
	if len(problems) > 0 {
		status = apiv1.HealthDegraded
	}
	if !s.d.NC.IsConnected() {
		status = apiv1.HealthDegraded
		problems = append(problems, "broker disconnected")
	}
	reasons := []apiv1.HealthReason{}
	if s.d.Health != nil {
		for _, r := range s.d.Health.Reasons(time.Now()) {
			status = apiv1.HealthDegraded
			problems = append(problems, r.Message)
			reasons = append(reasons, apiv1.HealthReason{Reason: string(r.Code), Subject: r.Subject, Message: r.Message, Since: r.Since.UTC()})
		}
	}
	code := http.StatusOK
	if status != apiv1.HealthOK {
		code = http.StatusServiceUnavailable
	}
	c := snap.counts
	WriteJSON(w, code, apiv1.FleetHealth{Status: status, Problems: problems, Reasons: reasons, AgentsKnown: c.Known, AgentsOnline: c.Online,
		Failures24h: c.Failures24h, RunningExecutions: c.RunningExecutions, JetStream: snap.js})
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
