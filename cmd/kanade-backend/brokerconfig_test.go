package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// TestBrokerConfigDeploy: deploy/nats-server-identity.conf with the trust
// file `broker-config` prints is a configuration nats-server accepts, in
// operator mode with the three kanade accounts preloaded.
func TestBrokerConfigDeploy(t *testing.T) {
	data := t.TempDir()
	var out bytes.Buffer
	if err := brokerConfig([]string{"--data-dir", data, "--resolver-dir", filepath.Join(t.TempDir(), "resolver")}, &out); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(data, "broker-keys.json")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("broker-keys.json: %v %v", st, err)
	}
	dir := t.TempDir()
	tmpl, err := os.ReadFile(filepath.Join("..", "..", "deploy", "nats-server-identity.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.ReplaceAll(string(tmpl), "/var/lib/nats/jetstream", filepath.Join(dir, "js"))
	if err := os.WriteFile(filepath.Join(dir, "nats-server.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kanade-trust.conf"), out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := natsserver.ProcessConfigFile(filepath.Join(dir, "nats-server.conf"))
	if err != nil {
		t.Fatalf("nats-server refuses the deploy config: %v", err)
	}
	if len(o.TrustedOperators) != 1 || o.SystemAccount == "" || o.AccountResolver == nil {
		t.Fatalf("not operator mode: operators=%d system=%q resolver=%v", len(o.TrustedOperators), o.SystemAccount, o.AccountResolver)
	}
	// Idempotent: the same data dir gives the same trust chain.
	var again bytes.Buffer
	if err := brokerConfig([]string{"--data-dir", data, "--resolver-dir", "x"}, &again); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(again.String(), o.SystemAccount) {
		t.Fatal("a second broker-config made a new trust chain")
	}
}
