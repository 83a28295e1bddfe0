package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// MFA (SPEC §16): TOTP per RFC 6238 (SHA-1, 6 digits, 30 s steps, ±1 step
// of clock skew) through github.com/pquerna/otp, one-time recovery codes
// stored as SHA-256, a two-step login whose first step answers a
// short-lived mfa_token, and an admin policy requiring MFA for every
// account. Everything lives in SQL (MFAStore, migration 00020), read on
// each request, so every replica decides the same at once.

// MFA parameters.
const (
	MFAIssuer          = "kanade"
	MFATokenTTL        = 5 * time.Minute
	RecoveryCodeCount  = 10
	mfaAudience        = "kanade-mfa"
	totpPeriod         = 30
	recoveryCodeChars  = 10
	recoveryAlphabet   = "abcdefghijkmnpqrstuvwxyz23456789" // 32 symbols: no 0/o, 1/l
	maxMFACodeLen      = 64
	SettingMFARequired = "mfa_require_all"
)

// Audit actions of MFA.
const (
	ActionMFAEnroll       = "auth.mfa.enroll"
	ActionMFAConfirm      = "auth.mfa.confirm"
	ActionMFADisable      = "auth.mfa.disable"
	ActionMFAReset        = "auth.mfa.reset"
	ActionMFALogin        = "auth.mfa.login"
	ActionMFARecoveryUsed = "auth.mfa.recovery_used"
	ActionMFAPolicy       = "auth.mfa.policy"
)

// Client-facing MFA messages (the contract's).
const (
	ErrMFAEnrolmentRequired = "mfa enrolment required"
	errMsgInvalidCode       = "invalid code"
	errMsgMFATokenExpired   = "mfa token expired"
	errMsgMFAPolicy         = "mfa required by policy"
)

// Errors of the MFA store.
var (
	// ErrMFAEnabled: enrolment refused, MFA is already on for the account.
	ErrMFAEnabled = errors.New("mfa is already enabled")
	// ErrMFANoPending: confirm without (or racing) an enrolment.
	ErrMFANoPending = errors.New("no pending mfa enrolment (enroll first)")
)

// MFAState is an account's MFA row; the zero value (with AccountID) is an
// account that never enrolled.
type MFAState struct {
	AccountID     string
	Secret        string // confirmed TOTP secret (base32); never shown again
	PendingSecret string // enrolment awaiting confirm
	Enabled       bool
	LastStep      int64 // newest TOTP step accepted (replay guard)
}

// MFAStatus is what each request needs: the account's MFA and the policy.
type MFAStatus struct {
	Enabled    bool
	RequireAll bool
}

// EnrolmentRequired reports whether the policy holds this account to
// enrol before anything else.
func (s MFAStatus) EnrolmentRequired() bool { return s.RequireAll && !s.Enabled }

// MFAStore keeps MFA in SQL (migration 00020); *store.DB implements it.
// Every "use" is one conditional write, so a TOTP step, a recovery code or
// an mfa_token is accepted once across all replicas.
type MFAStore interface {
	// GetMFA reads the account's row; no row is a zero MFAState, nil.
	GetMFA(ctx context.Context, accountID string) (MFAState, error)
	// MFAStatus reads the account's enabled flag and the require-all policy
	// in one query (it runs on every request of a signed-in account).
	MFAStatus(ctx context.Context, accountID string) (MFAStatus, error)
	// MFAEnabledAccounts returns the ids of the accounts with MFA enabled.
	MFAEnabledAccounts(ctx context.Context) (map[string]bool, error)
	// BeginMFA stores a pending secret and replaces the recovery codes
	// (hashes); ErrMFAEnabled when MFA is already enabled.
	BeginMFA(ctx context.Context, accountID, pendingSecret string, codeHashes []string, at time.Time) error
	// ConfirmMFA makes pendingSecret the secret, enables MFA, records step
	// as used and bumps the account's token generation (older sessions
	// die), atomically; ErrMFANoPending when pendingSecret is not pending.
	ConfirmMFA(ctx context.Context, accountID, pendingSecret string, step int64, at time.Time) error
	// UseTOTPStep records step as used when MFA is enabled and step is newer
	// than the last one used; false otherwise (a replay).
	UseTOTPStep(ctx context.Context, accountID string, step int64) (bool, error)
	// UseRecoveryCode marks an unused code used; false when there is none.
	UseRecoveryCode(ctx context.Context, accountID, codeHash string, at time.Time) (bool, error)
	// DeleteMFA removes the account's MFA and recovery codes.
	DeleteMFA(ctx context.Context, accountID string) error
	// ResetMFA deletes the account's MFA and ends its sessions (token
	// generation bump), in one transaction.
	ResetMFA(ctx context.Context, accountID string, now time.Time) error
	// UseMFAChallenge records an mfa_token id as used; false when it was.
	UseMFAChallenge(ctx context.Context, jti string, expires, now time.Time) (bool, error)
	// GetSetting returns a setting ("" when unset); PutSetting sets it.
	GetSetting(ctx context.Context, name string) (string, error)
	PutSetting(ctx context.Context, name, value, by string, at time.Time) error
}

// mfaStatus is the store's status, or off when there is no MFA store.
func (a *Authenticator) mfaStatus(ctx context.Context, accountID string) (MFAStatus, error) {
	if a.mfa == nil {
		return MFAStatus{}, nil
	}
	return a.mfa.MFAStatus(ctx, accountID)
}

// mfaEnrolRoutes are the only routes an account held to enrol by the
// require-all policy may call (besides nothing else: must-change-password,
// checked first, is stricter).
var mfaEnrolRoutes = map[string]bool{
	"GET /api/auth/me":               true,
	"POST /api/auth/mfa/enroll":      true,
	"POST /api/auth/mfa/confirm":     true,
	"GET /api/auth/mfa/policy":       true,
	"POST /api/auth/change-password": true,
	"POST /api/auth/password":        true,
	"POST /api/auth/logout":          true,
}

// newTOTPKey generates a TOTP key (160-bit secret, the RFC's SHA-1 size).
func newTOTPKey(username string) (*otp.Key, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: MFAIssuer, AccountName: username,
		Period: totpPeriod, SecretSize: 20, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, fmt.Errorf("generate totp key: %w", err)
	}
	return k, nil
}

// isTOTPCode reports whether code has the shape of a TOTP code.
func isTOTPCode(code string) bool {
	if len(code) != 6 {
		return false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// matchTOTP returns the time step whose code is code, within ±1 step of
// now (the library's comparison, constant time), preferring the newest.
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	if !isTOTPCode(code) || secret == "" {
		return 0, false
	}
	cur := now.Unix() / totpPeriod
	opts := hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	for _, step := range []int64{cur + 1, cur, cur - 1} {
		if step < 0 {
			continue
		}
		if ok, err := hotp.ValidateCustom(code, uint64(step), secret, opts); err == nil && ok {
			return step, true
		}
	}
	return 0, false
}

// newRecoveryCodes returns RecoveryCodeCount fresh codes ("xxxxx-xxxxx",
// 50 random bits each) and their hashes for accountID.
func newRecoveryCodes(accountID string) (codes, hashes []string, err error) {
	buf := make([]byte, recoveryCodeChars)
	for range RecoveryCodeCount {
		if _, err := rand.Read(buf); err != nil {
			return nil, nil, fmt.Errorf("recovery codes: %w", err)
		}
		var b strings.Builder
		for i, x := range buf {
			if i == recoveryCodeChars/2 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[int(x)%len(recoveryAlphabet)]) // 256 % 32 == 0: uniform
		}
		c := b.String()
		codes = append(codes, c)
		hashes = append(hashes, HashRecoveryCode(accountID, c))
	}
	return codes, hashes, nil
}

// normalizeRecoveryCode lower-cases code and drops dashes and spaces; ok
// is false when the rest is not a recovery code's shape.
func normalizeRecoveryCode(code string) (string, bool) {
	var b strings.Builder
	for _, c := range strings.ToLower(code) {
		switch {
		case c == '-' || c == ' ':
		case strings.ContainsRune(recoveryAlphabet, c):
			b.WriteRune(c)
		default:
			return "", false
		}
	}
	if b.Len() != recoveryCodeChars {
		return "", false
	}
	return b.String(), true
}

// HashRecoveryCode is the stored form of a recovery code: hex SHA-256 of
// the account id and the normalized code. The code is random (50 bits)
// and online guesses hit the lockout, so a fast hash is enough; the id
// keeps equal codes of two accounts apart.
func HashRecoveryCode(accountID, code string) string {
	n, ok := normalizeRecoveryCode(code)
	if !ok {
		n = code
	}
	sum := sha256.Sum256([]byte(accountID + ":" + n))
	return hex.EncodeToString(sum[:])
}

// mfaClaims are the claims of an mfa_token: the account id, its token
// generation, a unique id (single use), 5 minutes of life and the
// audience kanade-mfa. It is signed with a key derived from the JWT
// secret, so it can never pass as a session token (whose audience and key
// differ), and a session token never as an mfa_token.
type mfaClaims struct {
	jwt.RegisteredClaims
	TokenVersion int64 `json:"tv"`
}

func (a *Authenticator) mfaKey() []byte {
	m := hmac.New(sha256.New, a.cfg.JWTSecret)
	m.Write([]byte("kanade mfa_token v1"))
	return m.Sum(nil)
}

func (a *Authenticator) issueMFAToken(u User) (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("mfa token id: %w", err)
	}
	now := a.now()
	cl := mfaClaims{RegisteredClaims: jwt.RegisteredClaims{
		Subject:   u.ID,
		Audience:  jwt.ClaimStrings{mfaAudience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(MFATokenTTL)),
		ID:        base64.RawURLEncoding.EncodeToString(jti),
	}, TokenVersion: u.TokenVersion}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, cl).SignedString(a.mfaKey())
	if err != nil {
		return "", fmt.Errorf("sign mfa token: %w", err)
	}
	return s, nil
}

func (a *Authenticator) parseMFAToken(s string) (mfaClaims, error) {
	var cl mfaClaims
	if len(s) > maxTokenLen {
		return cl, errors.New("mfa token too long")
	}
	_, err := jwt.ParseWithClaims(s, &cl, func(*jwt.Token) (any, error) { return a.mfaKey(), nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(mfaAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(a.now), // no leeway: 5 minutes is the whole life
	)
	if err != nil {
		return mfaClaims{}, err
	}
	if cl.Subject == "" || cl.ID == "" {
		return mfaClaims{}, errors.New("mfa token without subject or id")
	}
	return cl, nil
}
