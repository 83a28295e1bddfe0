package command_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/broker"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/fanout/command"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/wire"
)

func TestAdhocCommand(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	c, wait := command.AdhocCommand(command.Adhoc{Shell: "sh", Script: "true", TimeoutSecs: 30}, now)
	if c.ID != wire.AdhocJobID || c.Version != command.Version || c.RequestID == "" || c.ExecID == "" || c.RunAs != "system" ||
		c.Shell != "sh" || c.Script != "true" || c.TimeoutSecs != 30 {
		t.Fatalf("command %+v", c)
	}
	if wait != 40*time.Second || c.DeadlineAt == nil || !c.DeadlineAt.Equal(now.Add(wait)) || c.DeadlineAt.Location() != time.UTC {
		t.Fatalf("wait %s, deadline %v", wait, c.DeadlineAt)
	}
	c2, wait2 := command.AdhocCommand(command.Adhoc{ExecID: "mine", Shell: "sh", Script: "x", TimeoutSecs: 1, Grace: time.Second}, now)
	if c2.ExecID != "mine" || c2.RequestID == c.RequestID || wait2 != 2*time.Second {
		t.Fatalf("command %+v, wait %s", c2, wait2)
	}
}

// TestPublishAndAwait runs the protocol against a real broker: the command
// lands on the PC's subject with its deadline, an invalid message on the
// result subject is skipped, the result is returned, and silence times out.
func TestPublishAndAwait(t *testing.T) {
	t.Parallel()
	b, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Server.Shutdown)
	nc, err := nats.Connect(b.Server.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.Bootstrap(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	agent, err := nats.Connect(b.Server.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(agent.Close)
	// A stand-in agent: check the signature, answer the command with
	// garbage, then the result.
	signer, _ := sign.GenerateKey()
	kr := sign.NewKeyring(signer.Public())
	var answered atomic.Int32
	sub, err := agent.Subscribe(bus.CommandsPC("pc-1"), func(m *nats.Msg) {
		if err := sign.Verify(kr, m.Subject, m.Header, m.Data); err != nil {
			t.Errorf("command not signed for %s: %v", m.Subject, err)
		}
		c, err := wire.DecodeCommand(m.Data)
		if err != nil || c.DeadlineAt == nil {
			t.Errorf("command %s: %v", m.Data, err)
			return
		}
		answered.Add(1)
		_ = agent.Publish(bus.ResultFrom("pc1", c.RequestID), []byte("not json"))
		res, _ := json.Marshal(wire.ExecResult{ResultID: "r1", RequestID: c.RequestID, ExecID: c.ExecID, PCID: "pc-1",
			ManifestID: c.ID, Version: c.Version, ExitCode: 3, Stdout: "out", StartedAt: time.Now(), FinishedAt: time.Now()})
		_ = agent.Publish(bus.ResultFrom("pc1", c.RequestID), res)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := agent.Flush(); err != nil {
		t.Fatal(err)
	}

	cmd, wait := command.AdhocCommand(command.Adhoc{Shell: "sh", Script: "exit 3", TimeoutSecs: 5}, time.Now())
	aw, err := command.AwaitResult(nc, cmd.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	defer aw.Close()
	var invalid atomic.Int32
	aw.OnInvalid = func(error) { invalid.Add(1) }
	if err := command.Publish(ctx, js, nil, "pc-1", cmd); !errors.Is(err, command.ErrNoSigner) {
		t.Fatalf("unsigned publish: %v, want ErrNoSigner", err)
	}
	if err := command.Publish(ctx, js, signer, "pc-1", cmd); err != nil {
		t.Fatal(err)
	}
	res, raw, err := aw.Wait(ctx, wait)
	if err != nil || res.ExitCode != 3 || res.Stdout != "out" || res.ExecID != cmd.ExecID || len(raw) == 0 || invalid.Load() != 1 {
		t.Fatalf("result %+v (raw %d bytes, %d invalid): %v", res, len(raw), invalid.Load(), err)
	}

	quiet, _ := command.AdhocCommand(command.Adhoc{Shell: "sh", Script: "x", TimeoutSecs: 1}, time.Now())
	aw2, err := command.AwaitResult(nc, quiet.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	defer aw2.Close()
	if _, _, err := aw2.Wait(ctx, 50*time.Millisecond); !errors.Is(err, command.ErrTimeout) {
		t.Fatalf("silence: %v", err)
	}
}

// Kill signs kill.<exec_id> for its subject with the origin in the payload;
// without a signer nothing is sent.
func TestKillIsSigned(t *testing.T) {
	b, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Shutdown)
	nc, err := nats.Connect(b.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	sub, err := nc.SubscribeSync(bus.Kill("e1"))
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := sign.GenerateKey()
	if err := command.Kill(nc, nil, "e1", command.KillFromCLI); !errors.Is(err, command.ErrNoSigner) {
		t.Fatalf("unsigned kill: %v", err)
	}
	if err := command.Kill(nc, signer, "e1", command.KillFromCLI); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := sign.Verify(sign.NewKeyring(signer.Public()), bus.Kill("e1"), m.Header, m.Data); err != nil {
		t.Fatal(err)
	}
	if err := sign.Verify(sign.NewKeyring(signer.Public()), bus.Kill("e2"), m.Header, m.Data); err == nil {
		t.Fatal("a kill for e1 verified as a kill for e2")
	}
	var p command.KillPayload
	if err := json.Unmarshal(m.Data, &p); err != nil || p.Origin != command.KillFromCLI {
		t.Fatalf("payload %s: %v", m.Data, err)
	}
}
