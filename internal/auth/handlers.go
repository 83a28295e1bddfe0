package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/cursor"
)

// maxAuthBody bounds auth/account request bodies (well under Harden's).
const maxAuthBody = 64 << 10

// The bodies these handlers write, and those they decode as plain JSON,
// are the /api contract's (apiv1). Account requests keep their own types:
// their role decodes through Role's UnmarshalText, so an unknown role is
// refused while decoding, with the message it has always had.

// DecodeLogin strictly decodes a login body (untrusted input).
func DecodeLogin(data []byte) (apiv1.LoginRequest, error) {
	var req apiv1.LoginRequest
	if err := decodeStrict(data, &req); err != nil {
		return req, err
	}
	if req.Username == "" {
		return req, fieldError{"username", "username is required"}
	}
	if req.Password == "" {
		return req, fieldError{"password", "password is required"}
	}
	if len(req.Username) > 256 || len(req.Password) > MaxPasswordLen {
		return req, errors.New("username or password too long")
	}
	return req, nil
}

// decodeStrict decodes exactly one JSON object with no unknown fields.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	if dec.More() {
		return errors.New("invalid JSON body: trailing data")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("invalid JSON body: trailing data")
	}
	return nil
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAuthBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "request body too large", "")
		} else {
			writeError(w, http.StatusBadRequest, "cannot read request body", "")
		}
		return nil, false
	}
	return b, true
}

func writeBadRequest(w http.ResponseWriter, err error) {
	var fe fieldError
	if errors.As(err, &fe) {
		writeError(w, http.StatusBadRequest, fe.msg, fe.field)
		return
	}
	writeError(w, http.StatusBadRequest, err.Error(), "")
}

func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))))
}

// ClientIP returns the client address of r under this Authenticator's
// trusted-proxy setting.
func (a *Authenticator) ClientIP(r *http.Request) string { return ClientIP(r, a.cfg.TrustedProxies) }

// Login serves POST /api/auth/login (public). 401 on bad credentials, 429
// with Retry-After when the account is locked or the client IP throttled.
func (a *Authenticator) Login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ip := a.ClientIP(r)
	key := throttleKey(ip)
	now := a.now()
	if d := a.ipt.blocked(key, now); d > 0 {
		setRetryAfter(w, d)
		writeError(w, http.StatusTooManyRequests, "too many failed logins from this address; retry later", "")
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	req, err := DecodeLogin(body)
	if err != nil {
		writeBadRequest(w, err)
		return
	}
	target := req.Username
	if !ValidUsername(target) {
		target = "(invalid)"
	}
	fail := func(reason string) {
		a.ipt.failure(key, now)
		a.audit(ctx, "anonymous", ActionLoginFailed, target, map[string]any{"reason": reason}, ip)
	}
	u, err := a.users.Get(ctx, req.Username)
	if errors.Is(err, ErrNotFound) {
		_, _ = VerifyPassword(dummyHash(), req.Password) // same cost as a real check
		fail("unknown account")
		writeError(w, http.StatusUnauthorized, "invalid username or password", "")
		return
	}
	if err != nil {
		a.log.Error("login: read account", "err", err)
		writeError(w, http.StatusInternalServerError, "account store error", "")
		return
	}
	if u.LockedUntil != nil && u.LockedUntil.After(now) {
		fail("account locked")
		setRetryAfter(w, u.LockedUntil.Sub(now))
		writeError(w, http.StatusTooManyRequests, "account locked after repeated failed logins; retry later", "")
		return
	}
	okPW, err := VerifyPassword(u.PasswordHash, req.Password)
	if err != nil {
		a.log.Error("login: stored password hash unusable", "username", u.Username, "err", err)
	}
	if !okPW {
		lockedUntil, lerr := a.users.RecordLoginFailure(ctx, u.Username)
		if lerr != nil && !errors.Is(lerr, ErrNotFound) {
			a.log.Error("login: record failure", "err", lerr)
		}
		fail("wrong password")
		if !lockedUntil.IsZero() {
			a.log.Warn("account locked after repeated failed logins", "username", u.Username, "until", lockedUntil, "source_ip", ip)
			a.audit(ctx, "system", "account.locked", u.Username, map[string]any{"until": lockedUntil}, ip)
		}
		writeError(w, http.StatusUnauthorized, "invalid username or password", "")
		return
	}
	if u.Disabled {
		fail("account disabled")
		writeError(w, http.StatusUnauthorized, "invalid username or password", "")
		return
	}
	mfa, err := a.mfaStatus(ctx, u.ID)
	if err != nil {
		a.log.Error("login: read mfa status", "err", err)
		writeError(w, http.StatusInternalServerError, "account store error", "")
		return
	}
	if mfa.Enabled { // second step: POST /api/auth/mfa (mfa_http.go)
		a.loginMFAChallenge(w, u)
		return
	}
	if err := a.users.RecordLoginSuccess(ctx, u.Username); err != nil {
		a.log.Error("login: record success", "err", err)
	}
	a.respondToken(w, r, u, ip, ActionLogin)
}

func (a *Authenticator) respondToken(w http.ResponseWriter, r *http.Request, u User, ip, action string) {
	sess, err := a.session(r.Context(), u)
	if err != nil {
		a.log.Error("issue token", "err", err)
		writeError(w, http.StatusInternalServerError, "cannot issue token", "")
		return
	}
	a.audit(r.Context(), u.Username, action, u.Username, map[string]any{"role": u.Role}, ip)
	writeJSON(w, http.StatusOK, sess)
}

// session issues a session token for u, as Login answers it.
func (a *Authenticator) session(ctx context.Context, u User) (apiv1.LoginResponse, error) {
	mfa, err := a.mfaStatus(ctx, u.ID)
	if err != nil {
		return apiv1.LoginResponse{}, err
	}
	tok, exp, err := a.tokens.issue(u.ID, u.Username, u.TokenVersion)
	if err != nil {
		return apiv1.LoginResponse{}, err
	}
	return apiv1.LoginResponse{Token: tok, Username: u.Username, Role: apiv1.Role(u.Role.String()),
		Exp: exp, MustChangePW: u.MustChangePW, MFAEnrolmentRequired: mfa.EnrolmentRequired()}, nil
}

// IssueToken mints a JWT for an existing account (tests, tooling).
func (a *Authenticator) IssueToken(ctx context.Context, username string) (string, time.Time, error) {
	u, err := a.users.Get(ctx, username)
	if err != nil {
		return "", time.Time{}, err
	}
	return a.tokens.issue(u.ID, u.Username, u.TokenVersion)
}

// Me serves GET /api/auth/me (viewer).
func (a *Authenticator) Me(w http.ResponseWriter, r *http.Request) {
	p, ok := FromContext(r.Context())
	if !ok {
		writeError(w, http.StatusUnauthorized, "authentication required", "")
		return
	}
	// Wrap re-read the account: p is current.
	me := apiv1.Me{Username: p.Username, Role: apiv1.Role(p.Role.String()), MustChangePW: p.MustChangePW}
	if p.Kind == KindAccount {
		mfa, err := a.mfaStatus(r.Context(), p.AccountID)
		if err != nil {
			a.writeStoreError(w, err)
			return
		}
		me.MFAEnabled, me.MFAEnrolmentRequired = mfa.Enabled, mfa.EnrolmentRequired()
	}
	writeJSON(w, http.StatusOK, me)
}

// ChangePassword serves POST /api/auth/change-password and its SPEC §16
// name POST /api/auth/password (viewer): the caller's own password. It clears must_change_pw, revokes the caller's
// other tokens, and answers like Login with a fresh token.
func (a *Authenticator) ChangePassword(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, ok := FromContext(ctx)
	if !ok || p.Kind != KindAccount {
		writeError(w, http.StatusBadRequest, "only an account logged in with a password can change it", "")
		return
	}
	ip := a.ClientIP(r)
	key := throttleKey(ip)
	now := a.now()
	if d := a.ipt.blocked(key, now); d > 0 {
		setRetryAfter(w, d)
		writeError(w, http.StatusTooManyRequests, "too many failed attempts from this address; retry later", "")
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req apiv1.ChangePasswordRequest
	if err := decodeStrict(body, &req); err != nil {
		writeBadRequest(w, err)
		return
	}
	if err := ValidatePassword(req.NewPassword); err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "new_password")
		return
	}
	if req.NewPassword == req.OldPassword {
		writeError(w, http.StatusBadRequest, "the new password must differ from the old one", "new_password")
		return
	}
	u, err := a.users.GetByID(ctx, p.AccountID)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "account no longer exists", "")
		return
	}
	if okPW, _ := VerifyPassword(u.PasswordHash, req.OldPassword); !okPW || len(req.OldPassword) > MaxPasswordLen {
		a.ipt.failure(key, now)
		a.audit(ctx, p.Username, ActionChangePassword, p.Username, map[string]any{"ok": false, "reason": "wrong old password"}, ip)
		writeError(w, http.StatusForbidden, "old password is wrong", "old_password")
		return
	}
	u, err = a.users.ChangePassword(ctx, u.Username, req.NewPassword)
	if err != nil {
		a.writeStoreError(w, err)
		return
	}
	a.AccountsChanged() // the caller's other sessions' streams close
	a.respondToken(w, r, u, ip, ActionChangePassword)
}

func (a *Authenticator) writeStoreError(w http.ResponseWriter, err error) {
	var fe fieldError
	switch {
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, fe.msg, fe.field)
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrTokenNotFound):
		writeError(w, http.StatusNotFound, err.Error(), "")
	case errors.Is(err, ErrExists):
		writeError(w, http.StatusConflict, err.Error(), "username")
	case errors.Is(err, ErrTokenExists):
		writeError(w, http.StatusConflict, err.Error(), "name")
	case errors.Is(err, ErrLastAdmin):
		writeError(w, http.StatusConflict, err.Error(), "")
	default:
		a.log.Error("account store", "err", err)
		writeError(w, http.StatusInternalServerError, "account store error", "")
	}
}

// ListAccounts serves GET /api/accounts (admin): limit/offset or cursor
// (internal/cursor), X-Total-Count (exact: a small table), X-Next-Cursor.
func (a *Authenticator) ListAccounts(w http.ResponseWriter, r *http.Request) {
	if s := r.URL.Query().Get("limit"); s != "" {
		if n, err := strconv.Atoi(s); err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "limit must be 1..1000", "limit")
			return
		}
	}
	p, err := cursor.Parse(r)
	var pe *cursor.ParamError
	if errors.As(err, &pe) {
		writeError(w, http.StatusBadRequest, pe.Msg, pe.Field)
		return
	}
	after := ""
	if p.After != nil {
		if len(p.After) != 1 {
			writeError(w, http.StatusBadRequest, "cursor does not fit this list", "cursor")
			return
		}
		after = p.After[0]
	}
	// One row more than the page says whether a next page exists.
	var users []User
	var total int
	if after != "" {
		users, total, err = a.users.ListAfter(r.Context(), after, p.Limit+1)
	} else {
		users, total, err = a.users.List(r.Context(), p.Limit+1, p.Offset)
	}
	if err != nil {
		a.writeStoreError(w, err)
		return
	}
	var next cursor.Key
	if len(users) > p.Limit {
		users = users[:p.Limit]
		next = cursor.Key{users[p.Limit-1].Username}
	}
	out := make([]apiv1.Account, len(users))
	for i, u := range users {
		out[i] = accountView(u)
	}
	if a.mfa != nil {
		on, err := a.mfa.MFAEnabledAccounts(r.Context())
		if err != nil {
			a.writeStoreError(w, err)
			return
		}
		for i := range out {
			out[i].MFAEnabled = on[out[i].ID]
		}
	}
	cursor.SetHeaders(w.Header(), r, total, false, next)
	writeJSON(w, http.StatusOK, out)
}

// GetAccount serves GET /api/accounts/{username} (admin).
func (a *Authenticator) GetAccount(w http.ResponseWriter, r *http.Request) {
	u, err := a.users.Get(r.Context(), r.PathValue("username"))
	if err != nil {
		a.writeStoreError(w, err)
		return
	}
	a.writeAccount(w, r, http.StatusOK, u)
}

// writeAccount answers accountView(u) with its MFA flag.
func (a *Authenticator) writeAccount(w http.ResponseWriter, r *http.Request, status int, u User) {
	v := accountView(u)
	mfa, err := a.mfaStatus(r.Context(), u.ID)
	if err != nil {
		a.writeStoreError(w, err)
		return
	}
	v.MFAEnabled = mfa.Enabled
	writeJSON(w, status, v)
}

type createAccountRequest struct {
	Username     string   `json:"username"`
	Password     string   `json:"password"`
	Role         *Role    `json:"role"`
	MustChangePW *bool    `json:"must_change_pw"`
	Groups       []string `json:"groups"` // scopes (SPEC §16)
}

// CreateAccount serves POST /api/accounts (admin) → 201 account; 409 on a
// duplicate. must_change_pw defaults to true: the admin chose the password.
func (a *Authenticator) CreateAccount(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req createAccountRequest
	if err := decodeStrict(body, &req); err != nil {
		writeBadRequest(w, err)
		return
	}
	n := NewUser{Username: req.Username, Password: req.Password, Role: RoleViewer, MustChangePW: true}
	if req.Role != nil {
		n.Role = *req.Role
	}
	if req.MustChangePW != nil {
		n.MustChangePW = *req.MustChangePW
	}
	n.Groups = req.Groups
	u, err := a.users.Create(r.Context(), n)
	if err != nil {
		a.writeStoreError(w, err)
		return
	}
	a.AccountsChanged()
	a.audit(r.Context(), Actor(r.Context()), ActionAccountCreate, u.Username,
		map[string]any{"role": u.Role, "must_change_pw": u.MustChangePW, "groups": u.Groups}, a.ClientIP(r))
	writeJSON(w, http.StatusCreated, accountView(u))
}

type updateAccountRequest struct {
	Role         *Role     `json:"role"`
	Disabled     *bool     `json:"disabled"`
	Password     *string   `json:"password"`
	MustChangePW *bool     `json:"must_change_pw"`
	Groups       *[]string `json:"groups"` // replaces the scopes; [] = none
}

// UpdateAccount serves PATCH and PUT /api/accounts/{username} (admin):
// any of role, disabled, password (forces must_change_pw unless given),
// must_change_pw. 409 for the last enabled admin.
func (a *Authenticator) UpdateAccount(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("username")
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req updateAccountRequest
	if err := decodeStrict(body, &req); err != nil {
		writeBadRequest(w, err)
		return
	}
	p := Patch{Role: req.Role, Disabled: req.Disabled, Password: req.Password, MustChangePW: req.MustChangePW, Groups: req.Groups}
	if p.Password != nil && p.MustChangePW == nil {
		t := true
		p.MustChangePW = &t
	}
	u, err := a.users.Update(r.Context(), name, p)
	if err != nil {
		a.writeStoreError(w, err)
		return
	}
	change := map[string]any{}
	if req.Role != nil {
		change["role"] = *req.Role
	}
	if req.Disabled != nil {
		change["disabled"] = *req.Disabled
	}
	if req.Password != nil {
		change["pw_reset"] = true // the fact, not the value (a "password" key would be redacted)
	}
	if p.MustChangePW != nil {
		change["must_change_pw"] = *p.MustChangePW
	}
	if req.Groups != nil {
		change["groups"] = u.Groups
	}
	a.AccountsChanged()
	a.audit(r.Context(), Actor(r.Context()), ActionAccountUpdate, u.Username, change, a.ClientIP(r))
	a.writeAccount(w, r, http.StatusOK, u)
}

// DeleteAccount serves DELETE /api/accounts/{username} (admin) → 204; 409
// for the last enabled admin.
func (a *Authenticator) DeleteAccount(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("username")
	if err := a.users.Delete(r.Context(), name); err != nil {
		a.writeStoreError(w, err)
		return
	}
	a.AccountsChanged()
	a.audit(r.Context(), Actor(r.Context()), ActionAccountDelete, name, nil, a.ClientIP(r))
	w.WriteHeader(http.StatusNoContent)
}

// accountView is an account as the admin routes show it (never the hash
// or the token version).
func accountView(u User) apiv1.Account {
	return apiv1.Account{ID: u.ID, Username: u.Username, Role: apiv1.Role(u.Role.String()), Disabled: u.Disabled,
		MustChangePW: u.MustChangePW, FailedLogins: u.FailedLogins, LockedUntil: u.LockedUntil,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LastLoginAt: u.LastLoginAt, Groups: NormalizeScope(u.Groups)}
}
