package apiv1

import "time"

// API tokens for automation (SPEC §16).

// CreateAPITokenRequest is the body of POST /api/tokens. Role defaults to
// viewer and may not exceed the creator's. ExpiresIn is a Go duration
// ("720h"); empty = never expires. Groups are PC-group scopes; a
// scoped creator must give a non-empty subset of its own.
type CreateAPITokenRequest struct {
	Name      string   `json:"name"`
	Role      Role     `json:"role,omitempty"`
	ExpiresIn string   `json:"expires_in,omitempty"`
	Groups    []string `json:"groups,omitempty"`
}

// CreatedAPIToken answers POST /api/tokens: Token is the secret, shown this
// once (the backend keeps only its SHA-256). Send it as
// "Authorization: Bearer kt_..." or KANADE_AUTH_TOKEN.
type CreatedAPIToken struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Token     string     `json:"token"`
	Role      Role       `json:"role"`
	Groups    []string   `json:"groups"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// APIToken is a row of GET /api/tokens (never the secret).
type APIToken struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Role       Role       `json:"role"`
	Groups     []string   `json:"groups"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"` // updated at most once a minute
	Expired    bool       `json:"expired"`
}
