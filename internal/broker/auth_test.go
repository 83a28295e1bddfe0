package broker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
)

var testCreds = RoleCredentials{
	Backend:  Credential{"backend", "backend-pass-0123456789"},
	Agent:    Credential{"agent", "agent-pass-0123456789"},
	Operator: Credential{"operator", "operator-pass-0123456789"},
}

// permErrs collects a connection's asynchronous permission violations.
type permErrs struct {
	mu   sync.Mutex
	errs []string
}

func (p *permErrs) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	p.mu.Lock()
	p.errs = append(p.errs, err.Error())
	p.mu.Unlock()
}

// waitFor waits until a violation naming subject arrives.
func (p *permErrs) waitFor(t *testing.T, subject string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		for _, e := range p.errs {
			if strings.Contains(e, "permissions violation") && strings.Contains(e, `"`+subject+`"`) {
				p.mu.Unlock()
				return
			}
		}
		p.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t.Fatalf("no permission violation for %s; got %v", subject, p.errs)
}

func connect(t *testing.T, url string, c Credential, pe *permErrs, more ...nats.Option) *nats.Conn {
	t.Helper()
	opts := append([]nats.Option{nats.UserInfo(c.User, c.Password)}, more...)
	if pe != nil {
		opts = append(opts, nats.ErrorHandler(pe.handler))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect as %s: %v", c.User, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func TestBrokerRolePermissions(t *testing.T) {
	b, err := Start(Options{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), Token: "ignored-when-users-set",
		Configure: ConfigureAuth(testCreds)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Shutdown)
	url := b.ClientURL()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	if nc, err := nats.Connect(url); err == nil {
		nc.Close()
		t.Fatal("anonymous connection accepted")
	}
	if nc, err := nats.Connect(url, nats.UserInfo("agent", "wrong")); err == nil {
		nc.Close()
		t.Fatal("wrong password accepted")
	}

	backend := connect(t, url, testCreds.Backend, nil, nats.CustomInboxPrefix(bus.InboxBackend))
	bjs, err := jetstream.New(backend)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Bootstrap(ctx, bjs, 1); err != nil {
		t.Fatal(err)
	}

	pe := &permErrs{}
	agent := connect(t, url, testCreds.Agent, pe)
	ajs, err := jetstream.New(agent)
	if err != nil {
		t.Fatal(err)
	}

	// --- What an agent must not do. ---
	for _, subj := range []string{bus.SubjCommandsAll, bus.Kill("x"), "audit.x.y", bus.ExecRequested("x"), bus.Ping("other")} {
		if err := agent.Publish(subj, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		pe.waitFor(t, subj)
	}
	kvStatus, err := ajs.KeyValue(ctx, bus.KVScriptStatus) // reading the bucket is allowed
	if err != nil {
		t.Fatalf("agent KeyValue: %v", err)
	}
	putCtx, putCancel := context.WithTimeout(ctx, time.Second)
	if _, err := kvStatus.Put(putCtx, "job1", []byte("ACTIVE")); err == nil {
		t.Error("agent KV put succeeded")
	}
	putCancel()
	pe.waitFor(t, "$KV.script_status.job1")
	// Refused requests get no reply: bound each by a short deadline.
	short, shortCancel := context.WithTimeout(ctx, time.Second)
	if _, err := ajs.CreateKeyValue(short, jetstream.KeyValueConfig{Bucket: "evil"}); err == nil {
		t.Error("agent created a KV bucket")
	}
	shortCancel()
	pe.waitFor(t, "$JS.API.STREAM.CREATE.KV_evil")
	short, shortCancel = context.WithTimeout(ctx, time.Second)
	if err := ajs.DeleteStream(short, bus.StreamExec); err == nil {
		t.Error("agent deleted a stream")
	}
	shortCancel()
	pe.waitFor(t, "$JS.API.STREAM.DELETE.EXEC")
	// A consumer's deliver subject is the creator's choice and the server
	// publishes there with its own rights: an agent must not create one
	// (it could re-deliver a stored command to commands.all).
	short, shortCancel = context.WithTimeout(ctx, time.Second)
	if _, err := ajs.CreateOrUpdateConsumer(short, bus.StreamExec, jetstream.ConsumerConfig{Name: "evil"}); err == nil {
		t.Error("agent created a consumer on EXEC")
	}
	shortCancel()
	pe.waitFor(t, "$JS.API.CONSUMER.CREATE.EXEC.evil")
	// The backend's replies (projector deliveries, KV reads of jobs) use
	// its own inbox prefix, which an agent may not subscribe to.
	if _, err := agent.SubscribeSync(bus.InboxBackend + ".>"); err != nil {
		t.Fatal(err)
	}
	pe.waitFor(t, bus.InboxBackend+".>")
	// Nothing got through.
	bkv, err := bjs.KeyValue(ctx, bus.KVScriptStatus)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bkv.Get(ctx, "job1"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("script_status/job1 written by agent: %v", err)
	}
	exec, err := bjs.Stream(ctx, bus.StreamExec)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := exec.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Errorf("EXEC holds %v messages after agent publish (%v)", info.State.Msgs, err)
	}

	// --- What an agent must still do, end to end. ---
	cmds := make(chan *nats.Msg, 4)
	if _, err := agent.ChanSubscribe(bus.SubjCommandsAll, cmds); err != nil {
		t.Fatal(err)
	}
	kills := make(chan *nats.Msg, 4)
	if _, err := agent.ChanSubscribe("kill.>", kills); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.Subscribe(bus.Ping("pc1"), func(m *nats.Msg) { _ = m.Respond([]byte(`{"pc_id":"pc1"}`)) }); err != nil {
		t.Fatal(err)
	}
	// KV change notifications as the agent takes them: core subscriptions
	// on the bucket's subjects. And a snoop on every _INBOX reply.
	cfgKV, err := ajs.KeyValue(ctx, bus.KVAgentConfig)
	if err != nil {
		t.Fatal(err)
	}
	kvChanges := make(chan *nats.Msg, 4)
	if _, err := agent.ChanSubscribe("$KV."+bus.KVAgentConfig+"."+bus.PCConfigKey("pc1"), kvChanges); err != nil {
		t.Fatal(err)
	}
	snoop := make(chan *nats.Msg, 64)
	if _, err := agent.ChanSubscribe("_INBOX.>", snoop); err != nil {
		t.Fatal(err)
	}
	if err := agent.Flush(); err != nil {
		t.Fatal(err)
	}

	hb := make(chan *nats.Msg, 1)
	if _, err := backend.ChanSubscribe(bus.SubjHeartbeatAll, hb); err != nil {
		t.Fatal(err)
	}
	if err := backend.Flush(); err != nil {
		t.Fatal(err)
	}

	// Backend → agent: a command (stream EXEC), a kill, a ping, a KV change.
	if _, err := bjs.Publish(ctx, bus.SubjCommandsAll, []byte(`{"cmd":1}`)); err != nil {
		t.Fatal(err)
	}
	recv(t, cmds, "command")
	if err := backend.Publish(bus.Kill("e1"), nil); err != nil {
		t.Fatal(err)
	}
	recv(t, kills, "kill")
	if reply, err := backend.Request(bus.Ping("pc1"), nil, 5*time.Second); err != nil || !strings.Contains(string(reply.Data), "pc1") {
		t.Fatalf("ping via agent: %v", err)
	}
	bcfg, err := bjs.KeyValue(ctx, bus.KVAgentConfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bcfg.Put(ctx, bus.PCConfigKey("pc1"), []byte(`{"heartbeat_interval":"10s"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-kvChanges:
		if string(m.Data) != `{"heartbeat_interval":"10s"}` {
			t.Fatalf("KV change: %q", m.Data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("agent saw no KV change notification")
	}
	// The backend's KV read was answered on its own inbox: once its Get
	// returned, a flush of the agent's connection proves nothing reached
	// the snooping subscription.
	if _, err := bcfg.Get(ctx, bus.PCConfigKey("pc1")); err != nil {
		t.Fatal(err)
	}
	if err := agent.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-snoop:
		t.Fatalf("agent read a backend reply on %s", m.Subject)
	default:
	}

	// Agent catch-up reads by direct get: latest command, a pinned version.
	bcur, err := bjs.KeyValue(ctx, bus.KVScriptCurrent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bcur.Put(ctx, "job1", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	for subj, want := range map[string]string{
		"$JS.API.DIRECT.GET.EXEC." + bus.SubjCommandsAll:               `{"cmd":1}`,
		"$JS.API.DIRECT.GET.KV_script_current.$KV.script_current.job1": "v2",
	} {
		m, err := agent.Request(subj, nil, 5*time.Second)
		if err != nil || string(m.Data) != want || m.Header.Get("Status") != "" {
			t.Errorf("direct get %s: %v %q %v", subj, err, msgData(m), err)
		}
	}
	if v, err := cfgKV.Get(ctx, bus.PCConfigKey("pc1")); err != nil || string(v.Value()) == "" {
		t.Errorf("agent KV get: %v", err)
	}

	// Agent → backend: heartbeat (core), start event and result (JetStream, acked).
	if err := agent.Publish(bus.Heartbeat("pc1"), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	recv(t, hb, "heartbeat")
	if _, err := ajs.Publish(ctx, bus.EventStarted("e1", "pc1"), []byte(`{}`)); err != nil {
		t.Fatalf("agent start event: %v", err)
	}
	if _, err := ajs.Publish(ctx, bus.ResultFrom("pc1", "r1"), []byte(`{}`)); err != nil {
		t.Fatalf("agent result: %v", err)
	}

	// Operator CLI: may command and kill, may not pose as an agent.
	ope := &permErrs{}
	op := connect(t, url, testCreds.Operator, ope)
	ojs, err := jetstream.New(op)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ojs.Publish(ctx, bus.CommandsPC("pc1"), []byte(`{"cmd":2}`)); err != nil {
		t.Errorf("operator command: %v", err)
	}
	if err := op.Publish(bus.Kill("e2"), nil); err != nil {
		t.Fatal(err)
	}
	recv(t, kills, "operator kill")
	if err := op.Publish(bus.ResultFrom("pc1", "forged"), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	ope.waitFor(t, bus.ResultFrom("pc1", "forged"))
}

func recv(t *testing.T, ch chan *nats.Msg, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("agent did not receive the %s", what)
	}
}

func msgData(m *nats.Msg) string {
	if m == nil {
		return ""
	}
	return string(m.Data)
}

func TestRoleCredentialsValidation(t *testing.T) {
	bad := testCreds
	bad.Agent.Password = ""
	if _, err := bad.Users(); err == nil {
		t.Error("empty password accepted")
	}
	bad = testCreds
	bad.Operator.User = bad.Agent.User
	if _, err := bad.Users(); err == nil {
		t.Error("shared user name accepted")
	}
}
