//go:build !windows

package server_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/kanade-fleet/kanade/internal/agent"
	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/cli"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

const (
	agentUser, agentPass       = "kanade-agent", "agent-secret-0123456789"
	operatorUser, operatorPass = "kanade-operator", "operator-secret-0123456789"
)

// writeAuthFile writes a --nats-auth-file; the agent password is stored
// as a bcrypt hash, as an operator would to keep it out of the file.
func writeAuthFile(t *testing.T) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(agentPass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("[backend]\nuser = \"kanade-backend\"\npassword = \"backend-secret-0123456789\"\n"+
		"[agent]\nuser = %q\npassword = %q\n[operator]\nuser = %q\npassword = %q\n", agentUser, hash, operatorUser, operatorPass)
	p := filepath.Join(t.TempDir(), "nats-auth.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// violations collects a connection's asynchronous permission errors.
type violations struct {
	mu   sync.Mutex
	errs []string
}

func (v *violations) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	v.mu.Lock()
	v.errs = append(v.errs, err.Error())
	v.mu.Unlock()
}

func (v *violations) wait(t *testing.T, subject string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, "permissions violation for "+subject, func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		for _, e := range v.errs {
			if strings.Contains(e, "permissions violation") && strings.Contains(e, `"`+subject+`"`) {
				return true
			}
		}
		return false
	})
}

// TestBrokerAuthEndToEnd runs the real backend with per-role broker users:
// a connection with the agent credential is refused commands, kills and
// KV writes, while a real agent with that credential works end to end
// (heartbeat, groups and config notifications, ad-hoc run projected), and
// the CLI works with the operator credential.
func TestBrokerAuthEndToEnd(t *testing.T) {
	s := startSecured(t, func(c *server.Config) { c.NATSAuthFile = writeAuthFile(t) })
	url := s.b.NATSURL()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Nobody gets in without a role credential.
	for _, opt := range []nats.Option{nats.Name("anonymous"), nats.UserInfo(agentUser, "wrong"), nats.Token("some-token")} {
		if nc, err := nats.Connect(url, opt); err == nil {
			nc.Close()
			t.Fatal("broker accepted a connection without a valid credential")
		}
	}

	// --- A raw connection with the agent credential. ---
	v := &violations{}
	nc, err := nats.Connect(url, nats.UserInfo(agentUser, agentPass), nats.ErrorHandler(v.handler))
	if err != nil {
		t.Fatalf("agent credential: %v", err)
	}
	defer nc.Close()
	stray := make(chan *nats.Msg, 16)
	if _, err := nc.ChanSubscribe("commands.>", stray); err != nil {
		t.Fatal(err)
	}
	for _, subj := range []string{bus.SubjCommandsAll, bus.Kill("x")} {
		if err := nc.Publish(subj, []byte(`{"exec_id":"evil"}`)); err != nil {
			t.Fatal(err)
		}
		v.wait(t, subj)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range []struct{ bucket, key string }{
		{bus.KVJobs, "evil"}, {bus.KVScriptStatus, "job1"}, {bus.KVAgentGroups, "pc-sec"},
	} {
		// The write is refused before it reaches JetStream: no ack comes.
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		_, err := js.Publish(pctx, "$KV."+kv.bucket+"."+kv.key, []byte(`{"groups":["evil"]}`))
		pcancel()
		if err == nil {
			t.Errorf("agent credential wrote KV %s/%s", kv.bucket, kv.key)
		}
		v.wait(t, "$KV."+kv.bucket+"."+kv.key)
	}
	// Nothing got through: EXEC is empty, the buckets are untouched.
	if info, err := streamInfo(ctx, s.b.JS, bus.StreamExec); err != nil || info.State.Msgs != 0 {
		t.Fatalf("EXEC after refused publishes: %+v %v", info, err)
	}
	for _, bucket := range []string{bus.KVJobs, bus.KVScriptStatus, bus.KVAgentGroups} {
		kv, err := s.b.JS.KeyValue(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		if st, err := kv.Status(ctx); err != nil || st.Values() != 0 {
			t.Fatalf("KV %s after refused writes: %v values (%v)", bucket, st.Values(), err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-stray:
		t.Fatalf("a refused command was delivered on %s", m.Subject)
	default:
	}

	// --- A real agent with the same credential. ---
	a, err := agent.New(agent.Options{PCID: "pc-sec", NATSURL: url, NATSUser: agentUser, NATSPassword: agentPass,
		DataDir: t.TempDir(), Logger: testenv.Logger(), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	actx, stopAgent := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	defer func() { stopAgent(); <-done }()

	testenv.Eventually(t, 30*time.Second, "agent online (heartbeat projected)", func() bool {
		r := s.call(t, auth.RoleViewer, "GET", "/api/agents/pc-sec", nil)
		if r.status != 200 {
			return false
		}
		var ag apiv1.Agent
		r.json(t, &ag)
		return ag.Online
	})
	// Group membership and config reach the agent through its core
	// subscriptions on $KV.* (the periodic refresh is minutes away).
	must(t, s.call(t, auth.RoleOperator, "PUT", "/api/agents/pc-sec/groups", map[string]any{"groups": []string{"canary"}}), 200)
	testenv.Eventually(t, 15*time.Second, "agent joins group canary", func() bool {
		return slices.Equal(a.Groups(), []string{"canary"})
	})
	must(t, s.call(t, auth.RoleOperator, "PUT", "/api/pcs/pc-sec/config", map[string]any{"heartbeat_interval": "7s"}), 200)
	testenv.Eventually(t, 15*time.Second, "agent applies heartbeat_interval 7s", func() bool {
		return a.Config().HeartbeatInterval == "7s"
	})
	// Ad-hoc run through the API: command in, start event and result out,
	// result projected.
	var res wire.ExecResult
	must(t, s.call(t, auth.RoleOperator, "POST", "/api/run",
		map[string]any{"pc_id": "pc-sec", "shell": "sh", "script": "echo secured", "timeout_secs": 30}), 200).json(t, &res)
	if res.ExitCode != 0 || strings.TrimSpace(res.Stdout) != "secured" {
		t.Fatalf("ad-hoc result %+v", res)
	}
	testenv.Eventually(t, 30*time.Second, "result projected", func() bool {
		return s.call(t, auth.RoleViewer, "GET", "/api/results/"+res.ResultID, nil).status == 200
	})

	// --- The CLI with the operator credential (straight to the broker). ---
	// The direct run needs the signing key: agents refuse unsigned commands.
	env := map[string]string{"KANADE_NATS_URL": url, "KANADE_NATS_USER": operatorUser, "KANADE_NATS_PASSWORD": operatorPass,
		"KANADE_SIGNING_KEY": server.SigningKeyPath(s.b.Cfg)}
	kanade := func(env map[string]string, args ...string) (int, string) {
		var out bytes.Buffer
		code := cli.Main(ctx, args, cli.Options{Out: &out, Err: &out, Getenv: func(k string) string { return env[k] },
			ConfigDir: func() (string, error) { return t.TempDir(), nil }})
		return code, out.String()
	}
	if code, out := kanade(env, "ping", "pc-sec"); code != 0 {
		t.Fatalf("kanade ping with the operator credential: %d %s", code, out)
	}
	if code, out := kanade(env, "run", "pc-sec", "--timeout", "30s", "--", "echo", "via-cli"); code != 0 || !strings.Contains(out, "via-cli") {
		t.Fatalf("kanade run with the operator credential: %d %s", code, out)
	}
	if code, out := kanade(map[string]string{"KANADE_NATS_URL": url}, "ping", "pc-sec"); code == 0 || !strings.Contains(out, "KANADE_NATS_USER") {
		t.Fatalf("kanade ping without a credential: %d %s", code, out)
	}
}

func streamInfo(ctx context.Context, js jetstream.JetStream, name string) (*jetstream.StreamInfo, error) {
	st, err := js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	return st.Info(ctx)
}
