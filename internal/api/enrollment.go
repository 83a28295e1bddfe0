package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/cursor"
	"github.com/kanade-fleet/kanade/internal/enrollment"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Enrollment is the enrollment domain (*enrollment.Service): tokens, the
// public POST /api/enroll, re-enrollment, revocation, operator creds.
type Enrollment interface {
	CreateToken(ctx context.Context, r apiv1.CreateEnrollmentTokenRequest, actor string) (apiv1.CreatedEnrollmentToken, error)
	ListTokens(ctx context.Context) ([]apiv1.EnrollmentToken, error)
	DeleteToken(ctx context.Context, id string) (bool, error)
	CheckToken(ctx context.Context, token string) error
	Enroll(ctx context.Context, r apiv1.EnrollRequest) (apiv1.EnrollResponse, error)
	AllowReenroll(ctx context.Context, pc string) (bool, error)
	Unenroll(ctx context.Context, pc string) (bool, error)
	OperatorCreds(ctx context.Context, name, by string) (apiv1.OperatorCreds, error)
	ListOperatorCreds(ctx context.Context) ([]apiv1.OperatorCredInfo, error)
	RevokeOperatorCred(ctx context.Context, publicKey string) (apiv1.OperatorCredInfo, bool, error)
}

// enrollment answers 503 when the backend was built without the service.
func (s *Server) enrollment(w http.ResponseWriter) (Enrollment, bool) {
	if s.d.Enrollment == nil {
		WriteError(w, http.StatusServiceUnavailable, "enrollment is not available on this backend", "")
		return nil, false
	}
	return s.d.Enrollment, true
}

// failEnroll maps the enrollment errors; the rest goes to fail.
func (s *Server) failEnroll(w http.ResponseWriter, r *http.Request, status400 int, err error) {
	var fe *enrollment.FieldError
	switch {
	case errors.As(err, &fe):
		WriteError(w, status400, fe.Msg, fe.Field)
	case errors.Is(err, store.ErrTokenUnknown):
		WriteError(w, http.StatusUnauthorized, "unknown enrollment token", "token")
	case errors.Is(err, store.ErrTokenSpent):
		WriteError(w, http.StatusGone, "enrollment token expired or used up", "token")
	case errors.Is(err, store.ErrAlreadyEnrolled):
		WriteError(w, http.StatusConflict, "pc_id already enrolled; an operator must allow re-enrollment (POST /api/agents/{pc}/reenroll)", "pc_id")
	case errors.Is(err, store.ErrKeyRevoked):
		WriteError(w, http.StatusConflict, "this public key was revoked; enroll with a new key", "public_key")
	case errors.Is(err, enrollment.ErrIdentityOff), errors.Is(err, enrollment.ErrNoSigningKeys):
		WriteError(w, http.StatusServiceUnavailable, err.Error(), "")
	default:
		s.fail(w, r, err)
	}
}

func (s *Server) createEnrollmentToken(w http.ResponseWriter, r *http.Request) {
	e, ok := s.enrollment(w)
	if !ok {
		return
	}
	body, err := readBody(r)
	var req apiv1.CreateEnrollmentTokenRequest
	if err == nil {
		err = decodeStrict(body, &req)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := e.CreateToken(r.Context(), req, Actor(r))
	if err != nil {
		s.failEnroll(w, r, http.StatusUnprocessableEntity, err)
		return
	}
	s.auditf(r, "enrollment_token.create", t.ID, map[string]any{"groups": req.Groups, "uses": req.Uses,
		"expires_at": t.ExpiresAt})
	WriteJSON(w, http.StatusCreated, t)
}

func (s *Server) listEnrollmentTokens(w http.ResponseWriter, r *http.Request) {
	e, ok := s.enrollment(w)
	if !ok {
		return
	}
	newestFirst(s, w, r, e.ListTokens, func(t apiv1.EnrollmentToken) (time.Time, string) { return t.CreatedAt, t.ID })
}

// newestFirst serves one page of a list read whole from the enrollment
// service, in the store's order: newest first, the id breaking ties.
func newestFirst[T any](s *Server, w http.ResponseWriter, r *http.Request, fetch func(context.Context) ([]T, error), key func(T) (time.Time, string)) {
	p, err := page(r)
	if err == nil {
		err = keyLen(p, 2)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	all, err := fetch(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	listed(w, r, window(all, p, func(v T) cursor.Key {
		at, id := key(v)
		return cursor.Key{store.TS(at), id}
	}, func(v T, k cursor.Key) bool {
		t, id := key(v)
		at := store.TS(t)
		return at < k[0] || (at == k[0] && id > k[1])
	}))
}

func (s *Server) deleteEnrollmentToken(w http.ResponseWriter, r *http.Request) {
	e, ok := s.enrollment(w)
	if !ok {
		return
	}
	id := r.PathValue("id")
	found, err := e.DeleteToken(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !found {
		WriteError(w, http.StatusNotFound, "no such enrollment token", "id")
		return
	}
	s.auditf(r, "enrollment_token.delete", id, map[string]any{})
	w.WriteHeader(http.StatusNoContent)
}

// enroll serves the public POST /api/enroll (kanade-agent enroll). Failed
// attempts count against the client address like failed logins: a token
// is a secret, and guessing one is what this throttles.
func (s *Server) enroll(w http.ResponseWriter, r *http.Request) {
	e, ok := s.enrollment(w)
	if !ok {
		return
	}
	wait, ip := s.enrollThrottle.Blocked(r)
	if wait > 0 {
		auth.RetryAfter(w, wait)
		WriteError(w, http.StatusTooManyRequests, "too many failed enrollments from this address; retry later", "")
		return
	}
	body, err := readBody(r)
	var req apiv1.EnrollRequest
	if err == nil {
		err = decodeStrict(body, &req)
	}
	if err != nil {
		var fe *wire.FieldError
		if errors.As(err, &fe) {
			s.enrollThrottle.Failure(ip)
			WriteError(w, http.StatusBadRequest, fe.Msg, fe.Field)
			return
		}
		s.fail(w, r, err)
		return
	}
	resp, err := e.Enroll(r.Context(), req)
	if err != nil {
		var fe *enrollment.FieldError
		if errors.As(err, &fe) || errors.Is(err, store.ErrTokenUnknown) || errors.Is(err, store.ErrTokenSpent) ||
			errors.Is(err, store.ErrAlreadyEnrolled) || errors.Is(err, store.ErrKeyRevoked) {
			s.enrollThrottle.Failure(ip)
			if s.d.Audit != nil {
				p := enrollment.AuditPayload(req)
				p["reason"] = err.Error()
				s.d.Audit.Audit(r.Context(), "anonymous", "agent.enroll_failed", auditPC(req.PCID), p, ip)
			}
		}
		s.failEnroll(w, r, http.StatusBadRequest, err)
		return
	}
	if s.d.Audit != nil {
		s.d.Audit.Audit(r.Context(), "enrollment", "agent.enroll", req.PCID, enrollment.AuditPayload(req), ip)
	}
	WriteJSON(w, http.StatusOK, resp)
}

// auditPC names the target of a failed enrollment without logging junk.
func auditPC(pc string) string {
	if wire.ValidPCID(pc) {
		return pc
	}
	return "(invalid)"
}

func (s *Server) reenrollAgent(w http.ResponseWriter, r *http.Request) {
	e, ok := s.enrollment(w)
	if !ok {
		return
	}
	pc, ok := pcParam(w, r)
	if !ok {
		return
	}
	found, err := e.AllowReenroll(r.Context(), pc)
	if err != nil {
		s.failEnroll(w, r, http.StatusUnprocessableEntity, err)
		return
	}
	if !found {
		WriteError(w, http.StatusNotFound, "no such enrolled agent (a first enrollment needs no permission)", "pc_id")
		return
	}
	s.auditf(r, "agent.reenroll", pc, map[string]any{})
	WriteJSON(w, http.StatusOK, apiv1.Reenroll{PCID: pc, ReenrollAllowed: true})
}

func (s *Server) createOperatorCreds(w http.ResponseWriter, r *http.Request) {
	e, ok := s.enrollment(w)
	if !ok {
		return
	}
	body, err := readBody(r)
	var req apiv1.OperatorCredsRequest
	if err == nil {
		err = decodeStrict(body, &req)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := e.OperatorCreds(r.Context(), req.Name, Actor(r))
	if err != nil {
		s.failEnroll(w, r, http.StatusUnprocessableEntity, err)
		return
	}
	s.auditf(r, "broker.operator_creds", req.Name, map[string]any{"public_key": c.PublicKey})
	WriteJSON(w, http.StatusCreated, c)
}

// listOperatorCreds: every operator credential issued, revoked ones too.
func (s *Server) listOperatorCreds(w http.ResponseWriter, r *http.Request) {
	e, ok := s.enrollment(w)
	if !ok {
		return
	}
	newestFirst(s, w, r, e.ListOperatorCreds, func(c apiv1.OperatorCredInfo) (time.Time, string) { return c.CreatedAt, c.PublicKey })
}

// revokeOperatorCreds revokes one operator credential at the broker: its
// connections close and it cannot connect again.
func (s *Server) revokeOperatorCreds(w http.ResponseWriter, r *http.Request) {
	e, ok := s.enrollment(w)
	if !ok {
		return
	}
	key := r.PathValue("public_key")
	c, found, err := e.RevokeOperatorCred(r.Context(), key)
	if err != nil && !found {
		s.failEnroll(w, r, http.StatusUnprocessableEntity, err)
		return
	}
	if !found {
		WriteError(w, http.StatusNotFound, "no operator credential with this public key was issued", "public_key")
		return
	}
	s.auditf(r, "broker.operator_creds_revoke", c.Name, map[string]any{"public_key": key})
	if err != nil { // recorded; the broker has not taken it yet
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, c)
}

// revokeAgent revokes pc's broker credential, if it has one (false without
// enrollment or broker identity).
func (s *Server) revokeAgent(ctx context.Context, pc string) (bool, error) {
	if s.d.Enrollment == nil || !wire.ValidPCID(pc) {
		return false, nil
	}
	return s.d.Enrollment.Unenroll(ctx, pc)
}
