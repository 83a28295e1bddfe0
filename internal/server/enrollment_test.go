//go:build !windows

package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/agent"
	"github.com/kanade-fleet/kanade/internal/agent/enroll"
	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/brokerid"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/fanout/command"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// TestEnrollmentEmbedded and TestEnrollmentExternal run the whole SPEC §12
// enrollment story against a real broker in operator mode: the embedded
// one, and an external nats-server configured only from
// `kanade-backend broker-config` (ServerConfig).
func TestEnrollmentEmbedded(t *testing.T) {
	b := testenv.Backend(t, func(c *server.Config) { c.NATSIdentity = true })
	enrollmentStory(t, b, "")
}

func TestEnrollmentExternal(t *testing.T) {
	dataDir := t.TempDir()
	a, _, err := server.LoadAuthority(context.Background(), dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "nats-server.conf")
	text := fmt.Sprintf("listen: \"127.0.0.1:-1\"\nserver_name: kanade-ext\njetstream: {store_dir: %q}\n%s",
		t.TempDir(), a.ServerConfig(t.TempDir()))
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := natsserver.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("the generated config does not parse: %v", err)
	}
	opts.NoLog, opts.NoSigs = true, true
	ns, err := natsserver.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(20 * time.Second) {
		t.Fatal("external nats-server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	b := testenv.Backend(t, func(c *server.Config) {
		c.NATSIdentity, c.DataDir, c.NATSURL = true, dataDir, ns.ClientURL()
	})
	enrollmentStory(t, b, ns.ClientURL())
}

func enrollmentStory(t *testing.T, b *server.Server, wantURL string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if wantURL == "" {
		wantURL = b.NATSURL()
	}
	// operator.creds was written at the first start and connects.
	if st, err := os.Stat(filepath.Join(b.Cfg.DataDir, server.OperatorCredsFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("operator.creds: %v %v", st, err)
	}
	if nc, err := nats.Connect(b.NATSURL(), nats.UserCredentials(filepath.Join(b.Cfg.DataDir, server.OperatorCredsFile))); err != nil {
		t.Fatalf("operator.creds does not connect: %v", err)
	} else {
		nc.Close()
	}

	// The command-signing key, published as the backend will publish it.
	signer, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	chain, _ := sign.NewChain(signer, time.Now()).Encode()
	kvs, err := b.JS.KeyValue(ctx, bus.KVSigningKeys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kvs.Put(ctx, bus.SigningKeysChain, chain); err != nil {
		t.Fatal(err)
	}

	c := &apiv1.Client{Base: b.HTTPURL()}
	tok, err := c.CreateEnrollmentToken(ctx, apiv1.CreateEnrollmentTokenRequest{Groups: []string{"lab"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.Token, "kanade-enroll-") || time.Until(tok.ExpiresAt) < 23*time.Hour {
		t.Fatalf("token %+v", tok)
	}
	enrollAs := func(token, pc string, force bool) (string, error) {
		dir := filepath.Join(b.Cfg.DataDir, "pcs", pc)
		_, err := enroll.Enroll(ctx, enroll.Options{Server: b.HTTPURL(), Token: token, PCID: pc, Hostname: pc,
			OSFamily: "linux", DataDir: dir, Force: force})
		return dir, err
	}

	// A PC enrolls with a one-use token; a second use is refused.
	dirA, err := enrollAs(tok.Token, "pc-a", false)
	if err != nil {
		t.Fatalf("enroll pc-a: %v", err)
	}
	e, err := enroll.Load(dirA)
	if err != nil || len(e.BrokerURLs) != 1 || e.BrokerURLs[0] != wantURL || len(e.SigningKeys) != 1 || e.SigningKeys[0].KeyID != signer.KeyID() {
		t.Fatalf("enrollment.json %+v %v", e, err)
	}
	if st, _ := os.Stat(enroll.CredsPath(dirA)); st == nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("broker.creds mode %v", st)
	}
	if _, err := enrollAs(tok.Token, "pc-b", false); !errors.Is(err, enroll.ErrTokenSpent) {
		t.Fatalf("second use of a one-use token: %v", err)
	}
	if _, err := enrollAs("kanade-enroll-nope", "pc-b", false); !errors.Is(err, enroll.ErrBadToken) {
		t.Fatalf("unknown token: %v", err)
	}
	expired, err := c.CreateEnrollmentToken(ctx, apiv1.CreateEnrollmentTokenRequest{ExpiresIn: "1ns"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enrollAs(expired.Token, "pc-b", false); !errors.Is(err, enroll.ErrTokenSpent) {
		t.Fatalf("expired token: %v", err)
	}
	many, err := c.CreateEnrollmentToken(ctx, apiv1.CreateEnrollmentTokenRequest{Uses: 5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enrollAs(many.Token, "pc-a", true); !errors.Is(err, enroll.ErrAlreadyEnrolled) {
		t.Fatalf("enrolled pc_id again: %v", err)
	}
	dirB, err := enrollAs(many.Token, "pc-b", false)
	if err != nil {
		t.Fatalf("enroll pc-b: %v", err)
	}
	if g, err := c.GetAgentGroups(ctx, "pc-a"); err != nil || len(g.Groups) != 1 || g.Groups[0] != "lab" {
		t.Fatalf("the token's groups: %+v %v", g, err)
	}
	ls, err := c.ListEnrollmentTokens(ctx, apiv1.Page{})
	if err != nil || ls.Total != 3 {
		t.Fatalf("tokens %+v %v", ls, err)
	}
	for _, row := range ls.Items {
		if row.ID == tok.ID && (row.UsesLeft != 0 || row.Usable) {
			t.Fatalf("used token listed as %+v", row)
		}
	}

	// The PC runs from its data dir with no flags.
	o := agent.Options{DataDir: dirA, Logger: testenv.Logger(), Version: "test"}
	if ok, err := agent.UseEnrollment(&o); err != nil || !ok {
		t.Fatalf("use enrollment: %v %v", ok, err)
	}
	ag, err := agent.New(o)
	if err != nil {
		t.Fatal(err)
	}
	actx, stopAgent := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = ag.Run(actx) })
	t.Cleanup(func() { stopAgent(); wg.Wait() })
	testenv.Eventually(t, 15*time.Second, "pc-a online", func() bool {
		l, err := c.ListAgents(ctx, apiv1.AgentQuery{Status: "online"})
		return err == nil && l.Total == 1 && l.Items[0].PCID == "pc-a"
	})
	cmd, _ := command.AdhocCommand(command.Adhoc{Shell: "sh", Script: "echo enrolled-ok", TimeoutSecs: 30}, time.Now())
	aw, err := command.AwaitResult(b.NC, cmd.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	defer aw.Close()
	data, _ := json.Marshal(cmd)
	msg := &nats.Msg{Subject: bus.CommandsPC("pc-a"), Data: data, Header: nats.Header{}}
	signer.SignInto(msg.Header, msg.Subject, data)
	if _, err := b.JS.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	res, _, err := aw.Wait(ctx, 30*time.Second)
	if err != nil || res.ExitCode != 0 || strings.TrimSpace(res.Stdout) != "enrolled-ok" || res.PCID != "pc-a" {
		t.Fatalf("enrolled agent's run: %+v %v", res, err)
	}

	// A result for pc-b published with pc-a's credential is refused by the
	// broker and reaches nothing.
	spy, err := b.NC.SubscribeSync("results.pc-b.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	refused := make(chan error, 4)
	disc := make(chan struct{}, 1)
	hostile, err := nats.Connect(b.NATSURL(), nats.UserCredentials(enroll.CredsPath(dirA)),
		nats.CustomInboxPrefix(brokerid.AgentInboxPrefix("pc-a")), nats.NoReconnect(),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { refused <- err }),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { disc <- struct{}{} }))
	if err != nil {
		t.Fatal(err)
	}
	defer hostile.Close()
	if err := hostile.Publish("results.pc-b.forged", []byte(`{"pc_id":"pc-b"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-refused:
		if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			t.Fatalf("forged result: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the broker did not refuse a result for pc-b from pc-a")
	}
	if err := hostile.Publish("results.pc-a.own", []byte(`{}`)); err != nil { // its own subject still works
		t.Fatal(err)
	}
	if err := hostile.Flush(); err != nil {
		t.Fatal(err)
	}
	if m, err := spy.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("the forged result arrived: %s", m.Data)
	}

	// DELETE /api/agents/pc-a revokes its credential: disconnected within
	// seconds, and it cannot connect again; pc-b is untouched.
	credsB := enroll.CredsPath(dirB)
	other, err := nats.Connect(b.NATSURL(), nats.UserCredentials(credsB), nats.NoReconnect(),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	start := time.Now()
	if err := c.DeleteAgent(ctx, "pc-a"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-disc:
		t.Logf("revoked credential disconnected after %v", time.Since(start).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("revoked credential still connected after 5 s")
	}
	if nc, err := nats.Connect(b.NATSURL(), nats.UserCredentials(enroll.CredsPath(dirA)), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("a revoked credential connected again")
	}
	if err := other.Flush(); err != nil {
		t.Fatalf("pc-b lost its connection: %v", err)
	}
	// The real agent is offline for good: its heartbeat stops arriving.
	hb, err := b.NC.SubscribeSync(bus.Heartbeat("pc-a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PingAgent(ctx, "pc-a"); err == nil {
		t.Fatal("the revoked agent still answers pings")
	}
	if m, err := hb.NextMsg(time.Second); err == nil {
		t.Fatalf("the revoked agent still heartbeats: %s", m.Data)
	}

	// Re-enrollment needs an operator: deleting forgot pc-a, so a new
	// token enrolls it with a new key (the revoked one stays refused).
	if _, err := c.ReenrollAgent(ctx, "pc-b"); err != nil {
		t.Fatal(err)
	}
	if _, err := enrollAs(many.Token, "pc-b", true); err != nil {
		t.Fatalf("re-enroll pc-b after reenroll: %v", err)
	}
	select { // the replaced credential of pc-b is revoked at once
	case <-closed(other):
	case <-time.After(5 * time.Second):
		t.Fatal("pc-b's replaced credential still connected")
	}
	if _, err := enrollAs(many.Token, "pc-a", true); err != nil {
		t.Fatalf("enroll pc-a again after DELETE: %v", err)
	}
	if nc, err := nats.Connect(b.NATSURL(), nats.UserCredentials(enroll.CredsPath(dirA)), nats.NoReconnect()); err != nil {
		t.Fatalf("re-enrolled pc-a cannot connect: %v", err)
	} else {
		nc.Close()
	}

	// An admin issues another operator credential.
	oc, err := c.CreateOperatorCreds(ctx, apiv1.OperatorCredsRequest{Name: "laptop-1"})
	if err != nil || !strings.Contains(oc.Creds, "NATS USER JWT") {
		t.Fatalf("operator creds: %+v %v", oc, err)
	}
	laptop := filepath.Join(t.TempDir(), "laptop-1.creds")
	if err := os.WriteFile(laptop, []byte(oc.Creds), 0o600); err != nil {
		t.Fatal(err)
	}
	lnc, err := nats.Connect(b.NATSURL(), nats.UserCredentials(laptop), nats.NoReconnect())
	if err != nil {
		t.Fatalf("laptop-1 creds do not connect: %v", err)
	}
	defer lnc.Close()
	l, err := c.ListOperatorCreds(ctx, apiv1.Page{})
	if err != nil || len(l.Items) != 2 || l.Items[0].Name != "laptop-1" || l.Items[0].PublicKey != oc.PublicKey ||
		l.Items[0].RevokedAt != nil || l.Items[1].Name != "operator" {
		t.Fatalf("operator creds listed: %+v %v (want laptop-1, then the data dir's operator)", l.Items, err)
	}

	// Revoking laptop-1 closes its connection and refuses it from then on;
	// the data dir's operator.creds keeps working.
	rev, err := c.RevokeOperatorCreds(ctx, oc.PublicKey)
	if err != nil || rev.RevokedAt == nil || rev.Name != "laptop-1" {
		t.Fatalf("revoke laptop-1: %+v %v", rev, err)
	}
	select {
	case <-closed(lnc):
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked operator credential is still connected")
	}
	if nc, err := nats.Connect(b.NATSURL(), nats.UserCredentials(laptop), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("the revoked operator credential connects again")
	}
	if nc, err := nats.Connect(b.NATSURL(), nats.UserCredentials(filepath.Join(b.Cfg.DataDir, server.OperatorCredsFile))); err != nil {
		t.Fatalf("operator.creds stopped working when another credential was revoked: %v", err)
	} else {
		nc.Close()
	}
	if again, err := c.RevokeOperatorCreds(ctx, oc.PublicKey); err != nil || again.RevokedAt == nil || !again.RevokedAt.Equal(*rev.RevokedAt) {
		t.Fatalf("revoking twice: %+v %v, want the first revocation unchanged", again, err)
	}
	var ae *apiv1.Error
	if _, err := c.RevokeOperatorCreds(ctx, "UNKNOWNKEY"); !errors.As(err, &ae) || ae.Status != 404 || ae.Field != "public_key" {
		t.Fatalf("revoke an unknown key: %v, want 404 naming public_key", err)
	}
	if l, err := c.ListOperatorCreds(ctx, apiv1.Page{}); err != nil || l.Items[0].RevokedAt == nil || l.Items[1].RevokedAt != nil {
		t.Fatalf("after revocation: %+v %v", l.Items, err)
	}
}

// closed reports when nc is closed (NoReconnect: a disconnect closes it).
func closed(nc *nats.Conn) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		for !nc.IsClosed() {
			time.Sleep(10 * time.Millisecond)
		}
		close(ch)
	}()
	return ch
}
