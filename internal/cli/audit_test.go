package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/agent"
	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/cmdaudit"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// TestRunKillAudited: `kanade run` and `kanade kill` appear in the audit
// log with who did them. Through the API (no --signing-key) the actor is
// the logged-in account; the direct signed path is audited by the backend
// when it sees the command or kill, with the signing key as the actor. The
// backend's own kill is not audited a second time as a direct one.
func TestRunKillAudited(t *testing.T) {
	needSh(t)
	e := newEnv(t, func(c *server.Config) {
		c.Auth = auth.Config{BootstrapAdminPassword: "correct-horse-battery"}
	})
	if r := e.cliIn("admin\ncorrect-horse-battery\n", "login"); r.code != 0 {
		t.Fatalf("login: %+v", r)
	}
	if r := e.cliIn("correct-horse-battery\nnew-horse-battery\n", "passwd", "--password-stdin"); r.code != 0 {
		t.Fatalf("passwd: %+v", r)
	}
	c := &apiv1.Client{Base: e.backend, Token: e.authTokenForTest()}
	ag, err := agent.New(agent.Options{PCID: "pc-a", NATSURL: e.natsURL, DataDir: filepath.Join(t.TempDir(), "pc-a"),
		Logger: testenv.Logger(), Version: "9.9.9"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ag.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	testenv.Eventually(t, 30*time.Second, "agent online", func() bool {
		a, err := c.GetAgent(ctx, "pc-a")
		return err == nil && a.Online
	})

	if r := e.cli("run", "pc-a", "--exec-id", "api-run", "--", "echo via api"); r.code != 0 || r.out != "via api\n" {
		t.Fatalf("run via the API: %+v", r)
	}
	e.ok("kill", "api-run")
	e.vars["KANADE_SIGNING_KEY"] = server.SigningKeyPath(e.b.Cfg)
	if r := e.cli("run", "pc-a", "--exec-id", "direct-run", "--", "echo direct"); r.code != 0 || r.out != "direct\n" {
		t.Fatalf("direct run: %+v", r)
	}
	// A direct run has no execution row: its result makes the id known.
	testenv.Eventually(t, 20*time.Second, "direct-run result projected", func() bool {
		l, err := c.ListResults(ctx, apiv1.ResultQuery{ExecID: "direct-run"})
		return err == nil && len(l.Items) > 0
	})
	e.ok("kill", "direct-run")
	key := cmdaudit.Actor(e.b.Signer.KeyID())

	want := map[string]bool{
		"admin run pc-a api-run":     false,
		"admin exec.kill api-run":    false,
		key + " run pc-a direct-run": false,
		key + " kill direct-run":     false,
	}
	var seen []string
	audited := func() bool {
		l, err := c.ListAudit(ctx, apiv1.AuditQuery{Page: apiv1.Page{Limit: 100}})
		if err != nil {
			return false
		}
		seen = seen[:0]
		for _, a := range l.Items {
			line := a.Actor + " " + a.Action + " " + a.Target
			if a.Action == "run" {
				line += " " + execIDOf(string(a.Payload))
			}
			seen = append(seen, line)
			if _, ok := want[line]; ok {
				want[line] = true
			}
		}
		for _, ok := range want {
			if !ok {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(20 * time.Second); !audited(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("run and kill not audited as expected %v; audit log:\n%s", want, strings.Join(seen, "\n"))
		}
	}
	for _, s := range seen {
		if strings.HasPrefix(s, key+" ") && strings.Contains(s, "api-run") {
			t.Errorf("the backend's own command was audited as a direct one: %s", s)
		}
	}
}

// execIDOf pulls "exec_id" out of an audit payload without caring for the
// rest of its shape.
func execIDOf(payload string) string {
	i := strings.Index(payload, `"exec_id":"`)
	if i < 0 {
		return ""
	}
	rest := payload[i+len(`"exec_id":"`):]
	return rest[:strings.IndexByte(rest, '"')]
}

func (e *env) authTokenForTest() string {
	a := &app{opt: e.opts("", nil, nil)}
	cfg, _, err := a.loadConfig()
	if err != nil {
		e.t.Fatal(err)
	}
	c := cfg.Contexts[cfg.CurrentContext]
	if c == nil || c.Token == "" {
		e.t.Fatalf("no token stored in the current context: %+v", cfg)
	}
	return c.Token
}
