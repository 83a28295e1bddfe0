package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// secured is a real backend built exactly as kanade-backend builds it
// with authentication ON, and one account per role.
type secured struct {
	b      *server.Server
	tokens map[auth.Role]string
	client *http.Client
}

// startSecured starts it; mutate may adjust the configuration first.
func startSecured(t *testing.T, mutate func(*server.Config)) *secured {
	t.Helper()
	cfg := server.Config{HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), NATSAddr: "127.0.0.1:0",
		CleanupInterval: time.Hour, Log: testenv.Logger(), Version: "test"}
	if mutate != nil {
		mutate(&cfg)
	}
	b, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start backend: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		b.Stop(ctx)
	})
	s := &secured{b: b, tokens: map[auth.Role]string{}, client: &http.Client{Timeout: 30 * time.Second}}
	ctx := context.Background()
	for _, r := range []auth.Role{auth.RoleViewer, auth.RoleOperator, auth.RoleAdmin} {
		name := "sweep-" + r.String()
		if _, err := b.Auth.Users().Create(ctx, auth.NewUser{Username: name, Password: "correct horse battery " + name, Role: r}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		tok, _, err := b.Auth.IssueToken(ctx, name)
		if err != nil {
			t.Fatalf("token for %s: %v", name, err)
		}
		s.tokens[r] = tok
	}
	return s
}

type reply struct {
	status int
	hdr    http.Header
	body   []byte
}

func (r reply) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// call sends a request as role (auth.RolePublic = no token). body nil,
// a string, or a value sent as JSON.
func (s *secured) call(t *testing.T, role auth.Role, method, path string, body any) reply {
	t.Helper()
	return s.callToken(t, s.tokens[role], method, path, body)
}

func (s *secured) callToken(t *testing.T, token, method, path string, body any) reply {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(v))
	default:
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.b.HTTPURL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, hdr: resp.Header, body: data}
}

func must(t *testing.T, r reply, status int) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}
