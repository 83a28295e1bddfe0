package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSettingsPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "agent.toml")
	_ = os.WriteFile(file, []byte("id = \"from-file\"\nnats_url = \"nats://file:4222\"\ndata_dir = \"/file\"\nlog_level = \"debug\"\n"), 0o600)
	t.Setenv("KANADE_NATS_URL", "nats://env:4222")
	t.Setenv("KANADE_DATA_DIR", "/env")
	s, err := parse([]string{"--config", file, "--data-dir", "/flag"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.id != "from-file" || s.natsURL != "nats://env:4222" || s.dataDir != "/flag" || s.logLevel != "debug" {
		t.Fatalf("%+v", s)
	}
	_ = os.WriteFile(file, []byte("idd = \"typo\"\n"), 0o600)
	if _, err := parse([]string{"--config", file}, io.Discard); err == nil || !strings.Contains(err.Error(), "idd") {
		t.Fatalf("unknown key not named: %v", err)
	}
}

func TestBrokerCredentials(t *testing.T) {
	file := filepath.Join(t.TempDir(), "agent.toml")
	_ = os.WriteFile(file, []byte("id = \"pc1\"\nnats_user = \"kanade-agent\"\nnats_password = \"from-file\"\n"), 0o600)
	s, err := parse([]string{"--config", file}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.natsUser != "kanade-agent" || s.natsPassword != "from-file" {
		t.Fatalf("file: %+v", s)
	}
	t.Setenv("KANADE_NATS_PASSWORD", "from-env")
	if s, err = parse([]string{"--config", file}, io.Discard); err != nil || s.natsPassword != "from-env" {
		t.Fatalf("env: %+v %v", s, err)
	}
	t.Setenv("KANADE_NATS_PASSWORD", "")
	if _, err := parse([]string{"--id", "pc1", "--nats-password", "x"}, io.Discard); err == nil {
		t.Fatal("password without user accepted")
	}
}
