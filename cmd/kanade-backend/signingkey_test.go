package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// The signing-key subcommands, flags parsed as the binary does, against a
// running backend's broker: show, rotate, retire, show again.
func TestSigningKeyCmd(t *testing.T) {
	b := testenv.Backend(t, func(c *server.Config) { c.NATSToken = "tok" })
	old := b.Signer.KeyID()
	flags := []string{"--data-dir", b.Cfg.DataDir, "--nats-url", b.NATSURL(), "--nats-token", "tok"}
	sk := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := signingKeyCmd(append(args, flags...), &out); err != nil {
			t.Fatalf("signing-key %s: %v", strings.Join(args, " "), err)
		}
		return out.String()
	}
	if out := sk("show"); !strings.Contains(out, "active keys: "+old) {
		t.Fatalf("show: %s", out)
	}
	out := sk("rotate")
	if !strings.Contains(out, "signing key rotated: "+old+" → ") || !strings.Contains(out, "retire --key-id "+old) {
		t.Fatalf("rotate: %s", out)
	}
	if out := sk("show"); strings.Count(out, "record ") != 2 || !strings.Contains(out, old) {
		t.Fatalf("show after rotate: %s", out)
	}
	if out := sk("retire", "--key-id", old); !strings.Contains(out, "retired "+old) || strings.Contains(out[strings.Index(out, "active"):], old) {
		t.Fatalf("retire: %s", out)
	}
	var sink bytes.Buffer
	if err := signingKeyCmd(append([]string{"retire"}, flags...), &sink); err == nil {
		t.Fatal("retire without --key-id succeeded")
	}
	if err := signingKeyCmd([]string{"bogus"}, &sink); err == nil {
		t.Fatal("unknown subcommand accepted")
	}
	if err := signingKeyCmd([]string{"show", "--nats-url", "nats://127.0.0.1:1", "--data-dir", b.Cfg.DataDir}, &sink); err == nil {
		t.Fatal("show without a broker succeeded")
	}
}

// sharedSigningKey writes one command-signing key for replicas that do not
// share a data dir: like production, they must be given the same key.
func sharedSigningKey(t *testing.T, dir string) string {
	t.Helper()
	s, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "fleet-signing.key")
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}
