package apiv1

// MFA (TOTP, RFC 6238; SPEC §16). The two-step login: POST /api/auth/login
// answers MFAChallenge for an account with MFA, and POST /api/auth/mfa
// exchanges its mfa_token and a code for a LoginResponse.

// MFAChallenge is POST /api/auth/login's answer for an account with MFA:
// no session yet. MFAToken lives 5 minutes, is used once and is refused
// as a bearer token by every other route. The Go client decodes it into
// LoginResponse's MFARequired and MFAToken.
type MFAChallenge struct {
	MFARequired bool   `json:"mfa_required"`
	MFAToken    string `json:"mfa_token"`
}

// MFALoginRequest is the body of POST /api/auth/mfa. Code is a 6-digit
// TOTP code or a recovery code (xxxxx-xxxxx, case and dashes ignored).
type MFALoginRequest struct {
	MFAToken string `json:"mfa_token"`
	Code     string `json:"code"`
}

// MFACodeRequest is the body of POST /api/auth/mfa/confirm (a TOTP code)
// and DELETE /api/auth/mfa (a TOTP or recovery code).
type MFACodeRequest struct {
	Code string `json:"code"`
}

// MFAEnrollment is POST /api/auth/mfa/enroll's answer, shown once: the
// TOTP secret (base32), the otpauth:// URL an authenticator app imports,
// the same as a QR code (a data:image/png;base64 URL) and the recovery
// codes. Pending until POST /api/auth/mfa/confirm.
type MFAEnrollment struct {
	Secret        string   `json:"secret"`
	OTPAuthURL    string   `json:"otpauth_url"`
	QRPNG         string   `json:"qr_png"`
	RecoveryCodes []string `json:"recovery_codes"`
}

// MFAConfirmResponse is POST /api/auth/mfa/confirm's answer. Confirming
// revokes the account's other sessions; Session is a fresh one.
type MFAConfirmResponse struct {
	MFAEnabled bool          `json:"mfa_enabled"`
	Session    LoginResponse `json:"session"`
}

// MFAPolicy is GET and PUT /api/auth/mfa/policy: RequireAll holds every
// account without MFA to enrol before anything else (API tokens are not
// subject to it).
type MFAPolicy struct {
	RequireAll bool `json:"require_all"`
}
