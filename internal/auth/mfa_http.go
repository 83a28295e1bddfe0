package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image/png"
	"net/http"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// The MFA routes (SPEC §16; contract in docs/security.md "MFA"). Secrets
// and codes are never logged nor put in audit payloads.

// DecodeMFALogin strictly decodes a POST /api/auth/mfa body (untrusted).
func DecodeMFALogin(data []byte) (apiv1.MFALoginRequest, error) {
	var req apiv1.MFALoginRequest
	if err := decodeStrict(data, &req); err != nil {
		return req, err
	}
	if req.MFAToken == "" {
		return req, fieldError{"mfa_token", "mfa_token is required"}
	}
	if req.Code == "" {
		return req, fieldError{"code", "code is required"}
	}
	if len(req.MFAToken) > maxTokenLen || len(req.Code) > maxMFACodeLen {
		return req, errors.New("mfa_token or code too long")
	}
	return req, nil
}

// DecodeMFACode strictly decodes a {code} body (untrusted).
func DecodeMFACode(data []byte) (apiv1.MFACodeRequest, error) {
	var req apiv1.MFACodeRequest
	if err := decodeStrict(data, &req); err != nil {
		return req, err
	}
	if req.Code == "" {
		return req, fieldError{"code", "code is required"}
	}
	if len(req.Code) > maxMFACodeLen {
		return req, fieldError{"code", "code too long"}
	}
	return req, nil
}

// checkCode verifies code for an enabled account and uses it up: a TOTP
// code's step (never again, nor an older one) or a recovery code. It
// reports whether the code was right and whether it was a recovery code.
func (a *Authenticator) checkCode(ctx context.Context, st MFAState, code string) (ok, recovery bool, err error) {
	code = strings.TrimSpace(code)
	if isTOTPCode(code) {
		step, match := matchTOTP(st.Secret, code, a.now())
		if !match {
			return false, false, nil
		}
		ok, err := a.mfa.UseTOTPStep(ctx, st.AccountID, step)
		return ok, false, err
	}
	if _, shape := normalizeRecoveryCode(code); !shape {
		return false, false, nil
	}
	ok, err = a.mfa.UseRecoveryCode(ctx, st.AccountID, HashRecoveryCode(st.AccountID, code), a.now())
	return ok, ok, err
}

func (a *Authenticator) mfaUnavailable(w http.ResponseWriter) bool {
	if a.mfa == nil {
		writeError(w, http.StatusNotImplemented, "mfa is not available with this account store", "")
		return true
	}
	return false
}

// loginMFAChallenge answers the first login step of an account with MFA.
// The failure streak is left alone: a right password must not reset the
// count of wrong codes, or a thief with the password could guess codes
// forever, four at a time.
func (a *Authenticator) loginMFAChallenge(w http.ResponseWriter, u User) {
	tok, err := a.issueMFAToken(u)
	if err != nil {
		a.log.Error("login: issue mfa token", "err", err)
		writeError(w, http.StatusInternalServerError, "cannot issue token", "")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, apiv1.MFAChallenge{MFARequired: true, MFAToken: tok})
}

// MFALogin serves POST /api/auth/mfa (public): the second login step. A
// wrong code counts toward the account's lockout and the client address's
// throttle exactly like a wrong password; the mfa_token is used once.
func (a *Authenticator) MFALogin(w http.ResponseWriter, r *http.Request) {
	if a.mfaUnavailable(w) {
		return
	}
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
	req, err := DecodeMFALogin(body)
	if err != nil {
		writeBadRequest(w, err)
		return
	}
	expired := func(target, reason string) {
		a.ipt.failure(key, now)
		a.audit(ctx, "anonymous", ActionLoginFailed, target, map[string]any{"reason": reason}, ip)
		writeError(w, http.StatusUnauthorized, errMsgMFATokenExpired, "")
	}
	cl, err := a.parseMFAToken(req.MFAToken)
	if err != nil {
		expired("(mfa token)", "invalid or expired mfa token")
		return
	}
	u, err := a.users.GetByID(ctx, cl.Subject)
	if errors.Is(err, ErrNotFound) {
		expired("(mfa token)", "mfa token of a deleted account")
		return
	}
	if err != nil {
		a.log.Error("mfa login: read account", "err", err)
		writeError(w, http.StatusInternalServerError, "account store error", "")
		return
	}
	if u.Disabled || u.TokenVersion != cl.TokenVersion {
		expired(u.Username, "mfa token of a disabled or re-passworded account")
		return
	}
	if u.LockedUntil != nil && u.LockedUntil.After(now) {
		a.ipt.failure(key, now)
		a.audit(ctx, "anonymous", ActionLoginFailed, u.Username, map[string]any{"reason": "account locked"}, ip)
		setRetryAfter(w, u.LockedUntil.Sub(now))
		writeError(w, http.StatusTooManyRequests, "account locked after repeated failed logins; retry later", "")
		return
	}
	st, err := a.mfa.GetMFA(ctx, u.ID)
	if err != nil {
		a.log.Error("mfa login: read mfa", "err", err)
		writeError(w, http.StatusInternalServerError, "account store error", "")
		return
	}
	if !st.Enabled {
		expired(u.Username, "mfa no longer enabled")
		return
	}
	okCode, recovery, err := a.checkCode(ctx, st, req.Code)
	if err != nil {
		a.log.Error("mfa login: check code", "err", err)
		writeError(w, http.StatusInternalServerError, "account store error", "")
		return
	}
	if !okCode {
		lockedUntil, lerr := a.users.RecordLoginFailure(ctx, u.Username)
		if lerr != nil && !errors.Is(lerr, ErrNotFound) {
			a.log.Error("mfa login: record failure", "err", lerr)
		}
		a.ipt.failure(key, now)
		a.audit(ctx, "anonymous", ActionLoginFailed, u.Username, map[string]any{"reason": "wrong mfa code"}, ip)
		if !lockedUntil.IsZero() {
			a.log.Warn("account locked after repeated failed logins", "username", u.Username, "until", lockedUntil, "source_ip", ip)
			a.audit(ctx, "system", "account.locked", u.Username, map[string]any{"until": lockedUntil}, ip)
		}
		writeError(w, http.StatusUnauthorized, errMsgInvalidCode, "")
		return
	}
	// Single use: a second exchange of the same mfa_token, on any
	// replica, finds its id taken.
	first, err := a.mfa.UseMFAChallenge(ctx, cl.ID, cl.ExpiresAt.Time, now)
	if err != nil {
		a.log.Error("mfa login: use mfa token", "err", err)
		writeError(w, http.StatusInternalServerError, "account store error", "")
		return
	}
	if !first {
		expired(u.Username, "mfa token already used")
		return
	}
	if err := a.users.RecordLoginSuccess(ctx, u.Username); err != nil {
		a.log.Error("mfa login: record success", "err", err)
	}
	if recovery {
		a.audit(ctx, u.Username, ActionMFARecoveryUsed, u.Username, nil, ip)
	}
	a.respondToken(w, r, u, ip, ActionMFALogin)
}

// ownAccount is the caller for the own-account MFA routes: an account
// signed in with a password (API tokens and the service token have no
// second factor to manage).
func (a *Authenticator) ownAccount(w http.ResponseWriter, r *http.Request) (Principal, bool) {
	p, ok := FromContext(r.Context())
	if !ok || p.Kind != KindAccount {
		writeError(w, http.StatusBadRequest, "only an account signed in with its password has MFA", "")
		return p, false
	}
	return p, true
}

// MFAEnroll serves POST /api/auth/mfa/enroll (viewer): a new pending
// secret and recovery codes, replacing any pending ones; 409 when MFA is
// already enabled.
func (a *Authenticator) MFAEnroll(w http.ResponseWriter, r *http.Request) {
	if a.mfaUnavailable(w) {
		return
	}
	p, ok := a.ownAccount(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	key, err := newTOTPKey(p.Username)
	if err != nil {
		a.log.Error("mfa enroll", "err", err)
		writeError(w, http.StatusInternalServerError, "cannot generate a secret", "")
		return
	}
	codes, hashes, err := newRecoveryCodes(p.AccountID)
	if err != nil {
		a.log.Error("mfa enroll", "err", err)
		writeError(w, http.StatusInternalServerError, "cannot generate recovery codes", "")
		return
	}
	img, err := key.Image(256, 256)
	var qr bytes.Buffer
	if err == nil {
		err = png.Encode(&qr, img)
	}
	if err != nil {
		a.log.Error("mfa enroll: qr code", "err", err)
		writeError(w, http.StatusInternalServerError, "cannot draw the QR code", "")
		return
	}
	if err := a.mfa.BeginMFA(ctx, p.AccountID, key.Secret(), hashes, a.now()); err != nil {
		if errors.Is(err, ErrMFAEnabled) {
			writeError(w, http.StatusConflict, err.Error(), "")
			return
		}
		a.writeStoreError(w, err)
		return
	}
	a.audit(ctx, p.Username, ActionMFAEnroll, p.Username, nil, a.ClientIP(r))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, apiv1.MFAEnrollment{Secret: key.Secret(), OTPAuthURL: key.URL(),
		QRPNG: "data:image/png;base64," + base64.StdEncoding.EncodeToString(qr.Bytes()), RecoveryCodes: codes})
}

// ownCodeRequest is the common start of confirm and disable: MFA
// available, the caller's own account, the address not throttled, and a
// {code} body; it has answered when ok is false.
func (a *Authenticator) ownCodeRequest(w http.ResponseWriter, r *http.Request) (p Principal, req apiv1.MFACodeRequest, ip, key string, now time.Time, ok bool) {
	if a.mfaUnavailable(w) {
		return
	}
	if p, ok = a.ownAccount(w, r); !ok {
		return
	}
	ip = a.ClientIP(r)
	key = throttleKey(ip)
	now = a.now()
	if d := a.ipt.blocked(key, now); d > 0 {
		setRetryAfter(w, d)
		writeError(w, http.StatusTooManyRequests, "too many failed attempts from this address; retry later", "")
		return p, req, ip, key, now, false
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	req, err := DecodeMFACode(body)
	if err != nil {
		writeBadRequest(w, err)
		return p, req, ip, key, now, false
	}
	return p, req, ip, key, now, true
}

// MFAConfirm serves POST /api/auth/mfa/confirm (viewer): a code of the
// pending secret turns MFA on. The account's sessions are revoked (token
// generation bump) and the answer carries a fresh one. A wrong code is
// 400 and counts toward the address throttle, not the account lockout.
func (a *Authenticator) MFAConfirm(w http.ResponseWriter, r *http.Request) {
	p, req, ip, key, now, ok := a.ownCodeRequest(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	st, err := a.mfa.GetMFA(ctx, p.AccountID)
	if err != nil {
		a.writeStoreError(w, err)
		return
	}
	if st.Enabled {
		writeError(w, http.StatusConflict, ErrMFAEnabled.Error(), "")
		return
	}
	if st.PendingSecret == "" {
		writeError(w, http.StatusBadRequest, ErrMFANoPending.Error(), "")
		return
	}
	step, match := matchTOTP(st.PendingSecret, strings.TrimSpace(req.Code), now)
	if !match {
		a.ipt.failure(key, now)
		a.audit(ctx, p.Username, ActionMFAConfirm, p.Username, map[string]any{"ok": false, "reason": "wrong code"}, ip)
		writeError(w, http.StatusBadRequest, errMsgInvalidCode, "code")
		return
	}
	if err := a.mfa.ConfirmMFA(ctx, p.AccountID, st.PendingSecret, step, now); err != nil {
		if errors.Is(err, ErrMFANoPending) {
			writeError(w, http.StatusConflict, "the enrolment changed meanwhile; enroll again", "")
			return
		}
		a.writeStoreError(w, err)
		return
	}
	a.AccountsChanged() // the account's other sessions' streams close
	u, err := a.users.GetByID(ctx, p.AccountID)
	if err != nil {
		a.writeStoreError(w, err)
		return
	}
	a.audit(ctx, p.Username, ActionMFAConfirm, p.Username, map[string]any{"ok": true}, ip)
	sess, err := a.session(ctx, u)
	if err != nil {
		a.log.Error("issue token", "err", err)
		writeError(w, http.StatusInternalServerError, "cannot issue token", "")
		return
	}
	writeJSON(w, http.StatusOK, apiv1.MFAConfirmResponse{MFAEnabled: true, Session: sess})
}

// MFADisable serves DELETE /api/auth/mfa (viewer): the caller turns its
// own MFA off with a TOTP or recovery code; 403 when the policy requires
// MFA. A wrong code is 400 and counts toward the address throttle.
func (a *Authenticator) MFADisable(w http.ResponseWriter, r *http.Request) {
	p, req, ip, key, now, ok := a.ownCodeRequest(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	status, err := a.mfa.MFAStatus(ctx, p.AccountID)
	if err != nil {
		a.writeStoreError(w, err)
		return
	}
	if status.RequireAll {
		writeError(w, http.StatusForbidden, errMsgMFAPolicy, "")
		return
	}
	st, err := a.mfa.GetMFA(ctx, p.AccountID)
	if err != nil {
		a.writeStoreError(w, err)
		return
	}
	if !st.Enabled {
		writeError(w, http.StatusConflict, "mfa is not enabled", "")
		return
	}
	okCode, _, err := a.checkCode(ctx, st, req.Code)
	if err != nil {
		a.writeStoreError(w, err)
		return
	}
	if !okCode {
		a.ipt.failure(key, now)
		a.audit(ctx, p.Username, ActionMFADisable, p.Username, map[string]any{"ok": false, "reason": "wrong code"}, ip)
		writeError(w, http.StatusBadRequest, errMsgInvalidCode, "code")
		return
	}
	if err := a.mfa.DeleteMFA(ctx, p.AccountID); err != nil {
		a.writeStoreError(w, err)
		return
	}
	a.AccountsChanged()
	a.audit(ctx, p.Username, ActionMFADisable, p.Username, map[string]any{"ok": true}, ip)
	w.WriteHeader(http.StatusNoContent)
}

// ResetAccountMFA serves DELETE /api/accounts/{username}/mfa (admin): the
// account's MFA and recovery codes go (a lost device) and its sessions
// end; 204, also when it had none. Under the require-all policy the
// account must enrol again at its next sign-in.
func (a *Authenticator) ResetAccountMFA(w http.ResponseWriter, r *http.Request) {
	if a.mfaUnavailable(w) {
		return
	}
	ctx := r.Context()
	u, err := a.users.Get(ctx, r.PathValue("username"))
	if err != nil {
		a.writeStoreError(w, err)
		return
	}
	st, err := a.mfa.GetMFA(ctx, u.ID)
	if err != nil {
		a.writeStoreError(w, err)
		return
	}
	if err := a.mfa.ResetMFA(ctx, u.ID, a.now()); err != nil {
		a.writeStoreError(w, err)
		return
	}
	a.AccountsChanged() // its sessions' event streams close
	a.audit(ctx, Actor(ctx), ActionMFAReset, u.Username, map[string]any{"was_enabled": st.Enabled}, a.ClientIP(r))
	w.WriteHeader(http.StatusNoContent)
}

// GetMFAPolicy serves GET /api/auth/mfa/policy (viewer).
func (a *Authenticator) GetMFAPolicy(w http.ResponseWriter, r *http.Request) {
	if a.mfaUnavailable(w) {
		return
	}
	v, err := a.mfa.GetSetting(r.Context(), SettingMFARequired)
	if err != nil {
		a.writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, apiv1.MFAPolicy{RequireAll: v == "true"})
}

// PutMFAPolicy serves PUT /api/auth/mfa/policy (admin), audited. The
// policy is a SQL settings row read on each request: it holds on every
// replica at once and survives restarts.
func (a *Authenticator) PutMFAPolicy(w http.ResponseWriter, r *http.Request) {
	if a.mfaUnavailable(w) {
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	req, err := DecodeMFAPolicy(body)
	if err != nil {
		writeBadRequest(w, err)
		return
	}
	v := "false"
	if req.RequireAll {
		v = "true"
	}
	ctx := r.Context()
	if err := a.mfa.PutSetting(ctx, SettingMFARequired, v, Actor(ctx), a.now()); err != nil {
		a.writeStoreError(w, err)
		return
	}
	a.AccountsChanged() // streams of accounts the policy now holds end
	a.audit(ctx, Actor(ctx), ActionMFAPolicy, SettingMFARequired, map[string]any{"require_all": req.RequireAll}, a.ClientIP(r))
	writeJSON(w, http.StatusOK, apiv1.MFAPolicy{RequireAll: req.RequireAll})
}

// DecodeMFAPolicy strictly decodes a PUT /api/auth/mfa/policy body; the
// field is required (an empty object must not silently turn it off).
func DecodeMFAPolicy(data []byte) (apiv1.MFAPolicy, error) {
	var req struct {
		RequireAll *bool `json:"require_all"`
	}
	if err := decodeStrict(data, &req); err != nil {
		return apiv1.MFAPolicy{}, err
	}
	if req.RequireAll == nil {
		return apiv1.MFAPolicy{}, fieldError{"require_all", "require_all is required"}
	}
	return apiv1.MFAPolicy{RequireAll: *req.RequireAll}, nil
}

// mfaEnrolmentGate is the require-all policy's half of wrap: an account
// without MFA may only call mfaEnrolRoutes. It reports whether the
// request was answered (refused or failed).
func (a *Authenticator) mfaEnrolmentGate(w http.ResponseWriter, r *http.Request, p Principal) bool {
	if p.Kind != KindAccount || a.mfa == nil {
		return false // API tokens and the service token are not subject to MFA
	}
	st, err := a.mfa.MFAStatus(r.Context(), p.AccountID)
	if err != nil {
		a.log.Error("authenticate: read mfa status", "err", err)
		writeError(w, http.StatusInternalServerError, "authentication backend error", "")
		return true
	}
	if st.EnrolmentRequired() {
		writeError(w, http.StatusForbidden, ErrMFAEnrolmentRequired, "")
		return true
	}
	return false
}
