package identity_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/brokerid"
)

// TestReplyTrickInsideOneAccount is the control for the hostile test: it
// shows the hole of issue 13 is real in nats-server (a JetStream answer is
// published on whatever reply the requester names, with the server's
// rights) and that the snapshot sees it. Inside KANADE the operator CLI
// credential can still do this; it may publish commands anyway, which
// agents refuse unless signed.
func TestReplyTrickInsideOneAccount(t *testing.T) {
	e := startEnv(t)
	e.bootstrap()
	before := e.snapshot()
	cli, err := e.a.IssueCLI("ops")
	if err != nil {
		t.Fatal(err)
	}
	nc := e.connect(cli.JWT, cli.Seed)
	if err := nc.PublishRequest("$JS.API.DIRECT.GET.EXEC.commands.pc.attacker", "commands.pc.victim", nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	s, _ := e.js.Stream(ctx, "EXEC")
	for {
		m, err := s.GetLastMsgForSubject(ctx, "commands.pc.victim")
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Data) == `{"for":"attacker"}` {
			break // the attacker's command is now the victim's latest
		}
		if ctx.Err() != nil {
			t.Fatal("the reply trick did not land in EXEC: the control failed")
		}
		time.Sleep(10 * time.Millisecond) // polling the server's state; no event to await
	}
	after := e.snapshot()
	if before["EXEC"] == after["EXEC"] {
		t.Error("snapshot did not see the change")
	}
}

// connectCreds connects with a .creds file as kanade-agent and the nats CLI
// would, reporting disconnects.
func connectCreds(t *testing.T, url, path, pc string, disc chan<- error) (*nats.Conn, error) {
	return nats.Connect(url, nats.UserCredentials(path),
		nats.CustomInboxPrefix(brokerid.AgentInboxPrefix(pc)),
		nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			select {
			case disc <- err:
			default:
			}
		}))
}

// revokeAndCheck revokes ag, pushes the account through the system user
// and checks: disconnected within seconds, reconnect refused, others stay.
func revokeAndCheck(t *testing.T, a *brokerid.Authority, sys *nats.Conn, url string, ag *agent, other *nats.Conn) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "broker.creds")
	if err := brokerid.WriteCreds(path, ag.user.JWT, ag.seed); err != nil {
		t.Fatal(err)
	}
	disc := make(chan error, 1)
	nc, err := connectCreds(t, url, path, ag.pc, disc)
	if err != nil {
		t.Fatalf("connect with %s: %v", path, err)
	}
	defer nc.Close()
	if err := nc.Publish("heartbeat."+ag.pc, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	j, err := a.Revoke(a.AgentsAccount(), ag.user.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := brokerid.PushAccount(sys, j, wait); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-disc:
		t.Logf("revoked agent disconnected %v after the revocation (%v)", time.Since(start).Round(time.Millisecond), err)
	case <-time.After(wait):
		t.Fatal("revoked agent still connected")
	}
	if nc2, err := nats.Connect(url, nats.UserCredentials(path)); err == nil {
		nc2.Close()
		t.Fatal("revoked credential connected again")
	} else if !errors.Is(err, nats.ErrAuthorization) && !errors.Is(err, nats.ErrAuthRevoked) {
		t.Logf("reconnect refused: %v", err)
	}
	if err := other.Flush(); err != nil {
		t.Errorf("another agent lost its connection: %v", err)
	}
}

// TestRevocation: DELETE /api/agents/{pc} on the embedded server; the
// revocation survives a restart through Authority.Revocations.
func TestRevocation(t *testing.T) {
	e := startEnv(t)
	ag := e.enroll("pc-rev")
	other := e.connectAgent(e.enroll("pc-ok"))
	revokeAndCheck(t, e.a, e.sys, e.s.ClientURL(), ag, other.nc)

	a2, err := brokerid.New(e.keys, e.a.Revocations())
	if err != nil {
		t.Fatal(err)
	}
	e2 := &env{t: t, keys: e.keys, a: a2}
	e2.startServer(t.TempDir())
	if nc, err := nats.Connect(e2.s.ClientURL(), nats.UserJWTAndSeed(ag.user.JWT, string(ag.seed))); err == nil {
		nc.Close()
		t.Error("revoked agent accepted after a restart")
	}
	// A fresh enrollment of the same PC (new key) works.
	e2.connectAgent(e2.enroll("pc-rev"))
}

// TestExternalServerConfig: the generated trust config, parsed by
// nats-server's own parser, runs a server with a full resolver on which
// agents connect with their creds and revocation works the same way.
func TestExternalServerConfig(t *testing.T) {
	keys, _ := brokerid.NewKeys()
	a, err := brokerid.New(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := fmt.Sprintf("server_name: ext\nlisten: \"127.0.0.1:-1\"\njetstream { store_dir: %q }\n%s",
		filepath.Join(dir, "js"), a.ServerConfig(filepath.Join(dir, "jwt")))
	path := filepath.Join(dir, "nats-server.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("nats-server rejects the generated config: %v\n%s", err, conf)
	}
	o.NoLog, o.NoSigs = true, true
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("not ready")
	}
	e := &env{t: t, keys: keys, a: a, s: s}
	bu, _ := a.IssueBackend("kanade-backend")
	e.backend = e.connect(bu.JWT, bu.Seed, nats.CustomInboxPrefix("_INBOX_kanade_backend"))
	su, _ := a.IssueSystem("kanade-push")
	e.sys = e.connect(su.JWT, su.Seed)
	e.js, _ = jetstream.New(e.backend)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := e.js.CreateStream(ctx, jetstream.StreamConfig{Name: "RESULTS", Subjects: []string{"results.>"}}); err != nil {
		t.Fatal(err)
	}
	ok := e.connectAgent(e.enroll("pc-ok"))
	jsa, _ := jetstream.New(ok.nc)
	if ack, err := jsa.Publish(ctx, "results.pc-ok.r1", []byte("{}")); err != nil || ack.Stream != "RESULTS" {
		t.Fatalf("result through the service import: %v %v", ack, err)
	}
	revokeAndCheck(t, a, e.sys, s.ClientURL(), e.enroll("pc-rev"), ok.nc)
}

// TestConnectCost logs what per-agent JWTs cost at connect time against the
// shared token, for the 10 000-agent plan. KANADE_CONNECT_N sets the count.
func TestConnectCost(t *testing.T) {
	n := 200
	if v, err := strconv.Atoi(os.Getenv("KANADE_CONNECT_N")); err == nil && v > 0 {
		n = v
	}
	e := startEnv(t)
	t0 := time.Now()
	agents := make([]*agent, n)
	for i := range agents {
		agents[i] = e.enroll(fmt.Sprintf("pc-%05d", i))
	}
	issue := time.Since(t0)

	storm := func(url string, opt func(i int) []nats.Option) time.Duration {
		conns := make([]*nats.Conn, n)
		var wg sync.WaitGroup
		next := make(chan int)
		start := time.Now()
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					nc, err := nats.Connect(url, append(opt(i), nats.NoReconnect())...)
					if err != nil {
						t.Errorf("connect %d: %v", i, err)
						continue
					}
					conns[i] = nc
				}
			}()
		}
		for i := 0; i < n; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
		d := time.Since(start)
		for _, nc := range conns {
			if nc != nil {
				nc.Close()
			}
		}
		return d
	}
	jwtStorm := storm(e.s.ClientURL(), func(i int) []nats.Option {
		return []nats.Option{nats.UserJWTAndSeed(agents[i].user.JWT, string(agents[i].seed)),
			nats.CustomInboxPrefix(brokerid.AgentInboxPrefix(agents[i].pc))}
	})

	ts, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, Authorization: "fleet-token", NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ts.Start()
	defer ts.Shutdown()
	if !ts.ReadyForConnections(10 * time.Second) {
		t.Fatal("token server not ready")
	}
	tokStorm := storm(ts.ClientURL(), func(int) []nats.Option { return []nats.Option{nats.Token("fleet-token")} })
	t.Logf("%d agents: issuing JWTs %v (%v each); connect storm (16 parallel) with per-agent JWTs %v (%v each), shared token %v (%v each)",
		n, issue.Round(time.Millisecond), (issue / time.Duration(n)).Round(time.Microsecond),
		jwtStorm.Round(time.Millisecond), (jwtStorm / time.Duration(n)).Round(time.Microsecond),
		tokStorm.Round(time.Millisecond), (tokStorm / time.Duration(n)).Round(time.Microsecond))
}
