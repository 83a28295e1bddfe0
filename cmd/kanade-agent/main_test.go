package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/agent/enroll"
	"github.com/kanade-fleet/kanade/internal/brokerid"
	"github.com/kanade-fleet/kanade/internal/sign"
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

// TestEnrollThenNoFlags: kanade-agent enroll writes the data dir, and the
// agent's options then come from it alone.
func TestEnrollThenNoFlags(t *testing.T) {
	keys, _ := brokerid.NewKeys()
	auth, _ := brokerid.New(keys, nil)
	signer, _ := sign.GenerateKey()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req enroll.Request
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req.Token != "good" {
			w.WriteHeader(http.StatusGone)
			_, _ = w.Write([]byte(`{"error":"enrollment token expired","field":"token"}`))
			return
		}
		u, _ := auth.IssueAgent(req.PCID, req.PublicKey)
		_ = json.NewEncoder(w).Encode(enroll.Response{PCID: req.PCID, UserJWT: u.JWT, BrokerURLs: []string{"nats://broker.example:4222"},
			SigningKeys: []enroll.SigningKey{{KeyID: signer.KeyID(), PublicKey: sign.EncodePublicKey(signer.Public())}}})
	}))
	defer web.Close()
	data := t.TempDir()
	var out, errb bytes.Buffer
	if code := enrollCmd(context.Background(), []string{"--server", web.URL, "--token", "expired", "--id", "pc-9", "--data-dir", data}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "expired") {
		t.Fatalf("expired token: %d %q", code, errb.String())
	}
	if code := enrollCmd(context.Background(), []string{"--server", web.URL, "--id", "pc-9"}, &out, &errb); code != 2 {
		t.Fatalf("missing token: %d", code)
	}
	errb.Reset()
	if code := enrollCmd(context.Background(), []string{"--server", web.URL, "--token", "good", "--id", "pc-9", "--data-dir", data}, &out, &errb); code != 0 {
		t.Fatalf("enroll: %d %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "enrolled as pc-9") {
		t.Fatalf("stdout %q", out.String())
	}
	s, err := parse([]string{"--data-dir", data}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o, enrolled, err := options(s)
	if err != nil || !enrolled || o.PCID != "pc-9" || o.NATSURL != "nats://broker.example:4222" ||
		o.CredsFile != filepath.Join(data, "broker.creds") || !o.RequireSigned || o.Keyring.Len() != 1 || o.NATSToken != "" {
		t.Fatalf("options from the enrollment: %+v %v %v", o, enrolled, err)
	}
	s.id = "another"
	if _, _, err := options(s); err == nil || !strings.Contains(err.Error(), "pc-9") {
		t.Fatalf("--id contradicting the enrollment: %v", err)
	}
	// Not enrolled: flags as before, defaults filled in; signatures are
	// required by default (the backend publishes its keys in KV
	// signing_keys, which the agent trusts on first use).
	s, _ = parse([]string{"--id", "pc-x", "--data-dir", t.TempDir()}, io.Discard)
	if o, enrolled, err := options(s); err != nil || enrolled || o.NATSURL != "nats://127.0.0.1:4222" || !o.RequireSigned || o.CredsFile != "" {
		t.Fatalf("not enrolled: %+v %v %v", o, enrolled, err)
	}
	s, _ = parse([]string{"--id", "pc-x", "--data-dir", t.TempDir(), "--require-signed=false"}, io.Discard)
	if o, _, err := options(s); err != nil || o.RequireSigned {
		t.Fatalf("--require-signed=false: %+v %v", o, err)
	}
}
