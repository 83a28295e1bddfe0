package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/server"
)

// TestMFACLI: enrol and confirm from the CLI, log in with --code (a
// recovery code: the confirm code's time step is used up), set the policy
// and reset an account's MFA.
func TestMFACLI(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		c.Auth = auth.Config{BootstrapAdminPassword: "correct-horse-battery"}
	})
	if r := e.cliIn("admin\ncorrect-horse-battery\n", "login"); r.code != 0 {
		t.Fatalf("login: %+v", r)
	}
	if r := e.cliIn("correct-horse-battery\nnew-horse-battery\n", "passwd", "--password-stdin"); r.code != 0 {
		t.Fatalf("passwd: %+v", r)
	}
	r := e.cli("mfa", "enroll", "-o", "json")
	var en struct {
		Secret        string   `json:"secret"`
		OTPAuthURL    string   `json:"otpauth_url"`
		RecoveryCodes []string `json:"recovery_codes"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.out), &en) != nil || en.Secret == "" || len(en.RecoveryCodes) != 10 {
		t.Fatalf("enroll: %+v", r)
	}
	code, err := totp.GenerateCode(en.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r := e.cli("mfa", "confirm", code); r.code != 0 || !strings.Contains(r.out, "MFA enabled for admin") {
		t.Fatalf("confirm: %+v", r)
	}
	if r := e.cli("freeze", "show"); r.code != 0 {
		t.Fatalf("the stored fresh session: %+v", r)
	}
	if r := e.cliIn("admin\nnew-horse-battery\n", "login"); r.code == 0 || !strings.Contains(r.err, "--code") {
		t.Fatalf("login with MFA, no code, no terminal: %+v", r)
	}
	if r := e.cliIn("admin\nnew-horse-battery\n", "login", "--code", "zzzzz-zzzzz"); r.code == 0 || !strings.Contains(r.err, "invalid code") {
		t.Fatalf("login with a wrong code: %+v", r)
	}
	if r := e.cliIn("admin\nnew-horse-battery\n", "login", "--code", en.RecoveryCodes[0]); r.code != 0 {
		t.Fatalf("login with a recovery code: %+v", r)
	}
	if r := e.cli("mfa", "policy", "--require-all=true"); r.code != 0 || !strings.Contains(r.out, "require_all: true") {
		t.Fatalf("policy on: %+v", r)
	}
	if r := e.cli("mfa", "policy"); r.code != 0 || !strings.Contains(r.out, "require_all: true") {
		t.Fatalf("policy show: %+v", r)
	}
	if r := e.cli("mfa", "disable", en.RecoveryCodes[1]); r.code == 0 || !strings.Contains(r.err, "mfa required by policy") {
		t.Fatalf("disable under policy: %+v", r)
	}
	if r := e.cli("mfa", "policy", "--require-all=false"); r.code != 0 {
		t.Fatalf("policy off: %+v", r)
	}
	if r := e.cli("accounts", "reset-mfa", "admin"); r.code != 0 {
		t.Fatalf("reset-mfa: %+v", r)
	}
	// The reset ended the account's sessions, this one included.
	if r := e.cli("accounts", "list"); r.code == 0 || !strings.Contains(r.err, "token revoked") {
		t.Fatalf("the session after the reset: %+v", r)
	}
	if r := e.cliIn("admin\nnew-horse-battery\n", "login"); r.code != 0 {
		t.Fatalf("login after reset: %+v", r)
	}
	r = e.cli("accounts", "list", "-o", "json")
	if r.code != 0 || !strings.Contains(r.out, `"mfa_enabled": false`) || strings.Contains(r.out, en.Secret) {
		t.Fatalf("list after reset: %+v", r)
	}
}
