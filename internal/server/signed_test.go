package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/agent"
	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/fanout/command"
	"github.com/kanade-fleet/kanade/internal/health"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

const fleetToken = "fleet-token"

// startSignedAgent runs a real agent on the shared token (not enrolled: it
// trusts KV signing_keys on first use) and waits until it is online.
func startSignedAgent(t *testing.T, s *secured, pc string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), pc)
	a, err := agent.New(agent.Options{PCID: pc, NATSURL: s.b.NATSURL(), NATSToken: fleetToken, DataDir: dir,
		Logger: testenv.Logger(), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	testenv.Eventually(t, 30*time.Second, pc+" online", func() bool {
		pcs, err := s.b.DB.OnlinePCs(context.Background(), time.Now(), "")
		return err == nil && slices.Contains(pcs, pc)
	})
	return dir
}

// resultOf waits for the projected result of exec on pc.
func resultOf(t *testing.T, s *secured, execID, pc string) apiv1.Result {
	t.Helper()
	var row apiv1.Result
	testenv.Eventually(t, 30*time.Second, "result of "+execID+" on "+pc, func() bool {
		rows, _, err := s.b.DB.ListResults(context.Background(), store.ResultFilter{ExecID: execID, PCID: pc}, store.Page{Limit: 10})
		if err != nil || len(rows) == 0 || rows[0].ExitCode == nil {
			return false
		}
		row = rows[0]
		return true
	})
	return row
}

func needPOSIX(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("scripts are POSIX sh")
	}
}

func adhoc(execID, script string) (wire.Command, []byte) {
	c, _ := command.AdhocCommand(command.Adhoc{ExecID: execID, Shell: "sh", Script: script, TimeoutSecs: 30}, time.Now())
	data, _ := json.Marshal(c)
	return c, data
}

// TestSignedCommands: an exec through the API reaches a real agent signed
// and runs; a hostile client holding the shared broker token publishes an
// unsigned command, a badly signed one, one signed by an unknown key, and
// a genuine signed command for another PC re-published onto the victim's
// subject: the agent answers each with exit 123 and runs nothing.
func TestSignedCommands(t *testing.T) {
	needPOSIX(t)
	s := startSecured(t, func(c *server.Config) { c.NATSToken = fleetToken })
	startSignedAgent(t, s, "pc-a")
	ctx := t.Context()
	marks := t.TempDir()

	// The backend's own path: a job exec through the API runs.
	must(t, s.call(t, auth.RoleOperator, "POST", "/api/jobs",
		"id: hello\nversion: '1'\nexecute: {shell: sh, script: 'echo signed', timeout: 30s, run_as: system}\n"), 201)
	var er struct {
		ExecID string `json:"exec_id"`
	}
	must(t, s.call(t, auth.RoleOperator, "POST", "/api/exec/hello", map[string]any{"target": map[string]any{"pcs": []string{"pc-a"}}}), 200).json(t, &er)
	if r := resultOf(t, s, er.ExecID, "pc-a"); *r.ExitCode != 0 || r.Status != "success" {
		t.Fatalf("API exec: %+v", r)
	}
	// A command for pc-b (not running, never seen: allow_empty), signed by
	// the backend for pc-b's subject.
	must(t, s.call(t, auth.RoleOperator, "POST", "/api/exec/hello", map[string]any{"target": map[string]any{"pcs": []string{"pc-b"}},
		"allow_empty": true}), 200)

	nc, err := nats.Connect(s.b.NATSURL(), nats.Token(fleetToken), nats.Name("hostile"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	victim := bus.CommandsPC("pc-a")
	publish := func(data []byte, h nats.Header, msgID string) {
		t.Helper()
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: victim, Data: data, Header: h}, jetstream.WithMsgID(msgID)); err != nil {
			t.Fatal(err)
		}
	}
	stranger, _ := sign.GenerateKey()

	cases := map[string]string{} // exec_id → expected reason in stderr
	// 1. Unsigned.
	c, data := adhoc("unsigned", "touch "+filepath.Join(marks, "unsigned"))
	publish(data, nil, c.RequestID)
	cases["unsigned"] = "not signed"
	// 2. A real signature of other bytes.
	c, data = adhoc("badsig", "touch "+filepath.Join(marks, "badsig"))
	h := nats.Header(s.b.Signer.Sign(victim, []byte(`{"something":"else"}`)))
	publish(data, h, c.RequestID)
	cases["badsig"] = "does not match"
	// 3. A key the fleet does not trust.
	c, data = adhoc("stranger", "touch "+filepath.Join(marks, "stranger"))
	publish(data, nats.Header(stranger.Sign(victim, data)), c.RequestID)
	cases["stranger"] = "unknown key"
	// 4. The genuine command for pc-b, replayed onto pc-a's subject.
	st, err := js.Stream(ctx, bus.StreamExec)
	if err != nil {
		t.Fatal(err)
	}
	var forB *jetstream.RawStreamMsg
	testenv.Eventually(t, 10*time.Second, "pc-b's command stored", func() bool {
		forB, err = st.GetLastMsgForSubject(ctx, bus.CommandsPC("pc-b"))
		return err == nil
	})
	if err := sign.Verify(sign.NewKeyring(s.b.Signer.Public()), bus.CommandsPC("pc-b"), forB.Header, forB.Data); err != nil {
		t.Fatalf("the backend's command for pc-b is not signed for its subject: %v", err)
	}
	rerouted, err := wire.DecodeCommand(forB.Data)
	if err != nil {
		t.Fatal(err)
	}
	publish(forB.Data, forB.Header, "replay-"+rerouted.RequestID)
	cases[rerouted.ExecID] = "does not match"

	for execID, reason := range cases {
		r := resultOf(t, s, execID, "pc-a")
		stderr := ""
		if full, ok, _ := s.b.DB.GetResult(ctx, r.ResultID); ok && full.Stderr != nil {
			stderr = *full.Stderr
		}
		if *r.ExitCode != 123 || !strings.Contains(stderr, reason) {
			t.Errorf("%s: exit %d stderr %q, want 123 and %q", execID, *r.ExitCode, stderr, reason)
		}
	}
	ents, _ := os.ReadDir(marks)
	if len(ents) != 0 {
		t.Fatalf("a refused command ran: %v", ents)
	}
	// The backend saw all four on EXEC and counted them (internal/cmdaudit).
	testenv.Eventually(t, 10*time.Second, "refused commands counted", func() bool {
		v, _ := s.b.Metrics.Value("kanade_unsigned_commands_total", "kind", "command")
		return v == 4
	})
}

// TestSigningKeyRotation: after a rotation commands signed by the new key
// run, the old key's still run until it is retired and are refused (123)
// once the agent has read the retirement; a backend started with the
// retired key, or with a key the chain never had, refuses to start; the
// replica still running on the retired key reports it in its health.
func TestSigningKeyRotation(t *testing.T) {
	needPOSIX(t)
	s := startSecured(t, func(c *server.Config) {
		c.NATSToken = fleetToken
		c.Health = health.Options{ProbeInterval: 100 * time.Millisecond}
	})
	dir := startSignedAgent(t, s, "pc-r")
	ctx := t.Context()
	nc, err := nats.Connect(s.b.NATSURL(), nats.Token(fleetToken))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	run := func(signer *sign.Signer, execID string) int {
		t.Helper()
		c, _ := adhoc(execID, "echo ok")
		if err := command.Publish(ctx, js, signer, "pc-r", c); err != nil {
			t.Fatal(err)
		}
		return *resultOf(t, s, execID, "pc-r").ExitCode
	}

	cfg := s.b.Cfg
	cfg.NATSURL = s.b.NATSURL()
	adm, err := server.OpenSigningKeyAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	rot, err := adm.Rotate(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	oldKey, err := sign.LoadKey(rot.OldFile)
	if err != nil || oldKey.KeyID() != s.b.Signer.KeyID() {
		t.Fatalf("old key kept as %s: %v", rot.OldFile, err)
	}
	newKey, err := sign.LoadKey(server.SigningKeyPath(s.b.Cfg))
	if err != nil || newKey.KeyID() != rot.New {
		t.Fatalf("new key installed: %v (%s)", err, rot.New)
	}
	if code := run(newKey, "new-1"); code != 0 {
		t.Fatalf("new key before retirement: exit %d", code)
	}
	if code := run(oldKey, "old-1"); code != 0 {
		t.Fatalf("old key before retirement: exit %d", code)
	}
	if _, err := adm.Retire(ctx, time.Now(), oldKey.KeyID()); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "agent applied the retirement", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, agent.KeyringFile))
		if err != nil {
			return false
		}
		kr, err := sign.DecodeKeyring(b)
		return err == nil && slices.Equal(kr.KeyIDs(), []string{newKey.KeyID()})
	})
	if code := run(oldKey, "old-2"); code != 123 {
		t.Fatalf("retired key: exit %d, want 123", code)
	}
	if code := run(newKey, "new-2"); code != 0 {
		t.Fatalf("new key after retirement: exit %d", code)
	}
	// s still signs with the old key: its health says so, naming the key.
	testenv.Eventually(t, 15*time.Second, "health reports the retired key", func() bool {
		r := s.call(t, auth.RoleViewer, "GET", "/api/health/fleet", nil)
		return r.status == http.StatusServiceUnavailable && bytes.Contains(r.body, []byte(`"signing_key_retired"`)) &&
			bytes.Contains(r.body, []byte(oldKey.KeyID()))
	})

	// Replicas: the retired key and a stranger's both refuse to start; the
	// rotated data dir's own key starts.
	stranger, _ := sign.GenerateKey()
	strangerFile := filepath.Join(t.TempDir(), "stranger.key")
	if err := stranger.Save(strangerFile); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{rot.OldFile, strangerFile} {
		_, err := server.New(ctx, server.Config{HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), NATSURL: s.b.NATSURL(),
			NATSToken: fleetToken, SigningKey: key, Log: testenv.Logger(), Auth: auth.Config{Disabled: true}})
		if !errors.Is(err, kv.ErrKeyNotInChain) {
			t.Errorf("replica with %s: %v, want ErrKeyNotInChain", filepath.Base(key), err)
		}
	}
	r := testenv.Backend(t, func(c *server.Config) {
		c.NATSURL, c.NATSAddr, c.NATSToken = s.b.NATSURL(), "", fleetToken
		c.DataDir, c.DB = s.b.Cfg.DataDir, s.b.Cfg.DB // the rotated data dir: its signing.key is the new key
	})
	if r.Signer.KeyID() != newKey.KeyID() {
		t.Fatalf("replica signs with %s, want %s", r.Signer.KeyID(), newKey.KeyID())
	}
}
