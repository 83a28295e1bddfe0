package auth_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	. "github.com/kanade-fleet/kanade/internal/auth"
)

// syncBuf collects the Authenticator's log lines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// code computes the current TOTP code of secret on the env's clock.
func (e *env) code(secret string) string {
	e.t.Helper()
	c, err := totp.GenerateCode(secret, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// enrol turns MFA on for name (signed in with tok) and returns the
// secret, the recovery codes and the fresh session token.
func (e *env) enrol(tok string) (secret string, recovery []string, session string) {
	e.t.Helper()
	r := e.do("POST", "/api/auth/mfa/enroll", tok, nil)
	if r.Status != 200 {
		e.t.Fatalf("enroll: %d %s", r.Status, r.Raw)
	}
	secret = r.Body["secret"].(string)
	if u := r.Body["otpauth_url"].(string); !strings.HasPrefix(u, "otpauth://totp/kanade:") || !strings.Contains(u, "issuer=kanade") {
		e.t.Errorf("otpauth_url %q", u)
	}
	if q := r.Body["qr_png"].(string); !strings.HasPrefix(q, "data:image/png;base64,") {
		e.t.Errorf("qr_png %.40q", q)
	}
	for _, c := range r.Body["recovery_codes"].([]any) {
		recovery = append(recovery, c.(string))
	}
	if len(recovery) != RecoveryCodeCount {
		e.t.Fatalf("recovery codes: %v", recovery)
	}
	c := e.do("POST", "/api/auth/mfa/confirm", tok, apiv1.MFACodeRequest{Code: e.code(secret)})
	if c.Status != 200 || c.Body["mfa_enabled"] != true {
		e.t.Fatalf("confirm: %d %s", c.Status, c.Raw)
	}
	session = c.Body["session"].(map[string]any)["token"].(string)
	e.clock.Advance(30 * time.Second) // the confirm code's step is used up
	return secret, recovery, session
}

// loginMFA runs the first login step and returns the mfa_token.
func (e *env) loginMFA(name string) string {
	e.t.Helper()
	r := e.do("POST", "/api/auth/login", "", apiv1.LoginRequest{Username: name, Password: "pw-" + name + "-secret"})
	if r.Status != 200 || r.Body["mfa_required"] != true {
		e.t.Fatalf("login %s: %d %s, want mfa_required", name, r.Status, r.Raw)
	}
	if _, has := r.Body["token"]; has {
		e.t.Fatalf("login with MFA answered a token: %s", r.Raw)
	}
	return r.Body["mfa_token"].(string)
}

func TestMFALogin(t *testing.T) {
	logs := &syncBuf{}
	e := newEnv(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	e.mkUser("root", RoleAdmin)
	e.mkUser("alice", RoleOperator)
	before := e.login("alice")
	secret, recovery, session := e.enrol(before)

	// Confirming revoked the older session; the fresh one works.
	if r := e.do("GET", "/api/test/viewer", before, nil); r.Status != 401 {
		t.Errorf("session before confirm: %d, want 401", r.Status)
	}
	if r := e.do("GET", "/api/auth/me", session, nil); r.Status != 200 || r.Body["mfa_enabled"] != true {
		t.Errorf("me: %d %s", r.Status, r.Raw)
	}
	if r := e.do("POST", "/api/auth/mfa/enroll", session, nil); r.Status != 409 {
		t.Errorf("enroll while enabled: %d, want 409", r.Status)
	}

	// Login without code → mfa_required; the mfa_token is no bearer token.
	mt := e.loginMFA("alice")
	for _, path := range []string{"/api/test/viewer", "/api/auth/me"} {
		if r := e.do("GET", path, mt, nil); r.Status != 401 {
			t.Errorf("mfa_token as bearer on %s: %d, want 401", path, r.Status)
		}
	}
	// Nor is a session token an mfa_token.
	if r := e.do("POST", "/api/auth/mfa", "", apiv1.MFALoginRequest{MFAToken: session, Code: e.code(secret)}); r.Status != 401 ||
		r.Body["error"] != "mfa token expired" {
		t.Errorf("session token as mfa_token: %d %s", r.Status, r.Raw)
	}

	// Right code → token; the same mfa_token again → refused.
	code := e.code(secret)
	r := e.do("POST", "/api/auth/mfa", "", apiv1.MFALoginRequest{MFAToken: mt, Code: code})
	if r.Status != 200 || r.Body["token"] == nil {
		t.Fatalf("mfa login: %d %s", r.Status, r.Raw)
	}
	if r := e.do("GET", "/api/test/viewer", r.Body["token"].(string), nil); r.Status != 200 {
		t.Errorf("token from mfa login: %d", r.Status)
	}
	if _, ok := e.aud.find(ActionMFALogin, "alice"); !ok {
		t.Error("no auth.mfa.login audit")
	}
	// Replay: the same code with a fresh mfa_token is refused.
	if r := e.do("POST", "/api/auth/mfa", "", apiv1.MFALoginRequest{MFAToken: e.loginMFA("alice"), Code: code}); r.Status != 401 ||
		r.Body["error"] != "invalid code" {
		t.Errorf("replayed code: %d %s, want 401 invalid code", r.Status, r.Raw)
	}
	e.clock.Advance(30 * time.Second)
	mt = e.loginMFA("alice")
	if r := e.do("POST", "/api/auth/mfa", "", apiv1.MFALoginRequest{MFAToken: mt, Code: e.code(secret)}); r.Status != 200 {
		t.Fatalf("next step's code: %d %s", r.Status, r.Raw)
	}
	if r := e.do("POST", "/api/auth/mfa", "", apiv1.MFALoginRequest{MFAToken: mt, Code: recovery[0]}); r.Status != 401 ||
		r.Body["error"] != "mfa token expired" {
		t.Errorf("mfa_token used twice: %d %s", r.Status, r.Raw)
	}

	// A recovery code works once, case and dashes aside.
	rc := strings.ToUpper(strings.ReplaceAll(recovery[1], "-", ""))
	if r := e.do("POST", "/api/auth/mfa", "", apiv1.MFALoginRequest{MFAToken: e.loginMFA("alice"), Code: rc}); r.Status != 200 {
		t.Fatalf("recovery code: %d %s", r.Status, r.Raw)
	}
	if _, ok := e.aud.find(ActionMFARecoveryUsed, "alice"); !ok {
		t.Error("no auth.mfa.recovery_used audit")
	}
	if r := e.do("POST", "/api/auth/mfa", "", apiv1.MFALoginRequest{MFAToken: e.loginMFA("alice"), Code: recovery[1]}); r.Status != 401 {
		t.Errorf("recovery code twice: %d %s, want 401", r.Status, r.Raw)
	}

	// The mfa_token expires after 5 minutes.
	mt = e.loginMFA("alice")
	e.clock.Advance(MFATokenTTL + time.Second)
	if r := e.do("POST", "/api/auth/mfa", "", apiv1.MFALoginRequest{MFAToken: mt, Code: e.code(secret)}); r.Status != 401 ||
		r.Body["error"] != "mfa token expired" {
		t.Errorf("expired mfa_token: %d %s", r.Status, r.Raw)
	}

	// Secrets never in logs, audit payloads or the account list.
	root := e.login("root")
	list := e.do("GET", "/api/accounts", root, nil)
	one := e.do("GET", "/api/accounts/alice", root, nil)
	if one.Body["mfa_enabled"] != true || !strings.Contains(list.Raw, `"mfa_enabled":true`) {
		t.Errorf("account views lack mfa_enabled: %s", one.Raw)
	}
	e.aud.mu.Lock()
	audits := fmt.Sprintf("%+v", e.aud.evs)
	e.aud.mu.Unlock()
	for _, where := range []struct{ name, text string }{{"logs", logs.String()}, {"audit", audits},
		{"GET /api/accounts", list.Raw + one.Raw}} {
		for _, s := range append([]string{secret}, recovery...) {
			if strings.Contains(where.text, s) {
				t.Errorf("%s contain a secret or recovery code", where.name)
			}
		}
	}
}

// TestMFAWrongCodeLocks: wrong codes count toward the lockout like wrong
// passwords, and a right password does not reset the count.
func TestMFAWrongCodeLocks(t *testing.T) {
	e := newEnv(t, nil)
	e.mkUser("bob", RoleViewer)
	secret, _, _ := e.enrol(e.login("bob"))
	wrong := "000000"
	if wrong == e.code(secret) {
		wrong = "111111"
	}
	for i := 1; i <= MaxFailedLogins; i++ {
		mt := e.loginMFA("bob") // a right password each time
		r := e.do("POST", "/api/auth/mfa", "", apiv1.MFALoginRequest{MFAToken: mt, Code: wrong})
		if r.Status != 401 || r.Body["error"] != "invalid code" {
			t.Fatalf("wrong code %d: %d %s", i, r.Status, r.Raw)
		}
	}
	u, _ := e.users.Get(context.Background(), "bob")
	if u.LockedUntil == nil || !u.LockedUntil.After(e.clock.Now()) {
		t.Fatalf("not locked after %d wrong codes: %+v", MaxFailedLogins, u.LockedUntil)
	}
	if _, ok := e.aud.find("account.locked", "bob"); !ok {
		t.Error("no account.locked audit")
	}
	r := e.do("POST", "/api/auth/login", "", apiv1.LoginRequest{Username: "bob", Password: "pw-bob-secret"})
	if r.Status != 429 {
		t.Errorf("login while locked: %d %s", r.Status, r.Raw)
	}
	e.clock.Advance(LockoutDuration + time.Second)
	mt := e.loginMFA("bob")
	if r := e.do("POST", "/api/auth/mfa", "", apiv1.MFALoginRequest{MFAToken: mt, Code: e.code(secret)}); r.Status != 200 {
		t.Errorf("after the lock: %d %s", r.Status, r.Raw)
	}
}

// TestMFAPolicy: require_all holds an account without MFA to the
// enrolment routes until it enrols; an admin reset ends its sessions and
// puts it back there.
func TestMFAPolicy(t *testing.T) {
	e := newEnv(t, nil)
	e.mkUser("root", RoleAdmin)
	e.mkUser("carol", RoleOperator)
	root := e.login("root")
	if r := e.do("PUT", "/api/auth/mfa/policy", e.login("carol"), apiv1.MFAPolicy{RequireAll: true}); r.Status != 403 {
		t.Errorf("operator sets policy: %d", r.Status)
	}
	if r := e.do("PUT", "/api/auth/mfa/policy", root, `{}`); r.Status != 400 {
		t.Errorf("empty policy body: %d", r.Status)
	}
	if r := e.do("PUT", "/api/auth/mfa/policy", root, apiv1.MFAPolicy{RequireAll: true}); r.Status != 200 || r.Body["require_all"] != true {
		t.Fatalf("put policy: %d %s", r.Status, r.Raw)
	}
	if _, ok := e.aud.find(ActionMFAPolicy, SettingMFARequired); !ok {
		t.Error("no auth.mfa.policy audit")
	}
	// The admin who set it has no MFA either: held too.
	if r := e.do("GET", "/api/test/admin", root, nil); r.Status != 403 || r.Body["error"] != ErrMFAEnrolmentRequired {
		t.Errorf("admin without MFA: %d %s", r.Status, r.Raw)
	}
	login := e.do("POST", "/api/auth/login", "", apiv1.LoginRequest{Username: "carol", Password: "pw-carol-secret"})
	if login.Status != 200 || login.Body["mfa_enrolment_required"] != true {
		t.Fatalf("login under policy: %d %s", login.Status, login.Raw)
	}
	carol := login.Body["token"].(string)
	for _, c := range []struct{ method, path string }{{"GET", "/api/test/viewer"}, {"POST", "/api/test/operator"}, {"GET", "/api/accounts"}} {
		if r := e.do(c.method, c.path, carol, nil); r.Status != 403 || r.Body["error"] != ErrMFAEnrolmentRequired {
			t.Errorf("%s %s before enrolment: %d %s", c.method, c.path, r.Status, r.Raw)
		}
	}
	if r := e.do("GET", "/api/auth/me", carol, nil); r.Status != 200 || r.Body["mfa_enrolment_required"] != true {
		t.Errorf("me: %d %s", r.Status, r.Raw)
	}
	if r := e.do("GET", "/api/auth/mfa/policy", carol, nil); r.Status != 200 || r.Body["require_all"] != true {
		t.Errorf("policy read: %d %s", r.Status, r.Raw)
	}
	// API tokens are not subject to MFA.
	if r := e.do("GET", "/api/test/admin", "static-service-token-0123456789", nil); r.Status != 200 {
		t.Errorf("static token under policy: %d", r.Status)
	}
	secret, _, session := e.enrol(carol)
	if r := e.do("POST", "/api/test/operator", session, nil); r.Status != 200 {
		t.Errorf("after enrolment: %d %s", r.Status, r.Raw)
	}
	if r := e.do("DELETE", "/api/auth/mfa", session, apiv1.MFACodeRequest{Code: e.code(secret)}); r.Status != 403 ||
		r.Body["error"] != "mfa required by policy" {
		t.Errorf("disable under policy: %d %s", r.Status, r.Raw)
	}

	// Admin reset (lost phone): root enrols first, then resets carol.
	rootSecret, _, rootSession := e.enrol(root)
	_ = rootSecret
	if r := e.do("DELETE", "/api/accounts/carol/mfa", rootSession, nil); r.Status != 204 {
		t.Fatalf("reset: %d %s", r.Status, r.Raw)
	}
	if _, ok := e.aud.find(ActionMFAReset, "carol"); !ok {
		t.Error("no auth.mfa.reset audit")
	}
	// The reset ends carol's sessions: whoever holds the lost device and a
	// session is out as well.
	if r := e.do("POST", "/api/test/operator", session, nil); r.Status != 401 {
		t.Errorf("a session from before the reset: %d %s", r.Status, r.Raw)
	}
	// Password alone logs in again (no MFA), held to enrolment.
	if r := e.do("POST", "/api/auth/login", "", apiv1.LoginRequest{Username: "carol", Password: "pw-carol-secret"}); r.Status != 200 ||
		r.Body["token"] == nil {
		t.Errorf("login after reset: %d %s", r.Status, r.Raw)
	}

	// Policy off: disable with a code works; must-change-pw precedes MFA.
	if r := e.do("PUT", "/api/auth/mfa/policy", rootSession, apiv1.MFAPolicy{RequireAll: false}); r.Status != 200 {
		t.Fatalf("policy off: %d", r.Status)
	}
	e.clock.Advance(30 * time.Second)
	if r := e.do("DELETE", "/api/auth/mfa", rootSession, apiv1.MFACodeRequest{Code: "123"}); r.Status != 400 {
		t.Errorf("disable with a bad code: %d %s", r.Status, r.Raw)
	}
	if r := e.do("DELETE", "/api/auth/mfa", rootSession, apiv1.MFACodeRequest{Code: e.code(rootSecret)}); r.Status != 204 {
		t.Errorf("disable: %d %s", r.Status, r.Raw)
	}
	if _, ok := e.aud.find(ActionMFADisable, "root"); !ok {
		t.Error("no auth.mfa.disable audit")
	}
	r := e.do("POST", "/api/auth/login", "", apiv1.LoginRequest{Username: "root", Password: "pw-root-secret"})
	if r.Status != 200 || r.Body["token"] == nil {
		t.Errorf("login after disable: %d %s", r.Status, r.Raw)
	}
}

// TestMFAMustChangeFirst: an account that must change its password cannot
// enrol before it has.
func TestMFAMustChangeFirst(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.users.Create(context.Background(), NewUser{Username: "dan", Password: "pw-dan-secret", Role: RoleViewer,
		MustChangePW: true}); err != nil {
		t.Fatal(err)
	}
	if r := e.do("POST", "/api/auth/mfa/enroll", e.login("dan"), nil); r.Status != 403 || r.Body["error"] != ErrPasswordChangeRequired {
		t.Errorf("enroll before password change: %d %s", r.Status, r.Raw)
	}
}

// TestMFAConfirmWrongCode: a wrong confirm code is 400 and does not lock;
// re-enrolling replaces the pending secret.
func TestMFAConfirmWrongCode(t *testing.T) {
	e := newEnv(t, nil)
	e.mkUser("erin", RoleViewer)
	tok := e.login("erin")
	first := e.do("POST", "/api/auth/mfa/enroll", tok, nil).Body["secret"].(string)
	second := e.do("POST", "/api/auth/mfa/enroll", tok, nil).Body["secret"].(string)
	for range MaxFailedLogins + 1 {
		if r := e.do("POST", "/api/auth/mfa/confirm", tok, apiv1.MFACodeRequest{Code: e.code(first)}); r.Status != 400 ||
			r.Body["error"] != "invalid code" {
			t.Fatalf("confirm with the replaced secret: %d %s", r.Status, r.Raw)
		}
	}
	if r := e.do("POST", "/api/auth/mfa/confirm", tok, apiv1.MFACodeRequest{Code: e.code(second)}); r.Status != 200 {
		t.Fatalf("confirm: %d %s", r.Status, r.Raw)
	}
}
