package auth_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	. "github.com/kanade-fleet/kanade/internal/auth"
)

// TestTokenBoundToAccount: deleting alice (viewer) and creating alice
// (admin) never revives the old token, let alone with the new role.
func TestTokenBoundToAccount(t *testing.T) {
	e := newEnv(t, nil)
	e.mkUser("root", RoleAdmin)
	root := e.login("root")
	e.mkUser("alice", RoleViewer)
	old := e.login("alice")
	if r := e.do("GET", "/api/test/viewer", old, nil); r.Status != 200 {
		t.Fatalf("alice's token before: %d %s", r.Status, r.Raw)
	}
	if r := e.do("DELETE", "/api/accounts/alice", root, nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Raw)
	}
	if r := e.do("POST", "/api/accounts", root, map[string]any{"username": "alice", "password": "pw-alice-secret",
		"role": "admin", "must_change_pw": false}); r.Status != 201 {
		t.Fatalf("re-create: %d %s", r.Status, r.Raw)
	}
	for _, path := range []string{"/api/test/viewer", "/api/test/admin", "/api/auth/me"} {
		if r := e.do("GET", path, old, nil); r.Status != 401 {
			t.Errorf("old alice token on %s after re-create: %d %s, want 401", path, r.Status, r.Raw)
		}
	}
	if r := e.do("GET", "/api/test/admin", e.login("alice"), nil); r.Status != 200 {
		t.Errorf("new alice: %d %s", r.Status, r.Raw)
	}
}

// TestTokenHostile: disabled, re-passworded, forged and tampered tokens.
func TestTokenHostile(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.mkUser("bob", RoleOperator)
	bob := e.login("bob")
	u, _ := e.users.Get(ctx, "bob")

	// Another secret, and a valid signature with another account's id.
	if r := e.do("GET", "/api/test/viewer", ForgeToken([]byte("another-secret-another-secret-xx"), e.clock.Now, u.ID), nil); r.Status != 401 {
		t.Errorf("foreign secret: %d", r.Status)
	}
	parts := strings.Split(bob, ".")
	tampered := parts[0] + "." + strings.Replace(parts[1], parts[1][5:9], "AAAA", 1) + "." + parts[2]
	if r := e.do("GET", "/api/test/viewer", tampered, nil); r.Status != 401 {
		t.Errorf("tampered claims: %d", r.Status)
	}
	// The username as subject (tokens before migration 17) is refused.
	if r := e.do("GET", "/api/test/viewer", IssueTestToken(e.a, "bob"), nil); r.Status != 401 {
		t.Errorf("username as subject: %d", r.Status)
	}
	if r := e.do("GET", "/api/test/viewer", IssueTestTokenVersion(e.a, u.ID, u.TokenVersion), nil); r.Status != 200 {
		t.Errorf("own codec, right id: %d %s", r.Status, r.Raw)
	}

	tr := true
	if _, err := e.users.Update(ctx, "bob", Patch{Disabled: &tr}); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/api/test/viewer", bob, nil); r.Status != 401 {
		t.Errorf("disabled: %d", r.Status)
	}
	f := false
	if _, err := e.users.Update(ctx, "bob", Patch{Disabled: &f}); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/api/test/viewer", bob, nil); r.Status != 200 {
		t.Errorf("re-enabled: %d", r.Status)
	}
	pw := "another-pw-for-bob"
	if _, err := e.users.Update(ctx, "bob", Patch{Password: &pw}); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/api/test/viewer", bob, nil); r.Status != 401 {
		t.Errorf("after password change: %d", r.Status)
	}
}

// TestMustChangePassword: the bootstrap admin can only change its
// password (either route name), then everything.
func TestMustChangePassword(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BootstrapAdminPassword = "bootstrap-pass" })
	if err := e.a.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/api/auth/login", "", apiv1.LoginRequest{Username: "admin", Password: "bootstrap-pass"})
	tok := r.Body["token"].(string)
	for _, c := range [][2]string{{"GET", "/api/test/viewer"}, {"GET", "/api/test/admin"}, {"GET", "/api/accounts"},
		{"POST", "/api/tokens"}, {"DELETE", "/api/test/items/1"}} {
		r := e.do(c[0], c[1], tok, nil)
		if r.Status != 403 || r.Body["error"] != "password change required" {
			t.Errorf("%s %s before the change: %d %s", c[0], c[1], r.Status, r.Raw)
		}
	}
	if r := e.do("GET", "/api/auth/me", tok, nil); r.Status != 200 || r.Body["must_change_pw"] != true {
		t.Errorf("me: %d %s", r.Status, r.Raw)
	}
	r = e.do("POST", "/api/auth/password", tok, apiv1.ChangePasswordRequest{OldPassword: "bootstrap-pass", NewPassword: "a-new-admin-pass"})
	if r.Status != 200 || r.Body["must_change_pw"] != false {
		t.Fatalf("change: %d %s", r.Status, r.Raw)
	}
	if r := e.do("GET", "/api/test/admin", r.Body["token"].(string), nil); r.Status != 200 {
		t.Errorf("after the change: %d %s", r.Status, r.Raw)
	}
	// An admin reset forces it again.
	e.mkUser("carol", RoleOperator)
	root := e.login("carol") // operator: cannot reset
	if r := e.do("PATCH", "/api/accounts/carol", root, map[string]any{"password": "reset-by-admin"}); r.Status != 403 {
		t.Errorf("operator reset: %d", r.Status)
	}
}

func (e *env) token(bearer string, body map[string]any) (int, map[string]any) {
	e.t.Helper()
	r := e.do("POST", "/api/tokens", bearer, body)
	return r.Status, r.Body
}

// TestAPITokens: created once, usable, audited by name, role-capped,
// revoked at once, expired, bound to the creator.
func TestAPITokens(t *testing.T) {
	e := newEnv(t, nil)
	e.mkUser("root", RoleAdmin)
	e.mkUser("op", RoleOperator)
	e.mkUser("view", RoleViewer)
	root, op, view := e.login("root"), e.login("op"), e.login("view")

	if st, b := e.token(view, map[string]any{"name": "v"}); st != 403 {
		t.Errorf("viewer creates a token: %d %v", st, b)
	}
	if st, b := e.token(op, map[string]any{"name": "x", "role": "admin"}); st != 403 || b["field"] != "role" {
		t.Errorf("operator mints admin: %d %v", st, b)
	}
	if st, b := e.token(op, map[string]any{"name": "x", "groups": []string{"no.dots"}}); st != 400 || b["field"] != "groups" {
		t.Errorf("invalid group name: %d %v", st, b)
	}
	if st, b := e.token(op, map[string]any{"name": "scoped", "groups": []string{"canary", "canary"}}); st != 201 ||
		fmt.Sprint(b["groups"]) != "[canary]" {
		t.Errorf("scoped token: %d %v", st, b)
	}
	st, b := e.token(op, map[string]any{"name": "nightly", "role": "operator"})
	if st != 201 || !strings.HasPrefix(b["token"].(string), "kt_") {
		t.Fatalf("create: %d %v", st, b)
	}
	kt, id := b["token"].(string), b["id"].(string)
	if st, _ := e.token(op, map[string]any{"name": "nightly"}); st != 409 {
		t.Errorf("duplicate name: %d", st)
	}
	r := e.do("POST", "/api/test/operator", kt, nil)
	if r.Status != 200 || r.Body["actor"] != "token:nightly" || r.Body["role"] != "operator" {
		t.Fatalf("use: %d %s", r.Status, r.Raw)
	}
	if r := e.do("GET", "/api/test/admin", kt, nil); r.Status != 403 {
		t.Errorf("token above its role: %d", r.Status)
	}
	// A token cannot mint tokens.
	if st, _ := e.token(kt, map[string]any{"name": "child"}); st != 403 {
		t.Errorf("token mints a token: %d", st)
	}
	// Listed without the secret, with last use.
	r = e.do("GET", "/api/tokens", op, nil)
	if r.Status != 200 || strings.Contains(r.Raw, kt) || !strings.Contains(r.Raw, `"last_used_at":"2030`) ||
		!strings.Contains(r.Raw, `"created_by":"op"`) {
		t.Errorf("list: %d %s", r.Status, r.Raw)
	}
	if _, ok := e.aud.find(ActionTokenCreate, "token:nightly"); !ok {
		t.Error("creation not audited")
	}
	// The creator's role caps the token's: demoted op → viewer token.
	vr := RoleViewer
	if _, err := e.users.Update(context.Background(), "op", Patch{Role: &vr}); err != nil {
		t.Fatal(err)
	}
	if r := e.do("POST", "/api/test/operator", kt, nil); r.Status != 403 {
		t.Errorf("after the creator's demotion: %d", r.Status)
	}
	or := RoleOperator
	if _, err := e.users.Update(context.Background(), "op", Patch{Role: &or}); err != nil {
		t.Fatal(err)
	}
	// Another operator cannot revoke it; the owner can, at once.
	e.mkUser("op2", RoleOperator)
	if r := e.do("DELETE", "/api/tokens/"+id, e.login("op2"), nil); r.Status != 403 {
		t.Errorf("other operator revokes: %d", r.Status)
	}
	if r := e.do("DELETE", "/api/tokens/"+id, op, nil); r.Status != 204 {
		t.Fatalf("revoke: %d %s", r.Status, r.Raw)
	}
	if r := e.do("GET", "/api/test/viewer", kt, nil); r.Status != 401 {
		t.Errorf("revoked token: %d", r.Status)
	}
	if _, ok := e.aud.find(ActionTokenRevoke, "token:nightly"); !ok {
		t.Error("revocation not audited")
	}

	// Expiry.
	_, b = e.token(root, map[string]any{"name": "short", "role": "admin", "expires_in": "1h"})
	short := b["token"].(string)
	if r := e.do("GET", "/api/test/admin", short, nil); r.Status != 200 {
		t.Fatalf("short-lived admin token: %d %s", r.Status, r.Raw)
	}
	e.clock.Advance(time.Hour)
	if r := e.do("GET", "/api/test/admin", short, nil); r.Status != 401 {
		t.Errorf("expired token: %d", r.Status)
	}
	// Bound to the creator: gone with the account, refused while disabled.
	_, b = e.token(op, map[string]any{"name": "bound"})
	bound := b["token"].(string)
	tr := true
	if _, err := e.users.Update(context.Background(), "op", Patch{Disabled: &tr}); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/api/test/viewer", bound, nil); r.Status != 401 {
		t.Errorf("creator disabled: %d", r.Status)
	}
	if r := e.do("DELETE", "/api/accounts/op", root, nil); r.Status != 204 {
		t.Fatal(r.Raw)
	}
	e.mkUser("op", RoleOperator)
	if r := e.do("GET", "/api/test/viewer", bound, nil); r.Status != 401 {
		t.Errorf("creator deleted and re-created: %d", r.Status)
	}
	// Garbage with the prefix.
	for _, s := range []string{"kt_", "kt_" + strings.Repeat("A", 43), "kt_" + strings.Repeat("!", 43), kt + "x"} {
		if r := e.do("GET", "/api/test/viewer", s, nil); r.Status != 401 {
			t.Errorf("%q: %d", s, r.Status)
		}
	}
}

// TestWatchClosesOnDelete: a long-lived request's context ends at once
// when the account is deleted through this Authenticator, and within the
// recheck interval when it is deleted behind its back.
func TestWatchClosesOnDelete(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RecheckInterval = 100 * time.Millisecond })
	ctx := context.Background()
	e.mkUser("root", RoleAdmin)
	for _, via := range []string{"api", "store"} {
		e.mkUser("w", RoleViewer)
		u, _ := e.users.Get(ctx, "w")
		p := Principal{Username: "w", Kind: KindAccount, AccountID: u.ID, TokenVersion: u.TokenVersion, Role: RoleViewer}
		wctx := e.a.Watch(ctx, p)
		select {
		case <-wctx.Done():
			t.Fatalf("%s: closed before the delete", via)
		case <-time.After(250 * time.Millisecond):
		}
		if via == "api" {
			if r := e.do("DELETE", "/api/accounts/w", e.login("root"), nil); r.Status != 204 {
				t.Fatal(r.Raw)
			}
		} else if err := e.users.Delete(ctx, "w"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-wctx.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: still open after the delete", via)
		}
	}
}

// TestWatchClosesWhenPolicyRequiresMFA: a stream opened before require_all
// is turned on ends when it is (the account has no MFA), at once.
func TestWatchClosesWhenPolicyRequiresMFA(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RecheckInterval = time.Hour })
	ctx := context.Background()
	e.mkUser("root", RoleAdmin)
	e.mkUser("w", RoleViewer)
	root := e.login("root")
	u, _ := e.users.Get(ctx, "w")
	p := Principal{Username: "w", Kind: KindAccount, AccountID: u.ID, TokenVersion: u.TokenVersion, Role: RoleViewer}
	wctx := e.a.Watch(ctx, p)
	if err := e.a.Recheck(ctx, p); err != nil {
		t.Fatalf("before the policy: %v", err)
	}
	if r := e.do("PUT", "/api/auth/mfa/policy", root, apiv1.MFAPolicy{RequireAll: true}); r.Status != 200 {
		t.Fatalf("policy: %d %s", r.Status, r.Raw)
	}
	select {
	case <-wctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("still open after require_all")
	}
	if err := context.Cause(wctx); err == nil || !strings.Contains(err.Error(), ErrMFAEnrolmentRequired) {
		t.Fatalf("cause %v", err)
	}
}
