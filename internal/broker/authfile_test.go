package broker

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func writeAuth(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "nats-auth.toml")
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodAuth = `
[backend]
user = "kanade-backend"
password = "b-secret-0123456789"
[agent]
user = "kanade-agent"
password = "$2a$10$0123456789012345678901uQ0123456789012345678901234567"
[operator]
user = "kanade-operator"
password = "o-secret-0123456789"
`

func TestLoadAuthFile(t *testing.T) {
	f, err := LoadAuthFile(writeAuth(t, goodAuth, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	if f.Backend.User != "kanade-backend" || f.Operator.Password != "o-secret-0123456789" || !f.Agent.IsHash() || f.Backend.IsHash() {
		t.Fatalf("%+v", f)
	}
	if f.Permissive {
		t.Error("0600 file reported as readable by others")
	}
	if err := f.ValidateEmbedded(); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		p := writeAuth(t, goodAuth, 0o644)
		if err := os.Chmod(p, 0o644); err != nil { // umask may have narrowed it
			t.Fatal(err)
		}
		if f, err := LoadAuthFile(p); err != nil || !f.Permissive {
			t.Errorf("0644 file: permissive=%v err=%v", f.Permissive, err)
		}
	}
	_, err = LoadAuthFile(writeAuth(t, goodAuth+"\n[agent2]\nuser = \"x\"\n", 0o600))
	if err == nil || !strings.Contains(err.Error(), "agent2") {
		t.Errorf("unknown section not named: %v", err)
	}
	_, err = LoadAuthFile(writeAuth(t, "[backend]\nuser = \"b\"\npasword = \"typo\"\n", 0o600))
	if err == nil || !strings.Contains(err.Error(), "backend.pasword") {
		t.Errorf("unknown key not named: %v", err)
	}
}

func TestAuthFileValidation(t *testing.T) {
	only := RoleCredentials{Backend: Credential{"kanade-backend", "secret"}}
	if err := only.ValidateExternal(); err != nil {
		t.Errorf("external with only the backend: %v", err)
	}
	if err := only.ValidateEmbedded(); err == nil {
		t.Error("embedded without agent and operator users accepted")
	}
	hashed := RoleCredentials{Backend: Credential{"kanade-backend", "$2a$10$abc"}}
	if err := hashed.ValidateExternal(); err == nil || !strings.Contains(err.Error(), "plain text") {
		t.Errorf("hashed backend password: %v", err)
	}
	if err := (RoleCredentials{}).ValidateExternal(); err == nil {
		t.Error("empty backend credential accepted")
	}
}
