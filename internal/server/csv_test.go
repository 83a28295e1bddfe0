package server_test

import (
	"encoding/csv"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/auth"
)

// TestCSVRoleGuard: the CSV of a list is served under the list's own
// role: a viewer exports what a viewer may list and nothing else, and
// nobody exports without a token.
func TestCSVRoleGuard(t *testing.T) {
	s := startSecured(t, nil)
	for _, c := range []struct {
		role   auth.Role
		path   string
		status int
	}{
		{auth.RoleViewer, "/api/audit?format=csv", 200},
		{auth.RoleViewer, "/api/agents?format=csv", 200},
		{auth.RolePublic, "/api/agents?format=csv", 401},
		{auth.RoleViewer, "/api/enrollment-tokens?format=csv", 403},
		{auth.RoleViewer, "/api/accounts?format=csv", 403},
		{auth.RoleOperator, "/api/broker/operator-creds?format=csv", 403},
		{auth.RoleAdmin, "/api/accounts?format=csv", 200},
	} {
		r := s.call(t, c.role, "GET", c.path, nil)
		if r.status != c.status {
			t.Errorf("%s %s: %d, want %d: %s", c.role, c.path, r.status, c.status, r.body)
			continue
		}
		if c.status != 200 {
			if ct := r.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("%s %s: refusal as %q, want the JSON error", c.role, c.path, ct)
			}
			continue
		}
		recs, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil || len(recs) == 0 || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/csv") {
			t.Errorf("%s %s: %v %q", c.role, c.path, err, r.body)
		}
	}
	// The admin sees the three sweep accounts (and only an admin may).
	r := must(t, s.call(t, auth.RoleAdmin, "GET", "/api/accounts?format=csv", nil), 200)
	if n := strings.Count(string(r.body), "sweep-"); n != 3 {
		t.Errorf("accounts CSV names %d sweep accounts, want 3:\n%s", n, r.body)
	}
}
