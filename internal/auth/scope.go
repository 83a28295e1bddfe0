package auth

import (
	"fmt"
	"regexp"
	"slices"
)

// Group scopes (SPEC §16): an account or API token may be limited to PC
// groups. Principal.Groups carries the scope of a request; internal/api
// enforces it per route (docs/security.md, "Scopes"). A group name need
// not exist yet when an account is scoped to it: groups come and go with
// their members (KV agent_groups), so a scope naming an empty group simply
// reaches no PC.

// MaxScopeGroups bounds a scope (the same bound as a PC's groups).
const MaxScopeGroups = 64

// groupRe is a group name as the agent groups accept it (wire.ValidID):
// part of NATS subjects, so no dots, wildcards or spaces.
var groupRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidateScope checks the syntax of a scope's group names; the error
// names the field "groups".
func ValidateScope(groups []string) error {
	if len(groups) > MaxScopeGroups {
		return fieldError{"groups", fmt.Sprintf("at most %d groups", MaxScopeGroups)}
	}
	for _, g := range groups {
		if !groupRe.MatchString(g) {
			return fieldError{"groups", fmt.Sprintf("%q is not a valid group name: use 1-64 of A-Z a-z 0-9 _ - (no dots or spaces)", g)}
		}
	}
	return nil
}

// NormalizeScope returns groups sorted and without duplicates (never nil).
func NormalizeScope(groups []string) []string {
	out := slices.Clone(groups)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// Scoped reports whether p is limited to PC groups.
func (p Principal) Scoped() bool { return len(p.Groups) > 0 }

// InScope reports whether group g is one of p's scope groups (always true
// for an unscoped principal).
func (p Principal) InScope(g string) bool {
	return !p.Scoped() || slices.Contains(p.Groups, g)
}

// effectiveScope is the scope of an API token created by an account: the
// token's groups narrowed by the account's current ones (as its role is
// capped by the account's), so scoping an account later also scopes its
// tokens. ok is false when both are scoped but share no group: the token
// then reaches nothing and is refused, never widened to "not limited".
func effectiveScope(token, account []string) (groups []string, ok bool) {
	switch {
	case len(account) == 0:
		return NormalizeScope(token), true
	case len(token) == 0:
		return NormalizeScope(account), true
	}
	out := []string{}
	for _, g := range NormalizeScope(token) {
		if slices.Contains(account, g) {
			out = append(out, g)
		}
	}
	return out, len(out) > 0
}

// subsetOf reports whether every group of sub is in of.
func subsetOf(sub, of []string) bool {
	for _, g := range sub {
		if !slices.Contains(of, g) {
			return false
		}
	}
	return true
}
