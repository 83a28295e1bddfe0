package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/server"
)

func TestEnrollToken(t *testing.T) {
	e := newEnv(t, nil)
	var created apiv1.CreatedEnrollmentToken
	e.jsonOK(&created, "enroll-token", "create", "--group", "lab", "--group", "ops", "--uses", "3", "--expires-in", "2h")
	if created.ID == "" || !strings.HasPrefix(created.Token, "kanade-enroll-") {
		t.Fatalf("created %+v", created)
	}
	out := e.ok("enroll-token", "create")
	if !strings.Contains(out, "kanade-agent enroll --server") || !strings.Contains(out, "kanade-enroll-") {
		t.Fatalf("create table output:\n%s", out)
	}
	var rows []apiv1.EnrollmentToken
	e.jsonOK(&rows, "enroll-token", "list")
	if len(rows) != 2 {
		t.Fatalf("list %+v", rows)
	}
	var mine *apiv1.EnrollmentToken
	for i := range rows {
		if rows[i].ID == created.ID {
			mine = &rows[i]
		}
	}
	if mine == nil || mine.Uses != 3 || mine.UsesLeft != 3 || !mine.Usable || strings.Join(mine.Groups, ",") != "lab,ops" {
		t.Fatalf("listed %+v", mine)
	}
	if out := e.ok("enroll-token", "list"); strings.Contains(out, created.Token) || !strings.Contains(out, created.ID) {
		t.Fatalf("list must show ids, never secrets:\n%s", out)
	}
	e.ok("enroll-token", "delete", created.ID)
	if r := e.cli("enroll-token", "delete", created.ID); r.code == 0 || !strings.Contains(r.err, "no such enrollment token") {
		t.Fatalf("delete twice: %d %s", r.code, r.err)
	}
	if r := e.cli("enroll-token", "create", "--uses", "0"); r.code == 0 {
		t.Fatal("--uses 0 accepted")
	}
}

// TestOperatorCredsDirect: against a --nats-identity backend the CLI's
// direct broker path works with the operator.creds the backend wrote, and
// not without it.
func TestOperatorCredsDirect(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.NATSIdentity = true })
	if r := e.cli("jetstream", "status"); r.code == 0 {
		t.Fatalf("jetstream status without a credential succeeded:\n%s", r.out)
	} else if !strings.Contains(r.err, "--nats-creds") {
		t.Fatalf("the hint does not name --nats-creds: %s", r.err)
	}
	out := e.ok("jetstream", "status", "--nats-creds", filepath.Join(e.b.Cfg.DataDir, server.OperatorCredsFile))
	if !strings.Contains(out, "EXEC") {
		t.Fatalf("jetstream status:\n%s", out)
	}

	// One credential per operator: issued to a file, listed, revoked alone.
	laptop := filepath.Join(t.TempDir(), "laptop.creds")
	if r := e.cli("operator-creds", "create", "laptop"); r.code != 2 || !strings.Contains(r.err, "--file") {
		t.Fatalf("create without --file (the secret would be lost): exit %d %s", r.code, r.err)
	}
	e.ok("operator-creds", "create", "laptop", "--file", laptop)
	if st, err := os.Stat(laptop); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("laptop.creds: %v %v", st, err)
	}
	e.ok("jetstream", "status", "--nats-creds", laptop)
	var creds []apiv1.OperatorCredInfo
	if err := json.Unmarshal([]byte(e.ok("operator-creds", "list", "-o", "json")), &creds); err != nil || len(creds) != 2 || creds[0].Name != "laptop" {
		t.Fatalf("operator-creds list: %+v %v", creds, err)
	}
	if out := e.ok("operator-creds", "list"); !strings.Contains(out, "REVOKED_AT") || !strings.Contains(out, creds[0].PublicKey) {
		t.Fatalf("operator-creds list table:\n%s", out)
	}
	e.ok("operator-creds", "revoke", creds[0].PublicKey)
	if r := e.cli("jetstream", "status", "--nats-creds", laptop); r.code == 0 {
		t.Fatalf("a revoked credential still works:\n%s", r.out)
	}
	e.ok("jetstream", "status", "--nats-creds", filepath.Join(e.b.Cfg.DataDir, server.OperatorCredsFile))
}
