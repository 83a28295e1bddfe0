package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/server"
)

// TestAccountsAndTokens: an admin manages accounts and API tokens from the
// CLI; an API token works as KANADE_AUTH_TOKEN and stops when revoked.
func TestAccountsAndTokens(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		c.Auth = auth.Config{BootstrapAdminPassword: "correct-horse-battery"}
	})
	if r := e.cliIn("admin\ncorrect-horse-battery\n", "login"); r.code != 0 {
		t.Fatalf("login: %+v", r)
	}
	if r := e.cliIn("correct-horse-battery\nnew-horse-battery\n", "passwd", "--password-stdin"); r.code != 0 {
		t.Fatalf("passwd: %+v", r)
	}
	if r := e.cliIn("dave-first-pass\n", "accounts", "create", "dave", "--role", "operator", "--password-stdin"); r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	for _, args := range [][]string{{"accounts", "disable", "dave"}, {"accounts", "enable", "dave"}} {
		if r := e.cli(args...); r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	if r := e.cliIn("dave-reset-pass\n", "accounts", "reset-password", "dave", "--password-stdin"); r.code != 0 {
		t.Fatalf("reset: %+v", r)
	}
	r := e.cli("accounts", "list", "-o", "json")
	var accts []map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.out), &accts) != nil || len(accts) != 2 {
		t.Fatalf("list: %+v", r)
	}
	for _, a := range accts {
		if a["username"] == "dave" && a["must_change_pw"] != true {
			t.Errorf("reset did not force a change: %v", a)
		}
		if a["username"] == "admin" && a["last_login_at"] == nil {
			t.Errorf("last login not shown: %v", a)
		}
	}
	if r := e.cli("accounts", "list"); r.code != 0 || !strings.Contains(r.out, "LAST_LOGIN") {
		t.Fatalf("list table: %+v", r)
	}
	// Group scopes: set, shown, cleared.
	if r := e.cli("accounts", "update", "dave", "--groups", "canary,lab"); r.code != 0 {
		t.Fatalf("update --groups: %+v", r)
	}
	if r := e.cli("accounts", "list"); r.code != 0 || !strings.Contains(r.out, "canary,lab") {
		t.Fatalf("list shows no groups: %+v", r)
	}
	if r := e.cli("accounts", "update", "dave", "--groups", "bad.name"); r.code == 0 || !strings.Contains(r.err, "not a valid group name") {
		t.Fatalf("update with a bad group: %+v", r)
	}
	if r := e.cli("accounts", "update", "dave", "--groups", ""); r.code != 0 {
		t.Fatalf("update --groups '': %+v", r)
	}
	if r := e.cli("accounts", "list", "-o", "json"); r.code != 0 || strings.Contains(r.out, "canary") {
		t.Fatalf("groups not cleared: %+v", r)
	}

	if r := e.cli("tokens", "create", "lab-bot", "--groups", "lab"); r.code != 0 || !strings.Contains(r.out, "lab") {
		t.Fatalf("tokens create --groups: %+v", r)
	}
	if r := e.cli("tokens", "list"); r.code != 0 || !strings.Contains(r.out, "GROUPS") || !strings.Contains(r.out, "lab-bot") {
		t.Fatalf("tokens list groups: %+v", r)
	}
	r = e.cli("tokens", "create", "nightly", "--role", "operator", "-o", "json")
	var ct map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.out), &ct) != nil || !strings.HasPrefix(ct["token"].(string), "kt_") {
		t.Fatalf("tokens create: %+v", r)
	}
	if r := e.cli("tokens", "list"); r.code != 0 || !strings.Contains(r.out, "nightly") || strings.Contains(r.out, "kt_") {
		t.Fatalf("tokens list: %+v", r)
	}
	e.vars["KANADE_AUTH_TOKEN"] = ct["token"].(string)
	if r := e.cli("freeze", "set", "--reason", "by token"); r.code != 0 {
		t.Fatalf("freeze with the API token: %+v", r)
	}
	delete(e.vars, "KANADE_AUTH_TOKEN")
	if r := e.cli("tokens", "revoke", ct["id"].(string)); r.code != 0 {
		t.Fatalf("revoke: %+v", r)
	}
	e.vars["KANADE_AUTH_TOKEN"] = ct["token"].(string)
	if r := e.cli("freeze", "show"); r.code != 1 || !strings.Contains(r.err, "not authenticated") {
		t.Fatalf("revoked token: %+v", r)
	}
	delete(e.vars, "KANADE_AUTH_TOKEN")
	if r := e.cli("accounts", "delete", "dave"); r.code != 0 {
		t.Fatalf("delete: %+v", r)
	}
}
