package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// openStream opens GET /api/events with token and returns a channel
// closed when the server ends the stream.
func openStream(t *testing.T, s *secured, token string) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.b.HTTPURL()+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET /api/events: %d", resp.StatusCode)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
		}
	}()
	return done
}

// TestEventStreamClosesForDeletedAccount (SPEC §16): an SSE stream of a
// deleted account closes within the recheck interval when the account is
// deleted behind this replica's back (straight in the database, as another
// replica would), and at once when deleted through it.
func TestEventStreamClosesForDeletedAccount(t *testing.T) {
	const interval = 500 * time.Millisecond
	s := startSecured(t, func(c *server.Config) { c.Auth.RecheckInterval = interval })
	ctx := context.Background()
	mk := func(name string) string {
		if _, err := s.b.Auth.Users().Create(ctx, auth.NewUser{Username: name, Password: "correct horse battery " + name, Role: auth.RoleViewer}); err != nil {
			t.Fatal(err)
		}
		tok, _, err := s.b.Auth.IssueToken(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	done := openStream(t, s, mk("alice"))
	select {
	case <-done:
		t.Fatal("stream closed before the delete")
	case <-time.After(3 * interval):
	}
	start := time.Now()
	if err := s.b.DB.DeleteAccount(ctx, "alice"); err != nil { // no change hook: like another replica
		t.Fatal(err)
	}
	select {
	case <-done:
		if d := time.Since(start); d > 3*interval {
			t.Errorf("closed after %v, want within ~%v", d, interval)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("stream of a deleted account still open")
	}

	// Through the API: the change hook closes it without waiting a tick.
	s2 := startSecured(t, func(c *server.Config) { c.Auth.RecheckInterval = time.Hour })
	s = s2
	done = openStream(t, s, mk("bob"))
	must(t, s.call(t, auth.RoleAdmin, "DELETE", "/api/accounts/bob", nil), http.StatusNoContent)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("stream still open after DELETE /api/accounts/bob")
	}
}

// TestBootstrapAdminMustChangePassword: the bootstrap admin's token is
// refused everywhere but the password change; then it works.
func TestBootstrapAdminMustChangePassword(t *testing.T) {
	s := startSecured(t, func(c *server.Config) {
		c.Auth.BootstrapAdminPassword = "first-bootstrap-pass"
	})
	// startSecured created accounts after Bootstrap ran on an empty table.
	var lr apiv1.LoginResponse
	must(t, s.callToken(t, "", "POST", "/api/auth/login",
		apiv1.LoginRequest{Username: "admin", Password: "first-bootstrap-pass"}), http.StatusOK).json(t, &lr)
	if !lr.MustChangePW {
		t.Fatalf("login: %+v", lr)
	}
	for _, c := range [][2]string{{"PUT", "/api/freeze"}, {"GET", "/api/agents"}, {"GET", "/api/events"}, {"POST", "/api/tokens"}} {
		r := s.callToken(t, lr.Token, c[0], c[1], map[string]string{"reason": "x"})
		var body apiv1.ErrorBody
		_ = json.Unmarshal(r.body, &body)
		if r.status != http.StatusForbidden || body.Error != "password change required" {
			t.Errorf("%s %s: %d %s", c[0], c[1], r.status, r.body)
		}
	}
	must(t, s.callToken(t, lr.Token, "GET", "/api/auth/me", nil), http.StatusOK)
	must(t, s.callToken(t, lr.Token, "POST", "/api/auth/change-password",
		apiv1.ChangePasswordRequest{OldPassword: "first-bootstrap-pass", NewPassword: "second-admin-pass"}), http.StatusOK).json(t, &lr)
	must(t, s.callToken(t, lr.Token, "PUT", "/api/freeze", map[string]string{"reason": "after the change"}), http.StatusOK)
}

// TestAPITokenOnTheAPI: an API token works on the API, is audited under
// its name, and is refused at once when revoked.
func TestAPITokenOnTheAPI(t *testing.T) {
	s := startSecured(t, nil)
	var ct apiv1.CreatedAPIToken
	must(t, s.call(t, auth.RoleOperator, "POST", "/api/tokens", apiv1.CreateAPITokenRequest{Name: "ci-freeze", Role: "operator"}),
		http.StatusCreated).json(t, &ct)
	must(t, s.callToken(t, ct.Token, "PUT", "/api/freeze", map[string]string{"reason": "by token"}), http.StatusOK)
	testenv.Eventually(t, 30*time.Second, "freeze audited as token:ci-freeze", func() bool {
		r := s.call(t, auth.RoleViewer, "GET", "/api/audit?actor=token:ci-freeze", nil)
		return r.status == 200 && strings.Contains(string(r.body), `"actor":"token:ci-freeze"`)
	})
	var list []apiv1.APIToken
	must(t, s.call(t, auth.RoleAdmin, "GET", "/api/tokens", nil), http.StatusOK).json(t, &list)
	if len(list) != 1 || list[0].Name != "ci-freeze" || list[0].CreatedBy != "sweep-operator" || list[0].LastUsedAt == nil {
		t.Fatalf("list: %+v", list)
	}
	must(t, s.call(t, auth.RoleAdmin, "DELETE", "/api/tokens/"+ct.ID, nil), http.StatusNoContent)
	must(t, s.callToken(t, ct.Token, "GET", "/api/freeze", nil), http.StatusUnauthorized)
}
