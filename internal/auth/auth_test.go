package auth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	. "github.com/kanade-fleet/kanade/internal/auth"
)

func TestRoleChecks(t *testing.T) {
	e := newEnv(t, nil)
	e.mkUser("vera", RoleViewer)
	e.mkUser("otto", RoleOperator)
	e.mkUser("ada", RoleAdmin)
	tok := map[Role]string{RoleViewer: e.login("vera"), RoleOperator: e.login("otto"), RoleAdmin: e.login("ada")}

	cases := []struct {
		method, path string
		min          Role
	}{
		{"GET", "/api/test/viewer", RoleViewer},
		{"POST", "/api/test/operator", RoleOperator},
		{"GET", "/api/test/admin", RoleAdmin},
		{"GET", "/api/accounts", RoleAdmin},
	}
	for _, c := range cases {
		r := e.do(c.method, c.path, "", nil)
		if r.Status != 401 || r.Body["error"] == nil || r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s without token: %d %s", c.method, c.path, r.Status, r.Raw)
		}
		if r := e.do(c.method, c.path, "garbage.token.here", nil); r.Status != 401 {
			t.Errorf("%s %s bad token: %d", c.method, c.path, r.Status)
		}
		for role := RoleViewer; role <= RoleAdmin; role++ {
			r := e.do(c.method, c.path, tok[role], nil)
			want := 200
			if role < c.min {
				want = 403
			}
			if r.Status != want {
				t.Errorf("%s %s as %s: got %d want %d (%s)", c.method, c.path, role, r.Status, want, r.Raw)
			}
			if want == 403 && r.Body["error"] == nil {
				t.Errorf("403 without error body: %s", r.Raw)
			}
		}
	}
	// The principal carries the account name and role.
	if r := e.do("GET", "/api/test/viewer", tok[RoleOperator], nil); r.Body["actor"] != "otto" || r.Body["role"] != "operator" {
		t.Errorf("principal: %s", r.Raw)
	}
	// Public route needs nothing.
	if r := e.do("GET", "/api/version", "", nil); r.Status != 200 {
		t.Errorf("public route: %d", r.Status)
	}
	// Static service token is admin, actor service-token.
	if r := e.do("GET", "/api/test/admin", "static-service-token-0123456789", nil); r.Status != 200 || r.Body["actor"] != ActorServiceToken {
		t.Errorf("static token: %d %s", r.Status, r.Raw)
	}
	if r := e.do("GET", "/api/test/admin", "static-service-token-012345678X", nil); r.Status != 401 {
		t.Errorf("near-miss static token: %d", r.Status)
	}
	// Malformed Authorization header.
	if r := e.do("GET", "/api/test/viewer", "", nil, "Authorization", "Basic abc"); r.Status != 401 {
		t.Errorf("basic auth header: %d", r.Status)
	}
	// ?access_token= works for GET (SSE) only.
	if r := e.do("GET", "/api/test/viewer?access_token="+tok[RoleViewer], "", nil); r.Status != 200 {
		t.Errorf("access_token on GET: %d %s", r.Status, r.Raw)
	}
	if r := e.do("POST", "/api/test/operator?access_token="+tok[RoleOperator], "", nil); r.Status != 401 {
		t.Errorf("access_token on POST: %d %s", r.Status, r.Raw)
	}
	// A token signed with another secret, or for another audience, fails.
	forged := ForgeToken([]byte("another-secret-another-secret-xx"), e.clock.Now, "ada")
	if r := e.do("GET", "/api/test/admin", forged, nil); r.Status != 401 {
		t.Errorf("foreign-secret token: %d", r.Status)
	}
	// Expired token.
	e.clock.Advance(DefaultTokenTTL + time.Minute)
	if r := e.do("GET", "/api/test/viewer", tok[RoleAdmin], nil); r.Status != 401 {
		t.Errorf("expired token: %d", r.Status)
	}
}

// TestRouteSweep checks every route registered through Mux: non-public ones
// answer 401 without a token and 403 one role below their minimum.
func TestRouteSweep(t *testing.T) {
	e := newEnv(t, nil)
	e.mkUser("vera", RoleViewer)
	e.mkUser("otto", RoleOperator)
	tok := map[Role]string{RoleViewer: e.login("vera"), RoleOperator: e.login("otto")}
	routes := e.mux.Routes()
	if len(routes) < 10 {
		t.Fatalf("routes: %v", routes)
	}
	for _, rt := range routes {
		method, path := rt.Sample()
		if rt.Min == RolePublic {
			continue
		}
		if r := e.do(method, path, "", nil); r.Status != 401 {
			t.Errorf("%s without token: %d", rt.Pattern, r.Status)
		}
		if below := rt.Min - 1; below >= RoleViewer {
			if r := e.do(method, path, tok[below], nil); r.Status != 403 {
				t.Errorf("%s as %s: %d", rt.Pattern, below, r.Status)
			}
		}
	}
}

func TestDisabledOrDeletedUserTokenRefused(t *testing.T) {
	e := newEnv(t, nil)
	e.mkUser("root", RoleAdmin)
	e.mkUser("dora", RoleOperator)
	e.mkUser("dan", RoleOperator)
	admin, dora, dan := e.login("root"), e.login("dora"), e.login("dan")
	for _, tk := range []string{dora, dan} {
		if r := e.do("GET", "/api/auth/me", tk, nil); r.Status != 200 {
			t.Fatalf("me: %d", r.Status)
		}
	}
	if r := e.do("PATCH", "/api/accounts/dora", admin, map[string]any{"disabled": true}); r.Status != 200 {
		t.Fatalf("disable: %d %s", r.Status, r.Raw)
	}
	if r := e.do("DELETE", "/api/accounts/dan", admin, nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Raw)
	}
	if r := e.do("GET", "/api/auth/me", dora, nil); r.Status != 401 {
		t.Errorf("disabled user's token: %d", r.Status)
	}
	if r := e.do("GET", "/api/auth/me", dan, nil); r.Status != 401 {
		t.Errorf("deleted user's token: %d", r.Status)
	}
	// A disabled account cannot log in either.
	if r := e.do("POST", "/api/auth/login", "", apiv1.LoginRequest{Username: "dora", Password: "pw-dora-secret"}); r.Status != 401 {
		t.Errorf("disabled login: %d", r.Status)
	}
	// Role comes from the database: a demotion applies to existing tokens.
	e.mkUser("olga", RoleOperator)
	olga := e.login("olga")
	if r := e.do("PATCH", "/api/accounts/olga", admin, map[string]any{"role": "viewer"}); r.Status != 200 {
		t.Fatal(r.Raw)
	}
	if r := e.do("POST", "/api/test/operator", olga, nil); r.Status != 403 {
		t.Errorf("demoted token still operator: %d", r.Status)
	}
	// Audit of account changes by the acting admin.
	if ev, ok := e.aud.find(ActionAccountUpdate, "dora"); !ok || ev.Actor != "root" || ev.IP != "127.0.0.1" {
		t.Errorf("audit disable: %+v %v", ev, ok)
	}
	if ev, ok := e.aud.find(ActionAccountDelete, "dan"); !ok || ev.Actor != "root" {
		t.Errorf("audit delete: %+v", ev)
	}
}

func TestChangePassword(t *testing.T) {
	e := newEnv(t, nil)
	e.mkUser("root", RoleAdmin)
	e.mkUser("pat", RoleViewer)
	old := e.login("pat")
	if r := e.do("GET", "/api/auth/me", old, nil); r.Body["must_change_pw"] != false || r.Body["role"] != "viewer" {
		t.Errorf("me: %s", r.Raw)
	}
	if r := e.do("POST", "/api/auth/change-password", old, map[string]string{"old_password": "wrong-wrong", "new_password": "new-password-1"}); r.Status != 403 {
		t.Errorf("wrong old password: %d %s", r.Status, r.Raw)
	}
	if r := e.do("POST", "/api/auth/change-password", old, map[string]string{"old_password": "pw-pat-secret", "new_password": "short"}); r.Status != 400 || r.Body["field"] != "new_password" {
		t.Errorf("short password: %d %s", r.Status, r.Raw)
	}
	r := e.do("POST", "/api/auth/change-password", old, map[string]string{"old_password": "pw-pat-secret", "new_password": "new-password-1"})
	if r.Status != 200 || r.Body["token"] == nil {
		t.Fatalf("change: %d %s", r.Status, r.Raw)
	}
	fresh := r.Body["token"].(string)
	if r := e.do("GET", "/api/auth/me", old, nil); r.Status != 401 {
		t.Errorf("token from before the change still valid: %d", r.Status)
	}
	if r := e.do("GET", "/api/auth/me", fresh, nil); r.Status != 200 {
		t.Errorf("fresh token: %d", r.Status)
	}
	if r := e.do("POST", "/api/auth/login", "", apiv1.LoginRequest{Username: "pat", Password: "new-password-1"}); r.Status != 200 {
		t.Errorf("login with new password: %d", r.Status)
	}
	// Admin reset forces must_change_pw; audit payload holds no password.
	admin := e.login("root")
	if r := e.do("PATCH", "/api/accounts/pat", admin, map[string]any{"password": "reset-by-admin-1"}); r.Status != 200 || r.Body["must_change_pw"] != true {
		t.Errorf("admin reset: %d %s", r.Status, r.Raw)
	}
	ev, _ := e.aud.find(ActionAccountUpdate, "pat")
	if s := fmt.Sprint(ev.Payload); strings.Contains(s, "reset-by-admin") {
		t.Errorf("password leaked into audit: %s", s)
	}
	// The service token has no password to change.
	if r := e.do("POST", "/api/auth/change-password", "static-service-token-0123456789", map[string]string{"old_password": "x", "new_password": "yyyyyyyyyy"}); r.Status != 400 {
		t.Errorf("static change-password: %d", r.Status)
	}
}

func TestAccountsCRUD(t *testing.T) {
	e := newEnv(t, nil)
	e.mkUser("root", RoleAdmin)
	admin := e.login("root")
	r := e.do("POST", "/api/accounts", admin, map[string]any{"username": "new.user@example.com", "password": "initial-pass", "role": "operator"})
	if r.Status != 201 || r.Body["role"] != "operator" || r.Body["must_change_pw"] != true || r.Body["password_hash"] != nil {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	if r := e.do("POST", "/api/accounts", admin, map[string]any{"username": "new.user@example.com", "password": "initial-pass", "role": "operator"}); r.Status != 409 {
		t.Errorf("duplicate: %d", r.Status)
	}
	for _, bad := range []map[string]any{
		{"username": "bad name", "password": "initial-pass"},
		{"username": "ok", "password": "short"},
		{"username": "ok", "password": "initial-pass", "role": "god"},
		{"username": "ok", "password": "initial-pass", "extra": 1},
	} {
		if r := e.do("POST", "/api/accounts", admin, bad); r.Status != 400 {
			t.Errorf("create %v: %d %s", bad, r.Status, r.Raw)
		}
	}
	r = e.do("GET", "/api/accounts?limit=1", admin, nil)
	if r.Status != 200 || r.Header.Get("X-Total-Count") != "2" || !strings.Contains(r.Raw, `"username":"new.user@example.com"`) {
		t.Errorf("list: %d %v %s", r.Status, r.Header.Get("X-Total-Count"), r.Raw)
	}
	if strings.Contains(r.Raw, "argon2") {
		t.Error("hash leaked in list")
	}
	if r := e.do("GET", "/api/accounts/nobody", admin, nil); r.Status != 404 {
		t.Errorf("get missing: %d", r.Status)
	}
	if r := e.do("PUT", "/api/accounts/nobody", admin, map[string]any{"role": "admin"}); r.Status != 404 {
		t.Errorf("update missing: %d", r.Status)
	}
	if r := e.do("DELETE", "/api/accounts/nobody", admin, nil); r.Status != 404 {
		t.Errorf("delete missing: %d", r.Status)
	}
	if _, ok := e.aud.find(ActionAccountCreate, "new.user@example.com"); !ok {
		t.Error("create not audited")
	}
	// Last admin over HTTP: 409 for demote, disable and delete.
	for _, c := range []struct {
		method string
		body   any
	}{{"PATCH", map[string]any{"role": "operator"}}, {"PATCH", map[string]any{"disabled": true}}, {"DELETE", nil}} {
		if r := e.do(c.method, "/api/accounts/root", admin, c.body); r.Status != 409 {
			t.Errorf("%s last admin %v: %d %s", c.method, c.body, r.Status, r.Raw)
		}
	}
}

func TestLockoutAndThrottle(t *testing.T) {
	e := newEnv(t, nil)
	e.mkUser("lou", RoleViewer)
	xff := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
	bad := apiv1.LoginRequest{Username: "lou", Password: "wrong-password"}
	good := apiv1.LoginRequest{Username: "lou", Password: "pw-lou-secret"}
	// Different source IPs: the account lock is per account, any IP.
	for i := range MaxFailedLogins {
		r := e.do("POST", "/api/auth/login", "", bad, xff(fmt.Sprintf("10.0.0.%d", i+1))...)
		if r.Status != 401 {
			t.Fatalf("failure %d: %d %s", i, r.Status, r.Raw)
		}
	}
	r := e.do("POST", "/api/auth/login", "", good, xff("10.9.9.9")...)
	if r.Status != 429 || r.Header.Get("Retry-After") != strconv.Itoa(int(LockoutDuration.Seconds())) {
		t.Fatalf("locked login: %d Retry-After=%q %s", r.Status, r.Header.Get("Retry-After"), r.Raw)
	}
	// Persisted in the row.
	u, err := e.users.Get(context.Background(), "lou")
	if err != nil || u.LockedUntil == nil || !u.LockedUntil.Equal(e.clock.Now().Add(LockoutDuration)) {
		t.Fatalf("row: %+v %v", u, err)
	}
	if _, ok := e.aud.find(ActionLoginFailed, "lou"); !ok {
		t.Error("failed login not audited")
	}
	e.clock.Advance(LockoutDuration - time.Minute)
	if r := e.do("POST", "/api/auth/login", "", good, xff("10.9.9.9")...); r.Status != 429 || r.Header.Get("Retry-After") != "60" {
		t.Errorf("still locked: %d %q", r.Status, r.Header.Get("Retry-After"))
	}
	e.clock.Advance(time.Minute + time.Second)
	if r := e.do("POST", "/api/auth/login", "", good, xff("10.9.9.9")...); r.Status != 200 {
		t.Fatalf("after lock: %d %s", r.Status, r.Raw)
	}
	if ev, ok := e.aud.find(ActionLogin, "lou"); !ok || ev.IP != "10.9.9.9" {
		t.Errorf("login audit: %+v", ev)
	}
	// Success cleared the streak: 4 failures do not lock.
	for range MaxFailedLogins - 1 {
		e.do("POST", "/api/auth/login", "", bad, xff("10.1.1.1")...)
	}
	if r := e.do("POST", "/api/auth/login", "", good, xff("10.1.1.2")...); r.Status != 200 {
		t.Errorf("4 failures locked the account: %d", r.Status)
	}

	// Per IP: 30 failures a minute (unknown accounts count too) → 429.
	ip := xff("192.0.2.7")
	for i := range IPMaxFailures {
		if r := e.do("POST", "/api/auth/login", "", apiv1.LoginRequest{Username: fmt.Sprintf("ghost%d", i), Password: "whatever-pw"}, ip...); r.Status != 401 {
			t.Fatalf("ip failure %d: %d", i, r.Status)
		}
		e.clock.Advance(time.Second)
	}
	r = e.do("POST", "/api/auth/login", "", good, ip...)
	ra, _ := strconv.Atoi(r.Header.Get("Retry-After"))
	if r.Status != 429 || ra != 30 {
		t.Fatalf("ip throttle: %d Retry-After=%q", r.Status, r.Header.Get("Retry-After"))
	}
	// Another address is unaffected, and so is the locked-out IP later.
	if r := e.do("POST", "/api/auth/login", "", good, xff("192.0.2.8")...); r.Status != 200 {
		t.Errorf("other ip: %d", r.Status)
	}
	e.clock.Advance(31 * time.Second)
	if r := e.do("POST", "/api/auth/login", "", good, ip...); r.Status != 200 {
		t.Errorf("after window: %d %s", r.Status, r.Raw)
	}
}

func TestStoreGuardEdges(t *testing.T) {
	s := NewUsers(openDB(t), nil)
	ctx := context.Background()
	if _, err := s.Create(ctx, NewUser{Username: "solo", Password: "password-123", Role: RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	// Changing other fields of the last admin is fine.
	f := false
	if _, err := s.Update(ctx, "solo", Patch{MustChangePW: &f}); err != nil {
		t.Error(err)
	}
	admin := RoleAdmin
	if _, err := s.Update(ctx, "solo", Patch{Role: &admin}); err != nil {
		t.Error(err)
	}
	// A disabled admin does not count as the last enabled one.
	if _, err := s.Create(ctx, NewUser{Username: "off", Password: "password-123", Role: RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := s.Update(ctx, "off", Patch{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "solo"); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("delete last enabled admin: %v", err)
	}
	if err := s.Delete(ctx, "off"); err != nil {
		t.Errorf("delete disabled admin: %v", err)
	}
}

func TestBootstrap(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BootstrapAdminPassword = "bootstrap-pass" })
	ctx := context.Background()
	if err := e.a.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	u, err := e.users.Get(ctx, "admin")
	if err != nil || u.Role != RoleAdmin || !u.MustChangePW {
		t.Fatalf("bootstrap admin: %+v %v", u, err)
	}
	r := e.do("POST", "/api/auth/login", "", apiv1.LoginRequest{Username: "admin", Password: "bootstrap-pass"})
	if r.Status != 200 || r.Body["must_change_pw"] != true || r.Body["role"] != "admin" {
		t.Fatalf("login: %d %s", r.Status, r.Raw)
	}
	if r := e.do("GET", "/api/auth/me", r.Body["token"].(string), nil); r.Body["must_change_pw"] != true || r.Body["username"] != "admin" {
		t.Errorf("me: %s", r.Raw)
	}
	// Not repeated once accounts exist.
	created, err := e.users.BootstrapAdmin(ctx, "other", "bootstrap-pass")
	if err != nil || created {
		t.Errorf("second bootstrap: %v %v", created, err)
	}
}

func TestAuthDisabled(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Disabled = true; c.JWTSecret = nil })
	if err := e.a.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := e.do("GET", "/api/test/admin", "", nil)
	if r.Status != 200 || r.Body["actor"] != ActorDev {
		t.Errorf("disabled: %d %s", r.Status, r.Raw)
	}
}

func TestConfigFromEnvAndSecret(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{EnvAuthDisable: "1", EnvJWTTTL: "2h", EnvTrustedProxies: "10.0.0.0/8, 192.0.2.1"}
	c, err := ConfigFromEnv(func(k string) string { return env[k] }, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Disabled || c.TokenTTL != 2*time.Hour || len(c.TrustedProxies) != 2 || len(c.JWTSecret) < 32 {
		t.Errorf("config: %+v", c)
	}
	c2, err := ConfigFromEnv(func(k string) string { return env[k] }, dir)
	if err != nil || string(c2.JWTSecret) != string(c.JWTSecret) {
		t.Errorf("secret not persisted: %v", err)
	}
	fi, err := osStat(dir + "/" + SecretFileName)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode: %v %v", fi, err)
	}
	env[EnvJWTSecret] = "from-env"
	if c, _ := ConfigFromEnv(func(k string) string { return env[k] }, dir); string(c.JWTSecret) != "from-env" {
		t.Errorf("env secret ignored")
	}
	env[EnvAuthDisable] = "maybe"
	if _, err := ConfigFromEnv(func(k string) string { return env[k] }, dir); err == nil {
		t.Error("bad KANADE_AUTH_DISABLE accepted")
	}
}

func TestLoginBadBodies(t *testing.T) {
	e := newEnv(t, nil)
	for _, b := range []string{"", "{", `{"username":"a"}`, `{"username":"a","password":"b","x":1}`, `{"username":"a","password":"b"} {}`, "[]"} {
		if r := e.do("POST", "/api/auth/login", "", b); r.Status != 400 {
			t.Errorf("body %q: %d %s", b, r.Status, r.Raw)
		}
	}
	big := `{"username":"a","password":"` + strings.Repeat("x", 2<<20) + `"}`
	if r := e.do("POST", "/api/auth/login", "", big); r.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("huge body: %d", r.Status)
	}
}
