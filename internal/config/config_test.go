package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newFS() (*flag.FlagSet, *string, *string, *string) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("config", "", "")
	a := fs.String("http-addr", "127.0.0.1:8080", "")
	b := fs.String("data-dir", "./kanade-data", "")
	c := fs.String("nats-url", "", "")
	return fs, a, b, c
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "k.toml")
	if err := os.WriteFile(file, []byte("http_addr = \"file:1\"\ndata-dir = \"/file\"\nnats_url = \"nats://file\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"KANADE_DATA_DIR": "/env", "KANADE_HTTP_ADDR": "env:1"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	fs, a, b, c := newFS()
	env := map[string]string{"http-addr": "KANADE_HTTP_ADDR", "data-dir": "KANADE_DATA_DIR", "nats-url": "KANADE_NATS_URL"}
	if err := Load(fs, []string{"--config", file, "--http-addr", "flag:1"}, env, lookup); err != nil {
		t.Fatal(err)
	}
	if *a != "flag:1" || *b != "/env" || *c != "nats://file" {
		t.Fatalf("got http=%q data=%q nats=%q", *a, *b, *c)
	}
}

func TestDefaultsWithoutFile(t *testing.T) {
	t.Parallel()
	fs, a, _, _ := newFS()
	if err := Load(fs, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if *a != "127.0.0.1:8080" {
		t.Fatalf("default lost: %q", *a)
	}
}

func TestUnknownKeyNamed(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "k.toml")
	if err := os.WriteFile(file, []byte("http_adr = \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs, _, _, _ := newFS()
	err := Load(fs, []string{"--config", file}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), `"http_adr"`) {
		t.Fatalf("want error naming http_adr, got %v", err)
	}
}
