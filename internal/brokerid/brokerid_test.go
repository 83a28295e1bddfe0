package brokerid

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/nats-io/jwt/v2"
)

func newAuthority(t *testing.T) (*Keys, *Authority) {
	t.Helper()
	k, err := NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(k, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k, a
}

func TestKeysSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broker-keys.json")
	k, created, err := LoadOrCreateKeys(path)
	if err != nil || !created {
		t.Fatalf("first LoadOrCreateKeys: created=%v err=%v", created, err)
	}
	if runtime.GOOS != "windows" {
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
			t.Errorf("keys file mode %v, want 0600", st.Mode().Perm())
		}
	}
	k2, created, err := LoadOrCreateKeys(path)
	if err != nil || created {
		t.Fatalf("second LoadOrCreateKeys: created=%v err=%v", created, err)
	}
	if pub(k.Operator) != pub(k2.Operator) || pub(k.AgentSigner) != pub(k2.AgentSigner) {
		t.Error("reloaded keys differ")
	}
	// A seed of the wrong kind is refused with its name.
	os.WriteFile(path, []byte(`{"operator":"`+string(must(k.System.Seed()))+`"}`), 0o600)
	if _, err := LoadKeys(path); err == nil {
		t.Error("an account seed was accepted as the operator key")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestIssueAgentAndCreds(t *testing.T) {
	_, a := newAuthority(t)
	seed, pk, err := NewUserKey()
	if err != nil {
		t.Fatal(err)
	}
	u, err := a.IssueAgent("pc-01", pk)
	if err != nil {
		t.Fatal(err)
	}
	uc, err := jwt.DecodeUserClaims(u.JWT)
	if err != nil {
		t.Fatal(err)
	}
	if uc.Name != "pc-01" || uc.Subject != pk || uc.IssuerAccount != a.AgentsAccount() {
		t.Errorf("claims: name %q subject %q issuer_account %q", uc.Name, uc.Subject, uc.IssuerAccount)
	}
	if !uc.HasEmptyPermissions() {
		t.Error("agent JWT carries permissions; they must come from the scoped key only")
	}
	path := filepath.Join(t.TempDir(), "broker.creds")
	if err := WriteCreds(path, u.JWT, seed); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCreds(path)
	if err != nil || got.Name != "pc-01" {
		t.Fatalf("ReadCreds: %v %v", got, err)
	}
	otherSeed, _, _ := NewUserKey()
	if _, err := FormatCreds(u.JWT, otherSeed); err == nil {
		t.Error("creds with a foreign seed were written")
	}

	for _, bad := range []string{"", "a.b", "a*", "a>", "a b", "a\tb", "{{name()}}"} {
		if _, err := a.IssueAgent(bad, pk); err == nil {
			t.Errorf("pc_id %q accepted", bad)
		}
	}
	if _, err := a.IssueAgent("pc-02", a.AgentsAccount()); err == nil {
		t.Error("an account key was accepted as a user key")
	}
}

func TestAccountClaims(t *testing.T) {
	_, a := newAuthority(t)
	ac, err := jwt.DecodeAccountClaims(a.AccountJWT(a.AgentsAccount()))
	if err != nil {
		t.Fatal(err)
	}
	if ac.Limits.IsJSEnabled() {
		t.Error("AGENTS has JetStream enabled")
	}
	for _, im := range ac.Imports {
		if im.Account != a.KanadeAccount() {
			t.Errorf("AGENTS imports %s from %s", im.Subject, im.Account)
		}
	}
	scope, ok := ac.SigningKeys.GetScope(pub(newKeysOf(a).AgentSigner))
	if !ok || scope == nil {
		t.Fatal("AGENTS has no scoped agent signer")
	}
	kc, _ := jwt.DecodeAccountClaims(a.AccountJWT(a.KanadeAccount()))
	if !kc.Limits.IsJSEnabled() {
		t.Error("KANADE has no JetStream")
	}
	p := ExpandAgentPermissions("pc-01")
	if !slices.Contains(p.Pub.Allow, "results.pc-01.*") || !slices.Contains(p.Sub.Allow, "_INBOX.pc-01.>") {
		t.Errorf("expanded permissions: %v", p)
	}
}

func newKeysOf(a *Authority) *Keys { return a.keys }

func TestRevokePersists(t *testing.T) {
	k, a := newAuthority(t)
	_, pk, _ := NewUserKey()
	j, err := a.Revoke(a.AgentsAccount(), pk)
	if err != nil {
		t.Fatal(err)
	}
	ac, _ := jwt.DecodeAccountClaims(j)
	if _, ok := ac.Revocations[pk]; !ok {
		t.Fatal("revocation missing from the account JWT")
	}
	a2, err := New(k, a.Revocations())
	if err != nil {
		t.Fatal(err)
	}
	ac2, _ := jwt.DecodeAccountClaims(a2.AccountJWT(a.AgentsAccount()))
	if _, ok := ac2.Revocations[pk]; !ok {
		t.Error("revocation lost across New")
	}
	if _, err := a.Revoke("ANOTHER", pk); err == nil {
		t.Error("revoke in an unknown account accepted")
	}
}
