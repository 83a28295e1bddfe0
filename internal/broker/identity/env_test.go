package identity_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/broker/identity"
	"github.com/kanade-fleet/kanade/internal/brokerid"
)

// env is an embedded nats-server in operator mode with the backend's
// JetStream resources in KANADE, as kanade-backend would create them.
type env struct {
	t       *testing.T
	keys    *brokerid.Keys
	a       *brokerid.Authority
	s       *server.Server
	backend *nats.Conn
	js      jetstream.JetStream
	sys     *nats.Conn
}

func startEnv(t *testing.T) *env {
	t.Helper()
	keys, err := brokerid.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	a, err := brokerid.New(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, keys: keys, a: a}
	e.startServer(t.TempDir())
	return e
}

func (e *env) startServer(storeDir string) {
	t := e.t
	o := &server.Options{ServerName: "kanade-test", Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: storeDir, NoSigs: true, NoLog: true, MaxPayload: 8 << 20}
	if err := identity.Configure(e.a)(o); err != nil {
		t.Fatal(err)
	}
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	e.s = s

	bu, err := e.a.IssueBackend("kanade-backend")
	if err != nil {
		t.Fatal(err)
	}
	e.backend = e.connect(bu.JWT, bu.Seed, nats.CustomInboxPrefix("_INBOX_kanade_backend"))
	if e.js, err = jetstream.New(e.backend); err != nil {
		t.Fatal(err)
	}
	su, err := e.a.IssueSystem("kanade-push")
	if err != nil {
		t.Fatal(err)
	}
	e.sys = e.connect(su.JWT, su.Seed)
}

func (e *env) connect(userJWT string, seed []byte, opts ...nats.Option) *nats.Conn {
	e.t.Helper()
	nc, err := nats.Connect(e.s.ClientURL(), append([]nats.Option{nats.UserJWTAndSeed(userJWT, string(seed)), nats.NoReconnect()}, opts...)...)
	if err != nil {
		e.t.Fatalf("connect %s: %v", userJWT[:12], err)
	}
	e.t.Cleanup(nc.Close)
	return nc
}

// bootstrap creates the resources of SPEC §2 the tests watch.
func (e *env) bootstrap() {
	t := e.t
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, sc := range []jetstream.StreamConfig{
		{Name: "EXEC", Subjects: []string{"commands.>"}, MaxMsgsPerSubject: 1, AllowDirect: true},
		{Name: "RESULTS", Subjects: []string{"results.>"}},
		{Name: "EVENTS", Subjects: []string{"events.>"}},
		{Name: "AUDIT", Subjects: []string{"audit.>"}},
		// Not a kanade stream: a canary that records anything published on
		// these subjects in KANADE.
		{Name: "CANARY", Subjects: []string{"execs.>", "kill.>", "heartbeat.victim", "inventory.victim", "agents.>"}},
	} {
		if _, err := e.js.CreateStream(ctx, sc); err != nil {
			t.Fatalf("stream %s: %v", sc.Name, err)
		}
	}
	for _, b := range []string{brokerid.KVScriptCurrent, brokerid.KVScriptStatus, brokerid.KVAgentGroups, brokerid.KVAgentConfig, brokerid.KVSigningKeys} {
		if _, err := e.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: b}); err != nil {
			t.Fatalf("kv %s: %v", b, err)
		}
	}
	obj, err := e.js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: brokerid.ObjAgentRelease})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obj.PutBytes(ctx, "kanade-agent-linux-amd64", []byte("binary")); err != nil {
		t.Fatal(err)
	}
	for subj, body := range map[string]string{
		"commands.pc.attacker": `{"for":"attacker"}`,
		"commands.pc.victim":   `{"for":"victim"}`,
		"commands.all":         `{"for":"all"}`,
		"commands.group.g1":    `{"for":"g1"}`,
	} {
		if _, err := e.js.Publish(ctx, subj, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	for bucket, kv := range map[string][2]string{
		brokerid.KVScriptStatus:  {"job", "ACTIVE"},
		brokerid.KVScriptCurrent: {"job", "3"},
		brokerid.KVAgentGroups:   {"victim", `{"groups":["g1"]}`},
		brokerid.KVAgentConfig:   {"global", `{"heartbeat_interval":"30s"}`},
		brokerid.KVSigningKeys:   {brokerid.SigningChainKey, `{"records":[]}`},
	} {
		b, err := e.js.KeyValue(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.PutString(ctx, kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
}

// agent is one enrolled PC: its own NKey, a user JWT from IssueAgent.
type agent struct {
	pc   string
	user brokerid.User
	seed []byte
	nc   *nats.Conn
	errs chan error
}

func (e *env) enroll(pc string) *agent {
	e.t.Helper()
	seed, pk, err := brokerid.NewUserKey()
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := e.a.IssueAgent(pc, pk)
	if err != nil {
		e.t.Fatal(err)
	}
	return &agent{pc: pc, user: u, seed: seed}
}

func (e *env) connectAgent(ag *agent, opts ...nats.Option) *agent {
	e.t.Helper()
	ag.errs = make(chan error, 1000)
	ag.nc = e.connect(ag.user.JWT, ag.seed, append([]nats.Option{
		nats.CustomInboxPrefix(brokerid.AgentInboxPrefix(ag.pc)),
		nats.Name("kanade-agent " + ag.pc),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { ag.errs <- err }),
	}, opts...)...)
	return ag
}

// rootAgentsUser is a user of AGENTS signed by the account key itself:
// no per-user permissions at all. kanade never issues one; the tests use it
// to show that the account boundary alone keeps KANADE clean.
func (e *env) rootAgentsUser() *agent {
	e.t.Helper()
	seed, pk, err := brokerid.NewUserKey()
	if err != nil {
		e.t.Fatal(err)
	}
	uc := jwt.NewUserClaims(pk)
	uc.Name = "root"
	j, err := uc.Encode(e.keys.Agents)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.connectAgent(&agent{pc: "root", user: brokerid.User{Name: "root", JWT: j}, seed: seed})
}

// recorder keeps every message a subscription receives.
type recorder struct {
	mu   sync.Mutex
	msgs []*nats.Msg
	ch   chan *nats.Msg
}

func record(t *testing.T, nc *nats.Conn, subjects ...string) *recorder {
	t.Helper()
	r := &recorder{ch: make(chan *nats.Msg, 100000)}
	for _, s := range subjects {
		if _, err := nc.Subscribe(s, func(m *nats.Msg) {
			r.mu.Lock()
			r.msgs = append(r.msgs, m)
			r.mu.Unlock()
			r.ch <- m
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *recorder) all() []*nats.Msg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*nats.Msg(nil), r.msgs...)
}

// waitFor returns the first message on subject, draining others.
func (r *recorder) waitFor(subject string, d time.Duration) (*nats.Msg, bool) {
	deadline := time.After(d)
	for {
		select {
		case m := <-r.ch:
			if m.Subject == subject {
				return m, true
			}
		case <-deadline:
			return nil, false
		}
	}
}

// waitViolation waits for the server's permissions violation naming what.
func (ag *agent) waitViolation(what string, d time.Duration) error {
	deadline := time.After(d)
	for {
		select {
		case err := <-ag.errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(strings.ToLower(err.Error()), strings.ToLower(`"`+what+`"`)) {
				return nil
			}
		case <-deadline:
			return errors.New("no permissions violation for " + what)
		}
	}
}
