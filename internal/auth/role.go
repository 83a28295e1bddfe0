// Package auth authenticates and authorises the HTTP API (SPEC §8): accounts
// with argon2id passwords and roles viewer < operator < admin, HS256 JWTs
// whose user row is re-read on every request, a static service token, login
// throttling, audit of account changes and logins, and HTTP hardening helpers.
package auth

import (
	"context"
	"fmt"
)

// Role is a privilege level. Roles are ordered: a caller passes a route when
// its role is >= the route's minimum. RolePublic marks a route that needs no
// authentication at all.
type Role int

const (
	RolePublic Role = iota
	RoleViewer
	RoleOperator
	RoleAdmin
)

// String returns the role's wire name ("viewer", "operator", "admin",
// "public").
func (r Role) String() string {
	switch r {
	case RolePublic:
		return "public"
	case RoleViewer:
		return "viewer"
	case RoleOperator:
		return "operator"
	case RoleAdmin:
		return "admin"
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// ParseRole parses an account role. "public" is not an account role.
func ParseRole(s string) (Role, error) {
	switch s {
	case "viewer":
		return RoleViewer, nil
	case "operator":
		return RoleOperator, nil
	case "admin":
		return RoleAdmin, nil
	}
	return 0, fmt.Errorf("unknown role %q (want viewer, operator or admin)", s)
}

// MarshalText makes roles JSON strings.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText accepts only account roles.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Principal is the authenticated caller of a request. Scopes and MFA
// (issue 19, later items) build on it: Groups limits the PCs it may touch
// (empty = no limit), and a step-up/MFA state would join MustChangePW as a
// flag Wrap enforces centrally.
type Principal struct {
	// Username is the actor recorded in audit events and initiated_by:
	// an account name, "token:<name>" for an API token, "service-token"
	// or "dev".
	Username string
	Role     Role
	// Method tells how the caller authenticated: "jwt", "api-token",
	// "static" or "disabled".
	Method string
	// Kind is KindAccount (a JWT of an account), KindAPIToken or
	// KindService (the static token, or auth disabled).
	Kind PrincipalKind
	// AccountID is the immutable id of the account: the JWT's, or the
	// account that created the API token. Empty for KindService.
	AccountID string
	// TokenID is the API token's id (KindAPIToken only).
	TokenID string
	// TokenVersion is the account's token generation the JWT carried
	// (KindAccount only): Recheck refuses the principal once it changes.
	TokenVersion int64
	// Groups are the PC groups the caller is limited to (sorted); empty
	// means not limited. See scope.go and internal/api's route scopes.
	Groups []string
	// MustChangePW: the account may only change its password (Wrap
	// answers 403 "password change required" on every other route).
	MustChangePW bool
}

// PrincipalKind is what kind of credential a Principal authenticated with.
type PrincipalKind string

// Principal kinds.
const (
	KindAccount  PrincipalKind = "account"
	KindAPIToken PrincipalKind = "api-token"
	KindService  PrincipalKind = "service"
)

// Actor names of the synthetic principals.
const (
	ActorServiceToken = "service-token"
	ActorDev          = "dev"
)

type ctxKey struct{}

// WithPrincipal returns ctx carrying p (tests and in-process callers).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the request's principal, set by Authenticator.Wrap.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// Actor returns the principal's username, or "anonymous".
func Actor(ctx context.Context) string {
	if p, ok := FromContext(ctx); ok && p.Username != "" {
		return p.Username
	}
	return "anonymous"
}
