package auth

import (
	"slices"
	"testing"
)

// A token's scope is narrowed by its account's, never widened: disjoint
// scopes refuse the token rather than leave it unlimited.
func TestEffectiveScope(t *testing.T) {
	for _, c := range []struct {
		token, account, want []string
		ok                   bool
	}{
		{nil, nil, []string{}, true},
		{[]string{"b", "a", "a"}, nil, []string{"a", "b"}, true},
		{nil, []string{"canary"}, []string{"canary"}, true},
		{[]string{"canary", "stable"}, []string{"canary"}, []string{"canary"}, true},
		{[]string{"stable"}, []string{"canary"}, []string{}, false},
	} {
		got, ok := effectiveScope(c.token, c.account)
		if ok != c.ok || !slices.Equal(got, c.want) {
			t.Errorf("effectiveScope(%v, %v) = %v, %v; want %v, %v", c.token, c.account, got, ok, c.want, c.ok)
		}
	}
	if err := ValidateScope([]string{"ok_1", "a.b"}); err == nil {
		t.Error("a dotted group name accepted")
	}
}
