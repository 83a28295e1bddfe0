package apiv1

import "time"

// Enrollment and per-agent broker identity (SPEC §12).

// CreateEnrollmentTokenRequest is the body of POST /api/enrollment-tokens.
// Uses defaults to 1 and ExpiresIn to "24h" (a Go duration: "30m", "72h").
type CreateEnrollmentTokenRequest struct {
	Groups    []string `json:"groups"`
	Uses      int      `json:"uses,omitempty"`
	ExpiresIn string   `json:"expires_in,omitempty"`
}

// CreatedEnrollmentToken answers POST /api/enrollment-tokens: Token is the
// secret, shown this once (the backend keeps only its SHA-256).
type CreatedEnrollmentToken struct {
	ID        string    `json:"id"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// EnrollmentToken is a row of GET /api/enrollment-tokens (never the secret).
type EnrollmentToken struct {
	ID        string    `json:"id"`
	Groups    []string  `json:"groups"`
	Uses      int       `json:"uses"`
	UsesLeft  int       `json:"uses_left"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// Usable: uses left and not expired.
	Usable bool `json:"usable"`
}

// EnrollRequest is the body of the public POST /api/enroll, sent by
// kanade-agent enroll (internal/agent/enroll.Request is the same shape).
type EnrollRequest struct {
	Token     string `json:"token"`
	PCID      string `json:"pc_id"`
	Hostname  string `json:"hostname"`
	OSFamily  string `json:"os_family"`
	PublicKey string `json:"public_key"` // NKey user public key; the seed stays on the PC
}

// SigningKey is one command-signing public key: KeyID is the first 16 hex
// digits of the SHA-256 of the raw key, PublicKey its standard base64.
type SigningKey struct {
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"`
}

// EnrollResponse answers POST /api/enroll.
type EnrollResponse struct {
	PCID        string       `json:"pc_id"`
	UserJWT     string       `json:"user_jwt"`
	BrokerURLs  []string     `json:"broker_urls"`
	SigningKeys []SigningKey `json:"signing_keys"`
	// EnrolledAt is the backend's clock at enrollment: the agent's catch-up
	// skips fleet-wide commands published before it (SPEC §17).
	EnrolledAt time.Time `json:"enrolled_at"`
}

// Reenroll answers POST /api/agents/{pc_id}/reenroll.
type Reenroll struct {
	PCID            string `json:"pc_id"`
	ReenrollAllowed bool   `json:"reenroll_allowed"`
}

// OperatorCredsRequest is the body of POST /api/broker/operator-creds.
type OperatorCredsRequest struct {
	Name string `json:"name"`
}

// OperatorCreds answers POST /api/broker/operator-creds: a NATS
// credentials file (nats --creds, kanade --nats-creds) for the CLI's direct
// path, shown once.
type OperatorCreds struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
	Creds     string `json:"creds"`
}

// OperatorCredInfo is one issued operator credential in GET
// /api/broker/operator-creds (its secret is never kept) and the answer of
// DELETE /api/broker/operator-creds/{public_key}.
type OperatorCredInfo struct {
	Name      string     `json:"name"`
	PublicKey string     `json:"public_key"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"` // absent while it works
}
