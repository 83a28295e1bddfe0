package auth

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// Audit actions of API tokens.
const (
	ActionTokenCreate = "token.create"
	ActionTokenRevoke = "token.revoke"
)

// Who manages API tokens (routes are operator): an account logged in with
// a password creates them, with a role up to its own; an operator sees
// and revokes its own, an admin (and the static service token) all. An
// API token cannot manage tokens: a leaked one must not mint successors.
func (a *Authenticator) tokenManager(w http.ResponseWriter, r *http.Request) (Principal, bool) {
	p, ok := FromContext(r.Context())
	if !ok {
		writeError(w, http.StatusUnauthorized, "authentication required", "")
		return p, false
	}
	if a.apiTokens == nil {
		writeError(w, http.StatusNotFound, "API tokens are not available on this backend", "")
		return p, false
	}
	if p.Kind == KindAPIToken {
		writeError(w, http.StatusForbidden, "an API token cannot manage API tokens; log in as an account", "")
		return p, false
	}
	return p, true
}

// CreateAPIToken serves POST /api/tokens (operator) → 201 with the token,
// shown once.
func (a *Authenticator) CreateAPIToken(w http.ResponseWriter, r *http.Request) {
	p, ok := a.tokenManager(w, r)
	if !ok {
		return
	}
	if p.Kind != KindAccount {
		writeError(w, http.StatusForbidden, "only an account can create API tokens (a token is bound to its creator)", "")
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req apiv1.CreateAPITokenRequest
	if err := decodeStrict(body, &req); err != nil {
		writeBadRequest(w, err)
		return
	}
	if !ValidTokenName(req.Name) {
		writeError(w, http.StatusBadRequest, "invalid token name (letters, digits, _ . @ -, at most 64)", "name")
		return
	}
	role := RoleViewer
	if req.Role != "" {
		var err error
		if role, err = ParseRole(string(req.Role)); err != nil {
			writeError(w, http.StatusBadRequest, err.Error(), "role")
			return
		}
	}
	if role > p.Role {
		writeError(w, http.StatusForbidden, "a token's role cannot exceed yours ("+p.Role.String()+")", "role")
		return
	}
	if err := ValidateScope(req.Groups); err != nil {
		writeBadRequest(w, err)
		return
	}
	groups := NormalizeScope(req.Groups)
	// A scoped creator cannot mint a wider token: no groups would mean
	// "not limited", and a group outside its scope reaches PCs it cannot.
	if p.Scoped() && (len(groups) == 0 || !subsetOf(groups, p.Groups)) {
		writeError(w, http.StatusForbidden, "a scoped account's token must be limited to a non-empty subset of its groups ("+
			strings.Join(p.Groups, ", ")+")", "groups")
		return
	}
	now := a.now().UTC()
	t := APIToken{Name: req.Name, Role: role, Groups: groups, AccountID: p.AccountID, CreatedBy: p.Username, CreatedAt: now}
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d < time.Minute {
			writeError(w, http.StatusBadRequest, "expires_in must be a Go duration of at least 1m (e.g. 720h)", "expires_in")
			return
		}
		exp := now.Add(d).Truncate(time.Second)
		t.ExpiresAt = &exp
	}
	id, err := uuid.NewV7()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "cannot create token", "")
		return
	}
	secret, err := newAPITokenSecret()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "cannot create token", "")
		return
	}
	t.ID, t.Hash = id.String(), HashAPIToken(secret)
	if err := a.apiTokens.InsertAPIToken(r.Context(), t); err != nil {
		a.writeStoreError(w, err)
		return
	}
	a.audit(r.Context(), p.Username, ActionTokenCreate, TokenActor(t.Name),
		map[string]any{"id": t.ID, "role": t.Role, "expires_at": t.ExpiresAt, "groups": t.Groups}, a.ClientIP(r))
	writeJSON(w, http.StatusCreated, apiv1.CreatedAPIToken{ID: t.ID, Name: t.Name, Token: secret,
		Role: apiv1.Role(t.Role.String()), Groups: t.Groups, ExpiresAt: t.ExpiresAt})
}

// ListAPITokens serves GET /api/tokens (operator): newest first, never the
// secret; an admin sees every token, an operator its own.
func (a *Authenticator) ListAPITokens(w http.ResponseWriter, r *http.Request) {
	p, ok := a.tokenManager(w, r)
	if !ok {
		return
	}
	owner := p.AccountID
	if p.Role >= RoleAdmin && !p.Scoped() { // a scoped admin manages only its own
		owner = ""
	}
	ts, err := a.apiTokens.ListAPITokens(r.Context(), owner)
	if err != nil {
		a.writeStoreError(w, err)
		return
	}
	now := a.now()
	out := make([]apiv1.APIToken, len(ts))
	for i, t := range ts {
		out[i] = apiv1.APIToken{ID: t.ID, Name: t.Name, Role: apiv1.Role(t.Role.String()), Groups: t.Groups,
			CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt,
			Expired: t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)}
		if out[i].Groups == nil {
			out[i].Groups = []string{}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// DeleteAPIToken serves DELETE /api/tokens/{id} (operator: its own; admin:
// any) → 204. The row is gone, and every request reads it: the token is
// refused from the next request on, on every replica.
func (a *Authenticator) DeleteAPIToken(w http.ResponseWriter, r *http.Request) {
	p, ok := a.tokenManager(w, r)
	if !ok {
		return
	}
	t, err := a.apiTokens.GetAPIToken(r.Context(), r.PathValue("id"))
	if err != nil {
		a.writeStoreError(w, err)
		return
	}
	if (p.Role < RoleAdmin || p.Scoped()) && t.AccountID != p.AccountID {
		writeError(w, http.StatusForbidden, "you can revoke only your own tokens (admins revoke any)", "")
		return
	}
	if err := a.apiTokens.DeleteAPIToken(r.Context(), t.ID); err != nil && !errors.Is(err, ErrTokenNotFound) {
		a.writeStoreError(w, err)
		return
	}
	a.AccountsChanged() // streams opened with it close now
	a.audit(r.Context(), Actor(r.Context()), ActionTokenRevoke, TokenActor(t.Name), map[string]any{"id": t.ID}, a.ClientIP(r))
	w.WriteHeader(http.StatusNoContent)
}
